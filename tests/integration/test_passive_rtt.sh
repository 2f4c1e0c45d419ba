#!/usr/bin/env bash
# Passive RTT of traffic crossing the gateway, against the truth the WAN
# emulator logs for every frame it forwards (with TCP TSval/TSecr, so the
# exact pairs the timestamp method samples can be timed). Field hosts talk
# through the gateway to a server beyond 5 ms each way (10 ms RTT). Each
# traffic class goes to its own server prefix, so per-prefix medians compare
# one class with the emulator's timing of exactly that class:
#   198.19.2.0/24  interactive TCP (Modbus-like request/response) and ICMP
#   198.19.3.0/24  bulk TCP downloads
. "$(dirname "$0")/lib.sh"

BULK=198.19.3.1
plant_up --traffic no --wan-delay-ms 5 --emu-log yes || exit 1
nsl_exec srv ip addr add "$BULK/24" dev srv-wan0 &&
	nsl_exec gw ip route add 198.19.3.0/24 via "$PLANT_SRV_V4" || exit 1
nsl_bg srv "$NSL_DIR/srv.log" "$PLANT_BIN_DIR/xdprobe-tcpgen" server \
	--listen "$BULK:8883" --listen "$PLANT_SRV_V4:502" >/dev/null
nsl_wait_tcp f1 "$BULK" 8883 5 && nsl_wait_tcp f2 "$PLANT_SRV_V4" 502 5 || exit 1
start_daemon --window 500ms --set passive.wan="$PLANT_GW_WAN_IF" \
	--set passive.lan="$PLANT_GW_LAN_IF" --set storage.flush_interval=200ms || exit 1
check "the passive programs are attached" \
	grep -q "passive RTT on $PLANT_GW_WAN_IF (WAN side" "$DAEMON_LOG"

tcpgen f1 --connect "$BULK:8883" --count 3 --up 100 --down 3000000 --timeout 30
tcpgen f2 --connect "$PLANT_SRV_V4:502" --count 40 --rate 20 --concurrency 1 --up 64 --down 64
nsl_exec f3 ping -q -c 30 -i 0.05 "$PLANT_SRV_V4" >/dev/null
wait_windows 3 || exit 1
m=$NSL_DIR/metrics.prom
scrape "$m"
api() { "$XDPROBE" -s "$DAEMON_SOCK" get "$1"; }
api '/api/v1/passive/ipv4-map?level=8&side=wan' >"$NSL_DIR/map8.json"
api '/api/v1/passive/ipv4-map?level=16&within=198&side=wan' >"$NSL_DIR/map16.json"
check "the IPv4 map has the server's /8 on the WAN side" grep -Eq \
	'\{"index":198,"prefix":"198.0.0.0/8","samples":[1-9]' "$NSL_DIR/map8.json"
check "zooming into 198/8 shows 198.19/16" grep -q '"prefix":"198.19.0.0/16"' "$NSL_DIR/map16.json"
check "and not the field LAN's 198.18/16, which is the LAN side" \
	bash -c "! grep -q '198.18.0.0/16' '$NSL_DIR/map16.json'"
api '/api/v1/passive/top-flows?n=5' >"$NSL_DIR/top.json"
check "the top flows include the bulk downloads with their RTT" grep -Eq \
	'"side":"wan","local":"198.18.1.11","local_port":[0-9]+,"remote":"198.19.3.1","remote_port":8883,"method":"tcp_timestamp","samples":[1-9]' \
	"$NSL_DIR/top.json"
check "per-flow events were read" test "$(metric "$m" xdprobe_passive_flow_events_total)" -gt 0
check "a bad map level is refused" bash -c "! '$XDPROBE' -s '$DAEMON_SOCK' get \
	'/api/v1/passive/ipv4-map?level=12' >/dev/null"
stop_daemon
check "the daemon stops cleanly" equals "$?" 0

