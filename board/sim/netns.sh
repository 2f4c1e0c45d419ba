# shellcheck shell=bash
# shellcheck disable=SC2034,SC2016  # variables are for callers; '$0' is for sh -c
# netns.sh: a small library for network-namespace test beds.
#
# Source it, call nsl_init, build namespaces and links, start programs with
# nsl_bg; everything is torn down by nsl_cleanup, which nsl_init installs as
# the EXIT trap (and on INT/TERM/HUP, exiting 130/143/129).
#
#   . board/sim/netns.sh
#   nsl_init mytest
#   nsl_add a; nsl_add b
#   nsl_veth a a-eth0 b b-eth0
#   nsl_exec a ip addr add 198.18.0.1/24 dev a-eth0
#   nsl_bg b "$NSL_DIR/srv.log" some-server >/dev/null; pid=$NSL_LAST_PID
#
# Rules the library keeps: it never changes the root namespace's network
# (veth pairs are created directly inside the namespaces), and it only ever
# deletes namespaces and signals processes that this run recorded.
# What it recorded lives in files under NSL_DIR, so nsl_add/nsl_bg also work
# from a subshell such as pid=$(nsl_bg ...); a process started that way is
# not a child of the caller, though, so prefer NSL_LAST_PID, which lets
# cleanup reap it at once.
# Set NSL_KEEP=1 to keep NSL_DIR (logs) after cleanup.

nsl_have() {
	command -v "$1" >/dev/null 2>&1
}

nsl_require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "nsl: must run as root" >&2
		return 1
	fi
}

# nsl_init [TAG]: NSL_ID = TAG (max 5 chars, default xdp) + 6 random hex digits.
nsl_init() {
	local tag=${1:-xdp} hex
	nsl_require_root || return 1
	nsl_have ip || { echo "nsl: iproute2 'ip' not found" >&2; return 1; }
	if [ "${NSL_CLEANED:-1}" = 0 ]; then
		echo "nsl: already initialised as ${NSL_ID:-?}" >&2
		return 1
	fi
	tag=${tag//[^a-zA-Z0-9]/}
	tag=${tag:0:5}
	hex=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	NSL_ID=${tag:-xdp}$hex
	NSL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nsl-$NSL_ID.XXXXXX") || return 1
	: >"$NSL_DIR/netns"
	: >"$NSL_DIR/pids"
	NSL_CLEANED=0
	NSL_LAST_PID=
	trap nsl_cleanup EXIT
	trap 'nsl_cleanup; exit 130' INT
	trap 'nsl_cleanup; exit 143' TERM
	trap 'nsl_cleanup; exit 129' HUP
}

_nsl_check_name() {
	if ! [[ $1 =~ ^[a-z0-9_]{1,12}$ ]]; then
		echo "nsl: bad namespace name '$1' (use [a-z0-9_], at most 12 chars)" >&2
		return 1
	fi
	if [ "${NSL_CLEANED:-1}" != 0 ]; then
		echo "nsl: call nsl_init first" >&2
		return 1
	fi
}

nsl_ns() {
	echo "${NSL_ID:?nsl_init first}-$1"
}

nsl_exec() {
	local ns
	ns=$(nsl_ns "$1") || return 1
	shift
	ip netns exec "$ns" "$@"
}

nsl_add() {
	local ns
	_nsl_check_name "$1" || return 1
	ns=$(nsl_ns "$1")
	ip netns add "$ns" || return 1
	echo "$ns" >>"$NSL_DIR/netns"
	ip -n "$ns" link set lo up
}

# nsl_sleep SECONDS: a sleep that INT/TERM interrupt at once. Bash runs a
# trap only after the foreground command ends, so long waits in test
# scripts should use this instead of a plain sleep.
nsl_sleep() {
	sleep "$1" &
	wait $! || true
}

# nsl_sysctl NAME KEY VALUE: set a (per-namespace) sysctl inside NAME.
nsl_sysctl() {
	nsl_exec "$1" sh -c 'echo "$1" >"/proc/sys/$0"' "${2//.//}" "$3"
}

_nsl_check_ifname() {
	if [ "${#1}" -gt 15 ] || [ -z "$1" ]; then
		echo "nsl: interface name '$1' must be 1-15 characters" >&2
		return 1
	fi
}

# nsl_veth NAME_A IF_A NAME_B IF_B: a veth pair created inside the namespaces.
nsl_veth() {
	local na nb
	_nsl_check_ifname "$2" && _nsl_check_ifname "$4" || return 1
	na=$(nsl_ns "$1") && nb=$(nsl_ns "$3") || return 1
	ip -n "$na" link add "$2" type veth peer name "$4" netns "$nb" || return 1
	ip -n "$na" link set "$2" up && ip -n "$nb" link set "$4" up
}

# Start time (clock ticks since boot) of a process: guards against PID reuse.
_nsl_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# True if PID is the process we recorded and it has not exited.
_nsl_alive() {
	local pid=$1 start=$2 stat
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] && [ "$(_nsl_starttime "$pid")" = "$start" ]
}

