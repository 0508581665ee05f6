/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The chained hash table of hashtable.h: buckets of singly linked nodes, a hard entry limit. */
#include <errno.h>
#include <stdlib.h>

#include "hashtable.h"

int pf_hashtable_init(struct pf_hashtable *t, size_t n_buckets, size_t limit, unsigned flags)
{
	size_t nb = 1;

	while (nb < n_buckets)
		nb *= 2;
	*t = (struct pf_hashtable){.n_buckets = nb, .limit = limit, .flags = flags};
	return 0;
}

void pf_hashtable_fini(struct pf_hashtable *t)
{
	if (!t)
		return;
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
}

static inline size_t bucket_of(const struct pf_hashtable *t, uint64_t hash)
{
	return (size_t)(hash & (t->n_buckets - 1));
}

/* Move every node to a new array of nb buckets. */
static int rehash(struct pf_hashtable *t, size_t nb)
{
	struct pf_hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; t->buckets && i < t->n_buckets; i++) {
		struct pf_hnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			size_t j = (size_t)(n->hash & (nb - 1));

			next = n->next;
			n->next = b[j];
			b[j] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = nb;
	return 0;
}

int pf_hashtable_add(struct pf_hashtable *t, struct pf_hnode *n, uint64_t hash)
{
	size_t b;

	if (t->count >= t->limit)
		return -ENOSPC;
	if (!t->buckets || ((t->flags & PF_HASHTABLE_GROW) && t->count >= t->n_buckets)) {
		int r = rehash(t, t->buckets ? t->n_buckets * 2 : t->n_buckets);

		if (r < 0)
			return r;
	}
	b = bucket_of(t, hash);
	n->hash = hash;
	n->next = t->buckets[b];
	t->buckets[b] = n;
	t->count++;
	return 0;
}

void pf_hashtable_del(struct pf_hashtable *t, struct pf_hnode *n)
{
	struct pf_hnode **pn = &t->buckets[bucket_of(t, n->hash)];

	while (*pn && *pn != n)
		pn = &(*pn)->next;
	if (!*pn)
		return;
	*pn = n->next;
	n->next = NULL;
	t->count--;
}

struct pf_hnode *pf_hashtable_find_depth(const struct pf_hashtable *t, uint64_t hash,
					 pf_hashtable_eq_fn eq, const void *key, size_t *depth)
{
	struct pf_hnode *n = NULL;
	size_t d = 0;

	if (t->buckets)
		for (n = t->buckets[bucket_of(t, hash)]; n; n = n->next, d++)
			if (n->hash == hash && eq(n, key))
				break;
	if (depth)
		*depth = d;
	return n;
}

int pf_hashtable_reserve(struct pf_hashtable *t, size_t n)
{
	size_t nb = t->n_buckets;

	while (nb < n)
		nb *= 2;
	if (nb == t->n_buckets && t->buckets)
		return 0;
	if (!t->buckets) {
		t->n_buckets = nb;
		return 0;
	}
	return rehash(t, nb);
}

struct pf_hnode *pf_hashtable_next(const struct pf_hashtable *t, const struct pf_hnode *n,
				   size_t *i)
{
	if (n && n->next)
		return n->next;
	if (!t->buckets)
		return NULL;
	for (n ? (*i)++ : 0; *i < t->n_buckets; (*i)++)
		if (t->buckets[*i])
			return t->buckets[*i];
	return NULL;
}

struct pf_hnode *pf_hashtable_first(const struct pf_hashtable *t, size_t *i)
{
	*i = 0;
	return pf_hashtable_next(t, NULL, i);
}

size_t pf_hashtable_longest_chain(const struct pf_hashtable *t)
{
	size_t longest = 0;

	for (size_t b = 0; t->buckets && b < t->n_buckets; b++) {
		size_t len = 0;

		for (const struct pf_hnode *n = t->buckets[b]; n; n = n->next)
			len++;
		if (len > longest)
			longest = len;
	}
	return longest;
}
