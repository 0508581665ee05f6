/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sqlite store (doc/architecture.md, "The store"): policies and workloads written by
 * podfence-sync, registered pods and events written by podfenced, public views for sqlite3
 * users. Every write is one transaction; readers never see half of one (WAL).
 */
#ifndef PF_STORE_H
#define PF_STORE_H

#include "addr.h"
#include "error.h"
#include "policy.h"
#include "ruleset.h"

struct pf_store;

enum {
	PF_STORE_READONLY = 1 << 0, /* podfencectl: never creates or migrates */
};

/* Open (creating the file and its directory, mode 0750, unless READONLY), set WAL, busy timeout,
 * foreign keys, and apply forward migrations from the embedded schema/ (user_version), each in
 * one transaction. A database newer than this build is refused with a clear message (-EPROTO);
 * READONLY also refuses an older one (nothing may migrate it). */
int pf_store_open(const char *path, unsigned flags, struct pf_store **out, struct pf_error *err);
void pf_store_close(struct pf_store *s);
int pf_store_schema_version(struct pf_store *s);
/* PRAGMA data_version: changes when another connection committed. */
int pf_store_data_version(struct pf_store *s, uint64_t *out);
/* Checkpoint the WAL after this connection's commits of more than pages pages (0: never, its
 * commits then never wait for a checkpoint's writes and fsync), and a passive checkpoint now:
 * as much as no reader or writer holds up, never waiting. 0 or -errno. */
int pf_store_set_autocheckpoint(struct pf_store *s, int pages);
int pf_store_checkpoint(struct pf_store *s);
/* Raw handle for read-only queries (CLI tables). */
struct sqlite3 *pf_store_db(struct pf_store *s);
/* Counts this connection's write statements that changed rows (scratch marks excluded):
 * equal before and after a commit means the commit changed nothing, so no reload is needed. */
uint64_t pf_store_write_count(struct pf_store *s);

/* Explicit transactions around several calls below (each call alone is its own transaction).
 * Inside one, a call that fails is undone alone (a savepoint); the caller then commits the rest
 * or rolls back. begin takes the write lock at once (BEGIN IMMEDIATE). */
int pf_store_begin(struct pf_store *s, struct pf_error *err);
int pf_store_commit(struct pf_store *s, struct pf_error *err);
void pf_store_rollback(struct pf_store *s);

/* ---- policies (podfence-sync) ---------------------------------------------------------- */

/*
 * Mirror one source (a policy file path, or "kube") in one transaction:
 * - each valid doc replaces the stored version of (namespace, name) and clears its error;
 * - each invalid doc with a known (namespace, name) keeps the stored last valid version in
 *   force and records the error (`policies`: valid = 0, error set; in_force = 0 when there
 *   never was a valid version, and then it enforces nothing);
 * - invalid docs without identity are recorded as an error row of the source;
 * - policies of this source not present in docs are deleted, unless some doc is invalid (an
 *   unreadable metadata.name must not delete, i.e. open, anything): then they stay in force
 *   with an error until the source is valid again.
 * A (namespace, name) already owned by another source, or twice in docs, is an error for that
 * doc. Writes nothing when nothing changed (so data_version moves only on real changes).
 * Returns the number of docs recorded with an error (>= 0), or a negative errno.
 */
int pf_store_sync_source(struct pf_store *s, const char *source, const struct pf_policy_doc *docs,
			 size_t n_docs, struct pf_error *err);
/* The source as a whole is unreadable: keep every policy of it in force, record error (on each
 * of its policies, or as an error row of the source when it has none). */
int pf_store_source_error(struct pf_store *s, const char *source, const char *error,
			  struct pf_error *err);
/* Kubernetes objects one at a time (inside begin/commit for batches). put_policy returns 1 when
 * the doc was recorded with an error (the last valid version stays in force), 0 when applied. */
int pf_store_put_policy(struct pf_store *s, const char *source, const struct pf_policy_doc *doc,
			struct pf_error *err);
