// Unit tests of webui/promtext.js, the page's Prometheus text parser.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { parseMetrics, bucketQuantile, bucketQuantileBound } = require('../../webui/promtext.js');

test('parses names, escaped labels and values; skips comments', () => {
  const s = parseMetrics('# HELP x y\n# TYPE x gauge\nx{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 1.5\nup 1\n');
  assert.strictEqual(s.length, 2);
  assert.deepStrictEqual(s[0].labels, { a: 'q"uote', b: 'back\\slash', c: 'new\nline' });
  assert.strictEqual(s[0].value, 1.5);
  assert.deepStrictEqual(s[1], { name: 'up', labels: {}, value: 1 });
});

test('reads +Inf and NaN values', () => {
  const s = parseMetrics('a +Inf\nb NaN\n');
  assert.strictEqual(s[0].value, Infinity);
  assert.ok(Number.isNaN(s[1].value));
});

test('ignores malformed lines instead of throwing', () => {
  assert.deepStrictEqual(parseMetrics('not a metric line with spaces\n{broken} 1\n'), []);
});

const buckets = [
  { le: 0.001, count: 10 }, { le: 0.002, count: 90 }, { le: 0.004, count: 100 }, { le: Infinity, count: 100 },
];

test('quantiles interpolate inside the bucket like histogram_quantile', () => {
  assert.strictEqual(bucketQuantile(0.5, buckets), 0.001 + 0.001 * (40 / 80));
  assert.ok(Number.isNaN(bucketQuantile(0.5, [])));
});

test('quantile bounds are the upper bound of the holding bucket', () => {
  assert.strictEqual(bucketQuantileBound(0.5, buckets), 0.002);
  assert.strictEqual(bucketQuantileBound(0.99, buckets), 0.004);
  assert.strictEqual(bucketQuantileBound(1, [{ le: 1, count: 1 }, { le: Infinity, count: 2 }]), Infinity);
  assert.ok(Number.isNaN(bucketQuantileBound(0.5, [{ le: Infinity, count: 0 }])));
});
