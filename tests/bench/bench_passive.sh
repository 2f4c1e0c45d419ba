#!/usr/bin/env bash
# bench_passive.sh: what passive RTT monitoring costs a bulk transfer
# crossing the gateway: nothing attached, xdprobed's passive RTT, and a
# libpcap monitor (tcpdump -w /dev/null, the least a libpcap tool can do).
#
# Method
#   Topology (no user-space WAN emulator in the data path: it would be the
#   bottleneck), built once in network namespaces of our own:
#     cl 198.18.0.2/24 -- cl-eth0 == gw-lan0 198.18.0.1/24 [gw: forwarding]
#     gw-wan0 198.19.0.1/24 == sv-eth0 -- sv 198.19.0.2/24
#   veth offloads as the kernel sets them (TSO/GSO on, GRO off: TCP crosses
#   the gateway in up-to-64 KiB GSO packets) or, with OFFLOADS=off, GSO/TSO
#   off on every port (one 1500-byte frame per packet: the per-packet worst
#   case for any monitor).
#   Workload: iperf3, server in sv, client in cl (field -> WAN upload),
#   STREAMS streams for DURATION seconds; with PIN=1 (default, 2+ CPUs) the
#   client is pinned to CPU 0 and the server to CPU 1 (veth forwarding runs
#   in the sender's softirq, so the gateway's work lands on CPU 0); the
#   monitors are not pinned.
#   Configurations, interleaved a b c a b c ... for REPEAT rounds, each run
#   on a fresh monitor (its start-up is not measured; SETTLE_S after it):
#     (a) nothing attached to the gateway;
#     (b) xdprobed --window 1s with passive.lan=gw-lan0 passive.wan=gw-wan0
#         (tcx links on both interfaces), TCP socket tracing off
#         (tcp.enabled=no, XD_TCP=yes to keep it: its sockops/tracepoint
#         programs would fire for iperf3's own sockets, which on a real
#         gateway live on other machines), no history (storage.path=);
#     (c) tcpdump -i gw-wan0 -w /dev/null in the gateway namespace (Debian
#         tcpdump/libpcap, TPACKET_V3 ring, default snap length and buffer).
#   Two phases, each its own REPEAT rounds:
#     1. saturated: iperf3 unlimited. The transfer is CPU-bound on this
#        machine, so a monitor's cost shows up as lost throughput;
#     2. fixed rate: iperf3 -b RATE (default RATE_FRACTION 0.5 of phase 1's
#        median unmonitored throughput), so all three move the same bytes
#        and a monitor's cost shows up as extra CPU.
#   Measured per run, over the iperf3 client's lifetime:
#     throughput: iperf3's end.sum_received (bytes the server got);
#     workload CPU: the CPU of everything this bench runs, summed: iperf3
#       client and server (iperf3's own getrusage, which adds up to the
#       scheduler's runtime), the ksoftirqd threads (delta of
#       /proc/PID/schedstat) and the monitor process. The kernel here has
#       no IRQ_TIME_ACCOUNTING, so softirq work (veth forwarding, the TC
#       programs, tcpdump's copy into its AF_PACKET ring) is charged to the
#       task it interrupts or runs in - the iperf3 sender, or ksoftirqd -
#       and is inside this sum (softirq work that runs on an idle CPU,
#       charged to the idle task, is not; with veth it is little). Also per
#       GB moved;
#     machine busy: all CPUs' busy jiffies from /proc/stat (user nice
#       system irq softirq steal), as asked for, and for what it is worth:
#       it is sampled at the tick, and iperf3's pacing in phase 2 aliases
#       with it (measured on this VM: 0.05 s of busy jiffies for 0.9 s of
#       precise iperf3 CPU at 3 Gbit/s), and on a shared machine it
#       includes other people's work;
#     other processes: the CPU of every process not started by this bench
#       (utime + stime + reaped children's, /proc/PID/stat) over the run:
#       near zero on a quiet machine; seconds of it make every number of
#       that run suspect (shared caches and cores);
#     monitor CPU:
#       (b) the daemon: delta of /proc/PID/task/*/schedstat (ns on CPU),
#           plus its BPF programs' in-kernel run time: BPF_ENABLE_STATS is
#           held by a helper for the whole bench (BPF_STATS=0 skips it; the
#           stats add two clock reads per program run, charged to (b)), and
#           run_time_ns/run_cnt summed over the programs the daemon holds
#           (a tcx link's fdinfo names its program);
#       (c) tcpdump: delta of its schedstat (utime+stime in ns), plus its own
#           capture statistics at exit (captured / dropped by kernel). Its
#           kernel-side copy is NOT in this number (see workload CPU).
#   Ratios, per round (a, b, c of one round paired), then the median over
#   rounds: throughput b/a and c/a; monitor CPU c/b (tcpdump's process time
#   over the daemon + its BPF programs: the process-level comparison the
#   issue asks for, without tcpdump's kernel-side copy); workload CPU added per GB,
#   b-a and c-a, and their ratio (c-a)/(b-a): what each monitor costs the
#   machine, kernel included. When xdprobed's addition is within the noise
#   (half the max-min spread of the (a) runs) the ratio is not printed.
#   Shared machines: with QUIET=1 (default) each round waits (at most
#   QUIET_WAIT s) until the other processes use less than QUIET_MAX (0.05)
#   of a CPU, and a round in which they used more than that during one of
#   its runs is done again (QUIET_RETRIES times, then kept and marked);
#   the medians are over the clean rounds.
#   Sanity: (b) must have exported WAN-side RTT samples, (c) must have
#   captured packets, and no tcx program may be left on the gateway's
#   interfaces in (a)/(c); else the run fails.
#
# Usage (root): bash tests/bench/bench_passive.sh
#   env: REPEAT=5 DURATION=10 STREAMS=1 SETTLE_S=1 OFFLOADS=default|off PIN=1
#        RATE_FRACTION=0.5 RATE=<bits/s, overrides RATE_FRACTION> PHASES="1 2"
#        BPF_STATS=1 XD_TCP=no QUIET=1 QUIET_MAX=0.05 QUIET_WAIT=300
#        QUIET_RETRIES=3 XDPROBE_BUILD=DIR NSL_KEEP=1 (keep the logs)
#        FLOOD=0|N: then also send N distinct flows (flowflood.c, DNS
#        queries) through the gateway with xdprobed attached and print its
#        VmRSS/map memory and unmeasured counters (the full 1 M run of
#        tests/integration/test_passive_flood.sh, outside its time limit).
# Needs: a build, iperf3, tcpdump, bpftool, python3 (JSON, BPF stats).
# Exit status: 0 done, 1 a run or a sanity check failed, 77 not root.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

