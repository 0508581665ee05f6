/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The registry of enforced network namespaces: pods, their containers, queues and watches. */
#ifndef PF_ENGINE_PODS_H
#define PF_ENGINE_PODS_H

#include <sys/types.h>

#include "addr.h"
#include "error.h"
#include "loop.h"
#include "netns.h"
#include "nfq.h"
#include "names.h"
#include "nft.h"

#define PF_MAX_PODS 4096
#define PF_MAX_CONTAINERS_PER_POD 64
#define PF_MAX_NAME 253
#define PF_MAX_CONTAINER_ID 256
/* Verdicts one pod gets per tick (50,000 a second); past it, its queue is left unread until
 * the next tick and the kernel drops its overflow: a flood costs the engine a bounded share. */
#define PF_POD_VERDICTS_PER_TICK 5000

/* Capabilities that reach around the fence (register request field "caps"). */
#define PF_CAP_NET_ADMIN (1u << 0) /* can change the pod's ruleset */
#define PF_CAP_NET_RAW (1u << 1)   /* can send packets netfilter's output hook never sees */
#define PF_CAP_UNKNOWN (1u << 2)   /* the hook could not read them ("caps_unknown") */

struct pf_engine_stats;
struct pf_events;
struct pf_pods;
struct pf_reload;
struct pf_row_done;
struct pf_verdict_ctx;

struct pf_container {
	struct pf_pod *pod;
	struct pf_container *next_dead; /* freed after the current batch of epoll events */
	bool dead;
	char *id;
	pid_t pid;	     /* 0 when unknown (registered by a netns path) */
	uint64_t start_time; /* of that process (/proc/PID/stat), so a reused pid is not it */
	int pidfd;	     /* -1 when unknown; readable once the process exits */
	unsigned caps;	     /* PF_CAP_* its configuration grants */
	struct pf_watch pid_watch;
};

struct pf_pod {
	struct pf_pods *reg;
	const struct pf_verdict_ctx *verdict; /* what its queue's callback judges with */
	struct pf_pod *next;
	bool dead; /* released; freed after the current batch of epoll events */

	struct pf_netns_id id;
	int netns_fd;
	char *netns_path;
	char *namespace;
	char *name;
	char *uid;
	char *kind;
	int64_t registered_at_ms;

	struct pf_container **containers; /* each on its own: epoll holds pointers to them */
	size_t n_containers, cap_containers;

	struct pf_addr *ips;
	size_t n_ips;
	/* The cache's policy group for this pod (PF_CACHE_NO_GROUP: no policy applies): SYNs
	 * from a source not in the cache (spoofed, or an address added since the last build)
	 * are judged by it. Set on activation, on every cache swap, on address changes. */
	uint32_t cache_group;
	/* Its own cache while the cache in place does not hold it yet: compiled at registration
	 * from its policies in the ruleset in place (pf_pods_row_policies), so it is judged by
	 * them without waiting for a full build; freed once a cache with its row is in place.
	 * NULL: the cache in place speaks for it (pf_pod_cache). */
	struct pf_cache *own_cache;
	bool adopted;	 /* re-adopted from the store's row at start (in the last good build) */
	bool unresolved; /* activated while builds fail: not in the cache (verdict.c) */

	struct pf_nfq *nfq;
	struct pf_watch nfq_watch;
	int rtnl_fd; /* address changes inside the netns */
	struct pf_watch rtnl_watch;

	/* The ruleset watch: nftables notifications inside the netns. */
	int nft_fd;
	struct pf_watch nft_watch;
	struct pf_nft_gen nft_gen; /* the generation being read */
	uint32_t own_portids[4];   /* our batches whose NEWGEN is still to be read, oldest first */
	size_t n_own;
	bool nft_dirty;	   /* someone else changed our table: restore */
	bool nft_overflow; /* ...with more chains (or lost notices) than nft_extra holds */
	struct pf_nft_chain_ref nft_extra[PF_NFT_MAX_EXTRA_CHAINS]; /* chains they added to it */
	size_t n_nft_extra;
	int64_t restore_event_ms, foreign_event_ms, restore_fail_event_ms; /* rate limits */

