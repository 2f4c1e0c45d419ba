#!/usr/bin/env bash
# Every window the daemon drains goes to /metrics (cumulative) and to the
# SQLite history (one row per window). After the traffic stops and the daemon
# flushes on SIGTERM, the history summed over all windows must equal what
# /metrics showed, series by series; and the database must be intact.
. "$(dirname "$0")/lib.sh"

plant_up --traffic yes --wan-delay-ms 2 --emu-log yes || exit 1
start_daemon --window 500ms --set storage.flush_interval=200ms || exit 1
nsl_sleep 4
for pid in $PLANT_TRAFFIC_PIDS; do nsl_kill "$pid"; done # stop the traffic
wait_windows 3 || exit 1
m=$NSL_DIR/metrics.prom
scrape "$m"
stop_daemon
check "the daemon stopped cleanly" equals "$?" 0
db=$DAEMON_DB
check "the database is intact" equals "$(sqlite3 "$db" 'PRAGMA integrity_check')" ok

stored() { # stored METRIC LABELS COLUMN: the history's total of one series
	sqlite3 "$db" "SELECT coalesce(sum(w.$3), 0) FROM window_1s w JOIN series s
		ON s.id = w.series_id WHERE s.metric = '$1' AND s.labels = '$2'"
}

# Each TCP histogram count and counter of the scrape, with the series'
# canonical labels (keys sorted: direction, port, remote).
series_lines() {
	awk '/^xdprobe_tcp_[a-z_]+(_seconds_count|_total)\{direction=/ {
		match($0, /direction="[^"]*"/); d = substr($0, RSTART + 11, RLENGTH - 12)
		match($0, /remote="[^"]*"/); r = substr($0, RSTART + 8, RLENGTH - 9)
		match($0, /port="[^"]*"/); p = substr($0, RSTART + 6, RLENGTH - 7)
		name = substr($0, 1, index($0, "{") - 1)
		print name, "direction=" d ",port=" p ",remote=" r, $NF }' "$m"
}

compare_all() {
	local name labels value metric column got n=0 bad=0
	while read -r name labels value; do
		if [[ $name == *_count ]]; then
			metric=${name%_count} column=count
		else
			metric=$name column=sum
		fi
		got=$(stored "$metric" "$labels" "$column")
		n=$((n + 1))
		if ! awk -v a="$got" -v b="$value" 'BEGIN { exit !(a == b) }'; then
			log "       $name{$labels}: /metrics $value, history $got"
			bad=$((bad + 1))
		fi
	done < <(series_lines)
	log "       compared $n series"
	[ "$n" -gt 20 ] && [ "$bad" -eq 0 ]
}
check "every TCP series in the history sums to its /metrics value" compare_all
check "latency sums match too (seconds, to the microsecond)" bash -c "
	m=\$(awk '/^xdprobe_tcp_connect_latency_seconds_sum\\{direction=\"outbound\",remote=\"198.19.2.0\\/24\",port=\"8883\"\\}/ { print \$NF }' '$m')
	s=\$(sqlite3 '$db' \"SELECT sum(w.sum) FROM window_1s w JOIN series s ON s.id = w.series_id
		WHERE s.metric = 'xdprobe_tcp_connect_latency_seconds'
		AND s.labels = 'direction=outbound,port=8883,remote=198.19.2.0/24'\")
	awk -v a=\"\$m\" -v b=\"\$s\" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d < 1e-6) }'"
check "the friendly view answers" test "$(sqlite3 "$db" 'SELECT count(*) FROM v_windows_1s')" -gt 0

# On-device SQL through the CLI: reads work, percentiles come from the
# stored histograms, writes are refused and leave the file as it was.
q() { "$XDPROBE" query --db "$db" "$@"; }
check "xdprobe query prints CSV with a header" equals \
	"$(q 'SELECT metric, count(*) AS n FROM series GROUP BY metric ORDER BY metric' | head -1)" \
	"metric,n"
p50=$(q "SELECT hist_quantile(hist_merge(w.hist), 0.5) FROM window_1s w JOIN series s
	ON s.id = w.series_id WHERE s.metric = 'xdprobe_tcp_connect_latency_seconds'
	AND s.labels = 'direction=outbound,port=8883,remote=198.19.2.0/24'" | tail -1)
# Truth: the delays the emulator applied to the handshakes of those
# connections (SYN towards the server, SYN-ACK back), medians added.
handshake=$(awk '$2 == "fwd" && $0 ~ /:8883 flags=S len/ && $1 == "ab" { ab[na++] = $5 }
	$2 == "fwd" && $0 ~ /:8883>.* flags=SA len/ && $1 == "ba" { ba[nb++] = $5 }
	function median(a, n,   i, j, t) {
		for (i = 1; i < n; i++) for (j = i; j > 0 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n ? a[int(n / 2)] : 0 }
	END { printf "%.6f", (median(ab, na) + median(ba, nb)) / 1e9 }' "$PLANT_WANEM_LOG")
check "the stored median connect latency matches the emulated handshakes (within 10 %)" \
	approx "$p50" "$handshake" 10
sum_before=$(sha256sum "$db" | cut -d' ' -f1)
write_refused() {
	! q 'DELETE FROM series' 2>"$NSL_DIR/query.err" && grep -q 'not allowed' "$NSL_DIR/query.err"
}
check "a write through xdprobe query is refused" write_refused
check "the database is unchanged by the refused write" \
	equals "$(sha256sum "$db" | cut -d' ' -f1)" "$sum_before"
finish
