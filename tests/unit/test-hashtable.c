/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/hashtable: add, find, delete, iterate, the hard limit (ENOSPC) and growing. */
#include <errno.h>

#include "../../lib/hashtable.h"
#include "../../lib/siphash.h"
#include "tap.h"

int main(void);

struct item {
	struct pf_hnode node;
	unsigned key;
	bool seen;
};

static bool item_eq(const struct pf_hnode *n, const void *key)
{
	return pf_container_of(n, struct item, node)->key == *(const unsigned *)key;
}

static uint64_t key_hash(unsigned key)
{
	return pf_keyed_hash(&key, sizeof(key));
}

static struct item *find(const struct pf_hashtable *t, unsigned key)
{
	struct pf_hnode *n = pf_hashtable_find(t, key_hash(key), item_eq, &key);

	return n ? pf_container_of(n, struct item, node) : NULL;
}

static size_t count_by_iteration(const struct pf_hashtable *t, struct item *items, size_t n_items)
{
	size_t i, n = 0;

	for (size_t k = 0; k < n_items; k++)
		items[k].seen = false;
	for (struct pf_hnode *h = pf_hashtable_first(t, &i); h; h = pf_hashtable_next(t, h, &i)) {
		struct item *it = pf_container_of(h, struct item, node);

		if (it->seen)
			return SIZE_MAX; /* visited twice */
		it->seen = true;
		n++;
	}
	return n;
}

static void test_fixed(void)
{
	struct pf_hashtable t;
	struct item items[40];
	size_t i, depth;
	bool all = true;

	pf_hashtable_init(&t, 8, 32, 0);
	ok(!pf_hashtable_first(&t, &i), "an empty table iterates over nothing");
	ok(!find(&t, 1), "an empty table finds nothing");
	for (unsigned k = 0; k < 40; k++)
		items[k] = (struct item){.key = k};
	for (unsigned k = 0; k < 32; k++)
		all = all && pf_hashtable_add(&t, &items[k].node, key_hash(k)) == 0;
	ok(all, "32 adds up to the limit succeed");
	is_int(pf_hashtable_count(&t), 32, "count is 32");
	is_int(pf_hashtable_add(&t, &items[32].node, key_hash(32)), -ENOSPC,
	       "an add past the limit fails with ENOSPC");
	is_int(pf_hashtable_count(&t), 32, "the refused add changed nothing");
	ok(!find(&t, 32), "the refused key is absent");
	is_int(t.n_buckets, 8, "a table without PF_HASHTABLE_GROW keeps its buckets");
	all = true;
	for (unsigned k = 0; k < 32; k++)
		all = all && find(&t, k) == &items[k];
	ok(all, "every added key is found, as its own node");
	pf_hashtable_find_depth(&t, key_hash(39), item_eq, &(unsigned){39}, &depth);
	ok(depth <= pf_hashtable_longest_chain(&t), "a miss passes over at most the longest chain");
	is_int(count_by_iteration(&t, items, 40), 32, "iteration visits each entry once");

	pf_hashtable_del(&t, &items[5].node);
	ok(!find(&t, 5), "a deleted key is gone");
	is_int(pf_hashtable_count(&t), 31, "count is 31 after a delete");
	is_int(pf_hashtable_add(&t, &items[32].node, key_hash(32)), 0,
	       "a delete makes room under the limit");
	ok(find(&t, 32) == &items[32], "the new key is found");

	/* Delete every even key while iterating, taking the successor first. */
	for (struct pf_hnode *h = pf_hashtable_first(&t, &i), *next; h; h = next) {
		next = pf_hashtable_next(&t, h, &i);
		if (pf_container_of(h, struct item, node)->key % 2 == 0)
			pf_hashtable_del(&t, h);
	}
	all = true;
	for (unsigned k = 0; k <= 32; k++)
		all = all && (find(&t, k) != NULL) == (k % 2 == 1 && k != 5);
	ok(all, "deleting during iteration removes exactly those keys");
	is_int(count_by_iteration(&t, items, 40), pf_hashtable_count(&t),
	       "iteration after deletes matches the count");
	pf_hashtable_fini(&t);
	is_int(pf_hashtable_count(&t), 0, "fini empties the table");
	is_int(pf_hashtable_add(&t, &items[0].node, key_hash(0)), 0, "a finished table is usable");
	pf_hashtable_fini(&t);
}

static void test_grow(void)
{
	enum { N = 5000 };
	struct item *items = calloc(N, sizeof(*items));
	struct pf_hashtable t;
	bool all = true;

	pf_hashtable_init(&t, 4, N, PF_HASHTABLE_GROW);
	for (unsigned k = 0; k < N; k++) {
		items[k].key = k;
		all = all && pf_hashtable_add(&t, &items[k].node, key_hash(k)) == 0;
	}
	ok(all, "a growing table takes 5000 entries");
	ok(t.n_buckets >= N / 2, "its buckets grew (%zu)", t.n_buckets);
	all = true;
	for (unsigned k = 0; k < N; k++)
		all = all && find(&t, k) == &items[k];
	ok(all, "every key is found after growing");
	ok(!find(&t, N), "an absent key is not");
	is_int(pf_hashtable_add(&t, &(struct item){.key = N}.node, key_hash(N)), -ENOSPC,
	       "the limit holds for a growing table too");
	is_int(count_by_iteration(&t, items, N), N, "iteration visits all 5000 once");
	ok(pf_hashtable_longest_chain(&t) < 16, "keyed chains stay short (%zu)",
	   pf_hashtable_longest_chain(&t));
	pf_hashtable_fini(&t);

	pf_hashtable_init(&t, 1, 100, PF_HASHTABLE_GROW);
	is_int(pf_hashtable_reserve(&t, 64), 0, "reserve on an empty table");
	is_int(t.n_buckets, 64, "reserve rounds up to 64 buckets");
	for (unsigned k = 0; k < 64; k++)
		pf_hashtable_add(&t, &items[k].node, key_hash(k));
	is_int(t.n_buckets, 64, "64 entries fit a reserved table without growing");
	is_int(pf_hashtable_reserve(&t, 200), 0, "reserve on a full table");
	is_int(t.n_buckets, 256, "it rehashed to 256 buckets");
	all = true;
	for (unsigned k = 0; k < 64; k++)
		all = all && find(&t, k) == &items[k];
	ok(all, "every key is found after a reserve");
	pf_hashtable_fini(&t);
	free(items);
}

int main(void)
{
	test_fixed();
	test_grow();
	return tap_done();
}
