#!/usr/bin/env bash
# The history survives what gateways go through, with the real daemon:
#  - kill -9 during heavy writes, five times: integrity_check is ok and the
#    daemon reopens the same file
#  - a sqlite3 reader open while the daemon writes
#  - a full disk: writes stop with a clear error, collection goes on in
#    memory, and writes resume when space returns
. "$(dirname "$0")/lib.sh"

plant_up --traffic yes --wan-delay-ms 1 --emu-log no || exit 1

killed_ok=0
for round in 1 2 3 4 5; do
	start_daemon --window 200ms --set storage.flush_interval=100ms || exit 1
	nsl_sleep "1.$((RANDOM % 9))"
	check "round $round: a reader can query while the daemon writes" \
		test "$(sqlite3 "$DAEMON_DB" 'SELECT count(*) > 0 FROM window_1s')" = 1
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	rm -f "$DAEMON_SOCK"
	[ "$(sqlite3 "$DAEMON_DB" 'PRAGMA integrity_check')" = ok ] && killed_ok=$((killed_ok + 1))
done
check "integrity_check is ok after each of 5 kill -9" equals "$killed_ok" 5
rows=$(sqlite3 "$DAEMON_DB" 'SELECT count(*) FROM window_1s')
check "the windows of all rounds are kept" test "$rows" -gt 0

# A 2 MiB filesystem, private to the daemon's mount namespace; a filler file
# leaves little room. The test reaches it through /proc/PID/root.
small=$NSL_DIR/small
mkdir -p "$small"
nsl_bg gw "$NSL_DIR/full.log" unshare --mount sh -c '
	mount -t tmpfs -o size=2m xdprobe-test "$0" &&
	head -c 1900000 /dev/zero > "$0/filler" && exec "$@"' "$small" \
	"$XDPROBED" --socket "$NSL_DIR/full.sock" --window 200ms \
	--set storage.flush_interval=100ms --set storage.path="$small/history.db" >/dev/null
DAEMON_PID=$NSL_LAST_PID DAEMON_SOCK=$NSL_DIR/full.sock DAEMON_LOG=$NSL_DIR/full.log
m=$NSL_DIR/full.prom
value() { scrape "$m" 2>/dev/null && metric "$m" "$@"; }
wait_for() { # wait_for DESCRIPTION CONDITION...: up to 20 s
	local i
	for ((i = 0; i < 200; i++)); do
		"${@:2}" && return 0
		sleep 0.1
	done
	log "       gave up waiting for: $1"
	return 1
}
errors_counted() { [ "$(value xdprobe_storage_write_errors_total)" -gt 0 ] 2>/dev/null; }
check "a full disk is reported as write errors" wait_for "write errors" errors_counted
check "the log says the disk is full" grep -qi 'full' "$DAEMON_LOG"
pending_before=$(value xdprobe_storage_pending)
windows_before=$(value xdprobe_windows_total)
nsl_sleep 1
check "collection goes on while the disk is full" \
	test "$(value xdprobe_windows_total)" -gt "$windows_before"
check "the windows wait in memory" test "$(value xdprobe_storage_pending)" -ge "${pending_before:-0}"
rm -f "/proc/$DAEMON_PID/root$small/filler"
written_before=$(value xdprobe_storage_rows_written_total)
resumed() { [ "$(value xdprobe_storage_rows_written_total)" -gt "$written_before" ] &&
	[ "$(value xdprobe_storage_pending)" -lt 1000 ]; }
check "writes resume when space returns" wait_for "writes to resume" resumed
check "nothing waiting was dropped" \
	equals "$(value xdprobe_storage_dropped_total reason=backlog)" 0
check "windows of series that could not be created are counted, not lost silently" \
	test -n "$(value xdprobe_storage_dropped_total reason=series_not_created)"
stop_daemon
check "the daemon stops cleanly after a full disk" equals "$?" 0
finish
