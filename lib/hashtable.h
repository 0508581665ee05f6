/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One chained hash table with a hard limit on its entries, for every table podfence keeps. */
#ifndef PF_HASHTABLE_H
#define PF_HASHTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Intrusive: embed a struct pf_hnode in what the table holds (pf_container_of gets it back),
 * so a table costs one pointer array and no allocation per entry. The node keeps its hash, so
 * growing needs no callback. Where an outsider chooses the keys (a pod, a Kubernetes object's
 * author) hash them with pf_keyed_hash (siphash.h): which keys share a chain must not be
 * computable outside the process.
 */
struct pf_hnode {
	struct pf_hnode *next;
	uint64_t hash;
};

#define pf_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Whether node n holds key (whatever the caller's find passed). */
typedef bool (*pf_hashtable_eq_fn)(const struct pf_hnode *n, const void *key);

enum {
	/* Double the buckets whenever the entries outnumber them (else the count stays fixed). */
	PF_HASHTABLE_GROW = 1 << 0,
};

struct pf_hashtable {
	struct pf_hnode **buckets; /* NULL until the first add */
	size_t n_buckets;	   /* a power of two */
	size_t count;
	size_t limit; /* pf_hashtable_add fails with -ENOSPC once count reaches it */
	unsigned flags;
};

/*
 * Set up an empty table of n_buckets (rounded up to a power of two, at least 1) holding at
 * most limit entries. Allocates nothing: the buckets come with the first add, so a table
 * that stays empty costs nothing. Always 0.
 */
int pf_hashtable_init(struct pf_hashtable *t, size_t n_buckets, size_t limit, unsigned flags);
/* Free the buckets (not the nodes: empty the table first, or let the owner free them) and
 * reset to an empty table with the same limit and flags. NULL-safe. */
void pf_hashtable_fini(struct pf_hashtable *t);

/*
 * Add n under hash (a key known to be absent: find first). 0, -ENOSPC when the table already
 * holds limit entries, -ENOMEM (then t is unchanged).
 */
int pf_hashtable_add(struct pf_hashtable *t, struct pf_hnode *n, uint64_t hash);
/* Unlink n, which must be in t. */
void pf_hashtable_del(struct pf_hashtable *t, struct pf_hnode *n);
/*
 * The node holding key in hash's chain, or NULL. *depth (may be NULL) gets how many nodes of
 * the chain were passed over: the chain's whole length when key is absent.
 */
struct pf_hnode *pf_hashtable_find_depth(const struct pf_hashtable *t, uint64_t hash,
					 pf_hashtable_eq_fn eq, const void *key, size_t *depth);
static inline struct pf_hnode *pf_hashtable_find(const struct pf_hashtable *t, uint64_t hash,
						 pf_hashtable_eq_fn eq, const void *key)
{
	return pf_hashtable_find_depth(t, hash, eq, key, NULL);
}
/* Make room for n entries without growing on the way (PF_HASHTABLE_GROW tables). 0 or
 * -ENOMEM. */
int pf_hashtable_reserve(struct pf_hashtable *t, size_t n);

/*
 * Iterate: for (n = pf_hashtable_first(t, &i); n; n = pf_hashtable_next(t, n, &i)). Bucket by
 * bucket, each chain newest first. Deleting the current node is allowed once its successor
 * has been taken: next = pf_hashtable_next(t, n, &i); pf_hashtable_del(t, n); no other
 * change meanwhile.
 */
struct pf_hnode *pf_hashtable_first(const struct pf_hashtable *t, size_t *i);
struct pf_hnode *pf_hashtable_next(const struct pf_hashtable *t, const struct pf_hnode *n,
				   size_t *i);

static inline size_t pf_hashtable_count(const struct pf_hashtable *t)
{
	return t->count;
}
/* The longest chain: what one find can cost at worst. */
size_t pf_hashtable_longest_chain(const struct pf_hashtable *t);

#endif
