/* podfenced's internal interfaces: the engine state one epoll loop owns, and its modules. */
#ifndef PF_ENGINE_H
#define PF_ENGINE_H

#include <sys/socket.h>
#include <sys/types.h>

#include "addr.h"
#include "cache.h"
#include "doc.h"
#include "error.h"
#include "hashtable.h"
#include "netns.h"
#include "nfq.h"
#include "nft.h"
#include "packet.h"
#include "policy.h"
#include "store.h"

/* Loop cadence: one periodic timer; the slower jobs run every n-th tick. */
#define PF_TICK_MS 100
#define PF_EVENTS_FLUSH_TICKS 2 /* hand event batches to the store worker every 200 ms */
#define PF_DATA_VERSION_MS 200	/* the store worker polls PRAGMA data_version */
#define PF_LIVENESS_TICKS 20	/* look for vanished netns every 2 s */
/* Verdicts one pod gets per tick (50,000 a second); past it, its queue is left unread until
 * the next tick and the kernel drops its overflow: a flood costs the engine a bounded share. */
#define PF_POD_VERDICTS_PER_TICK 5000

/* Bounds on what outsiders can make the engine hold. */
#define PF_MAX_CLIENTS 64
#define PF_CLIENT_TIMEOUT_MS 5000
#define PF_CLIENT_WAIT_MS 60000		 /* a request waiting for a rebuild, unless it says less */
#define PF_CLIENT_MAX_TIMEOUT_MS 3600000 /* largest "timeout_ms" a request may give */
#define PF_CLIENT_ANSWER_MARGIN_MS 500	 /* answer this much before the sender gives up */
#define PF_MAX_PODS 4096
#define PF_MAX_CONTAINERS_PER_POD 64
#define PF_MAX_NAME 253
#define PF_MAX_CONTAINER_ID 256
#define PF_MAX_PENDING_FILES 4096
#define PF_METRICS_MAX_CONNS 16
#define PF_METRICS_MAX_REQUEST 8192 /* request line and headers */
#define PF_METRICS_TIMEOUT_MS 2000  /* to send a whole request, and again to take the answer */

/* Events: rate limit per (pod, destination, port). */
/* Default rate-limit window per (pod, destination, port): long enough that the SYN
 * retransmits of one dropped connect (1 s, 3 s, 7 s) fold into one summary. */
#define PF_EVENTS_WINDOW_MS 10000
#define PF_EVENTS_MAX_WINDOW_MS 3600000
#define PF_EVENTS_MAX_KEYS 16384
#define PF_EVENTS_MAX_CHAIN 32 /* keys one bucket holds; past it a key is not rate-limited */
#define PF_EVENTS_MAX_PENDING 8192
#define PF_EVENTS_MAX_ROWS 100000

/* Capabilities that reach around the fence (register request field "caps"). */
#define PF_CAP_NET_ADMIN (1u << 0) /* can change the pod's ruleset */
#define PF_CAP_NET_RAW (1u << 1)   /* can send packets netfilter's output hook never sees */
#define PF_CAP_UNKNOWN (1u << 2)   /* the hook could not read them ("caps_unknown") */

/* What an epoll event points at. */
enum pf_watch_type {
	PF_WATCH_SIGNAL,
	PF_WATCH_TIMER,
	PF_WATCH_LISTEN,
	PF_WATCH_CLIENT,
	PF_WATCH_NFQ,
	PF_WATCH_RTNL,
	PF_WATCH_NFT,
	PF_WATCH_PIDFD,
	PF_WATCH_RELOAD,
	PF_WATCH_METRICS_LISTEN,
	PF_WATCH_METRICS_CONN,
};

struct pf_watch {
	enum pf_watch_type type;
	void *owner;
};

struct engine;

struct pf_container {
	struct pf_pod *pod;
	struct pf_container *next_dead; /* freed after the current batch of epoll events */
	bool dead;
	char *id;
	pid_t pid; /* 0 when unknown (registered by a netns path) */
	uint64_t start_time; /* of that process (/proc/PID/stat), so a reused pid is not it */
	int pidfd; /* -1 when unknown; readable once the process exits */
	unsigned caps; /* PF_CAP_* its configuration grants */
	struct pf_watch pid_watch;
};

struct pf_pod {
	struct engine *engine;
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

