/* Addresses and prefixes as label text. */
#ifndef XDPROBE_ADDR_TEXT_H
#define XDPROBE_ADDR_TEXT_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

#define PREFIX_TEXT_MAX (INET6_ADDRSTRLEN + 4)

/* "198.18.1.0/24" or "2001:db8::/48"; addr holds IPv4 in its first 4 bytes. */
void prefix_text(uint8_t family, const uint8_t addr[16], unsigned int prefix_len, char *out,
		 size_t size);

#endif
