#!/usr/bin/env bash
# bench_tcp_tracing.sh: what it costs to know about every TCP connection of
# the gateway, three ways, measured side by side on one workload.
#
# Method
#   Plant from board/sim/plant.sh (--traffic no, WAN delay WAN_DELAY_MS each
#   way, default 1 ms), a tcpgen server in the srv namespace (port 8883).
#   The plant is built once; each of REPEAT runs (default 3) starts fresh,
#   in the gateway namespace:
#     (a) xdprobed --window 1s, and a loop that scrapes it once a second with
#         the CLI (`xdprobe -s SOCK metrics`, so rendering is included);
#     (b) the non-eBPF way: a bash loop that once a second runs `ss -tin` and
#         parses it with awk (connections per remote with their mean and max
#         rtt, plus each connection to the server so we can count how many
#         distinct ones it ever saw); it runs under /usr/bin/time for its
#         peak RSS;
#     (c) prometheus-node-exporter, default collectors (Debian's defaults),
#         on 127.0.0.1:9100, and a loop that scrapes it once a second with
#         curl.
#   The two exporters start, then SETTLE_S seconds pass (their start-up is
#   not measured). Then the measured window opens: CPU counters read, the
#   three loops start, the workload runs (CONNS connections gateway ->
#   server, tcpgen --concurrency CONCURRENCY cycling through SIZES), TAIL_S
#   more seconds pass (the last windows are drained and scraped), counters
#   read again, the loops told to stop (a stop file, seen at their next
#   turn; every loop is "work; sleep 1").
#   CPU seconds, all in-window:
#     exporters: delta of the sum over their threads of
#                /proc/PID/task/*/schedstat (ns on CPU);
#     loops:     bash's `times` at the loop's end (the loop shell and all its
#                children: ss, awk, sleep, curl, the xdprobe CLI; ms).
#   The scrapers' cost is INCLUDED, consistently: xdprobed = daemon + CLI
#   loop; node-exporter = exporter + curl loop; ss = the poller loop (ss is
#   its own scraper). The exporter and scraper parts are printed apart.
#   Not in xdprobed's CPU: its eBPF programs, which run in the context of
#   the traced sockets (tcpgen, softirq) and for every TCP socket of the
#   machine (they filter on the namespace). So the kernel's BPF run-time
#   statistics are enabled while the bench runs (BPF_ENABLE_STATS: a
#   descriptor held by a helper process, released when it exits; BPF_STATS=0
#   skips this) and the in-window run time of xdprobed's programs is printed
#   as "bpf", with a ratio that adds it to xdprobed.
#   Peak RSS: VmHWM of the exporter process over its whole life, start-up
#   included (the short-lived scrape clients are not added; the RSS at the
#   end of the window is printed too); for the poller the largest process
#   of its tree (GNU time's %M: ss, awk or bash). Kernel memory is in no
#   RSS: xdprobed's BPF maps (memlock) are printed apart.
#   Connections seen: xdprobed = xdprobe_tcp_connect_latency_seconds_count
#   and xdprobe_tcp_connections_closed_total for the server's /24 and port
#   (both must equal CONNS: the run checks correctness and fails if not);
#   ss = distinct (local, remote) address pairs to the server it ever
#   listed (CONNS minus that is what a 1 s poll missed); node-exporter =
#   delta of node_netstat_Tcp_ActiveOpens minus its own scrape connections
#   (delta of promhttp_metric_handler_requests_total): a whole-namespace
#   count without peers, ports or latency. Reads made for checking happen
#   outside the measured window.
#
# Usage (root): bash tests/bench/bench_tcp_tracing.sh
#   env: REPEAT=3 CONNS=10000 CONCURRENCY=8 WAN_DELAY_MS=1 SETTLE_S=2
#        TAIL_S=2.5 SIZES=up:down,... BPF_STATS=1 XDPROBE_BUILD=DIR
#        NSL_KEEP=1 (keep the logs)
# Needs: a build, prometheus-node-exporter (installed through
# board/setup-deps.sh bench when missing), curl, ss, bpftool, /usr/bin/time,
# python3 (only for BPF_STATS).
# Exit status: 0 all checks passed, 1 a check or a run failed, 77 not root.
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

