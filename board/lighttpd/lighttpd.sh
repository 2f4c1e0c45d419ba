# shellcheck shell=bash
# lighttpd_start BIND PORT SOCKET STATEDIR: renders the appliance's lighttpd
# configuration for the daemon socket and serves webui/ on BIND:PORT in the
# current network namespace. Sets LIGHTTPD_PID; the caller stops it.
_LIGHTTPD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

lighttpd_port_free() {
	! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

lighttpd_start() {
	local bind=$1 port=$2 socket=$3 state=$4 conf i
	local webroot=$_LIGHTTPD_DIR/../../webui
	if ! lighttpd_port_free "$port"; then
		echo "lighttpd: port $port is already in use on this host; choose another port" >&2
		return 4
	fi
	mkdir -p "$state"
	conf=$state/lighttpd.conf
	bash "$_LIGHTTPD_DIR/render.sh" "$bind" "$port" "$(cd "$webroot" && pwd)" "$socket" \
		"$state" >"$conf" || return 1
	lighttpd -tt -f "$conf" || return 1
	lighttpd -D -f "$conf" >"$state/lighttpd.out" 2>&1 </dev/null &
	LIGHTTPD_PID=$!
	for ((i = 0; i < 50; i++)); do
		curl -fsS -o /dev/null "http://$bind:$port/" 2>/dev/null && return 0
		kill -0 "$LIGHTTPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "lighttpd did not start:" >&2
	cat "$state/lighttpd.out" "$state/lighttpd-error.log" >&2 2>/dev/null
	return 1
}

# A free TCP port on the loopback of the current namespace, for tests.
lighttpd_pick_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 20000))
		lighttpd_port_free "$p" && { echo "$p"; return 0; }
	done
	return 1
}