REPEAT=${REPEAT:-5}
DURATION=${DURATION:-10}
STREAMS=${STREAMS:-1}
SETTLE_S=${SETTLE_S:-1}
OFFLOADS=${OFFLOADS:-default}
RATE_FRACTION=${RATE_FRACTION:-0.5}
RATE=${RATE:-}
PHASES=${PHASES:-1 2}
BPF_STATS=${BPF_STATS:-1}
XD_TCP=${XD_TCP:-no}
FLOOD=${FLOOD:-0}
PIN=${PIN:-1}
QUIET=${QUIET:-1}
QUIET_MAX=${QUIET_MAX:-0.05}
QUIET_WAIT=${QUIET_WAIT:-300}
QUIET_RETRIES=${QUIET_RETRIES:-3}
CL=198.18.0.2 GW_LAN=198.18.0.1 GW_WAN=198.19.0.1 SV=198.19.0.2
PORT=5201
HZ=$(getconf CLK_TCK)

need() { # need CMD PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	log "bench: $1 not found (apt-get install $2)"
	exit 1
}
need iperf3 iperf3
need tcpdump tcpdump
need bpftool bpftool
need python3 python3
need ethtool ethtool
if ! [ -x "$XDPROBED" ] || ! [ -x "$XDPROBE" ]; then
	log "bench: build first (cmake --build build), or set XDPROBE_BUILD"
	exit 1
fi

