#!/usr/bin/env bash
# The real Prometheus server scrapes /metrics through the real lighttpd:
# the target is up, every series parses, the daemon's metrics are queryable,
# and promtool's linter accepts the exposition. Also checks the static page
# and lighttpd's handling of a hostile request.
. "$(dirname "$0")/lib.sh"
. "$TOP/board/lighttpd/lighttpd.sh"
export -f lighttpd_start lighttpd_port_free
export _LIGHTTPD_DIR

plant_up --traffic yes --wan-delay-ms 2 --emu-log no || exit 1
start_daemon --window 1s --gateway test-gw || exit 1
port=$(lighttpd_pick_port) && lighttpd_start 127.0.0.1 "$port" "$DAEMON_SOCK" "$NSL_DIR/www" || exit 1
nsl_track_pid "$LIGHTTPD_PID"
base=http://127.0.0.1:$port

check "a second front on the same port is refused with a clear message" \
	bash -c "lighttpd_start 127.0.0.1 $port '$DAEMON_SOCK' '$NSL_DIR/www2' 2>&1 | grep -q 'port $port is already in use'"
check "lighttpd serves the dashboard page" \
	bash -c "curl -fsS '$base/' | grep '<title>xdprobe</title>' >/dev/null"
check "lighttpd forwards /metrics to the daemon" \
	bash -c "curl -fsS '$base/metrics' | grep '^xdprobe_build_info{version=.*gateway=\"test-gw\"} 1$' >/dev/null"
check "the exposition has the 0.0.4 content type" \
	bash -c "curl -fsS -o /dev/null -w '%{content_type}' '$base/metrics' | grep -q 'version=0.0.4'"
check "a POST to /metrics is refused" \
	equals "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$base/metrics")" 405
check "an oversized request body is refused by lighttpd" \
	equals "$(head -c 200000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X POST \
		--data-binary @- "$base/metrics")" 413
check "path traversal does not leave the web root" \
	bash -c "! curl -s --path-as-is '$base/../../../../etc/passwd' | grep -q root:"

wait_windows 3 || exit 1
curl -fsS "$base/metrics" > "$NSL_DIR/scrape.prom"
check "promtool accepts the exposition" \
	bash -c "promtool check metrics < '$NSL_DIR/scrape.prom'"
check "the plant's traffic shows up as TCP series" \
	test "$(grep -c '^xdprobe_tcp_connect_latency_seconds_count{' "$NSL_DIR/scrape.prom")" -ge 2

# On-device SQL through lighttpd: JSON rows, and clean JSON errors.
api=$base/api/v1/query
code() { curl -s -o "$NSL_DIR/api.json" -w '%{http_code}' "$@"; }
check "a read through /api/v1/query answers JSON rows" \
	bash -c "curl -fsS --get --data-urlencode 'sql=SELECT count(*) AS n FROM series' '$api' |
		grep -E '^\{\"columns\":\[\"n\"\],\"rows\":\[\[\"[1-9][0-9]*\"\]\],\"truncated\":false\}$' >/dev/null"
check "a write through the API is refused with 403 and a reason" \
	equals "$(code --get --data-urlencode 'sql=DELETE FROM series' "$api")$(cat "$NSL_DIR/api.json")" \
	'403{"error":"not allowed: writes"}'
check "a missing sql parameter is a 400" equals "$(code "$api")" 400
check "a malformed escape is a 400" equals "$(code "$api?sql=%zz")" 400
check "a bad row bound is a 400" equals "$(code "$api?sql=SELECT+1&max_rows=0")" 400
check "the row bound truncates" \
	bash -c "curl -fsS --get --data-urlencode 'sql=WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c' --data-urlencode 'max_rows=3' '$api' | grep -F '\"truncated\":true' >/dev/null"
check "a POST to the API is refused" equals "$(code -X POST --data x "$api")" 405

pport=$(lighttpd_pick_port) || exit 1
cat > "$NSL_DIR/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: xdprobe
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
nsl_bg_host "$NSL_DIR/prometheus.log" prometheus --config.file="$NSL_DIR/prometheus.yml" \
	--storage.tsdb.path="$NSL_DIR/tsdb" --web.listen-address="127.0.0.1:$pport" >/dev/null
papi=http://127.0.0.1:$pport/api/v1

# query EXPR: the first result's value (empty when none)
query() {
	curl -fsS --get --data-urlencode "query=$1" "$papi/query" 2>/dev/null |
		sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p'
}

target_up() {
	local i
	for ((i = 0; i < 60; i++)); do
		[ "$(query 'up{job="xdprobe"}')" = 1 ] && [ -n "$(query 'xdprobe_tcp_series')" ] && return 0
		sleep 0.5
	done
	curl -s "$papi/targets" >&2
	return 1
}
check "Prometheus sees the target up" target_up
check "Prometheus reports no scrape error" \
	bash -c "curl -fsS '$papi/targets' | grep '\"lastError\":\"\"' >/dev/null"
check "Prometheus stored the scraped samples" \
	test "$(query 'scrape_samples_scraped{job="xdprobe"}')" -gt 100
check "the build info is queryable with the gateway label" \
	equals "$(query 'xdprobe_build_info{gateway="test-gw"}')" 1
check "connect latency histograms are queryable" \
	test -n "$(query 'histogram_quantile(0.5, sum by (le) (xdprobe_tcp_connect_latency_seconds_bucket))')"
finish
