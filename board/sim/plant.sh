# shellcheck shell=bash
# shellcheck disable=SC2034  # the PLANT_* variables are for callers
# plant.sh: the simulated plant (field LAN, gateway, WAN link, server) in
# network namespaces. Source it, then:
#
#   plant_up [--wan-delay-ms F] [--lan-delay-ms F] [--traffic yes|no]
#            [--wan-jitter-ms F] [--wan-loss-pct P] [--emu-log yes|no] [--seed N]
#            [--emu-spin-us N] [--wan-drop-tcp-data N (gw->srv data segments)]
#   ... run the probe in "$PLANT_GW_NS", measure, compare ...
#   plant_down
#
# Addresses come only from the benchmark/documentation ranges 198.18.0.0/15
# and 2001:db8::/32. See README.md beside this file for the picture.
# The binaries are taken from PLANT_BIN_DIR (set it before plant_up).

_PLANT_SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns.sh
. "$_PLANT_SELF_DIR/netns.sh"

# Installed: the binaries sit beside this file. In the tree: the build dir.
plant_default_bin_dir() {
	if [ -x "$_PLANT_SELF_DIR/xdprobe-wanem" ]; then
		echo "$_PLANT_SELF_DIR"
	else
		echo "$_PLANT_SELF_DIR/../../build/board/sim"
	fi
}

PLANT_FIELD_HOSTS="f1 f2 f3"
PLANT_GW_LAN_IF=br-lan
PLANT_GW_WAN_IF=gw-wan0
PLANT_GW_LAN_V4=198.18.1.1
PLANT_GW_LAN_V6=2001:db8:1::1
PLANT_GW_WAN_V4=198.19.2.1
PLANT_GW_WAN_V6=2001:db8:2::1
PLANT_SRV_V4=198.19.2.2
PLANT_SRV_V6=2001:db8:2::2

_plant_die() {
	echo "plant: $*" >&2
	return 1
}

# A host namespace: IPv6 usable at once (no DAD, no RA).
_plant_host_ns() {
	nsl_add "$1" || return 1
	local k
	for k in all default; do
		nsl_sysctl "$1" "net.ipv6.conf.$k.accept_dad" 0
		nsl_sysctl "$1" "net.ipv6.conf.$k.accept_ra" 0
	done
}

# A pure L2 namespace (emulator, field switch): no IPv6, so it never sends
# anything of its own. Set before interfaces arrive: they copy "default".
_plant_l2_ns() {
	nsl_add "$1" || return 1
	nsl_sysctl "$1" net.ipv6.conf.all.disable_ipv6 1
	nsl_sysctl "$1" net.ipv6.conf.default.disable_ipv6 1
}

_plant_bridge() {
	nsl_exec "$1" ip link add "$2" type bridge stp_state 0 forward_delay 0 \
		mcast_snooping 0 || return 1
	nsl_exec "$1" ip link set "$2" up
}

# Attach IF to BRIDGE in NAME; a bridge port needs no IPv6 of its own.
_plant_port() {
	nsl_sysctl "$1" "net.ipv6.conf.$3.disable_ipv6" 1 2>/dev/null
	nsl_exec "$1" ip link set "$3" master "$2"
}

_plant_addr() {
	nsl_exec "$1" ip addr add "$3" dev "$2" || return 1
	nsl_exec "$1" ip -6 addr add "$4" dev "$2" nodad
}

_plant_field_host() {
	local h=$1 n=$2
	_plant_addr "$h" lan0 "198.18.1.1$n/24" "2001:db8:1::1$n/64" || return 1
	nsl_exec "$h" ip route add default via "$PLANT_GW_LAN_V4" || return 1
	nsl_exec "$h" ip -6 route add default via "$PLANT_GW_LAN_V6"
}

# Field LAN without an emulator: one veth per host on br-lan in gw.
_plant_lan_direct() {
	local n
	for n in 1 2 3; do
		nsl_veth gw "gw-f$n" "f$n" lan0 || return 1
		_plant_port gw br-lan "gw-f$n" || return 1
	done
}

