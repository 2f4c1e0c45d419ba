#!/usr/bin/env bash
# Bad input and missing pieces give a clear message and the documented exit
# status, or a counted metric while the daemon keeps running:
#  - malformed configuration files and flags (exit 2, file:line in the message)
#  - the socket already served by another daemon (exit 4)
#  - a kernel without BTF, simulated by hiding /sys/kernel/btf (exit 3)
#  - per-window maps that fill up (counted drops, daemon still answering)
. "$(dirname "$0")/lib.sh"

nsl_init errors || exit 1
nsl_add gw || exit 1
conf=$NSL_DIR/bad.conf

# expect_exit STATUS PATTERN COMMAND...: status and a message matching PATTERN
expect_exit() {
	local want=$1 pattern=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		log "       exit $rc, expected $want; output: $out"
		return 1
	fi
	grep -Eq -- "$pattern" <<<"$out" && return 0
	log "       message '$out' does not match /$pattern/"
	return 1
}

printf '[daemon]\nwindow = 1x\n' > "$conf"
check "a bad duration names file, line and the expected form" \
	expect_exit 2 "bad.conf:2: \[daemon\] window = \"1x\": expected a duration" \
	"$XDPROBED" --config "$conf" --check-config
printf '[tcp]\nipv4_prefix = 8\n' > "$conf"
check "an out-of-range prefix is refused" \
	expect_exit 2 "bad.conf:2: .*expected a prefix length from 24 to 32" \
	"$XDPROBED" --config "$conf" --check-config
printf '[daemon]\nwindw = 1s\n' > "$conf"
check "an unknown key is named" \
	expect_exit 2 'unknown key "windw" in section \[daemon\]' "$XDPROBED" -c "$conf" --check-config
printf '[nosuch]\n' > "$conf"
printf 'garbage line\n' > "$conf"
check "a syntax error is named" expect_exit 2 "bad.conf:1: syntax error" \
	"$XDPROBED" -c "$conf" --check-config
check "a missing file is named" expect_exit 2 "cannot open" \
	"$XDPROBED" -c "$NSL_DIR/none.conf" --check-config
check "a bad --set is explained" expect_exit 2 "expected SECTION.KEY=VALUE" \
	"$XDPROBED" --set nonsense --check-config
check "an unknown flag prints the usage" expect_exit 2 "Usage: xdprobed" "$XDPROBED" --bogus
check "--help exits 0" expect_exit 0 "Usage: xdprobed" "$XDPROBED" --help
check "--version exits 0" expect_exit 0 "^xdprobed [0-9]+\.[0-9]+" "$XDPROBED" --version

# A kernel without BTF: the daemon must say so and exit 3.
check "a kernel without BTF is reported" \
	expect_exit 3 "refused the TCP programs.*CONFIG_DEBUG_INFO_BTF" \
	timeout 20 ip netns exec "$(nsl_ns gw)" unshare --mount \
	bash -c 'mount -t tmpfs none /sys/kernel/btf && exec "$@"' - \
	"$XDPROBED" --socket "$NSL_DIR/nobtf.sock"

# Small per-window maps, then more distinct peers in one window than fit.
start_daemon --set tcp.max_peers=16 --window 1s || exit 1
check "a second daemon on the same socket is refused" \
	expect_exit 4 "another xdprobed already serves" \
	ip netns exec "$(nsl_ns gw)" "$XDPROBED" --socket "$DAEMON_SOCK"
nsl_exec gw ip link set lo up
nsl_exec gw bash -c 'for p in $(seq 20001 20040); do
	(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; done; true'
wait_windows 2 || exit 1
m=$NSL_DIR/metrics.prom
scrape "$m"
check "overflowing the counter map is counted" \
	test "$(metric "$m" xdprobe_tcp_events_dropped_total reason=counter_map_full)" -gt 0
check "what fitted is still exported" \
	test "$(grep -c '^xdprobe_tcp_connect_failures_total{' "$m")" -ge 16
check "the daemon still answers after the overflow" scrape "$m"
stop_daemon
check "the daemon then stops cleanly" equals "$?" 0
finish