# ---------------------------------------------------------------- helpers
sched_ns() { # sched_ns PID: ns on CPU, summed over the live threads
	cat "/proc/$1/task/"*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
busy_jiffies() { # all CPUs: "busy steal", busy = user nice system irq softirq
	awk '$1 == "cpu" { printf "%.0f %.0f\n", $2 + $3 + $4 + $7 + $8, $9; exit }' /proc/stat
}
# bpf_sum PID KEY [NAME-PREFIX]: sum of KEY (run_time_ns, run_cnt) over the
# BPF programs PID holds (fds of programs and links).
bpf_sum() {
	local id s=0 v
	for id in $(cat "/proc/$1/fdinfo/"* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un); do
		v=$(bpftool prog show id "$id" 2>/dev/null | awk -v key="$2" -v pre="${3:-}" '
			NR == 1 && pre != "" { for (i = 1; i < NF; i++) if ($i == "name" && index($(i + 1), pre) != 1) exit }
			{ for (i = 1; i < NF; i++) if ($i == key) { print $(i + 1); exit } }')
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
median() { # median VALUES...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; } # calc FORMAT EXPRESSION
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

# ------------------------------------------------------------- topology
nsl_init pbnch || exit 1 # our own prefix: namespaces pbnchXXXXXX-*
topo_up() {
	local n p
	for n in cl gw sv; do
		nsl_add "$n" || return 1
		nsl_sysctl "$n" net.ipv6.conf.all.disable_ipv6 1
		nsl_sysctl "$n" net.ipv6.conf.default.disable_ipv6 1
	done
	nsl_veth cl cl-eth0 gw gw-lan0 && nsl_veth gw gw-wan0 sv sv-eth0 || return 1
	nsl_sysctl gw net.ipv4.ip_forward 1
	nsl_exec cl ip addr add "$CL/24" dev cl-eth0 &&
		nsl_exec cl ip route add default via "$GW_LAN" &&
		nsl_exec gw ip addr add "$GW_LAN/24" dev gw-lan0 &&
		nsl_exec gw ip addr add "$GW_WAN/24" dev gw-wan0 &&
		nsl_exec sv ip addr add "$SV/24" dev sv-eth0 &&
		nsl_exec sv ip route add 198.18.0.0/24 via "$GW_WAN" || return 1
	if [ "$OFFLOADS" = off ]; then
		for p in "cl cl-eth0" "gw gw-lan0" "gw gw-wan0" "sv sv-eth0"; do
			# shellcheck disable=SC2086
			nsl_offloads_off $p || return 1
		done
	fi
	nsl_exec cl ping -q -c 1 -W 2 "$SV" >/dev/null
}
topo_up || { log "bench: topology failed"; exit 1; }
PIN_CL=() PIN_SV=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	PIN_CL=(taskset -c 0) PIN_SV=(taskset -c 1)
fi
nsl_bg sv "$NSL_DIR/iperf3-server.log" "${PIN_SV[@]}" iperf3 -s -B "$SV" -p "$PORT" >/dev/null
nsl_wait_tcp cl "$SV" "$PORT" 5 || exit 1

if [ "$BPF_STATS" = 1 ]; then
	# bpf(BPF_ENABLE_STATS = 32, type BPF_STATS_RUN_TIME = 0): the kernel
	# counts while the returned descriptor is open, i.e. while this helper
	# lives; the netns cleanup ends it (as in bench_tcp_tracing.sh).
	nsl_bg gw "$NSL_DIR/bpfstats.log" python3 -c '
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(16)
nr = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
fd = libc.syscall(nr, 32, attr, 16) if nr else -1
if fd < 0:
    print("BPF_ENABLE_STATS failed, errno", ctypes.get_errno(), file=sys.stderr)
    sys.exit(1)
print("ok", flush=True)
signal.pause()' >/dev/null
	for ((i = 0; i < 50; i++)); do
		grep -q '^ok' "$NSL_DIR/bpfstats.log" 2>/dev/null && break
		kill -0 "$NSL_LAST_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^ok' "$NSL_DIR/bpfstats.log"; then
		log "bench: cannot enable BPF run-time stats, going on without"
		BPF_STATS=0
	fi
fi

# ---------------------------------------------------------------- one run
# iperf_run DIR [RATE]: the workload; leaves $DIR/iperf.json; prints nothing
iperf_run() {
	local rate_opt=()
	[ -n "${2:-}" ] && rate_opt=(-b "$2")
	nsl_bg cl "$1/iperf.json" "${PIN_CL[@]}" iperf3 -c "$SV" -p "$PORT" -t "$DURATION" \
		-P "$STREAMS" -J "${rate_opt[@]}" >/dev/null
	wait "$NSL_LAST_PID"
}
iperf_bytes() { # iperf_bytes JSON: "bytes seconds client_cpu_s server_cpu_s"
	# iperf3 measures its own CPU (getrusage: utime + stime, which sums to
	# the precise sched runtime) for the client and, as "remote", the server
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
e = d["end"]; u = e["cpu_utilization_percent"]
print("%d %.6f %.4f %.4f" % (e["sum_received"]["bytes"], e["sum_received"]["seconds"],
	u["host_total"] / 100 * e["sum_sent"]["seconds"], u["remote_total"] / 100 * e["sum_received"]["seconds"]))' "$1"
}
# other_ticks: CPU clock ticks of every process that is not this bench's
# (not $$ or a descendant) nor a ksoftirqd thread: utime + stime of the
# live ones + cutime + cstime (their reaped children). A delta over a run
# is the other work that shared the machine with it.
other_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v me="$$" '
		{
			pid = $1; r = $0; sub(/^.*\) /, "", r); split(r, f, " ")
			comm = $0; sub(/^[0-9]+ \(/, "", comm); sub(/\) [^)]*$/, "", comm)
			ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15]
			if (comm ~ /^ksoftirqd\//) skip[pid] = 1
		}
		END {
			for (p in t) {
				q = p
				for (d = 0; d < 64 && q > 1 && q != me; d++) q = ppid[q]
				if (q != me && !skip[p]) s += t[p]
			}
			printf "%.0f\n", s
		}'
}
softirqd_ns() { # ns on CPU of all ksoftirqd threads
	local p s=0 v
	for p in $(grep -lx 'ksoftirqd/[0-9]*' /proc/[0-9]*/comm 2>/dev/null); do
		p=${p#/proc/} p=${p%/comm}
		read -r v _ <"/proc/$p/schedstat" 2>/dev/null && s=$((s + v))
	done
	echo "$s"
}
tcx_count() { # programs attached to the gateway's interfaces
	nsl_exec gw bpftool net show 2>/dev/null | grep -cE 'gw-(lan|wan)0'
}

# Results: R_<field>[cfg,round] in associative arrays
declare -A TPUT CPU WORK WORKGB BG STEAL BPFGB MONGB MON MOND MONB RUNS CONTAMINATED
one_run() { # one_run PHASE ROUND CFG [RATE]
	local phase=$1 round=$2 cfg=$3 rate=${4:-} dir pid="" j0 j1 m0=0 m1=0 b0=0 b1=0 n0=0 n1=0
	local bytes secs ccpu scpu s0 s1 o0 o1 st0 st1 extra=""
	dir=$NSL_DIR/p$phase-r$round-$cfg
	mkdir -p "$dir"
	case $cfg in
	a)
		[ "$(tcx_count)" = 0 ] || { log "bench: something is attached in (a)"; return 1; }
		;;
	b)
		start_daemon --window 1s --set passive.lan=gw-lan0 --set passive.wan=gw-wan0 \
			--set storage.path= --set tcp.enabled="$XD_TCP" || return 1
		pid=$DAEMON_PID
		;;
	c)
		[ "$(tcx_count)" = 0 ] || { log "bench: something is attached in (c)"; return 1; }
		nsl_bg gw "$dir/tcpdump.log" tcpdump -n -i gw-wan0 -w /dev/null >/dev/null
		pid=$NSL_LAST_PID
		local i
		for ((i = 0; i < 50; i++)); do
			grep -q 'listening on' "$dir/tcpdump.log" && break
			sleep 0.1
		done
		grep -q 'listening on' "$dir/tcpdump.log" || { log "bench: tcpdump did not start"; return 1; }
		;;
	esac
	nsl_sleep "$SETTLE_S"
	read -r j0 st0 < <(busy_jiffies)
	s0=$(softirqd_ns) o0=$(other_ticks)
	[ -n "$pid" ] && m0=$(sched_ns "$pid")
	if [ "$cfg" = b ] && [ "$BPF_STATS" = 1 ]; then
		b0=$(bpf_sum "$pid" run_time_ns) n0=$(bpf_sum "$pid" run_cnt flow_)
	fi
	iperf_run "$dir" "$rate" || { log "bench: iperf3 failed"; cat "$dir/iperf.json" >&2; return 1; }
	read -r j1 st1 < <(busy_jiffies)
	s1=$(softirqd_ns) o1=$(other_ticks)
	[ -n "$pid" ] && m1=$(sched_ns "$pid")
	if [ "$cfg" = b ] && [ "$BPF_STATS" = 1 ]; then
		b1=$(bpf_sum "$pid" run_time_ns) n1=$(bpf_sum "$pid" run_cnt flow_)
	fi
	read -r bytes secs ccpu scpu < <(iperf_bytes "$dir/iperf.json")
	local k="$phase,$cfg,$round"
	TPUT[$k]=$(calc %.4f "$bytes * 8 / $secs / 1e9")
	CPU[$k]=$(calc %.3f "($j1 - $j0) / $HZ")
	MOND[$k]=$(calc %.4f "($m1 - $m0) / 1e9")
	WORK[$k]=$(calc %.3f "$ccpu + $scpu + ($s1 - $s0) / 1e9 + ${MOND[$k]}")
	WORKGB[$k]=$(calc %.4f "${WORK[$k]} / ($bytes / 1e9)")
	BG[$k]=$(calc %.2f "($o1 - $o0) / $HZ")
	STEAL[$k]=$(calc %.2f "($st1 - $st0) / $HZ")
	MONB[$k]=$(calc %.4f "($b1 - $b0) / 1e9")
	BPFGB[$k]=$(calc %.4f "${MONB[$k]} / ($bytes / 1e9)")
	MON[$k]=$(calc %.4f "${MOND[$k]} + ${MONB[$k]}")
	# shellcheck disable=SC2034 # read through the nameref of vals
	MONGB[$k]=$(calc %.4f "${MON[$k]} / ($bytes / 1e9)")
	case $cfg in
	b)
		wait_windows 1 || return 1
		scrape "$dir/xd.prom" || return 1
		stop_daemon || { log "bench: xdprobed exited with status $?"; return 1; }
		local samples
		samples=$(awk '/^xdprobe_passive_rtt_seconds_count/ && /side="wan"/ { s += $2 } END { print s + 0 }' "$dir/xd.prom")
		[ "$samples" -gt 0 ] || { log "bench: xdprobed exported no WAN RTT sample"; return 1; }
		RUNS[$k]=$((n1 - n0))
		extra=$(printf 'daemon %s s + bpf %s s (%s s/GB; %s flow-program runs, %s ns each), %s WAN RTT samples' \
			"${MOND[$k]}" "${MONB[$k]}" "${BPFGB[$k]}" "${RUNS[$k]}" \
			"$(awk -v t=$((b1 - b0)) -v n="${RUNS[$k]}" 'BEGIN { if (n) printf "%.0f", t / n; else print "?" }')" \
			"$samples")
		;;
	c)
		nsl_kill "$pid"
		local cap drop
		cap=$(awk '/packets captured/ { print $1 }' "$dir/tcpdump.log")
		drop=$(awk '/dropped by kernel/ { print $1 }' "$dir/tcpdump.log")
		[ "${cap:-0}" -gt 0 ] || { log "bench: tcpdump captured nothing"; return 1; }
		extra=$(printf 'tcpdump process %s s, captured %s, dropped by kernel %s' \
			"${MOND[$k]}" "$cap" "${drop:-?}")
		;;
	esac
	local what=unlimited
	[ -n "$rate" ] && what="rate $(calc %.2f "$rate / 1e9") Gbit/s"
	printf 'phase %s round %s (%s): %-9s throughput %7.3f Gbit/s  workload cpu %6.3f s (%.4f s/GB)  monitor %s s  machine busy %s s  steal %s s  other processes %s s%s\n' \
		"$phase" "$round" "$what" \
		"$( case $cfg in a) echo none ;; b) echo xdprobed ;; c) echo tcpdump ;; esac)" \
		"${TPUT[$k]}" "${WORK[$k]}" "${WORKGB[$k]}" "${MON[$k]}" "${CPU[$k]}" "${STEAL[$k]}" "${BG[$k]}" \
		"${extra:+  [$extra]}"
}