# Field LAN behind one emulator: gw:br-lan - lanem - lan:br-field - hosts.
_plant_lan_emulated() {
	local n
	_plant_l2_ns lanem && _plant_l2_ns lan || return 1
	_plant_bridge lan br-field || return 1
	nsl_veth gw gw-lem0 lanem lem-a && nsl_veth lanem lem-b lan lan-up0 || return 1
	_plant_port gw br-lan gw-lem0 && _plant_port lan br-field lan-up0 || return 1
	for n in 1 2 3; do
		nsl_veth lan "lan-f$n" "f$n" lan0 || return 1
		_plant_port lan br-field "lan-f$n" || return 1
	done
	nsl_offloads_off gw gw-lem0 && nsl_offloads_off lanem lem-a &&
		nsl_offloads_off lanem lem-b && nsl_offloads_off lan lan-up0
}

_plant_wan() {
	_plant_l2_ns wan || return 1
	nsl_veth gw gw-wan0 wan wan-a && nsl_veth wan wan-b srv srv-wan0 || return 1
	_plant_addr gw gw-wan0 "$PLANT_GW_WAN_V4/24" "$PLANT_GW_WAN_V6/64" || return 1
	_plant_addr srv srv-wan0 "$PLANT_SRV_V4/24" "$PLANT_SRV_V6/64" || return 1
	nsl_exec srv ip route add 198.18.1.0/24 via "$PLANT_GW_WAN_V4" || return 1
	nsl_exec srv ip -6 route add 2001:db8:1::/64 via "$PLANT_GW_WAN_V6" || return 1
	nsl_offloads_off gw gw-wan0 && nsl_offloads_off wan wan-a &&
		nsl_offloads_off wan wan-b && nsl_offloads_off srv srv-wan0
}

_plant_namespaces() {
	local h
	_plant_host_ns gw && _plant_host_ns srv || return 1
	for h in $PLANT_FIELD_HOSTS; do
		_plant_host_ns "$h" || return 1
	done
	nsl_sysctl gw net.ipv4.ip_forward 1
	nsl_sysctl gw net.ipv6.conf.all.forwarding 1
}

_plant_lan() {
	local lan_delay=$1 n
	_plant_bridge gw br-lan || return 1
	_plant_addr gw br-lan "$PLANT_GW_LAN_V4/24" "$PLANT_GW_LAN_V6/64" || return 1
	if _plant_positive "$lan_delay"; then
		_plant_lan_emulated || return 1
	else
		_plant_lan_direct || return 1
	fi
	for n in 1 2 3; do
		_plant_field_host "f$n" "$n" || return 1
	done
}

_plant_positive() {
	awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'
}