# truth PATTERN: for the TCP or ICMP frames whose summary matches PATTERN,
# the median time from a frame leaving the gateway (the emulator's receive
# on side a) to the first frame of the same flow that the server sent after
# receiving it coming back to the gateway (the emulator's send on side a),
# in seconds. This pairs exactly what the passive methods pair: a packet
# and the first answer it can have caused.
truth() {
	awk -v pat="$1" '$2 != "fwd" || $0 !~ pat { next }
	{
		# $8: "a:p>b:p" for TCP (reversed on the way back), "id=N" for ICMP
		if (split($8, ends, ">") == 2)
			flow = $1 == "ab" ? ends[1] ">" ends[2] : ends[2] ">" ends[1]
		else
			flow = $8
		# delivered when the send began: a fast answer can arrive before
		# the sendto() of the emulator returns
		sent = $NF; sub(/^send_ns=/, "", sent)
		if ($1 == "ab") { n = out_n[flow]++; out_rx[flow, n] = $3; out_tx[flow, n] = $4 - sent; next }
		for (i = out_done[flow]; i < out_n[flow] && out_tx[flow, i] <= $3; i++)
			rtt[nr++] = $4 - out_rx[flow, i]
		out_done[flow] = i
	}
	END {
		for (i = 1; i < nr; i++) for (j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
			t = rtt[j]; rtt[j] = rtt[j - 1]; rtt[j - 1] = t }
		printf "%.6f", nr ? rtt[int(nr / 2)] / 1e9 : 0
	}' "$PLANT_WANEM_LOG"
}
# truth_ts PATTERN: for TCP frames matching PATTERN, the median over the
# TSvals the timestamp method would record (a new TSval, at most one per flow
# every 10 ms: the daemon's default sample_interval) of the time from the
# first frame carrying it leaving the gateway to the first frame echoing it
# (TSecr) coming back, timed by the emulator, in seconds.
truth_ts() {
	awk -v pat="$1" '$2 != "fwd" || $0 !~ pat || $7 !~ /^tcp/ { next }
	{
		ts = ""; ecr = ""
		for (i = 9; i <= NF; i++) {
			if ($i ~ /^ts=/) ts = substr($i, 4)
			if ($i ~ /^ecr=/) ecr = substr($i, 5)
		}
		if (ts == "") next
		split($8, ends, ">")
		flow = $1 == "ab" ? ends[1] ">" ends[2] : ends[2] ">" ends[1]
		if ($1 == "ab") {
			if (!((flow, ts) in seen) && (!(flow in last) || $3 - last[flow] >= 10000000)) {
				sent[flow, ts] = $3
				last[flow] = $3
			}
			seen[flow, ts] = 1
			next
		}
		if ((flow, ecr) in sent && !((flow, ecr) in done)) {
			done[flow, ecr] = 1
			rtt[nr++] = $4 - sent[flow, ecr]
		}
	}
	END {
		for (i = 1; i < nr; i++) for (j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
			t = rtt[j]; rtt[j] = rtt[j - 1]; rtt[j - 1] = t }
		printf "%.6f", nr ? rtt[int(nr / 2)] / 1e9 : 0
	}' "$PLANT_WANEM_LOG"
}
# median METHOD PREFIX: from the history's merged histograms of that series
median() {
	"$XDPROBE" query --db "$DAEMON_DB" "SELECT hist_quantile(hist_merge(w.hist), 0.5)
		FROM window_1s w JOIN series s ON s.id = w.series_id
		WHERE s.metric = 'xdprobe_passive_rtt_seconds'
		AND s.labels = 'method=$1,remote=$2,side=wan'" | tail -1
}
compare() { # compare DESCRIPTION METHOD PREFIX TRUTH_FUNCTION TRUTH_PATTERN
	local t
	t=$("$4" "$5")
	check "$1: WAN-side samples exported" test "$(metric "$m" xdprobe_passive_rtt_seconds_count \
		side=wan remote="$3" method="$2")" -gt 10
	check "$1: median within 5 % of the emulator's truth" approx "$(median "$2" "$3")" "$t" 5
}
compare "ICMP echo" icmp_echo 198.19.2.0/24 truth " icmp "
compare "interactive TCP" tcp_timestamp 198.19.2.0/24 truth_ts ":502[ >]"
compare "bulk TCP" tcp_timestamp 198.19.3.0/24 truth_ts ":8883[ >]"
check "LAN-side RTTs are sub-millisecond (no delay on the field LAN)" \
	awk -v s="$(metric "$m" xdprobe_passive_rtt_seconds_sum side=lan method=tcp_timestamp)" \
	-v c="$(metric "$m" xdprobe_passive_rtt_seconds_count side=lan method=tcp_timestamp)" \
	'BEGIN { exit !(c > 0 && s / c < 0.001) }'
check "the bulk bytes towards the gateway are counted" \
	test "$(metric "$m" xdprobe_passive_bytes_total side=wan remote=198.19.3.0/24 direction=in)" \
	-gt 9000000
check "no parse errors on ordinary traffic" \
	equals "$(metric "$m" xdprobe_passive_unmeasured_total reason=parse_error)" 0
finish
