/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: pf_packet_parse on arbitrary bytes must never read out of bounds, and what it
 * accepts must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>

#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_tuple t;
	uint8_t *copy;
	int r;

	/* An exact-size heap copy so ASan catches a read one byte past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = pf_packet_parse(copy, size, &t);
	if (r == 0 && (size < 40 || t.v6 != ((copy[0] >> 4) == 6) || pf_addr_is_v4(&t.src) == t.v6))
		abort();
	if (r != 0 && r != -EINVAL && r != -EPROTONOSUPPORT)
		abort();
	free(copy);
	return 0;
}
