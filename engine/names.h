/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What one pod learnt from DNS answers its resolver sent it: name -> address, until the TTL. */
#ifndef PF_ENGINE_NAMES_H
#define PF_ENGINE_NAMES_H

#include "dns.h"
#include "hashtable.h"
#include "ruleset.h"
#include "store.h"

/* An answer's TTL counts for at least 30 s (so a TTL of 0 still covers the connect that
 * follows the lookup) and at most a day. */
#define PF_NAMES_TTL_MIN_S 30
#define PF_NAMES_TTL_MAX_S 86400
/* Per pod: addresses kept, and names per address; past either the oldest goes first. */
#define PF_NAMES_MAX_ADDRS 1024
#define PF_NAMES_MAX_PER_ADDR 8
/* Resolvers a pod's resolv.conf may name that count (glibc reads 3). */
#define PF_NAMES_MAX_RESOLVERS 4

struct pf_name_addr; /* names.c's */

/* Slots of the filter in front of the table (a counting one, so expiry can take addresses
 * out): most destinations are no resolved address, and one multiply tells. */
#define PF_NAMES_FILTER_SLOTS 2048

struct pf_pod_names {
	struct pf_hashtable by_addr;
	uint16_t *filter; /* PF_NAMES_FILTER_SLOTS counts; NULL until the first answer */
	uint64_t filter_seed;
	struct pf_name_addr *oldest, *newest; /* by last answer */
	struct pf_addr resolvers[PF_NAMES_MAX_RESOLVERS];
	size_t n_resolvers;
	uint64_t *evicted;    /* the engine's counter, bumped per address or name evicted */
	struct pf_names view; /* what the cache reads (pf_names_lookup) */
	int64_t now_ms;	      /* set before each lookup: entries past it do not count */
	bool dirty;	      /* changed since the store's dns_names rows were last written */
};

void pf_pod_names_init(struct pf_pod_names *n, uint64_t *evicted);
void pf_pod_names_free(struct pf_pod_names *n);
/* Read "nameserver" lines of a resolv.conf (at most 4 KiB read; the first
 * PF_NAMES_MAX_RESOLVERS addresses). -errno when the file cannot be read. */
int pf_pod_names_read_resolvers(struct pf_pod_names *n, const char *path);
bool pf_pod_names_is_resolver(const struct pf_pod_names *n, const struct pf_addr *a);
/* Record what an answer says (every address for every name on its chain), expiring at now +
 * the clamped TTL. Returns how many (name, address) pairs it set. */
size_t pf_pod_names_add(struct pf_pod_names *n, const struct pf_dns_answer *a, int64_t now_ms);
/* Drop what expired; bounded work. */
void pf_pod_names_expire(struct pf_pod_names *n, int64_t now_ms);
size_t pf_pod_names_count(const struct pf_pod_names *n);
/* A snapshot for the store's dns_names view (malloc'ed; *n rows; NULL when none or out of
 * memory). */
struct pf_dns_name_row *pf_pod_names_rows(const struct pf_pod_names *n, size_t *count);
/* Each (name, address, expiry) in turn, for the store's dns_names view; stop when fn
 * returns false. */
void pf_pod_names_foreach(const struct pf_pod_names *n,
			  bool (*fn)(void *data, const char *name, const struct pf_addr *a,
				     int64_t expires_ms),
			  void *data);

#endif
