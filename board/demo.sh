#!/usr/bin/env bash
# The appliance on its embedded default: builds xdprobe, creates a simulated
# plant network in network namespaces (field hosts, gateway, WAN link with
# 10 ms each way, a server beyond), runs xdprobed in the gateway namespace
# and lighttpd on 127.0.0.1 of this host, and prints the URLs. Ctrl-C tears
# everything down. The host's own interfaces, addresses and routes are not
# touched. Usage: board/demo.sh [--port N] [--wan-delay-ms F]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=8080 wan_delay=10
while [ $# -gt 0 ]; do
	case $1 in
	--port) port=${2:?--port needs a number}; shift 2 ;;
	--wan-delay-ms) wan_delay=${2:?--wan-delay-ms needs a value}; shift 2 ;;
	-h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces and loads BPF programs)" >&2; exit 1; }

cd "$top"
bash board/setup-deps.sh run
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target xdprobed xdprobe xdprobe-wanem xdprobe-tcpgen

export PLANT_BIN_DIR=$top/build/board/sim
. board/sim/plant.sh
. board/lighttpd/lighttpd.sh
if ! lighttpd_port_free "$port"; then
	echo "demo: port $port is in use on this host; pick another with --port N" >&2
	exit 4
fi

set +e # from here on, failures are reported and the traps clean up
plant_up --wan-delay-ms "$wan_delay" --emu-log no || exit 1
sock=$NSL_DIR/xdprobed.sock
nsl_bg gw "$NSL_DIR/xdprobed.log" build/firmware/xdprobed --socket "$sock" \
	--gateway plant-gw --set storage.path="$NSL_DIR/history.db" \
	--set passive.lan="$PLANT_GW_LAN_IF" --set passive.wan="$PLANT_GW_WAN_IF" >/dev/null || exit 1
daemon=$NSL_LAST_PID
for ((i = 0; i < 100; i++)); do
	build/firmware/xdprobe -s "$sock" metrics >/dev/null 2>&1 && break
	kill -0 "$daemon" 2>/dev/null || { cat "$NSL_DIR/xdprobed.log" >&2; exit 1; }
	sleep 0.1
done
lighttpd_start 127.0.0.1 "$port" "$sock" "$NSL_DIR/www" || exit 1
nsl_track_pid "$LIGHTTPD_PID"

cat <<MSG

xdprobe is running on the simulated plant.
  Dashboard:  http://127.0.0.1:$port/
  Metrics:    http://127.0.0.1:$port/metrics
  CLI:        $top/build/firmware/xdprobe -s $sock metrics
  Daemon log: $NSL_DIR/xdprobed.log
  History:    sqlite3 $NSL_DIR/history.db 'SELECT * FROM v_windows_1s LIMIT 10'

Press Ctrl-C to stop and remove the plant.
MSG
while kill -0 "$daemon" 2>/dev/null && kill -0 "$LIGHTTPD_PID" 2>/dev/null; do
	sleep 1
done
echo "demo: the daemon or lighttpd exited; see $NSL_DIR" >&2
NSL_KEEP=1
exit 1