# wait_quiet: until the other processes use less than QUIET_MAX of a CPU
# over 2 s, at most QUIET_WAIT seconds (QUIET=0: never wait)
wait_quiet() {
	[ "$QUIET" = 1 ] || return 0
	local o0 o1 waited=0
	while [ "$waited" -lt "$QUIET_WAIT" ]; do
		o0=$(other_ticks)
		nsl_sleep 2
		o1=$(other_ticks)
		awk -v d=$((o1 - o0)) -v hz="$HZ" -v q="$QUIET_MAX" 'BEGIN { exit !(d / hz / 2 < q) }' && return 0
		[ "$waited" = 0 ] && log "bench: waiting for a quiet machine (other processes busy)"
		waited=$((waited + 2))
	done
	log "bench: the machine did not get quiet in ${QUIET_WAIT}s, going on"
}
# busy_round PHASE ROUND: true (and marks the round) if in one of its runs
# other processes used more than QUIET_MAX of a CPU on average
busy_round() {
	local cfg
	CONTAMINATED[$1,$2]=
	for cfg in a b c; do
		# negative: a process that had run before exited unseen; unknown, so busy
		if awk -v o="${BG[$1,$cfg,$2]:-0}" -v d="$DURATION" -v q="$QUIET_MAX" 'BEGIN { exit !(o > q * d || -o > q * d) }'; then
			CONTAMINATED[$1,$2]=1
			return 0
		fi
	done
	return 1
}
# clean_rounds PHASE: the rounds to take medians over: the uncontaminated
# ones, or all of them when none is
clean_rounds() {
	local r n=0
	for ((r = 1; r <= REPEAT; r++)); do
		[ -z "${CONTAMINATED[$1,$r]:-}" ] && [ -n "${TPUT[$1,a,$r]:-}" ] && { echo "$r"; n=$((n + 1)); }
	done
	if [ "$n" = 0 ]; then
		for ((r = 1; r <= REPEAT; r++)); do echo "$r"; done
	fi
}

