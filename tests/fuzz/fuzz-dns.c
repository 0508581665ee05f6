/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: pf_dns_parse on arbitrary bytes never reads out of bounds, and what it accepts
 * is within its bounds (names well-formed, chain and addresses counted right). */
#include <stdint.h>
#include <stdlib.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *s)
{
	size_t n = strnlen(s, PF_DNS_MAX_NAME + 1);

	if (n > PF_DNS_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((s[i] >= 'A' && s[i] <= 'Z') || s[i] == ' ' || (s[i] == '.' && s[i + 1] == '.'))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_dns_answer *a = malloc(sizeof(*a));
	uint8_t *copy;
	int r;

	/* An exact-size heap copy so ASan catches a read one byte past the end. */
	copy = malloc(size ? size : 1);
	if (!copy || !a) {
		free(copy);
		free(a);
		return 0;
	}
	memcpy(copy, data, size);
	r = pf_dns_parse(copy, size, a);
	if (r != 0 && r != -EINVAL && r != -ENOENT)
		abort();
	if (r == 0) {
		if (a->n_names < 1 || a->n_names > PF_DNS_MAX_CHAIN ||
		    a->n_addrs > PF_DNS_MAX_ADDRS || size < 12)
			abort();
		for (size_t i = 0; i < a->n_names; i++)
			if (!name_ok(a->names[i]))
				abort();
		for (size_t i = 0; i < a->n_addrs; i++)
			if (a->addrs[i].ttl & 0x80000000u)
				abort();
	}
	free(copy);
	free(a);
	return 0;
}
