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

static struct pf_kmap_entry **find(const struct pf_kmap *m, const char *key, uint64_t h)
{
	struct pf_kmap_entry **pe;

	if (m->n_buckets == 0)
		return NULL;
	for (pe = &m->buckets[h & (m->n_buckets - 1)]; *pe; pe = &(*pe)->next)
		if ((*pe)->hash == h && strcmp((*pe)->key, key) == 0)
			return pe;
	return NULL;
}

void *pf_kmap_get(const struct pf_kmap *m, const char *key)
{
	struct pf_kmap_entry **pe = find(m, key, pf_kmap_hash(key, strlen(key), 0));

	return pe ? (*pe)->value : NULL;
}

static int rehash(struct pf_kmap *m, size_t nb);

static int grow(struct pf_kmap *m)
{
	return rehash(m, m->n_buckets ? m->n_buckets * 2 : 64);
}

int pf_kmap_reserve(struct pf_kmap *m, size_t n)
{
	size_t nb = 64;

	while (nb < n)
		nb *= 2;
	return nb > m->n_buckets ? rehash(m, nb) : 0;
}

static int rehash(struct pf_kmap *m, size_t nb)
{
	struct pf_kmap_entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct pf_kmap_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
	return 0;
}

int pf_kmap_put(struct pf_kmap *m, const char *key, void *value, void **old)
{
	size_t len = strlen(key);
	uint64_t h = pf_kmap_hash(key, len, 0);
	struct pf_kmap_entry **pe = find(m, key, h), *e;

	if (old)
		*old = NULL;
	if (pe) {
		if (old)
			*old = (*pe)->value;
		(*pe)->value = value;
		return 0;
	}
	if (m->n >= m->n_buckets) {
		int r = grow(m);

		if (r < 0)
			return r;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->value = value;
	memcpy(e->key, key, len + 1);
	e->next = m->buckets[h & (m->n_buckets - 1)];
	m->buckets[h & (m->n_buckets - 1)] = e;
	m->n++;
	return 0;
}

void *pf_kmap_remove(struct pf_kmap *m, const char *key)
{
	struct pf_kmap_entry **pe = find(m, key, pf_kmap_hash(key, strlen(key), 0)), *e;
	void *v;

	if (!pe)
		return NULL;
	e = *pe;
	*pe = e->next;
	v = e->value;
	free(e);
	m->n--;
	return v;
}

void pf_kmap_clear(struct pf_kmap *m)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct pf_kmap_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->n_buckets = 0;
	m->n = 0;
}

struct pf_kmap_entry *pf_kmap_next(const struct pf_kmap *m, struct pf_kmap_entry *e, size_t *i)
{
	if (e && e->next)
		return e->next;
	for (e ? (*i)++ : 0; *i < m->n_buckets; (*i)++)
		if (m->buckets[*i])
			return m->buckets[*i];
	return NULL;
}

struct pf_kmap_entry *pf_kmap_first(const struct pf_kmap *m, size_t *i)
{
	*i = 0;
	return pf_kmap_next(m, NULL, i);
}