# per_round EXPR-KIND PHASE: per-round ratios printed as a list
#   tput_b, tput_c: throughput b/a, c/a; mon: MON c / MON b;
#   sysgb_b, sysgb_c: workload CPU per GB, b - a and c - a
per_round() {
	local kind=$1 p=$2 r
	for r in $(clean_rounds "$p"); do
		if [ -z "${TPUT[$p,a,$r]:-}" ] || [ -z "${TPUT[$p,b,$r]:-}" ] || [ -z "${TPUT[$p,c,$r]:-}" ]; then
			continue
		fi
		case $kind in
		tput_b) ratio "${TPUT[$p,b,$r]}" "${TPUT[$p,a,$r]}" ;;
		tput_c) ratio "${TPUT[$p,c,$r]}" "${TPUT[$p,a,$r]}" ;;
		mon) ratio "${MON[$p,c,$r]}" "${MON[$p,b,$r]}" ;;
		sysgb_b) calc %.4f "${WORKGB[$p,b,$r]} - ${WORKGB[$p,a,$r]}" ;;
		sysgb_c) calc %.4f "${WORKGB[$p,c,$r]} - ${WORKGB[$p,a,$r]}" ;;
		esac
		echo
	done
}
# vals FIELD PHASE CFG: the values of one configuration over the rounds
vals() {
	local -n arr=$1
	local r
	for r in $(clean_rounds "$2"); do
		[ -n "${arr[$2,$3,$r]:-}" ] && echo "${arr[$2,$3,$r]}"
	done
}
spread() { # spread VALUES...: (max - min) / median, in %
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (m > 0) printf "%.1f", (v[NR] - v[1]) / m * 100; else print "?" }'
}
# incr_ratio C_EXTRA B_EXTRA NOISE: C/B when B's extra is above the noise
incr_ratio() {
	awk -v c="$1" -v b="$2" -v n="$3" 'BEGIN {
		if (b > n) printf "%.1f", c / b
		else printf "n/a: what xdprobed adds is within the noise" }'
}