# _plant_emulator NAME TAG IF_A IF_B wanem-args...: start one xdprobe-wanem
# and wait until it has written its stats file (= its sockets are open).
_plant_emulator() {
	local ns=$1 tag=$2 a=$3 b=$4 i pid
	shift 4
	local stats="$NSL_DIR/$tag.stats" log=
	[ "$_PLANT_EMU_LOG" = yes ] && log="$NSL_DIR/$tag.log"
	nsl_bg "$ns" "$NSL_DIR/$tag.out" "$_PLANT_BIN/xdprobe-wanem" --a "$a" --b "$b" \
		--stats "$stats" ${log:+--log "$log"} --spin-us "$_PLANT_SPIN" "$@" \
		>/dev/null || return 1
	pid=$NSL_LAST_PID
	for ((i = 0; i < 50; i++)); do
		[ -s "$stats" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! [ -s "$stats" ]; then
		cat "$NSL_DIR/$tag.out" >&2
		_plant_die "xdprobe-wanem ($tag) did not start"
		return 1
	fi
	printf -v "PLANT_${tag^^}_PID" %s "$pid"
	printf -v "PLANT_${tag^^}_STATS" %s "$stats"
	printf -v "PLANT_${tag^^}_LOG" %s "$log"
}

# _plant_client NAME TAG tcpgen-client-args...
_plant_client() {
	local ns=$1 tag=$2
	shift 2
	nsl_bg "$ns" "$NSL_DIR/client-$tag.log" "$_PLANT_BIN/xdprobe-tcpgen" client \
		--count 0 --duration 0 --summary "$NSL_DIR/client-$tag.summary" "$@" \
		>/dev/null || return 1
	PLANT_TRAFFIC_PIDS+=" $NSL_LAST_PID"
}

# nsl_bg outside $(...): the processes stay our children, so cleanup reaps them.
_plant_servers() {
	nsl_bg gw "$NSL_DIR/server-gw.log" "$_PLANT_BIN/xdprobe-tcpgen" server \
		--stats "$NSL_DIR/server-gw.stats" \
		--listen "$PLANT_GW_LAN_V4:502" --listen "[$PLANT_GW_LAN_V6]:502" \
		--listen "$PLANT_GW_LAN_V4:4840" --listen "[$PLANT_GW_LAN_V6]:4840" \
		>/dev/null || return 1
	PLANT_TRAFFIC_PIDS+=" $NSL_LAST_PID"
	nsl_bg srv "$NSL_DIR/server-srv.log" "$_PLANT_BIN/xdprobe-tcpgen" server \
		--stats "$NSL_DIR/server-srv.stats" \
		--listen "$PLANT_SRV_V4:8883" --listen "[$PLANT_SRV_V6]:8883" \
		--listen "$PLANT_SRV_V4:443" --listen "[$PLANT_SRV_V6]:443" \
		>/dev/null || return 1
	PLANT_TRAFFIC_PIDS+=" $NSL_LAST_PID"
	nsl_wait_tcp gw "$PLANT_GW_LAN_V4" 4840 5 && nsl_wait_tcp srv "$PLANT_SRV_V4" 443 5
}

# Modbus/TCP and OPC UA from the field hosts to the gateway, forwarded
# HTTPS from the field to the server, MQTT-TLS and HTTPS from the gateway.
_plant_traffic() {
	_plant_servers || return 1
	_plant_client f1 f1-modbus --connect "$PLANT_GW_LAN_V4:502" --rate 3 \
		--concurrency 4 --sizes 12:12,12:260,12:2000,12:40 || return 1
	_plant_client f1 f1-https --connect "$PLANT_SRV_V4:443" --rate 1 \
		--concurrency 4 --sizes 517:4000,300:20000,1200:50000 || return 1
	_plant_client f2 f2-modbus6 --connect "[$PLANT_GW_LAN_V6]:502" --rate 3 \
		--concurrency 4 --sizes 12:12,12:260,12:1000 || return 1
	_plant_client f2 f2-https6 --connect "[$PLANT_SRV_V6]:443" --rate 0.5 \
		--concurrency 4 --sizes 517:8000,300:30000 || return 1
	_plant_client f3 f3-opcua --connect "$PLANT_GW_LAN_V4:4840" --rate 2 \
		--concurrency 4 --sizes 100:1000,2000:50000,64:64 || return 1
	_plant_client gw gw-mqtt --connect "$PLANT_SRV_V4:8883" --rate 2 --concurrency 4 \
		--sizes 64:4,300:64,2000:128,64:1500 --reset-every 20 || return 1
	_plant_client gw gw-https6 --connect "[$PLANT_SRV_V6]:443" --rate 2 --concurrency 4 \
		--sizes 500:5000,200:20000,800:1000 --reset-every 20
}

_plant_export() {
	local h
	PLANT_GW_NS=$(nsl_ns gw)
	PLANT_SRV_NS=$(nsl_ns srv)
	PLANT_WAN_NS=$(nsl_ns wan)
	PLANT_LAN_NS=
	PLANT_LANEM_NS=
	if [ "$_PLANT_LAN_EMULATED" = 1 ]; then
		PLANT_LAN_NS=$(nsl_ns lan)
		PLANT_LANEM_NS=$(nsl_ns lanem)
	fi
	for h in $PLANT_FIELD_HOSTS; do
		printf -v "PLANT_${h^^}_NS" %s "$(nsl_ns "$h")"
	done
	PLANT_DIR=$NSL_DIR
}

_plant_parse() {
	_PLANT_WAN_DELAY=10 _PLANT_LAN_DELAY=0 _PLANT_TRAFFIC=yes _PLANT_EMU_LOG=yes
	_PLANT_WAN_JITTER=0 _PLANT_WAN_LOSS=0 _PLANT_SEED=1 _PLANT_SPIN=0 _PLANT_WAN_DROP_TCP=0
	while [ $# -gt 0 ]; do
		[ $# -ge 2 ] || { _plant_die "option $1 needs a value"; return 1; }
		case $1 in
		--wan-delay-ms) _PLANT_WAN_DELAY=$2 ;;
		--lan-delay-ms) _PLANT_LAN_DELAY=$2 ;;
		--wan-jitter-ms) _PLANT_WAN_JITTER=$2 ;;
		--wan-loss-pct) _PLANT_WAN_LOSS=$2 ;;
		--wan-drop-tcp-data) _PLANT_WAN_DROP_TCP=$2 ;;
		--seed) _PLANT_SEED=$2 ;;
		--emu-spin-us) _PLANT_SPIN=$2 ;;
		--traffic) _PLANT_TRAFFIC=$2 ;;
		--emu-log) _PLANT_EMU_LOG=$2 ;;
		*) _plant_die "unknown option $1"; return 1 ;;
		esac
		shift 2
	done
	case $_PLANT_TRAFFIC$_PLANT_EMU_LOG in
	yesyes | yesno | noyes | nono) ;;
	*) _plant_die "--traffic and --emu-log take yes or no"; return 1 ;;
	esac
}

