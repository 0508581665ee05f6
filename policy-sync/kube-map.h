/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A string-keyed map for the Kubernetes object cache, over lib/hashtable (grows by doubling). */
#ifndef PF_KUBE_MAP_H
#define PF_KUBE_MAP_H

#include "hashtable.h"
#include "util.h"

/* Far past any cluster's objects of one kind: a bound, not a size anyone should reach. */
#define PF_KMAP_MAX_ENTRIES (1u << 24)

struct pf_kmap_entry {
	struct pf_hnode node;
	void *value;
	char key[];
};

/* Zero-initialized is an empty map. */
struct pf_kmap {
	struct pf_hashtable t;
};

static inline size_t pf_kmap_size(const struct pf_kmap *m)
{
	return pf_hashtable_count(&m->t);
}

void *pf_kmap_get(const struct pf_kmap *m, const char *key);
/* Insert or replace; *old (may be NULL) receives the replaced value. -ENOSPC past
 * PF_KMAP_MAX_ENTRIES. */
int pf_kmap_put(struct pf_kmap *m, const char *key, void *value, void **old);
/* Remove; returns the value or NULL. */
void *pf_kmap_remove(struct pf_kmap *m, const char *key);
/* Make room for n entries without rehashing. */
int pf_kmap_reserve(struct pf_kmap *m, size_t n);
/* Free the entries (not the values) and reset. */
void pf_kmap_clear(struct pf_kmap *m);

/* Iterate: for (e = pf_kmap_first(m, &i); e; e = pf_kmap_next(m, e, &i)). No mutation meanwhile. */
struct pf_kmap_entry *pf_kmap_first(const struct pf_kmap *m, size_t *i);
struct pf_kmap_entry *pf_kmap_next(const struct pf_kmap *m, struct pf_kmap_entry *e, size_t *i);

uint64_t pf_kmap_hash(const void *data, size_t len, uint64_t h);

#endif