summary() { # summary PHASE
	local p=$1 cfg t w g m c bg stl
	local r ncont=0 note=""
	for ((r = 1; r <= REPEAT; r++)); do [ -n "${CONTAMINATED[$p,$r]:-}" ] && ncont=$((ncont + 1)); done
	if [ "$ncont" = "$REPEAT" ]; then
		note=" (ALL rounds contaminated by other processes: numbers suspect)"
	elif [ "$ncont" -gt 0 ]; then
		note=" ($ncont contaminated round(s) left out)"
	fi
	echo "median of $(clean_rounds "$p" | wc -l) round(s), phase $p$note:"
	for cfg in a b c; do
		mapfile -t t < <(vals TPUT "$p" "$cfg")
		mapfile -t w < <(vals WORK "$p" "$cfg")
		mapfile -t g < <(vals WORKGB "$p" "$cfg")
		mapfile -t m < <(vals MON "$p" "$cfg")
		mapfile -t c < <(vals CPU "$p" "$cfg")
		mapfile -t bg < <(vals BG "$p" "$cfg")
		mapfile -t stl < <(vals STEAL "$p" "$cfg")
		[ "${#t[@]}" -gt 0 ] || continue
		printf 'median: phase %s %-9s throughput %7.3f Gbit/s (spread %s %%)  workload cpu %s s (%s s/GB, spread %s %%)  monitor %s s  machine busy %s s  steal %s s  other processes %s s\n' \
			"$p" "$( case $cfg in a) echo none ;; b) echo xdprobed ;; c) echo tcpdump ;; esac)" \
			"$(median "${t[@]}")" "$(spread "${t[@]}")" "$(median "${w[@]}")" "$(median "${g[@]}")" \
			"$(spread "${g[@]}")" "$(median "${m[@]}")" "$(median "${c[@]}")" "$(median "${stl[@]}")" \
			"$(median "${bg[@]}")"
	done
	local tb tc mo sgb sgc noise mb mc
	mapfile -t tb < <(per_round tput_b "$p")
	mapfile -t tc < <(per_round tput_c "$p")
	mapfile -t mo < <(per_round mon "$p")
	mapfile -t sgb < <(per_round sysgb_b "$p")
	mapfile -t sgc < <(per_round sysgb_c "$p")
	[ "${#tb[@]}" -gt 0 ] || return 0
	# noise: half the spread (max - min) of the unmonitored runs
	mapfile -t g < <(vals WORKGB "$p" a)
	noise=$(printf '%s\n' "${g[@]}" | sort -g | awk '{ v[NR] = $1 } END { printf "%.4f", (v[NR] - v[1]) / 2 }')
	printf 'median: phase %s ratio throughput  xdprobed/none %s  tcpdump/none %s   (per round: %s | %s)\n' \
		"$p" "$(median "${tb[@]}")" "$(median "${tc[@]}")" "${tb[*]}" "${tc[*]}"
	printf 'median: phase %s ratio monitor cpu  tcpdump process / (xdprobed daemon + bpf) %s   (per round: %s)\n' \
		"$p" "$(median "${mo[@]}")" "${mo[*]}"
	local gb gc
	mapfile -t gb < <(vals MONGB "$p" b)
	mapfile -t gc < <(vals MONGB "$p" c)
	printf 'median: phase %s monitor cpu per GB  xdprobed (daemon + bpf) %s s  tcpdump (process) %s s\n' \
		"$p" "$(median "${gb[@]}")" "$(median "${gc[@]}")"
	mb=$(median "${sgb[@]}") mc=$(median "${sgc[@]}")
	printf 'median: phase %s workload cpu added per GB  xdprobed %s s  tcpdump %s s  (noise +-%s)  ratio tcpdump/xdprobed %s   (per round: %s | %s)\n' \
		"$p" "$mb" "$mc" "$noise" "$(incr_ratio "$mc" "$mb" "$noise")" "${sgb[*]}" "${sgc[*]}"
}

