/*
 * Sparse varint encoding of struct latency_hist (storage/DESIGN.md
 * "Histogram blob") and the SQL functions built on it.
 */
#ifndef XDPROBE_HIST_BLOB_H
#define XDPROBE_HIST_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

struct sqlite3;

#define HIST_BLOB_VERSION 1
/* version byte + per bucket: 2-byte gap (< 2^14) + 10-byte count */
#define HIST_BLOB_MAX (1 + HIST_BUCKETS * 12)

/* Encodes h's buckets into buf (HIST_BLOB_MAX bytes); returns the length. */
size_t hist_blob_encode(const struct latency_hist *h, uint8_t buf[HIST_BLOB_MAX]);

/*
 * Decodes a blob of n bytes into h (replacing it). count is the bucket total;
 * min_ns/max_ns are the bounds of the outermost non-empty buckets (the blob
 * holds no exact extremes) and sum_ns is 0. Returns 0, or -EINVAL for any
 * malformed input (bad version, truncated or overlong varint, index past the
 * last bucket or not increasing, zero count, total overflow); never reads
 * outside [blob, blob + n).
 */
int hist_blob_decode(const void *blob, size_t n, struct latency_hist *h);

/* Adds a blob's buckets into h (which keeps its count/min/max consistent). */
int hist_blob_merge_into(const void *blob, size_t n, struct latency_hist *h);

/*
 * Registers hist_merge(blob) (aggregate), hist_quantile(blob, q) (seconds)
 * and hist_count(blob) on db. Deterministic and innocuous, so they work in
 * views under trusted_schema=OFF. Returns an SQLite result code.
 */
int hist_blob_register(struct sqlite3 *db);

#endif