int pf_store_delete_policy(struct pf_store *s, const char *namespace, const char *name,
			   struct pf_error *err);
int pf_store_delete_source(struct pf_store *s, const char *source, struct pf_error *err);
/* A renamed file: its policies and errors move to the new name unchanged (still in force, even
 * when its latest version is invalid). Whatever `to` held before is deleted. */
int pf_store_rename_source(struct pf_store *s, const char *from, const char *to,
			   struct pf_error *err);
/* Every source that has policies or errors in the store, sorted (strings and array malloc'ed). */
int pf_store_list_sources(struct pf_store *s, char ***out, size_t *n, struct pf_error *err);

/* ---- workloads (podfence-sync --kube): what a (kind, namespace, name) resolves to ---------- */

/* A Service's IPs are its cluster IPs and the IPs of the pods behind it; a Namespace workload
 * (namespace and name both its name) every pod in it. Unchanged IPs write nothing. */

int pf_store_put_workload(struct pf_store *s, enum pf_kind kind, const char *namespace,
			  const char *name, const struct pf_addr *ips, size_t n_ips,
			  struct pf_error *err);
/* The pods a workload resolves to, by name (in the workload's namespace; for kind Namespace the
 * namespace itself): registered pods of those names count as the workload's, whatever their
 * IPs, so a new pod is judged before sync learns its address. Creates the workload when
 * missing (resolving to no IPs); replaces its pod set; an unchanged set writes nothing. Goes
 * with pf_store_put_workload (either call marks the workload seen for sweep); delete and sweep
 * drop both. */
int pf_store_put_workload_pods(struct pf_store *s, enum pf_kind kind, const char *namespace,
			       const char *name, const char *const *pod_names, size_t n_pods,
			       struct pf_error *err);
int pf_store_delete_workload(struct pf_store *s, enum pf_kind kind, const char *namespace,
			     const char *name, struct pf_error *err);
/* Remove every workload not put since pf_store_mark_workloads() (full resync). The marks are
 * private to this connection; call both inside one begin/commit. */
int pf_store_mark_workloads(struct pf_store *s, struct pf_error *err);
int pf_store_sweep_workloads(struct pf_store *s, struct pf_error *err);

/* ---- pods (podfenced): registered network namespaces ------------------------------------- */

/* A container's own process: pid 0 when unknown. */
struct pf_pod_proc {
	int32_t pid;
	uint64_t start_time; /* clock ticks after boot (/proc/PID/stat field 22) */
	unsigned caps;	     /* 1: CAP_NET_ADMIN, 2: CAP_NET_RAW in its configuration */
};

struct pf_pod_record {
	char *namespace;
	char *name;
	char *uid;	    /* may be NULL */
	char *kind;	    /* "Pod" or "Container" (Podman/runc) */
	uint64_t netns_dev; /* identity of the pod: the netns device and inode */
	uint64_t netns_ino;
	char *netns_path;	   /* how it was opened */
	char **containers;	   /* container ids sharing the netns */
	struct pf_pod_proc *procs; /* one per container, or NULL (all unknown) */
	size_t n_containers;
	struct pf_addr *ips;
	size_t n_ips;
	int64_t registered_at_ms; /* 0 in put_pod: now */
	char *state;		  /* "enforced", "pending", "failed: ..." */
};

/* Insert or replace the pod of (netns_dev, netns_ino). Its ips are what Pod and Namespace refs
 * resolve to, and what matches workload IPs for applied_policies. */
int pf_store_put_pod(struct pf_store *s, const struct pf_pod_record *p, struct pf_error *err);
int pf_store_delete_pod(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			struct pf_error *err);
/*
 * The policies in force whose appliesTo resolves to the pod of (netns_dev, netns_ino) as its row
 * is now: by its name (kind Pod, its Namespace, a workload that names it), for all of its
 * addresses, or by a workload listing one of its addresses, for that one (what a full load of
 * the ruleset gives that address, see pf_store_load_ruleset). *out (malloc'ed, NULL when *n is
 * 0) is sorted by policy id. *shared: another pod's row holds one of its addresses too, so a
 * full load merges that pod's policies into the address's and this list is not the whole
 * answer. -ENOENT: no such pod row.
 */
