#!/usr/bin/env bash
# Real TCP connections with known properties through the simulated plant;
# the numbers xdprobed exports must match what the test caused.
#  - gateway -> server over a WAN with 10 ms injected each way (20 ms RTT)
#  - field host -> gateway (inbound connections)
#  - connections to a closed port (failures, resets)
# Then SIGTERM: clean exit, every program detached, socket removed.
. "$(dirname "$0")/lib.sh"

N4=40 N6=10 NIN=30 NFAIL=3 RESET_EVERY=10
RTT_MS=20

plant_up --traffic no --wan-delay-ms $((RTT_MS / 2)) --emu-log no || exit 1
nsl_bg srv "$NSL_DIR/srv.log" "$PLANT_BIN_DIR/xdprobe-tcpgen" server \
	--listen "$PLANT_SRV_V4:8883" --listen "[$PLANT_SRV_V6]:8883" >/dev/null
# 4840 on a dual-stack socket: its IPv4 clients appear as ::ffff:a.b.c.d
nsl_bg gw "$NSL_DIR/gw-srv.log" "$PLANT_BIN_DIR/xdprobe-tcpgen" server \
	--listen "$PLANT_GW_LAN_V4:502" --listen "[::]:4840" >/dev/null
# Also resolves the neighbours, so no handshake below waits for ARP or ND.
nsl_wait_tcp gw "$PLANT_SRV_V4" 8883 5 && nsl_wait_tcp gw "[$PLANT_SRV_V6]" 8883 5 &&
	nsl_wait_tcp f1 "$PLANT_GW_LAN_V4" 502 5 || exit 1
start_daemon --window 500ms || exit 1
progs_before=$(bpftool prog list | grep -c 'tcp_state_change')
check "the daemon runs with no capability left" \
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$DAEMON_PID/status"

tcpgen gw --connect "$PLANT_SRV_V4:8883" --count $N4 --concurrency 4 \
	--sizes 100:1000,2000:50000,64:64,12:12 --reset-every $RESET_EVERY \
	--summary "$NSL_DIR/out4.sum"
tcpgen gw --connect "[$PLANT_SRV_V6]:8883" --count $N6 --concurrency 2 --up 500 --down 5000 \
	--summary "$NSL_DIR/out6.sum"
tcpgen f1 --connect "$PLANT_GW_LAN_V4:502" --count $NIN --concurrency 3 --up 12 --down 260 \
	--summary "$NSL_DIR/in.sum"
tcpgen f2 --connect "$PLANT_GW_LAN_V4:4840" --count 5 --up 10 --down 10
tcpgen gw --connect "$PLANT_SRV_V4:9" --count $NFAIL --concurrency 1 --timeout 3 \
	--summary "$NSL_DIR/fail.sum"
wait_windows 3 || exit 1
m=$NSL_DIR/metrics.prom
scrape "$m"

out4="direction=outbound remote=198.19.2.0/24 port=8883"
out6="direction=outbound remote=2001:db8:2::/48 port=8883"
in4="direction=inbound remote=198.18.1.0/24 port=502"
fail4="direction=outbound remote=198.19.2.0/24 port=9"

count=$(metric "$m" xdprobe_tcp_connect_latency_seconds_count $out4)
sum=$(metric "$m" xdprobe_tcp_connect_latency_seconds_sum $out4)
check "IPv4 outbound connects counted" equals "$count" $N4
check "IPv4 connect latency mean within 10 % of the ${RTT_MS} ms path" \
	approx "$(awk -v s="$sum" -v c="$count" 'BEGIN { if (c) printf "%.6f", s / c }')" \
	"$(awk -v r=$RTT_MS 'BEGIN { print r / 1000 }')" 10
check "IPv6 outbound connects counted" \
	equals "$(metric "$m" xdprobe_tcp_connect_latency_seconds_count $out6)" $N6
check "IPv6 connect latency mean within 10 % of the path" \
	approx "$(awk -v s="$(metric "$m" xdprobe_tcp_connect_latency_seconds_sum $out6)" \
		-v c=$N6 'BEGIN { printf "%.6f", s / c }')" 0.020 10
check "inbound connects counted" \
	equals "$(metric "$m" xdprobe_tcp_connect_latency_seconds_count $in4)" $NIN
check "closed connections counted" \
	equals "$(metric "$m" xdprobe_tcp_connections_closed_total $out4)" $N4
check "resets the test sent are counted" \
	equals "$(metric "$m" xdprobe_tcp_resets_sent_total $out4)" $((N4 / RESET_EVERY))
check "bytes sent match the payload plus headers" \
	equals "$(metric "$m" xdprobe_tcp_sent_bytes_total $out4)" \
	$(($(summary_value "$NSL_DIR/out4.sum" bytes_up) + 12 * N4))
check "bytes received match the payload" \
	equals "$(metric "$m" xdprobe_tcp_received_bytes_total $out4)" \
	"$(summary_value "$NSL_DIR/out4.sum" bytes_down)"
check "IPv4 clients of a dual-stack socket are keyed as IPv4" \
	equals "$(metric "$m" xdprobe_tcp_connect_latency_seconds_count \
		direction=inbound remote=198.18.1.0/24 port=4840)" 5
check "inbound bytes received match" \
	equals "$(metric "$m" xdprobe_tcp_received_bytes_total $in4)" $((NIN * (12 + 12)))
check "inbound bytes sent match" \
	equals "$(metric "$m" xdprobe_tcp_sent_bytes_total $in4)" $((NIN * 260))
check "failed connects counted" \
	equals "$(metric "$m" xdprobe_tcp_connect_failures_total $fail4)" $NFAIL
check "resets received from the closed port counted" \
	equals "$(metric "$m" xdprobe_tcp_resets_received_total $fail4)" $NFAIL
rtt_n=$(metric "$m" xdprobe_tcp_rtt_seconds_count $out4)
check "RTT samples exported" test "${rtt_n:-0}" -gt $N4
check "RTT mean within 10 % of the path" \
	approx "$(awk -v s="$(metric "$m" xdprobe_tcp_rtt_seconds_sum $out4)" -v c="$rtt_n" \
		'BEGIN { if (c) printf "%.6f", s / c }')" 0.020 10
check "no event was dropped" \
	equals "$(grep '^xdprobe_tcp_events_dropped_total' "$m" | awk '{ s += $2 } END { print s }')" 0

stop_daemon
check "SIGTERM ends the daemon with status 0" equals "$?" 0
programs_left() { # the kernel frees detached programs asynchronously
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(bpftool prog list | grep -c 'tcp_state_change')" -lt "$progs_before" ] && return 0
		sleep 0.1
	done
	return 1
}
check "every program is detached after SIGTERM" programs_left
check "the socket file is removed" test ! -e "$DAEMON_SOCK"
finish