_plant_check_tools() {
	_PLANT_BIN=${PLANT_BIN_DIR:-$(plant_default_bin_dir)}
	local b
	for b in xdprobe-wanem xdprobe-tcpgen; do
		[ -x "$_PLANT_BIN/$b" ] || { _plant_die "$_PLANT_BIN/$b not found (build first or set PLANT_BIN_DIR)"; return 1; }
	done
	nsl_have ethtool || { _plant_die "ethtool is required (apt-get install ethtool)"; return 1; }
}

plant_up() {
	_plant_parse "$@" && _plant_check_tools || return 1
	if [ "${NSL_CLEANED:-1}" != 0 ]; then
		nsl_init plant || return 1
	fi
	PLANT_TRAFFIC_PIDS=
	_PLANT_LAN_EMULATED=0
	_plant_positive "$_PLANT_LAN_DELAY" && _PLANT_LAN_EMULATED=1
	_plant_namespaces && _plant_lan "$_PLANT_LAN_DELAY" && _plant_wan || return 1
	# wanem's a side faces the gateway: "ab" is gw->srv on the WAN and
	# gw->field on the LAN.
	_plant_emulator wan wanem wan-a wan-b --delay-ms "$_PLANT_WAN_DELAY" \
		--jitter-ms "$_PLANT_WAN_JITTER" --loss-pct "$_PLANT_WAN_LOSS" \
		--drop-tcp-data-ab "$_PLANT_WAN_DROP_TCP" --seed "$_PLANT_SEED" || return 1
	PLANT_LANEM_PID='' PLANT_LANEM_STATS='' PLANT_LANEM_LOG=
	if [ "$_PLANT_LAN_EMULATED" = 1 ]; then
		_plant_emulator lanem lanem lem-a lem-b --delay-ms "$_PLANT_LAN_DELAY" \
			--seed "$_PLANT_SEED" || return 1
	fi
	_plant_export
	if [ "$_PLANT_TRAFFIC" = yes ]; then
		_plant_traffic || return 1
	fi
}

plant_down() {
	nsl_cleanup
}