int pf_store_pod_policies(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			  struct pf_source_policy **out, size_t *n, bool *shared,
			  struct pf_error *err);
/* One (name, address) a pod received in a DNS answer, until expires_ms (the dns_names view). */
struct pf_dns_name_row {
	char name[254];
	char ip[46];
	int64_t expires_ms;
};
/* Replace the pod's dns_names rows with rows[0..n) in one transaction (no pod: nothing). */
int pf_store_set_dns_names(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			   const struct pf_dns_name_row *rows, size_t n, struct pf_error *err);
int pf_store_list_pods(struct pf_store *s, struct pf_pod_record **out, size_t *n,
		       struct pf_error *err);
void pf_pod_records_free(struct pf_pod_record *p, size_t n);
/* Free what one record holds (not the record itself) and zero it. */
void pf_pod_record_clear(struct pf_pod_record *p);

/* ---- events (podfenced) ---------------------------------------------------------------- */

struct pf_event {
	int64_t at_ms;
	const char *pod_namespace;
	const char *pod_name;
	struct pf_addr src;
	struct pf_addr dst;
	uint16_t dport;
	enum pf_action action;
	const char *policy_namespace; /* NULL: default action */
	const char *policy_name;
	int32_t rule_index;
	uint32_t count;	    /* 1 + suppressed */
	const char *reason; /* NULL: a verdict; else what else the engine saw (event.reason) */
	uint8_t protocol;   /* enum pf_protocol (TCP: 0) */
	bool audit;	    /* what an Audit policy would have decided (mode 'Audit'), not the
			     * verdict given: action, policy and rule are that policy's */
};

/* Remove the events recorded before at_ms (retention by age). */
int pf_store_trim_events_before(struct pf_store *s, int64_t at_ms, struct pf_error *err);
/* Append n events in one transaction; keeps at most max_rows (oldest dropped), 0 = no limit. */
int pf_store_append_events(struct pf_store *s, const struct pf_event *ev, size_t n, size_t max_rows,
			   struct pf_error *err);

/* ---- the engine's input ------------------------------------------------------------------ */

/* Resolve every policy in force (its last valid version) — appliesTo and to refs through the
 * workloads from sync, plus registered pods for Pod and Namespace refs — into a ruleset sorted
 * by pf_ruleset_sort. One read transaction: a consistent snapshot. */
int pf_store_load_ruleset(struct pf_store *s, struct pf_ruleset **out, struct pf_error *err);

/* ---- podfencectl explain (lib/store-explain.c) ---------------------------------------------- */

/* The addresses of pod namespace/name: its registered pod's and sync's (sorted, *ips malloc'ed,
 * NULL when *n is 0). */
int pf_store_pod_ips(struct pf_store *s, const char *namespace, const char *name,
		     struct pf_addr **ips, size_t *n);
/* A rule's destination and ports as the store shows them (both malloc'ed); -ENOENT when the
 * policy (namespace "" for a cluster policy) has no such rule. */
int pf_store_rule_text(struct pf_store *s, const char *namespace, const char *name,
		       int32_t rule_index, char **destination, char **ports);

/* ---- the schema (generated from schema/NNN-name.sql at build time) ------------------------- */

struct pf_schema_migration {
	int version; /* 1, 2, ...: PRAGMA user_version after it ran */
	const char *name;
	const char *sql;
};
extern const struct pf_schema_migration pf_schema_migrations[];
extern const size_t pf_schema_n_migrations;
#define PF_SCHEMA_VERSION ((int)pf_schema_n_migrations)

#endif
