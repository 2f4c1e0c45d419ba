#!/usr/bin/env bash
# The WAN emulator drops exactly the first N data segments from the gateway
# to the server; the retransmissions xdprobed counts must equal the kernel's
# own RetransSegs counter of the gateway namespace, and be at least N. The
# drops are recovered by fast retransmit, RTO and tail loss probes alike.
. "$(dirname "$0")/lib.sh"

DROPS=5
plant_up --traffic no --wan-delay-ms 5 --emu-log no --wan-drop-tcp-data $DROPS || exit 1
nsl_bg srv "$NSL_DIR/srv.log" "$PLANT_BIN_DIR/xdprobe-tcpgen" server \
	--listen "$PLANT_SRV_V4:8883" >/dev/null
nsl_wait_tcp gw "$PLANT_SRV_V4" 8883 5 || exit 1
start_daemon --window 500ms || exit 1

retrans_segs() { nsl_exec gw awk '/^Tcp:/ && ++n == 2 { print $13 }' /proc/net/snmp; }
before=$(retrans_segs)
tcpgen gw --connect "$PLANT_SRV_V4:8883" --count 20 --concurrency 2 --up 3000 --down 100 \
	--timeout 20 --summary "$NSL_DIR/out.sum"
wait_windows 3 || exit 1
after=$(retrans_segs)
m=$NSL_DIR/metrics.prom
scrape "$m"
peer="direction=outbound remote=198.19.2.0/24 port=8883"

check "all connections completed" equals "$(summary_value "$NSL_DIR/out.sum" connections_ok)" 20
check "the emulator dropped exactly $DROPS data segments" \
	equals "$(summary_value "$PLANT_WANEM_STATS" drop_tcpdata_ab)" $DROPS
check "the kernel retransmitted at least as many segments" test $((after - before)) -ge $DROPS
check "xdprobed counts exactly the kernel's retransmissions" \
	equals "$(metric "$m" xdprobe_tcp_retransmits_total $peer)" $((after - before))
finish
