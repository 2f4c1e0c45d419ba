// Prometheus text exposition parsing and histogram quantiles for the dashboard.
'use strict';

// Parses `name{a="b",…} value` lines into [{name, labels, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    out.push({ name: m[1], labels: parseLabels(m[2] || ''), value: parseValue(m[3]) });
  }
  return out;
}

// Number() does not read the exposition's "+Inf" and "-Inf".
function parseValue(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

function parseLabels(s) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(s))) {
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

// Quantile q of cumulative buckets [{le, count}] sorted by le, like PromQL's
// histogram_quantile: linear interpolation inside the bucket.
function bucketQuantile(q, buckets) {
  if (!buckets.length) return NaN;
  const total = buckets[buckets.length - 1].count;
  if (!total) return NaN;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return prevLe + (b.le - prevLe) * (inBucket ? (rank - prevCount) / inBucket : 0);
    }
    prevLe = b.le; prevCount = b.count;
  }
  return prevLe;
}

// Upper bound of the bucket holding quantile q: an honest "at most" that
// does not pretend to more resolution than the buckets have.
function bucketQuantileBound(q, buckets) {
  if (!buckets.length) return NaN;
  const total = buckets[buckets.length - 1].count;
  if (!total) return NaN;
  return buckets.find((b) => b.count >= q * total).le;
}

if (typeof module !== 'undefined') {
  module.exports = { parseMetrics, parseLabels, bucketQuantile, bucketQuantileBound };
}
