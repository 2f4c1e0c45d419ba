#include "addr_text.h"

#include <stdio.h>
#include <sys/socket.h>

void prefix_text(uint8_t family, const uint8_t addr[16], unsigned int prefix_len, char *out,
		 size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(out, size, "%s/%u", a, prefix_len);
}
