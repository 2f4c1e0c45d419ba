/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Masking an address to its prefix, for per-prefix aggregation keys. */
#ifndef XDPROBE_PREFIX_H
#define XDPROBE_PREFIX_H

/* Keeps the first bits of addr (total: 32 for IPv4, 128 for IPv6). */
static __always_inline void mask_prefix(__u8 *addr, __u32 bits, __u32 total)
{
	/* Bounded by the 16-byte address. */
	for (__u32 i = 0; i < 16; i++) {
		__u32 start = i * 8;

		if (start >= total)
			addr[i] = 0;
		else if (start + 8 > bits)
			addr[i] &= start >= bits ? 0 : (__u8)(0xff << (8 - (bits - start)));
	}
}

#endif
