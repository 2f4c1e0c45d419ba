#!/bin/sh
# Crash safety of the storage writer: SIGKILL a heavy writer (20 ms flush
# interval) at random moments, 20 times, on the same database file. After
# each kill: PRAGMA integrity_check must say ok (sqlite3 CLI), no committed
# row may be missing, and the rows lost must be only what was not committed
# yet (plus the last status batch). How many rows that is depends on how fast
# this machine commits (slower under sanitizers), so it is not bounded in
# rows: timing is not asserted.
# Usage: test_storage_crash.sh path/to/storage_crash_writer path/to/sqlite3
set -eu
writer=$1
sqlite=${2:-sqlite3}
dir=$(mktemp -d /tmp/xdprobe-crash-XXXXXX)
trap 'rm -rf "$dir"' EXIT
db=$dir/history.db
fail() { echo "FAIL: $*" >&2; exit 1; }

for run in $(seq 1 20); do
	"$writer" "$db" "$dir/status" "$run" 2>"$dir/stderr" &
	pid=$!
	# 150..650 ms: past open and the first commits, at a random point of a cycle
	sleep "0.$(( $(od -An -N2 -tu2 /dev/urandom) % 500 + 150 ))"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	[ -s "$dir/stderr" ] && { cat "$dir/stderr" >&2; fail "run $run: writer complained"; }
	put=0 committed=0
	[ -s "$dir/status" ] && read -r put committed <"$dir/status"
	check=$("$sqlite" "$db" 'PRAGMA integrity_check')
	[ "$check" = ok ] || fail "run $run: integrity_check: $check"
	rows=$("$sqlite" "$db" "SELECT count(*) FROM window_1s w JOIN series s ON s.id = w.series_id WHERE s.metric = 'crash_run_$run'")
	[ "$rows" -ge "$committed" ] || fail "run $run: $rows rows in the file, $committed were committed"
	lost=$((put - rows))
	# rows put after the last status line: at most one batch of 200
	[ "$lost" -le $((put - committed + 200)) ] || fail "run $run: lost $lost rows, more than were uncommitted"
	echo "run $run: put $put committed $committed in file $rows lost $lost (uncommitted $((put - committed))) integrity ok"
done
echo "PASS: 20 SIGKILLs, integrity ok, no committed row lost"
