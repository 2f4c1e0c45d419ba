# shellcheck shell=bash
# Helpers for the netns integration tests: the plant from board/sim, a daemon
# in the gateway namespace, scraping, and assertions that name the truth.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${XDPROBE_BUILD:-$TOP/build}
export PLANT_BIN_DIR=$BUILD/board/sim
XDPROBED=$BUILD/firmware/xdprobed
XDPROBE=$BUILD/firmware/xdprobe
SKIP=77
FAILS=0

# shellcheck source=../../board/sim/plant.sh
. "$TOP/board/sim/plant.sh"

nsl_require_root || exit $SKIP

log() { printf '%s\n' "$*" >&2; }

check() { # check DESCRIPTION COMMAND...: records a failure, goes on
	if "${@:2}"; then
		log "ok   - $1"
	else
		log "FAIL - $1"
		FAILS=$((FAILS + 1))
	fi
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		log "$FAILS check(s) failed; daemon log:"
		[ -n "${DAEMON_LOG:-}" ] && tail -n 30 "$DAEMON_LOG" >&2
		exit 1
	fi
	log "all checks passed"
	exit 0
}

# approx VALUE TRUTH PERCENT: |value - truth| <= percent of truth
approx() {
	awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN {
		d = v - t; if (d < 0) d = -d
		ok = (v != "" && d <= t * p / 100)
		printf "       value %s, truth %s, tolerance %s%%\n", v, t, p > "/dev/stderr"
		exit !ok }'
}

equals() { # equals VALUE EXPECTED
	[ "$1" = "$2" ] && return 0
	log "       got '$1', expected '$2'"
	return 1
}

# start_daemon [xdprobed options...]: runs xdprobed in the gateway namespace
# with its history in the run's directory, and waits until it answers.
# Sets DAEMON_PID, DAEMON_SOCK, DAEMON_LOG, DAEMON_DB.
start_daemon() {
	DAEMON_SOCK=$NSL_DIR/xdprobed.sock
	DAEMON_LOG=$NSL_DIR/xdprobed.log
	# not in a subshell: the daemon stays our child, so wait gets its status
	DAEMON_DB=$NSL_DIR/history.db
	nsl_bg gw "$DAEMON_LOG" "$XDPROBED" --socket "$DAEMON_SOCK" \
		--set storage.path="$DAEMON_DB" "$@" >/dev/null || return 1
	DAEMON_PID=$NSL_LAST_PID
	local i
	for ((i = 0; i < 100; i++)); do
		"$XDPROBE" -s "$DAEMON_SOCK" metrics >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "xdprobed did not come up:"
	cat "$DAEMON_LOG" >&2
	return 1
}

scrape() { # scrape FILE
	"$XDPROBE" -s "$DAEMON_SOCK" metrics > "$1"
}

# metric FILE NAME [LABEL=VALUE ...]: the value of the one sample of NAME
# whose labels include all the given ones (empty when absent).
metric() {
	local file=$1 name=$2
	shift 2
	awk -v name="$name" -v want="$*" '
		$0 ~ /^#/ { next }
		{
			split($0, parts, " "); series = parts[1]; value = parts[2]
			n = index(series, "{"); base = n ? substr(series, 1, n - 1) : series
			if (base != name) next
			labels = n ? substr(series, n) : ""
			k = split(want, w, " ")
			for (i = 1; i <= k; i++) {
				eq = index(w[i], "=")
				pat = substr(w[i], 1, eq - 1) "=\"" substr(w[i], eq + 1) "\""
				if (index(labels, pat) == 0) next
			}
			print value; exit
		}' "$file"
}

# Waits until the daemon has drained n more windows.
wait_windows() {
	local n=$1 file=$NSL_DIR/wait.prom start now i
	scrape "$file" && start=$(metric "$file" xdprobe_windows_total)
	for ((i = 0; i < 200; i++)); do
		sleep 0.1
		scrape "$file" || continue
		now=$(metric "$file" xdprobe_windows_total)
		[ $((now - start)) -ge "$n" ] && return 0
	done
	log "the daemon stopped draining windows"
	return 1
}

# summary_value FILE KEY: a value of a tcpgen/wanem key-value file
summary_value() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}

# tcpgen NS ARGS...: runs a tcpgen client in a namespace to completion
tcpgen() {
	local ns=$1
	shift
	nsl_exec "$ns" "$PLANT_BIN_DIR/xdprobe-tcpgen" client "$@" >/dev/null
}

# stop_daemon: SIGTERM, returns its exit status
stop_daemon() {
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID"
}