# nsl_bg NAME LOGFILE cmd...: run cmd in the background inside NAME.
# Echoes the PID (also left in NSL_LAST_PID when not called in a subshell).
nsl_bg() {
	local ns log=$2 pid
	ns=$(nsl_ns "$1") || return 1
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	nsl_track_pid "$pid"
	NSL_LAST_PID=$pid
	echo "$pid"
}

# nsl_track_pid PID: have cleanup stop a process started some other way
# (e.g. a server on the host's loopback).
nsl_track_pid() {
	echo "$1 $(_nsl_starttime "$1")" >>"$NSL_DIR/pids"
}

# nsl_bg_host LOGFILE cmd...: like nsl_bg, in the current namespace (the
# host's loopback only: never for anything that touches the host network).
nsl_bg_host() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 </dev/null &
	NSL_LAST_PID=$!
	nsl_track_pid "$NSL_LAST_PID"
	echo "$NSL_LAST_PID"
}

_nsl_start_of() {
	awk -v p="$1" '$1 == p { print $2; exit }' "$NSL_DIR/pids" 2>/dev/null
}

# Wait up to 3 s for recorded "pid start" pairs to exit, then SIGKILL them.
_nsl_reap() {
	local i pid start alive
	for ((i = 0; i < 30; i++)); do
		alive=0
		while read -r pid start; do
			_nsl_alive "$pid" "$start" && alive=1
		done <<<"$1"
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	while read -r pid start; do
		[ -n "$pid" ] || continue
		if _nsl_alive "$pid" "$start"; then kill -KILL "$pid" 2>/dev/null || true; fi
		wait "$pid" 2>/dev/null || true
	done <<<"$1"
	return 0
}

# nsl_kill PID: stop one process started with nsl_bg (TERM, 3 s, KILL).
nsl_kill() {
	local start
	start=$(_nsl_start_of "$1")
	[ -n "$start" ] || { echo "nsl: pid $1 was not started by nsl_bg" >&2; return 1; }
	if _nsl_alive "$1" "$start"; then kill -TERM "$1" 2>/dev/null || true; fi
	_nsl_reap "$1 $start"
}

nsl_offloads_off() {
	local f
	nsl_have ethtool || { echo "nsl: ethtool not found (apt-get install ethtool)" >&2; return 1; }
	# One feature per call: a feature that is fixed must not stop the others.
	for f in gro gso tso; do
		nsl_exec "$1" ethtool -K "$2" "$f" off >/dev/null 2>&1 || true
	done
	if nsl_exec "$1" ethtool -k "$2" 2>/dev/null |
		grep -Eq '^(generic-segmentation-offload|tcp-segmentation-offload|generic-receive-offload): on$'; then
		echo "nsl: offloads still on for $2 in $1" >&2
		return 1
	fi
}

# nsl_wait_tcp NAME ADDR PORT TIMEOUT_S: wait until ADDR:PORT accepts a
# connection made from inside NAME (the server sees a connection that
# closes without sending anything).
nsl_wait_tcp() {
	local ns addr=${2#[} port=$3 limit=${4%.*}
	addr=${addr%]}
	ns=$(nsl_ns "$1") || return 1
	local deadline=$((SECONDS + ${limit:-0} + 1))
	while :; do
		if ip netns exec "$ns" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' \
			"$addr" "$port" 2>/dev/null; then
			return 0
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "nsl: $2 port $port not answering from $1 after ${4}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

nsl_cleanup() {
	local rc=$? pid start ns list
	[ "${NSL_CLEANED:-1}" = 0 ] || return "$rc"
	NSL_CLEANED=1
	trap - INT TERM HUP
	if [ -d "${NSL_DIR:-}" ]; then
		# Processes: TERM in reverse start order, then wait and KILL.
		list=$(tac "$NSL_DIR/pids" 2>/dev/null)
		while read -r pid start; do
			if [ -n "$pid" ] && _nsl_alive "$pid" "$start"; then
				kill -TERM "$pid" 2>/dev/null || true
			fi
		done <<<"$list"
		_nsl_reap "$list"
		# Namespaces: only ours, anything still running in them is killed.
		while read -r ns; do
			case $ns in "${NSL_ID}"-*) ;; *) continue ;; esac
			ip netns pids "$ns" 2>/dev/null | grep -vxE "$$|$BASHPID" |
				xargs -r kill -KILL 2>/dev/null || true
			ip netns delete "$ns" 2>/dev/null || true
		done < <(tac "$NSL_DIR/netns" 2>/dev/null)
		if [ "${NSL_KEEP:-0}" = 1 ]; then
			echo "nsl: kept $NSL_DIR" >&2
		else
			rm -rf "$NSL_DIR"
		fi
	fi
	return "$rc"
}