# ------------------------------------------------------------------ runs
log "bench: $(uname -r), $(nproc) CPU(s) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
	"offloads $OFFLOADS, $STREAMS stream(s), ${DURATION}s runs, REPEAT $REPEAT," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
iperf_run "$NSL_DIR" >/dev/null || { log "bench: warm-up iperf3 failed"; exit 1; } # not counted
for phase in $PHASES; do
	rate=
	if [ "$phase" = 2 ]; then
		rate=$RATE
		if [ -z "$rate" ]; then
			mapfile -t t < <(vals TPUT 1 a)
			if [ "${#t[@]}" -eq 0 ]; then
				iperf_run "$NSL_DIR" && read -r by se < <(iperf_bytes "$NSL_DIR/iperf.json") &&
					t=("$(calc %.4f "$by * 8 / $se / 1e9")")
			fi
			rate=$(calc %.0f "$(median "${t[@]}") * 1e9 * $RATE_FRACTION")
		fi
	fi
	for ((round = 1; round <= REPEAT; round++)); do
		for ((try = 0; try <= QUIET_RETRIES; try++)); do
			wait_quiet
			for cfg in a b c; do
				one_run "$phase" "$round" "$cfg" "$rate" ||
					{ log "bench: phase $phase round $round ($cfg) failed"; FAILS=$((FAILS + 1)); }
			done
			busy_round "$phase" "$round" || break
			log "bench: round $round: other processes used more than ${QUIET_MAX} CPU in a run;" \
				"$([ "$try" -lt "$QUIET_RETRIES" ] && echo "again" || echo "kept, marked contaminated")"
		done
		log "bench: load average $(cut -d' ' -f1-3 /proc/loadavg)"
	done
