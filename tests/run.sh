#!/usr/bin/env bash
# Builds xdprobe and runs every test: once in a normal build and once with
# AddressSanitizer + UndefinedBehaviorSanitizer. Needs root (BPF, netns).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash board/setup-deps.sh test

run_suite() { # run_suite BUILD_DIR cmake-args...
	local dir=$1
	shift
	echo "== $dir: build"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
	echo "== $dir: test"
	# Unit tests in parallel; the netns tests one at a time (timing-sensitive).
	(cd "$dir" && ctest --output-on-failure -L unit -j"$(nproc)")
	(cd "$dir" && ctest --output-on-failure -L integration)
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-asan -DXDPROBE_SANITIZE=ON
echo "== all tests passed"