	uint64_t n_verdicts;
	int64_t unparsed_event_ms; /* last 'unparsed' event: at most one per event window */
	uint32_t tick_verdicts;	   /* packets read from its queue since the last tick */
	bool nfq_paused;	   /* over PF_POD_VERDICTS_PER_TICK: not read until the next tick */
	bool active;	      /* ruleset installed, queue in the loop */
	uint64_t pending_gen; /* !active: the cache generation that holds its addresses */
	/* Its pods-table row: the newest write asked for, the newest committed, and the cache
	 * generation from which that one is in. Activated only once row_done == row_seq and
	 * a cache of row_gen or later is in place. */
	uint64_t row_seq, row_done, row_gen;
	bool row_unsynced; /* re-adopted before the store worker ran: written once it does */
};

enum pf_wait_kind {
	PF_WAIT_NONE,
	PF_WAIT_REGISTER,
	PF_WAIT_RELOAD,
};

/* A request answered later, once the cache generation it needs is in place. */
struct pf_wait {
	enum pf_wait_kind kind;
	uint64_t gen;
	struct pf_netns_id id; /* register: the pod */
	bool new_pod;
	char error[256]; /* set when the pod failed before its answer */
	uint32_t timeout_ms; /* the sender's "timeout_ms", 0 when it gave none */
};

struct pf_client {
	struct pf_client *next;
	bool dead;
	int fd;
	uint64_t deadline_ns;
	struct pf_watch watch;
	struct pf_wait wait;
	bool refused_uid; /* not root: answered with an error, then hung up on */
	uid_t uid;
};

struct pf_event_key;
struct pf_pending_event;

struct pf_events {
	struct pf_hashtable keys; /* PF_EVENTS_MAX_KEYS / 4 buckets, at most PF_EVENTS_MAX_KEYS */
	int64_t window_ms; /* PF_EVENTS_WINDOW_MS unless configured */
	struct pf_pending_event *pending;
	size_t n_pending, cap_pending;
	/* counters */
	uint64_t recorded;   /* verdicts that asked for an event */
	uint64_t suppressed; /* folded into a later summary event */
	uint64_t dropped;    /* lost in memory: queue full (the worker counts write failures) */
	uint64_t probes;     /* keys compared, one more per record: the table's cost */
};

struct pf_engine_config {
	bool foreground;
	char *config_path;
	char *db_path;
	char *socket_path;
	char *state_dir;
	bool fail_closed;
	enum pf_action default_action;
	uint16_t queue_num;
	uint32_t queue_maxlen; /* 0: PF_NFQ_QUEUE_MAXLEN */
	int32_t priority;
	uint32_t event_window_ms;
	char *metrics;
	int log_level;
	bool refuse_privileged; /* privileged_pods = refuse (default warn) */
};

struct pf_engine_stats {
	uint64_t accepted, dropped, rejected, unparsed;
	uint64_t reloads, reload_failures;
	uint64_t nfq_errors;		  /* dispatch failures the loop saw */
	struct pf_nfq_stats nfq_released; /* queues of released pods, so totals never go back */
	int64_t last_reload_ms;
	uint64_t last_reload_us; /* how long the last rebuild took */
	uint64_t ruleset_restored;	   /* a pod's ruleset changed by someone else, put back */
	uint64_t ruleset_restore_failures; /* restores that failed (retried every tick) */
	uint64_t ruleset_foreign;	   /* tables of someone else's added in a pod netns */
	uint64_t privileged_containers;	   /* registered with CAP_NET_ADMIN or CAP_NET_RAW */
	uint64_t privileged_refused;	   /* refused for it (privileged_pods = refuse) */
	uint64_t build_failures; /* loads or compiles that failed (not pod-row writes) */
	int64_t last_build_failure_ms;
};

struct engine {
	struct pf_engine_config cfg;
	int epfd;
	int sigfd;
	int timerfd;
	int listen_fd;
	struct pf_watch sig_watch, timer_watch, listen_watch;
	uint64_t ticks;
	bool quit;