done
for phase in $PHASES; do summary "$phase"; done

# ------------------------------------------------------- optional flood
if [ "$FLOOD" -gt 0 ]; then
	need cc gcc
	cc -O2 -std=gnu11 -o "$NSL_DIR/flowflood" "$TOP/tests/bench/flowflood.c" || exit 1
	nsl_exec gw ip route add 198.19.128.0/17 via "$SV" &&
		nsl_exec sv ip route add local 198.19.128.0/17 dev lo || exit 1
	for n in $(seq 16 31); do nsl_exec cl ip addr add "198.18.0.$n/24" dev cl-eth0; done
	nsl_bg sv "$NSL_DIR/sink.log" "$NSL_DIR/flowflood" sink --port 53 --reply >/dev/null
	start_daemon --window 1s --set passive.lan=gw-lan0 --set passive.wan=gw-wan0 \
		--set storage.path= --set tcp.enabled="$XD_TCP" || exit 1
	f0=$NSL_DIR/flood0.prom f1=$NSL_DIR/flood1.prom
	scrape "$f0"
	rss0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
	nsl_bg cl "$NSL_DIR/flood.log" "$NSL_DIR/flowflood" send --src 198.18.0.16 --src-count 16 \
		--dst 198.19.128.1 --dst-count 128 --dst-step 256 --count "$FLOOD" \
		--report "$NSL_DIR/flood.rep" >/dev/null
	wait "$NSL_LAST_PID"
	wait_windows 2
	scrape "$f1"
	rss1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
	echo "flood: $(tr '\n' ' ' <"$NSL_DIR/flood.rep")"
	echo "flood: xdprobed VmRSS $rss0 -> $rss1 KiB"
	for r in flow_table_full pending_table_full histogram_map_full traffic_map_full reply_without_request; do
		echo "flood: unmeasured $r $(metric "$f0" xdprobe_passive_unmeasured_total reason=$r) -> $(metric "$f1" xdprobe_passive_unmeasured_total reason=$r)"
	done
	stop_daemon || { log "bench: xdprobed exited with status $? after the flood"; FAILS=$((FAILS + 1)); }
fi
finish