REPEAT=${REPEAT:-3}
CONNS=${CONNS:-10000}
CONCURRENCY=${CONCURRENCY:-8}
WAN_DELAY_MS=${WAN_DELAY_MS:-1}
SETTLE_S=${SETTLE_S:-2}
TAIL_S=${TAIL_S:-2.5}
SIZES=${SIZES:-64:64,12:12,100:1000,300:4000,517:20000,2000:50000,64:1500,1200:200}
BPF_STATS=${BPF_STATS:-1}
PORT=8883
NE_PORT=9100

need() { # need CMD PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	log "bench: $1 not found (apt-get install $2)"
	exit 1
}
if ! command -v prometheus-node-exporter >/dev/null 2>&1; then
	bash "$TOP/board/setup-deps.sh" bench || exit 1
fi
need prometheus-node-exporter prometheus-node-exporter
need curl curl
need ss iproute2
need /usr/bin/time time
need bpftool bpftool
if [ "$BPF_STATS" = 1 ] && ! command -v python3 >/dev/null 2>&1; then
	log "bench: no python3, BPF run time not measured"
	BPF_STATS=0
fi
if ! [ -x "$XDPROBED" ] || ! [ -x "$XDPROBE" ] || ! [ -x "$PLANT_BIN_DIR/xdprobe-tcpgen" ]; then
	log "bench: build first (cmake --build build)"
	exit 1
fi