	struct pf_store *store;
	uint64_t data_version;
	struct pf_cache *cache;	   /* swapped whole on reload; only the loop thread reads it */
	uint64_t cache_generation; /* the request number the cache in place was built for */
	uint64_t reload_requested; /* last request number */
	uint64_t reload_failed;	   /* last request number whose build failed */
	uint64_t build_failed;	   /* ... whose load or compile failed (pods go on, see pods.c) */
	/*
	 * A failed build never stops the engine, a registration or a container start: the
	 * cache in place stays (stale), or at start the last good build's ruleset saved in the
	 * state dir, or, if there is none, an empty cache (the default action for everyone).
	 */
	bool cache_stale;
	const char *cache_source; /* "store", "saved" (last good build's ruleset), "none" */
	char last_build_error[1024];
	uint64_t failed_data_version; /* start-up: the store as the failed build saw it */
	char *saved_path;	      /* the last good build's ruleset */
	uint64_t saved_hash;	      /* of what was saved last (worker, or start-up before it) */
	struct pf_reloader *reloader;

	struct pf_nft_config nft;
	struct pf_netns_id host_id; /* PID 1's netns */
	struct pf_netns_id self_id; /* ours */

	struct pf_pod *pods;
	size_t n_pods;
	uint64_t row_seq; /* numbers pods-table writes */
	struct pf_pod *dead_pods;
	struct pf_container *dead_containers;
	struct pf_client *clients;
	size_t n_clients;

	struct pf_metrics *metrics; /* NULL without --metrics */

	struct pf_events events;
	struct pf_engine_stats stats;
	bool pending_dir_warned;
	int64_t started_ms;

	/* Re-adoption: records that failed, to try again; rows of gone pods to delete once the
	 * store worker runs; the pods listing when it failed. */
	struct pf_adopt_retry *adopt_retry;
	size_t n_adopt_retry, cap_adopt_retry;
	struct pf_netns_id *adopt_gone;
	size_t n_adopt_gone, cap_adopt_gone;
	int64_t adopt_list_next_ms;
	unsigned adopt_list_backoff_ms;
};

/* A container of the pod was granted CAP_NET_ADMIN or CAP_NET_RAW. */
static inline bool pf_pod_privileged(const struct pf_pod *p)
{
	for (size_t i = 0; i < p->n_containers; i++)
		if (p->containers[i]->caps & (PF_CAP_NET_ADMIN | PF_CAP_NET_RAW))
			return true;
	return false;
}

/* loop.c */
int pf_loop_init(struct engine *e);
int pf_loop_add(struct engine *e, int fd, uint32_t events, struct pf_watch *w);
void pf_loop_del(struct engine *e, int fd);
int pf_loop_mod(struct engine *e, int fd, uint32_t events, struct pf_watch *w);
int pf_loop_run(struct engine *e);
void pf_loop_done(struct engine *e);

/* control.c */
int pf_control_listen(struct engine *e);
void pf_control_accept(struct engine *e);
void pf_control_client_io(struct engine *e, struct pf_client *c, uint32_t events);
/* Hang up on clients past their deadline (all: every client). */
void pf_control_expire(struct engine *e, bool all);
/* Free clients hung up on during this loop round. */
void pf_control_reap(struct engine *e);
void pf_control_close(struct engine *e);
/* Handle one request (JSON bytes); reply is malloc'ed JSON. Used by the socket and by adopt. */
int pf_control_handle(struct engine *e, const char *req, size_t len, char **reply,
		      struct pf_wait *wait);
struct pf_node;
/* The same for a parsed request; default_op stands in when "op" is absent (pending records). */
int pf_control_dispatch(struct engine *e, const struct pf_node *req, const char *default_op,
			char **reply, struct pf_wait *wait);
/* Answer the requests waiting for a cache generation now in place (or failed). */
void pf_control_cache_ready(struct engine *e);
/* A waiting registration of pod id failed: its answer says why. */
void pf_control_fail_waiters(struct engine *e, const struct pf_netns_id *id, const char *msg);
/* Limits for control messages and pending records. */
extern const struct pf_doc_limits pf_ctl_limits;

/* A pods-table write the store worker committed: every cache of generation >= gen has it. */
struct pf_row_done {
	struct pf_netns_id id;
	uint64_t seq;
	uint64_t gen;
	bool delete;
};

/* pods.c */
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
	bool adopting; /* re-adoption at start: do not rebuild the cache per pod */
	unsigned caps; /* PF_CAP_* the container's config grants */
	uint64_t start_time; /* adoption: pid must still be the process that started then */
};

/* Register a container. *wait_gen: 0 when the pod is enforced on return, else the cache
 * generation after which it will be (pf_pods_cache_ready). */
int pf_pods_register(struct engine *e, const struct pf_register_req *req, struct pf_pod **out,
		     uint64_t *wait_gen, struct pf_error *err);
