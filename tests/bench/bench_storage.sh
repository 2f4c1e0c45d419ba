#!/bin/bash
# Storage benchmark (not in ctest; see docs/bench-storage.md):
#  1. rows/s through the real writer (one transaction per 1 s flush, prepared
#     INSERT, rollups running) against a naive writer (one transaction per
#     row, same WAL + synchronous=NORMAL), and their ratio;
#  2. zooms through the C query API on that day (cold cache, then warm):
#     the last hour of one series at 1 s, the whole day of it at 1 min, and
#     the last hour of all series aggregated at 1 s;
#  3. reading one day of 1 s windows for 100 series, against reading the
#     same range from the 1 min rollup, and their ratio;
#  4. bytes written per hour (/proc/self/io write_bytes of the writer) at
#     100 series x 1 window/s with histograms, time-compressed, for flush
#     intervals of 1, 10 and 60 s, on a new file; then the steady state at
#     1 s flush: 1 s windows kept RETENTION_S (600), 1 min windows
#     RETENTION_1M_S (36000: enough history for each series to have leaf
#     pages of its own), retention every minute, counted after a warm-up of
#     that much simulated time, so that each minute deletes what it adds.
# Build first: cmake -S . -B build && cmake --build build --target xdprobe_storage
# Knobs: XDPROBE_BUILD (build), SERIES (100), SECONDS_OF_DATA (86400), NAIVE_ROWS (20000),
#        IO_SECONDS (3600), RETENTION_S (600), RETENTION_1M_S (36000),
#        BENCH_DIR (a temporary directory; needs ~1.5 GB).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${XDPROBE_BUILD:-$src/build}
series=${SERIES:-100}
seconds=${SECONDS_OF_DATA:-86400}
naive_rows=${NAIVE_ROWS:-20000}
io_seconds=${IO_SECONDS:-3600}
retention_s=${RETENTION_S:-600}
retention_1m_s=${RETENTION_1M_S:-36000}
dir=${BENCH_DIR:-$(mktemp -d /tmp/xdprobe-bench-storage-XXXXXX)}
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

cc -O2 -std=gnu11 -o "$dir/bench_storage" "$src/tests/bench/bench_storage.c" \
	-I"$src/storage" -I"$src/firmware" -I"$src/bpf" -I"$build/firmware" \
	"$build/storage/libxdprobe_storage.a" "$build/firmware/libxdprobe_core.a" \
	$(pkg-config --libs sqlite3 libbpf inih) -lpthread -lm

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), $(uname -r), sqlite $(pkg-config --modversion sqlite3)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$dir/bench_storage" real "$dir/real.db" "$series" "$seconds" | tee "$dir/real.txt"
"$dir/bench_storage" naive "$dir/naive.db" "$naive_rows" | tee "$dir/naive.txt"
real=$(awk '/^real_rows_per_s/ {print $2}' "$dir/real.txt")
naive=$(awk '/^naive_rows_per_s/ {print $2}' "$dir/naive.txt")
echo "writer_ratio $(awk -v a="$real" -v b="$naive" 'BEGIN {printf "%.0f", a / b}')"
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || echo "(page cache not dropped: not root)"
}
drop_caches
"$dir/bench_storage" zoom "$dir/real.db" "$series" "$seconds"
drop_caches
"$dir/bench_storage" query "$dir/real.db" "$series" "$seconds"
for every in 1 10 60; do
	rm -f "$dir"/io.db*
	"$dir/bench_storage" io "$dir/io.db" "$series" "$io_seconds" "$every"
done
echo "io_db_bytes $(stat -c %s "$dir/io.db")"
rm -f "$dir"/io.db*
"$dir/bench_storage" io "$dir/io.db" "$series" "$io_seconds" 1 "$retention_s" "$retention_1m_s"
echo "io_ret_db_bytes $(stat -c %s "$dir/io.db")"