# ---------------------------------------------------------------- helpers
sched_ns() { # sched_ns PID: ns on CPU, summed over the live threads
	cat "/proc/$1/task/"*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

loop_ms() { # loop_ms FILE: bash `times` output -> total ms (self + children)
	awk '{ for (i = 1; i <= NF; i++) { split($i, a, /[ms]/); s += a[1] * 60000 + a[2] * 1000 } }
		END { printf "%.0f\n", s }' "$1" 2>/dev/null
}

status_kib() { # status_kib PID [FIELD]: VmHWM (or FIELD, e.g. VmRSS) in KiB
	awk -v f="${2:-VmHWM}:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null
}

# bpf_sum prog|map PID KEY: sum of KEY (run_time_ns, run_cnt, memlock) over
# the BPF programs or maps a process holds. The ids come from its fds'
# fdinfo (a link's fdinfo names its program): bpftool's "pids" column needs
# support that a distribution's bpftool may lack.
bpf_sum() {
	local id ids s=0 v
	ids=$(cat "/proc/$2/fdinfo/"* 2>/dev/null | awk -v k="$1_id:" '$1 == k { print $2 }' | sort -un)
	for id in $ids; do
		v=$(bpftool "$1" show id "$id" 2>/dev/null | awk -v key="$3" '
			{ for (i = 1; i < NF; i++) if ($i == key) { x = $(i + 1); sub(/B$/, "", x); print x; exit } }')
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

ne_value() { # ne_value FILE NAME [LABEL-TEXT]: sum of the samples of NAME
	awk -v name="$2" -v lab="${3:-}" '
		$0 ~ /^#/ { next }
		{ n = index($1, "{"); b = n ? substr($1, 1, n - 1) : $1 }
		b == name && (lab == "" || index($1, lab)) { s += $2 }
		END { printf "%.0f\n", s }' "$1"
}

median() { # median VALUES...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
fmt3() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%.3f", v / d }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }

# --------------------------------------------------------------- the plant
nsl_init tcpbn || exit 1 # our own prefix: namespaces tcpbnXXXXXX-*
plant_up --traffic no --wan-delay-ms "$WAN_DELAY_MS" --emu-log no || exit 1
nsl_bg srv "$NSL_DIR/srv.log" "$PLANT_BIN_DIR/xdprobe-tcpgen" server \
	--listen "$PLANT_SRV_V4:$PORT" >/dev/null
nsl_wait_tcp gw "$PLANT_SRV_V4" "$PORT" 5 || exit 1

if [ "$BPF_STATS" = 1 ]; then
	# bpf(BPF_ENABLE_STATS = 32, type BPF_STATS_RUN_TIME = 0): the kernel
	# counts while the returned descriptor is open, i.e. while this helper
	# lives; the netns cleanup ends it.
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
		cat "$NSL_DIR/bpfstats.log" >&2
		BPF_STATS=0
	fi
fi

OUT_LABELS="direction=outbound remote=${PLANT_SRV_V4%.*}.0/24 port=$PORT"

# The ss poller: per poll, connections per remote with mean and max rtt in
# ms ("R" lines), and each connection to the server ("C" lines).
# shellcheck disable=SC2016
SS_AWK='
	NR == 1 { next }
	/^[^ \t]/ {
		remote = $5; sub(/:[0-9]+$/, "", remote); n[remote]++
		if ($5 == peer) print "C", t, $4, $5
		next
	}
	{
		for (i = 1; i <= NF; i++) if ($i ~ /^rtt:/) {
			split(substr($i, 5), r, "/"); sum[remote] += r[1]
			if (r[1] > max[remote]) max[remote] = r[1]
		}
	}
	END { for (k in n) printf "R %s %s %d %.3f %.3f\n", t, k, n[k], sum[k] / n[k], max[k] }'
# shellcheck disable=SC2016
POLLER='
stop=$1 times=$2 out=$3 peer=$4 prog=$5
while [ ! -e "$stop" ]; do
	ss -tin | awk -v peer="$peer" -v t="$EPOCHSECONDS" "$prog" >>"$out"
	sleep 1
done
times >"$times"'
# shellcheck disable=SC2016
SCRAPE_LOOP='
stop=$1 times=$2
shift 2
while [ ! -e "$stop" ]; do
	"$@" >/dev/null 2>&1
	sleep 1
done
times >"$times"'

declare -a R_XD_CPU=() R_XD_D=() R_XD_S=() R_XD_BPF=() R_XD_RSS=() R_XD_NOW=() R_XD_SEEN=()
declare -a R_SS_CPU=() R_SS_RSS=() R_SS_SEEN=()
declare -a R_NE_CPU=() R_NE_D=() R_NE_S=() R_NE_RSS=() R_NE_NOW=() R_NE_SEEN=()
declare -a R_WIN=() R_WORK=() R_MAPS=() R_BPF_NS=()

one_run() {
	local run=$1 dir=$NSL_DIR/run$1 stop i
	mkdir -p "$dir"
	stop=$dir/stop

	start_daemon --window 1s || return 1
	local xd=$DAEMON_PID
	nsl_bg gw "$dir/ne.log" prometheus-node-exporter \
		--web.listen-address="127.0.0.1:$NE_PORT" >/dev/null
	local ne=$NSL_LAST_PID
	nsl_wait_tcp gw 127.0.0.1 $NE_PORT 10 || return 1
	nsl_sleep "$SETTLE_S"
	nsl_exec gw curl -s -o "$dir/ne0.prom" "http://127.0.0.1:$NE_PORT/metrics" || return 1

	# ---- the measured window opens
	local t0 t1 tw0 tw1 c0_xd c0_ne c1_xd c1_ne b0=0 b1=0 n0=0 n1=0
	t0=$(date +%s.%N)
	c0_xd=$(sched_ns "$xd") c0_ne=$(sched_ns "$ne")
	if [ "$BPF_STATS" = 1 ]; then
		b0=$(bpf_sum prog "$xd" run_time_ns) n0=$(bpf_sum prog "$xd" run_cnt)
	fi
	nsl_bg gw "$dir/xdscrape.log" bash -c "$SCRAPE_LOOP" xdscrape "$stop" "$dir/xds.times" \
		"$XDPROBE" -s "$DAEMON_SOCK" metrics >/dev/null
	local xds=$NSL_LAST_PID
	nsl_bg gw "$dir/nescrape.log" bash -c "$SCRAPE_LOOP" nescrape "$stop" "$dir/nes.times" \
		curl -s -o /dev/null "http://127.0.0.1:$NE_PORT/metrics" >/dev/null
	local nes=$NSL_LAST_PID
	nsl_bg gw "$dir/poller.log" /usr/bin/time -f '%M' -o "$dir/poller.time" \
		bash -c "$POLLER" poller "$stop" "$dir/ss.times" "$dir/ss.out" \
		"$PLANT_SRV_V4:$PORT" "$SS_AWK" >/dev/null
	local timepid=$NSL_LAST_PID

	tw0=$(date +%s.%N)
	# in the background, so that INT/TERM are handled at once (see nsl_sleep)
	nsl_bg gw "$dir/tcpgen.log" "$PLANT_BIN_DIR/xdprobe-tcpgen" client \
		--connect "$PLANT_SRV_V4:$PORT" --count "$CONNS" --concurrency "$CONCURRENCY" \
		--sizes "$SIZES" --summary "$dir/tcpgen.sum" >/dev/null
	wait "$NSL_LAST_PID"
	local gen_rc=$?
	tw1=$(date +%s.%N)
	nsl_sleep "$TAIL_S"

	c1_xd=$(sched_ns "$xd") c1_ne=$(sched_ns "$ne")
	if [ "$BPF_STATS" = 1 ]; then
		b1=$(bpf_sum prog "$xd" run_time_ns) n1=$(bpf_sum prog "$xd" run_cnt)
	fi
	: >"$stop"
	t1=$(date +%s.%N)
	# ---- closed (the loops end at their next turn, within a second)
	local rss_xd rss_ne now_xd now_ne maps_xd
	rss_xd=$(status_kib "$xd") rss_ne=$(status_kib "$ne")
	now_xd=$(status_kib "$xd" VmRSS) now_ne=$(status_kib "$ne" VmRSS)
	maps_xd=$(bpf_sum map "$xd" memlock)
	wait "$xds" "$nes" "$timepid" 2>/dev/null
	for i in xds nes ss; do
		[ -s "$dir/$i.times" ] || { log "bench: the $i loop left no times"; return 1; }
	done

	nsl_exec gw curl -s -o "$dir/ne1.prom" "http://127.0.0.1:$NE_PORT/metrics" || return 1
	wait_windows 1 || return 1
	scrape "$dir/xd.prom" || return 1
	stop_daemon || log "bench: xdprobed exited with status $?"
	nsl_kill "$ne"

	local m=$dir/xd.prom
	local xd_count xd_closed xd_drop ss_seen ne_opens ne_reqs ne_seen rss_ss lat_xd lat_gen
	xd_count=$(metric "$m" xdprobe_tcp_connect_latency_seconds_count "$OUT_LABELS")
	xd_closed=$(metric "$m" xdprobe_tcp_connections_closed_total "$OUT_LABELS")
	xd_drop=$(grep '^xdprobe_tcp_events_dropped_total' "$m" | awk '{ s += $2 } END { print s + 0 }')
	lat_xd=$(awk -v s="$(metric "$m" xdprobe_tcp_connect_latency_seconds_sum "$OUT_LABELS")" \
		-v c="${xd_count:-0}" 'BEGIN { if (c) printf "%.3f", s / c * 1000 }')
	lat_gen=$(awk -v s="$(summary_value "$dir/tcpgen.sum" connect_ns_sum)" \
		-v c="$(summary_value "$dir/tcpgen.sum" connections_ok)" \
		'BEGIN { if (c) printf "%.3f", s / c / 1e6 }')
	ss_seen=$(awk '$1 == "C" { print $3, $4 }' "$dir/ss.out" 2>/dev/null | sort -u | wc -l)
	ne_opens=$(($(ne_value "$dir/ne1.prom" node_netstat_Tcp_ActiveOpens) -
		$(ne_value "$dir/ne0.prom" node_netstat_Tcp_ActiveOpens)))
	ne_reqs=$(($(ne_value "$dir/ne1.prom" promhttp_metric_handler_requests_total 'code="200"') -
		$(ne_value "$dir/ne0.prom" promhttp_metric_handler_requests_total 'code="200"')))
	ne_seen=$((ne_opens - ne_reqs))
	rss_ss=$(tail -n 1 "$dir/poller.time")

	check "run $run: tcpgen made $CONNS connections without a failure" equals "$gen_rc" 0
	check "run $run: xdprobed connect latency _count = $CONNS" equals "$xd_count" "$CONNS"
	check "run $run: xdprobed connections_closed_total = $CONNS" equals "$xd_closed" "$CONNS"
	check "run $run: xdprobed dropped no event" equals "$xd_drop" 0

	local x_d x_s n_d n_s
	x_d=$(fmt3 $((c1_xd - c0_xd)) 1e9) x_s=$(fmt3 "$(loop_ms "$dir/xds.times")" 1000)
	n_d=$(fmt3 $((c1_ne - c0_ne)) 1e9) n_s=$(fmt3 "$(loop_ms "$dir/nes.times")" 1000)
	R_XD_D[run]=$x_d R_XD_S[run]=$x_s R_XD_CPU[run]=$(add "$x_d" "$x_s")
	R_NE_D[run]=$n_d R_NE_S[run]=$n_s R_NE_CPU[run]=$(add "$n_d" "$n_s")
	R_SS_CPU[run]=$(fmt3 "$(loop_ms "$dir/ss.times")" 1000)
	R_XD_BPF[run]=$(fmt3 $((b1 - b0)) 1e9)
	R_BPF_NS[run]=$(awk -v t=$((b1 - b0)) -v n=$((n1 - n0)) 'BEGIN { if (n) printf "%.0f", t / n; else print 0 }')
	R_XD_RSS[run]=$(mib "$rss_xd") R_XD_NOW[run]=$(mib "$now_xd")
	R_NE_RSS[run]=$(mib "$rss_ne") R_NE_NOW[run]=$(mib "$now_ne")
	R_SS_RSS[run]=$(mib "${rss_ss:-0}")
	R_MAPS[run]=$(awk -v b="$maps_xd" 'BEGIN { printf "%.2f", b / 1048576 }')
	R_XD_SEEN[run]=${xd_count:-0} R_SS_SEEN[run]=$ss_seen R_NE_SEEN[run]=$ne_seen
	R_WIN[run]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	R_WORK[run]=$(awk -v a="$tw0" -v b="$tw1" 'BEGIN { printf "%.1f", b - a }')

	printf 'run %s: window %s s, workload %s s for %s connections (%s/s), load average %s\n' \
		"$run" "${R_WIN[run]}" "${R_WORK[run]}" "$CONNS" \
		"$(awk -v n="$CONNS" -v t="${R_WORK[run]}" 'BEGIN { printf "%.0f", n / t }')" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'run %s: xdprobed      cpu %s s (daemon %s + scraper %s)  peak_rss %s MiB (at end %s)  seen %s\n' \
		"$run" "${R_XD_CPU[run]}" "$x_d" "$x_s" "${R_XD_RSS[run]}" "${R_XD_NOW[run]}" "${R_XD_SEEN[run]}"
	printf 'run %s: xdprobed      bpf programs %s s (%s runs, %s ns each)  bpf maps %s MiB  closed %s  mean connect %s ms (tcpgen: %s ms)\n' \
		"$run" "${R_XD_BPF[run]}" $((n1 - n0)) "${R_BPF_NS[run]}" "${R_MAPS[run]}" \
		"$xd_closed" "$lat_xd" "$lat_gen"
	printf 'run %s: ss-poller     cpu %s s (the whole loop)  peak_rss %s MiB  seen %s (missed %s)\n' \
		"$run" "${R_SS_CPU[run]}" "${R_SS_RSS[run]}" "$ss_seen" $((CONNS - ss_seen))
	printf 'run %s: node-exporter cpu %s s (exporter %s + scraper %s)  peak_rss %s MiB (at end %s)  seen %s (netns ActiveOpens: no peer, no latency)\n' \
		"$run" "${R_NE_CPU[run]}" "$n_d" "$n_s" "${R_NE_RSS[run]}" "${R_NE_NOW[run]}" "$ne_seen"
	printf 'run %s: ratio cpu ss/xdprobed %s node_exporter/xdprobed %s | ratio peak_rss ss/xdprobed %s node_exporter/xdprobed %s\n' \
		"$run" "$(ratio "${R_SS_CPU[run]}" "${R_XD_CPU[run]}")" \
		"$(ratio "${R_NE_CPU[run]}" "${R_XD_CPU[run]}")" \
		"$(ratio "${R_SS_RSS[run]}" "${R_XD_RSS[run]}")" \
		"$(ratio "${R_NE_RSS[run]}" "${R_XD_RSS[run]}")"
}

log "bench: $REPEAT run(s) of $CONNS connections, concurrency $CONCURRENCY," \
	"WAN delay $WAN_DELAY_MS ms each way, $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for ((run = 1; run <= REPEAT; run++)); do
	one_run "$run" || { log "bench: run $run failed"; FAILS=$((FAILS + 1)); break; }
done

if [ "${#R_XD_CPU[@]}" -gt 0 ]; then
	xc=$(median "${R_XD_CPU[@]}") xr=$(median "${R_XD_RSS[@]}") xn=$(median "${R_XD_NOW[@]}")
	xb=$(median "${R_XD_BPF[@]}")
	sc=$(median "${R_SS_CPU[@]}") sr=$(median "${R_SS_RSS[@]}") ss_seen=$(median "${R_SS_SEEN[@]}")
	nc=$(median "${R_NE_CPU[@]}") nr=$(median "${R_NE_RSS[@]}") nn=$(median "${R_NE_NOW[@]}")
	echo "median of ${#R_XD_CPU[@]} run(s):"
	printf 'median: window %s s, workload %s s\n' "$(median "${R_WIN[@]}")" "$(median "${R_WORK[@]}")"
	printf 'median: xdprobed      cpu %s s (daemon %s + scraper %s)  peak_rss %s MiB (at end %s)  seen %s of %s\n' \
		"$xc" "$(median "${R_XD_D[@]}")" "$(median "${R_XD_S[@]}")" "$xr" "$xn" \
		"$(median "${R_XD_SEEN[@]}")" "$CONNS"
	[ "$BPF_STATS" = 1 ] &&
		printf 'median: xdprobed      bpf programs %s s (%s ns a run)  bpf maps %s MiB\n' \
			"$xb" "$(median "${R_BPF_NS[@]}")" "$(median "${R_MAPS[@]}")"
	printf 'median: ss-poller     cpu %s s  peak_rss %s MiB  seen %s of %s (missed %s)\n' \
		"$sc" "$sr" "$ss_seen" "$CONNS" "$(awk -v n="$CONNS" -v s="$ss_seen" 'BEGIN { print n - s }')"
	printf 'median: node-exporter cpu %s s (exporter %s + scraper %s)  peak_rss %s MiB (at end %s)  seen %s of %s (aggregate only)\n' \
		"$nc" "$(median "${R_NE_D[@]}")" "$(median "${R_NE_S[@]}")" "$nr" "$nn" \
		"$(median "${R_NE_SEEN[@]}")" "$CONNS"
	printf 'median: ratio cpu       ss/xdprobed %s  node_exporter/xdprobed %s\n' \
		"$(ratio "$sc" "$xc")" "$(ratio "$nc" "$xc")"
	printf 'median: ratio peak_rss  ss/xdprobed %s  node_exporter/xdprobed %s\n' \
		"$(ratio "$sr" "$xr")" "$(ratio "$nr" "$xr")"
	printf 'median: ratio rss at end of window  ss/xdprobed %s  node_exporter/xdprobed %s\n' \
		"$(ratio "$sr" "$xn")" "$(ratio "$nn" "$xn")"
	[ "$BPF_STATS" = 1 ] &&
		printf 'median: ratio cpu with the bpf programs  ss/(xdprobed+bpf) %s  node_exporter/(xdprobed+bpf) %s\n' \
			"$(ratio "$sc" "$(add "$xc" "$xb")")" "$(ratio "$nc" "$(add "$xc" "$xb")")"
fi
finish
