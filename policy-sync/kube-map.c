/* SPDX-License-Identifier: GPL-2.0-or-later */
/* String-keyed hash map used by the Kubernetes object cache and the store mirror. */
#include "kube-map.h"
#include "siphash.h"

/*
 * Keyed (the process's SipHash key): object names and the digests' contents are chosen by
 * whoever creates objects in the cluster, so which keys share a bucket, or which two address
 * sets share a digest, must not be computable outside the process. h chains a previous value
 * (0 to start) through a bijective mix, so the result depends on the order.
 */
uint64_t pf_kmap_hash(const void *data, size_t len, uint64_t h)
{
	h = (h << 23 | h >> 41) * 0x9e3779b97f4a7c15ull;
	return pf_keyed_hash(data, len) ^ h;
}

static bool entry_eq(const struct pf_hnode *n, const void *key)
{
	return strcmp(pf_container_of(n, struct pf_kmap_entry, node)->key, key) == 0;
}

static struct pf_kmap_entry *find(const struct pf_kmap *m, const char *key, uint64_t h)
{
	struct pf_hnode *n = pf_hashtable_find(&m->t, h, entry_eq, key);

	return n ? pf_container_of(n, struct pf_kmap_entry, node) : NULL;
}

/* A zero-initialized map becomes a table on first use. */
static void setup(struct pf_kmap *m)
{
	if (!m->t.limit)
		pf_hashtable_init(&m->t, 64, PF_KMAP_MAX_ENTRIES, PF_HASHTABLE_GROW);
}

void *pf_kmap_get(const struct pf_kmap *m, const char *key)
{
	struct pf_kmap_entry *e = find(m, key, pf_kmap_hash(key, strlen(key), 0));

	return e ? e->value : NULL;
}

int pf_kmap_reserve(struct pf_kmap *m, size_t n)
{
	setup(m);
	return pf_hashtable_reserve(&m->t, n);
}

int pf_kmap_put(struct pf_kmap *m, const char *key, void *value, void **old)
{
	size_t len = strlen(key);
	uint64_t h = pf_kmap_hash(key, len, 0);
	struct pf_kmap_entry *e = find(m, key, h);
	int r;

	if (old)
		*old = NULL;
	if (e) {
		if (old)
			*old = e->value;
		e->value = value;
		return 0;
	}
	setup(m);
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->value = value;
	memcpy(e->key, key, len + 1);
	r = pf_hashtable_add(&m->t, &e->node, h);
	if (r < 0)
		free(e);
	return r;
}

void *pf_kmap_remove(struct pf_kmap *m, const char *key)
{
	struct pf_kmap_entry *e = find(m, key, pf_kmap_hash(key, strlen(key), 0));
	void *v;

	if (!e)
		return NULL;
	pf_hashtable_del(&m->t, &e->node);
	v = e->value;
	free(e);
	return v;
}

void pf_kmap_clear(struct pf_kmap *m)
{
	struct pf_hnode *n, *next;
	size_t i;

	for (n = pf_hashtable_first(&m->t, &i); n; n = next) {
		next = pf_hashtable_next(&m->t, n, &i);
		free(pf_container_of(n, struct pf_kmap_entry, node));
	}
	pf_hashtable_fini(&m->t);
	m->t = (struct pf_hashtable){0};
}

struct pf_kmap_entry *pf_kmap_next(const struct pf_kmap *m, struct pf_kmap_entry *e, size_t *i)
{
	struct pf_hnode *n = pf_hashtable_next(&m->t, e ? &e->node : NULL, i);

	return n ? pf_container_of(n, struct pf_kmap_entry, node) : NULL;
}

struct pf_kmap_entry *pf_kmap_first(const struct pf_kmap *m, size_t *i)
{
	*i = 0;
	return pf_kmap_next(m, NULL, i);
}
