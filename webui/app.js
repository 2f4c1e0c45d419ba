// The minimal xdprobe page: reads /metrics every two seconds and shows the
// appliance's health and its TCP connections per peer.
'use strict';

const REFRESH_MS = 2000;
const peerKey = (l) => `${l.direction}|${l.remote}|${l.port}`;

function fmtSeconds(s) {
  if (!Number.isFinite(s)) return '–';
  if (s < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
  return `${s.toFixed(2)} s`;
}

function fmtDuration(s) {
  if (!Number.isFinite(s)) return '–';
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${Math.floor(s % 60)} s` : `${Math.floor(s)} s`;
}

const fmtBound = (s) => (s === Infinity ? '> range' : Number.isFinite(s) ? `≤ ${fmtSeconds(s)}` : '–');

function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// Groups samples into one record per TCP peer.
function collectPeers(samples) {
  const peers = new Map();
  const peer = (l) => {
    const k = peerKey(l);
    if (!peers.has(k)) peers.set(k, { labels: l, hist: {}, c: {} });
    return peers.get(k);
  };
  for (const s of samples) {
    const h = /^xdprobe_tcp_(connect_latency|rtt)_seconds_(bucket|sum|count)$/.exec(s.name);
    if (h) {
      const hist = (peer(s.labels).hist[h[1]] ||= { buckets: [], sum: 0, count: 0 });
      if (h[2] === 'bucket') {
        hist.buckets.push({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value });
      } else {
        hist[h[2]] = s.value;
      }
      continue;
    }
    const c = /^xdprobe_tcp_(\w+)_total$/.exec(s.name);
    if (c && s.labels.remote) peer(s.labels).c[c[1]] = s.value;
  }
  for (const p of peers.values()) for (const h of Object.values(p.hist)) h.buckets.sort((x, y) => x.le - y.le);
  return [...peers.values()];
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.appendChild(td);
}

function renderPeers(peers) {
  const body = document.querySelector('#tcp tbody');
  const rows = peers.map((p) => {
    const tr = document.createElement('tr');
    const empty = { buckets: [], sum: 0, count: 0 };
    const connect = p.hist.connect_latency || empty;
    const rtt = p.hist.rtt || empty;
    const n = (k) => p.c[k] ?? 0;
    cell(tr, p.labels.direction);
    cell(tr, p.labels.remote);
    cell(tr, p.labels.port);
    cell(tr, String(connect.count));
    cell(tr, fmtSeconds(connect.count ? connect.sum / connect.count : NaN));
    cell(tr, fmtBound(bucketQuantileBound(0.99, connect.buckets)));
    cell(tr, fmtSeconds(rtt.count ? rtt.sum / rtt.count : NaN));
    cell(tr, fmtBound(bucketQuantileBound(0.99, rtt.buckets)));
    cell(tr, String(n('retransmits')));
    cell(tr, `${n('resets_sent')} / ${n('resets_received')}`);
    cell(tr, String(n('connect_failures')));
    cell(tr, `${fmtBytes(n('sent_bytes'))} / ${fmtBytes(n('received_bytes'))}`);
    return tr;
  });
  body.replaceChildren(...rows);
  document.getElementById('tcp-empty').hidden = rows.length > 0;
}

// One row per side, remote prefix and method of the passive RTT histogram.
function renderPassive(samples) {
  const rows = new Map();
  for (const s of samples) {
    const m = /^xdprobe_passive_rtt_seconds_(bucket|sum|count)$/.exec(s.name);
    if (!m) continue;
    const k = `${s.labels.side}|${s.labels.remote}|${s.labels.method}`;
    if (!rows.has(k)) rows.set(k, { labels: s.labels, buckets: [], sum: 0, count: 0 });
    const r = rows.get(k);
    if (m[1] === 'bucket') r.buckets.push({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value });
    else r[m[1]] = s.value;
  }
  const trs = [...rows.values()].map((r) => {
    r.buckets.sort((x, y) => x.le - y.le);
    const tr = document.createElement('tr');
    cell(tr, r.labels.side.toUpperCase());
    cell(tr, r.labels.remote);
    cell(tr, r.labels.method.replace(/_/g, ' '));
    cell(tr, String(r.count));
    cell(tr, fmtSeconds(r.count ? r.sum / r.count : NaN));
    cell(tr, fmtBound(bucketQuantileBound(0.99, r.buckets)));
    return tr;
  });
  document.querySelector('#passive tbody').replaceChildren(...trs);
  document.getElementById('passive-empty').hidden = trs.length > 0;
}

function renderHealth(samples) {
  const get = (name, labels = {}) => samples.find((s) => s.name === name &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  const build = samples.find((s) => s.name === 'xdprobe_build_info');
  const start = get('process_start_time_seconds');
  const items = [
    ['Version', build ? build.labels.version : '–'],
    ['Gateway', build?.labels.gateway || '–'],
    ['Uptime', start ? fmtDuration(Date.now() / 1000 - start) : '–'],
    ['Memory (RSS)', fmtBytes(get('process_resident_memory_bytes') ?? 0)],
    ['CPU time', fmtSeconds(get('process_cpu_seconds_total'))],
    ['Window', fmtSeconds(get('xdprobe_window_seconds'))],
    ['TCP tracing', get('xdprobe_feature_enabled', { feature: 'tcp_sockets' }) ? 'on' : 'off'],
    ['TCP RTT samples', get('xdprobe_feature_enabled', { feature: 'tcp_rtt' }) ? 'on' : 'off'],
    ['Passive RTT', get('xdprobe_feature_enabled', { feature: 'passive_rtt' }) ? 'on' : 'off'],
    ['History', get('xdprobe_storage_enabled') ? 'on' : 'off'],
  ];
  const dl = document.getElementById('health');
  dl.replaceChildren(...items.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

function setStatus(text, error) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.classList.toggle('error', error);
}

async function refresh() {
  try {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (!res.ok) throw new Error(res.status === 503 || res.status === 502
      ? 'the daemon is not answering (restarting?)' : `HTTP ${res.status}`);
    const samples = parseMetrics(await res.text());
    renderHealth(samples);
    renderPeers(collectPeers(samples));
    renderPassive(samples);
    setStatus(`Live · updated ${new Date().toLocaleTimeString()}`, false);
  } catch (e) {
    setStatus(`No data: ${e.message}`, true);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