struct pf_pod *pf_pods_find(struct engine *e, const struct pf_netns_id *id);
/* A new cache is in place: install the rules of pods that waited for it. */
void pf_pods_cache_ready(struct engine *e);
/* Remove a container; the pod is released when it was the last. *found, *released report it. */
int pf_pods_unregister(struct engine *e, const char *container, const char *netns_path, bool *found,
		       bool *released, struct pf_error *err);
void pf_pods_release(struct engine *e, struct pf_pod *p, const char *why);
void pf_pods_rtnl_event(struct engine *e, struct pf_pod *p);
/* nftables notifications in a pod's netns: restore our ruleset when someone else changed it. */
void pf_pods_nft_event(struct engine *e, struct pf_pod *p);
/* Every tick: retry restores that failed. */
void pf_pods_nft_retry(struct engine *e);
void pf_pods_pid_exit(struct engine *e, struct pf_container *c);
void pf_pods_check_liveness(struct engine *e);
/* Free pods released during this loop round. */
void pf_pods_reap(struct engine *e);
/* Close every queue and fd; leaves rules and store rows in place (restart re-adopts). */
void pf_pods_shutdown(struct engine *e);
struct pf_pod *pf_pods_find_container(struct engine *e, const char *container,
				      struct pf_container **c);
int pf_pods_store_put(struct engine *e, struct pf_pod *p, struct pf_error *err);
/* The worker committed a row: a pod waiting for it may be activated (pf_pods_cache_ready). */
void pf_pods_row_committed(struct engine *e, const struct pf_row_done *d);
/* Once the store worker runs: write the rows re-adoption left as they were. */
void pf_pods_sync_rows(struct engine *e);
int pf_pods_store_delete(struct engine *e, const struct pf_netns_id *id, struct pf_error *err);
/* Find a process in the netns with identity id and open its /proc/PID/ns/net. */
int pf_pods_find_netns(const struct pf_netns_id *id, int *fd, pid_t *pid);
/* A process's start time, clock ticks after boot (/proc/PID/stat field 22). */
int pf_proc_start_time(pid_t pid, uint64_t *out);
/* The pod a /proc/PID/ns/net path names, 0 when path is of another form. */
pid_t pf_pid_from_netns_path(const char *path);

/* verdict.c */
uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
		       uint32_t *mark);

/* events.c */
int pf_events_init(struct pf_events *ev);
void pf_events_free(struct pf_events *ev);
/* The longest bucket chain (tests and benches: what one record can cost). */
size_t pf_events_longest_chain(const struct pf_events *ev);
void pf_events_record(struct pf_events *ev, const struct pf_pod *pod, const struct pf_tuple *t,
		      const struct pf_verdict *v, int64_t now_ms);
/* Queue one event that is not a plain verdict: reason is a static string (event.reason, see
 * podfenced(8)); src/dst may be NULL (unknown). Not rate-limited: callers bound how often. */
void pf_events_note(struct pf_events *ev, const struct pf_pod *pod, const char *reason,
		    const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		    enum pf_action action, int64_t now_ms);
/* Fold expired rate windows (all of them when final) into summary events and hand out what is
 * queued (*out owns it; NULL when n is 0). */
void pf_events_collect(struct pf_events *ev, int64_t now_ms, bool final,
		       struct pf_pending_event **out, size_t *n);
/* Sum of the counts in a batch. */
size_t pf_events_count(const struct pf_pending_event *pe, size_t n);
void pf_events_batch_free(struct pf_pending_event *pe, size_t n);
/* For appending batches: element size, and moving n elements to dst[at] (src keeps nothing). */
size_t pf_events_size(void);
void pf_events_move(struct pf_pending_event *dst, size_t at, const struct pf_pending_event *src,
		    size_t n);
/* Write a batch in one transaction (store worker). */
int pf_events_write(struct pf_store *store, const struct pf_pending_event *pe, size_t n,
		    struct pf_error *err);

/* reload.c */
/* Build and swap on the calling thread (start-up, before the loop runs). */
int pf_reload(struct engine *e, const char *why, struct pf_error *err);
/* The start-up build; when it fails, the saved last good ruleset, or an empty cache. Logs. */
int pf_reload_start(struct engine *e);
int pf_reloader_start(struct engine *e);
void pf_reloader_stop(struct engine *e);
/* Ask for a rebuild; returns the generation that will contain everything committed so far. */
uint64_t pf_reload_request(struct engine *e, const char *why);
void pf_reloader_event(struct engine *e);
/* Find p's policy group in the cache in place; keep: hold on to the old one when none of
 * p's addresses is in the cache (an address changed, the cache is the same). */