	/* What it learnt from its resolver's DNS answers, for fqdn rules (verdict.c). */
	struct pf_pod_names names;
	/* Flows enforce_established cut lately (verdict.c; NULL until the first). */
	struct pf_cut_flows *cut;
	/* Verdict reuse: a socket in the netns for its reuse sets (-1: reuse off), the port id
	 * its batches carry (the ruleset watch ignores them), and the Allows of the queue read
	 * in progress, added to the sets once it is done (verdict.c fills, pods.c sends). */
	int reuse_fd;
	uint32_t reuse_portid;
	struct pf_nft_reuse_elem reuse[PF_NFT_REUSE_BATCH];
	size_t n_reuse;
	bool reuse_stale; /* its sets could not be emptied: nothing added until a restore */
	bool reuse_dirty; /* its sets may hold elements: emptied at the next forget */

	uint64_t n_verdicts;
	int64_t unparsed_event_ms; /* last 'unparsed' event: at most one per event window */
	uint32_t tick_verdicts;	   /* packets read from its queue since the last tick */
	bool nfq_paused;	   /* over PF_POD_VERDICTS_PER_TICK: not read until the next tick */
	bool active;		   /* ruleset installed, queue in the loop */
	uint64_t pending_gen;	   /* !active: the cache generation that holds its addresses */
	/* Its pods-table row: the newest write asked for, the newest committed, and the cache
	 * generation from which that one is in. Activated only once row_done == row_seq and
	 * a cache of row_gen or later is in place. */
	uint64_t row_seq, row_done, row_gen;
	bool row_unsynced; /* re-adopted before the store worker ran: written once it does */
};

/* What the owner (engine.c) sets the registry up with; pointers outlive it. */
struct pf_pods_config {
	uint16_t queue_num;
	uint32_t queue_maxlen; /* 0: PF_NFQ_QUEUE_MAXLEN */
	bool refuse_privileged;
	struct pf_netns_id host_id; /* refused for registration: PID 1's netns, */
	struct pf_netns_id self_id; /* and ours */
	const struct pf_nft_config *nft;
	const struct pf_verdict_ctx *verdict;
};

/* Told by the registry, set by its owner: a pod waiting for its cache failed (msg says why). */
struct pf_pods_ops {
	void (*failed)(void *data, const struct pf_netns_id *id, const char *msg);
	void *data;
};

/* The cache that judges p, given the one in place. */
static inline const struct pf_cache *pf_pod_cache(const struct pf_pod *p,
						  const struct pf_cache *in_place)
{
	return p && p->own_cache ? p->own_cache : in_place;
}

/* A container of the pod was granted CAP_NET_ADMIN or CAP_NET_RAW. */
static inline bool pf_pod_privileged(const struct pf_pod *p)
{
	for (size_t i = 0; i < p->n_containers; i++)
		if (p->containers[i]->caps & (PF_CAP_NET_ADMIN | PF_CAP_NET_RAW))
			return true;
	return false;
}

struct pf_register_req {
	const char *netns_path;
	pid_t pid;
	bool have_id;
	struct pf_netns_id id;
	const char *namespace;
	const char *name;
	const char *uid;
	const char *container;
	const char *kind;
	bool adopting;	     /* re-adoption at start: do not rebuild the cache per pod */
	unsigned caps;	     /* PF_CAP_* the container's config grants */
	uint64_t start_time; /* adoption: pid must still be the process that started then */
	/* The process holding the netns for the pod when it is not a registered container
	 * (containerd's pause, which runs without hooks): watched as one more container of
	 * the pod, with the id sandbox, if it is in the pod's netns. */
	const char *sandbox;
	pid_t sandbox_pid;
};

/* reload: where the cache, its generations and the pods-table writes are; stats: the block
 * of counters the registry bumps. */
int pf_pods_new(const struct pf_pods_config *cfg, struct pf_loop *loop, struct pf_reload *reload,
		struct pf_events *events, struct pf_engine_stats *stats,
		const struct pf_pods_ops *ops, struct pf_pods **out);
