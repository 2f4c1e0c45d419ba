/* Histogram blob codec and the SQL functions over it. */
#include "hist_blob.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "histogram.h"

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Strict LEB128: at most 10 bytes, no bits past 64, no overlong zero tail. */
static int get_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < 10; i++) {
		uint8_t b;

		if (*pos >= n)
			return -EINVAL;
		b = p[(*pos)++];
		if (i == 9 && b > 1)
			return -EINVAL;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i > 0 && b == 0)
				return -EINVAL;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

size_t hist_blob_encode(const struct latency_hist *h, uint8_t buf[HIST_BLOB_MAX])
{
	size_t len = 0;
	unsigned int prev = 0;
	int first = 1;

	buf[len++] = HIST_BLOB_VERSION;
	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		if (!h->buckets[b])
			continue;
		len += put_varint(buf + len, first ? b : b - prev);
		len += put_varint(buf + len, h->buckets[b]);
		prev = b;
		first = 0;
	}
	return len;
}

/* Calls fn(index, count) for each bucket of a validated-as-we-go blob. */
static int walk(const void *blob, size_t n, struct latency_hist *h, int add)
{
	const uint8_t *p = blob;
	size_t pos = 1;
	uint64_t idx = 0, total = add ? h->count : 0;
	int first = 1;

	if (!p || n < 1 || p[0] != HIST_BLOB_VERSION)
		return -EINVAL;
	while (pos < n) {
		uint64_t gap, cnt;

		if (get_varint(p, n, &pos, &gap) || get_varint(p, n, &pos, &cnt))
			return -EINVAL;
		if ((!first && gap == 0) || gap >= HIST_BUCKETS || idx + gap >= HIST_BUCKETS)
			return -EINVAL;
		idx += gap;
		first = 0;
		if (cnt == 0 || cnt > (uint64_t)INT64_MAX - total)
			return -EINVAL;
		total += cnt;
		if (add)
			h->buckets[idx] += cnt;
	}
	return 0;
}

/* Recomputes count and bucket-bound extremes from the buckets. */
static void derive_summary(struct latency_hist *h)
{
	uint64_t total = 0;
	int lo = -1, hi = -1;

	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		if (!h->buckets[b])
			continue;
		total += h->buckets[b];
		if (lo < 0)
			lo = (int)b;
		hi = (int)b;
	}
	h->count = total;
	h->min_ns = lo < 0 ? UINT64_MAX : hist_bucket_lower((unsigned int)lo) * 1000;
	h->max_ns = hi < 0 ? 0 : hist_bucket_lower((unsigned int)hi + 1) * 1000;
}

int hist_blob_merge_into(const void *blob, size_t n, struct latency_hist *h)
{
	/* validate fully before touching h, so a bad blob leaves it unchanged */
	if (walk(blob, n, h, 0))
		return -EINVAL;
	walk(blob, n, h, 1);
	derive_summary(h);
	return 0;
}

int hist_blob_decode(const void *blob, size_t n, struct latency_hist *h)
{
	latency_hist_init(h);
	return hist_blob_merge_into(blob, n, h);
}

/* ---- SQL functions ---- */

struct merge_ctx {
	int used;
	struct latency_hist h;
};

static void merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct merge_ctx *m;

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	m = sqlite3_aggregate_context(ctx, sizeof(*m));
	if (!m) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (!m->used) {
		latency_hist_init(&m->h);
		m->used = 1;
	}
	if (hist_blob_merge_into(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]),
				 &m->h))
		sqlite3_result_error(ctx, "hist_merge: malformed histogram blob", -1);
}

static void merge_final(sqlite3_context *ctx)
{
	struct merge_ctx *m = sqlite3_aggregate_context(ctx, 0);
	uint8_t buf[HIST_BLOB_MAX];

	if (!m || !m->used) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_blob(ctx, buf, (int)hist_blob_encode(&m->h, buf), SQLITE_TRANSIENT);
}

/* Decodes argv[0] into h; 1 = decoded, 0 = NULL (result set), -1 = error set. */
static int arg_hist(sqlite3_context *ctx, sqlite3_value *v, struct latency_hist *h, const char *fn)
{
	char msg[64];

	if (sqlite3_value_type(v) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return 0;
	}
	if (hist_blob_decode(sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v), h)) {
		snprintf(msg, sizeof(msg), "%s: malformed histogram blob", fn);
		sqlite3_result_error(ctx, msg, -1);
		return -1;
	}
	return 1;
}

static void quantile_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct latency_hist h;
	double q = sqlite3_value_double(argv[1]);

	if (sqlite3_value_type(argv[1]) == SQLITE_NULL || !(q >= 0 && q <= 1)) {
		sqlite3_result_error(ctx, "hist_quantile: q must be a number in [0, 1]", -1);
		return;
	}
	if (arg_hist(ctx, argv[0], &h, "hist_quantile") != 1)
		return;
	if (!h.count) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_double(ctx, latency_hist_quantile(&h, q) / 1e9);
}

static void count_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct latency_hist h;

	if (arg_hist(ctx, argv[0], &h, "hist_count") == 1)
		sqlite3_result_int64(ctx, (sqlite3_int64)h.count);
}

int hist_blob_register(struct sqlite3 *db)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	int rc;

	rc = sqlite3_create_function_v2(db, "hist_merge", 1, flags, NULL, NULL, merge_step,
					merge_final, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(db, "hist_quantile", 2, flags, NULL, quantile_fn,
						NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(db, "hist_count", 1, flags, NULL, count_fn, NULL,
						NULL, NULL);
	return rc;
}