void pf_reload_pod_group(struct engine *e, struct pf_pod *p, bool keep);
/* Hand a batch of events to the store worker (which frees it). */
void pf_reloader_push_events(struct engine *e, struct pf_pending_event *pe, size_t n);
/* Queue a pod row write / delete for the worker (done before its next rebuild, in order; a
 * failed one is retried with backoff until it commits or a newer one for the row replaces
 * it). seq comes back in pf_pods_row_committed. */
int pf_reloader_put_pod(struct engine *e, const struct pf_pod_record *rec, uint64_t seq,
			struct pf_error *err);
int pf_reloader_delete_pod(struct engine *e, const struct pf_netns_id *id, uint64_t seq,
			   struct pf_error *err);
/* Row writes that failed so far, and how many rows wait for a retry now. */
void pf_reloader_row_stats(struct engine *e, uint64_t *failures, size_t *waiting);
/* Events the worker wrote and dropped so far. */
void pf_reloader_event_stats(struct engine *e, uint64_t *written, uint64_t *dropped);

/* adopt.c */
struct pf_adopt_retry;
void pf_adopt_store(struct engine *e);
void pf_adopt_pending(struct engine *e);
/* Every tick: retry the re-adoptions (and the listing) that failed, when due. */
void pf_adopt_retry_tick(struct engine *e);
/* Once the store worker runs: delete the rows of pods found gone at start. */
void pf_adopt_flush_gone(struct engine *e);
void pf_adopt_done(struct engine *e);

/* status (control.c) */
int pf_status_json(struct engine *e, char **out);

/* The numbers the status op and the metrics endpoint report, gathered in one place. */
struct pf_engine_counters {
	struct pf_engine_stats stats;
	struct pf_cache_stats cache;
	struct pf_nfq_stats queues; /* every queue the engine had, live or released */
	uint64_t events_recorded, events_suppressed, events_written, events_dropped;
	size_t events_pending;
	size_t n_pods;
	size_t n_privileged_pods;
	uint64_t row_write_failures; /* pods-table writes that failed (each retried) */
	size_t rows_waiting;	     /* rows waiting for a retry now */
	size_t n_unresolved; /* pods activated while builds fail, not in the cache */
	bool cache_stale;
};
void pf_engine_counters(struct engine *e, struct pf_engine_counters *out);
/* Add a queue's counts to sum (live queues here, released ones into stats.nfq_released). */
void pf_engine_add_queue_stats(struct pf_nfq_stats *sum, const struct pf_nfq *q);

/* metrics.c: Prometheus text format on GET /metrics, served from the loop. */
struct pf_metrics_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	const char *unix_path; /* points into the parsed string; NULL for TCP */
};
struct pf_metrics_conn;
/* ADDR: IPV4:PORT, [IPV6]:PORT or unix:/PATH. */
int pf_metrics_parse_addr(const char *s, struct pf_metrics_addr *out, struct pf_error *err);
int pf_metrics_listen(struct engine *e);
void pf_metrics_accept(struct engine *e);
void pf_metrics_conn_io(struct engine *e, struct pf_metrics_conn *c, uint32_t events);
/* Hang up on connections past their deadline. */
void pf_metrics_expire(struct engine *e);
/* Free connections hung up on during this loop round. */
void pf_metrics_reap(struct engine *e);
void pf_metrics_close(struct engine *e);
/* The exposition text (malloc'ed, NUL-terminated). */
int pf_metrics_render(struct engine *e, char **out, size_t *len);

/* A small JSON writer for replies (control.c). */
struct pf_jw {
	char *buf;
	size_t len, cap;
	bool failed;
	bool need_comma;
};
void pf_jw_raw(struct pf_jw *w, const char *s);
void pf_jw_key(struct pf_jw *w, const char *k);
void pf_jw_str(struct pf_jw *w, const char *s);
void pf_jw_u64(struct pf_jw *w, uint64_t v);
void pf_jw_i64(struct pf_jw *w, int64_t v);
void pf_jw_bool(struct pf_jw *w, bool v);
void pf_jw_open(struct pf_jw *w, char c);
void pf_jw_close(struct pf_jw *w, char c);
char *pf_jw_take(struct pf_jw *w);

#endif