/* Closes every queue and fd, frees the registry (rules and rows stay: see shutdown). */
void pf_pods_free(struct pf_pods *reg);
/* The pods, newest first (released ones flagged dead until the round ends), and how many. */
struct pf_pod *pf_pods_list(const struct pf_pods *reg);
size_t pf_pods_count(const struct pf_pods *reg);
/* Add every live queue's counts to queues; privileged pods, pods not in the cache. */
void pf_pods_stats(const struct pf_pods *reg, struct pf_nfq_stats *queues, size_t *n_privileged,
		   size_t *n_unresolved);
/* Register a container. *wait_gen: 0 when the pod is enforced on return, else the cache
 * generation after which it will be (pf_pods_cache_ready). */
int pf_pods_register(struct pf_pods *reg, const struct pf_register_req *req, struct pf_pod **out,
		     uint64_t *wait_gen, struct pf_error *err);
struct pf_pod *pf_pods_find(struct pf_pods *reg, const struct pf_netns_id *id);
/* A registration's row is in, with the policies that apply to it (the store worker's report):
 * if its pod still waits for a build, activate it now with a cache of its own compiled from
 * them (true when it did; the waiting registration can be answered). */
struct pf_row_policies;
bool pf_pods_row_policies(struct pf_pods *reg, const struct pf_row_policies *rp);
/* A new cache is in place: find every pod's group in it again. */
void pf_pods_regroup(struct pf_pods *reg);
/* Find p's policy group in the cache in place; keep: hold on to the old one when none of
 * p's addresses is in the cache (an address changed, the cache is the same). */
void pf_pods_find_group(struct pf_pods *reg, struct pf_pod *p, bool keep);
/* A new cache is in place: install the rules of pods that waited for it. */
void pf_pods_cache_ready(struct pf_pods *reg);
/* Remove a container; the pod is released when it was the last. *found, *released report it. */
int pf_pods_unregister(struct pf_pods *reg, const char *container, const char *netns_path,
		       bool *found, bool *released, struct pf_error *err);
void pf_pods_release(struct pf_pods *reg, struct pf_pod *p, const char *why);
/* Every tick: retry restores that failed. */
void pf_pods_nft_retry(struct pf_pods *reg);
/* Every second or so: DNS names past their TTL go. */
void pf_pods_names_expire(struct pf_pods *reg, int64_t now_ms);
/* Every tick: owed verdicts, and queues paused for their share read again. */
void pf_pods_queue_tick(struct pf_pods *reg);
void pf_pods_check_liveness(struct pf_pods *reg);
/* Free pods released during this loop round. */
void pf_pods_reap(struct pf_pods *reg);
/* Close every queue and fd; leaves rules and store rows in place (restart re-adopts). */
void pf_pods_shutdown(struct pf_pods *reg);
struct pf_pod *pf_pods_find_container(struct pf_pods *reg, const char *container,
				      struct pf_container **c);
int pf_pods_store_put(struct pf_pods *reg, struct pf_pod *p, struct pf_error *err);
/* The worker committed a row: a pod waiting for it may be activated (pf_pods_cache_ready). */
void pf_pods_row_committed(struct pf_pods *reg, const struct pf_row_done *d);
/* Once the store worker runs: write the rows re-adoption left as they were. */
void pf_pods_sync_rows(struct pf_pods *reg);
int pf_pods_store_delete(struct pf_pods *reg, const struct pf_netns_id *id, struct pf_error *err);
/* Find a process in the netns with identity id and open its /proc/PID/ns/net. */
int pf_pods_find_netns(const struct pf_netns_id *id, int *fd, pid_t *pid);
/* A process's start time, clock ticks after boot (/proc/PID/stat field 22). */
int pf_proc_start_time(pid_t pid, uint64_t *out);
/* The pod a /proc/PID/ns/net path names, 0 when path is of another form. */
pid_t pf_pid_from_netns_path(const char *path);

#endif
