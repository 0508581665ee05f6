/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the store's files share: the connection, its statements, and one way to run them. */
#ifndef PF_STORE_INTERNAL_H
#define PF_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/*
 * Every statement the store prepares, X(NAME, sql): the statement cache holds one slot for
 * each, so its size follows from this list. Bound parameters are ?1, ?2, ... in order.
 */
#define PF_STORE_STATEMENTS(X)                                                                     \
	/* store.c */                                                                              \
	X(DATA_VERSION, "PRAGMA data_version")                                                     \
	/* store-policies.c */                                                                     \
	X(POLICY_FIND, "SELECT id, source, in_force, valid, error, spec FROM policy "              \
		       "WHERE namespace = ?1 AND name = ?2")                                       \
	X(POLICY_INSERT,                                                                           \
	  "INSERT INTO policy (namespace, name, source, in_force, valid, error, priority, "        \
	  "n_rules, spec, updated_at, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "     \
	  "?11)")                                                                                  \
	X(POLICY_SET_VALID,                                                                        \
	  "UPDATE policy SET in_force = 1, valid = 1, error = NULL, priority = ?2, n_rules = ?3, " \
	  "spec = ?4, updated_at = ?5 WHERE id = ?1")                                              \
	X(POLICY_SET_ERROR,                                                                        \
	  "UPDATE policy SET valid = 0, error = ?2, updated_at = ?3 WHERE id = ?1")                \
	X(POLICY_DELETE, "DELETE FROM policy WHERE namespace = ?1 AND name = ?2")                  \
	X(TARGET_CLEAR, "DELETE FROM policy_target WHERE policy_id = ?1")                          \
	X(RULE_CLEAR, "DELETE FROM policy_rule WHERE policy_id = ?1")                              \
	X(TARGET_INSERT, "INSERT INTO policy_target (policy_id, idx, kind, namespace, name) "      \
			 "VALUES (?1, ?2, ?3, ?4, ?5)")                                            \
	X(RULE_INSERT,                                                                             \
	  "INSERT INTO policy_rule (policy_id, rule_index, action, log, any_dst, destination, "    \
	  "ports, protocol) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                              \
	X(PEER_INSERT,                                                                             \
	  "INSERT INTO rule_peer (policy_id, rule_index, idx, kind, namespace, name, cidr) "       \
	  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                                                   \
	X(PORT_INSERT,                                                                             \
	  "INSERT INTO rule_port (policy_id, rule_index, idx, port, end_port, protocol) "          \
	  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                                       \
	X(FQDN_INSERT, "INSERT INTO rule_fqdn (policy_id, rule_index, idx, name) "                 \
		       "VALUES (?1, ?2, ?3, ?4)")                                                  \
	X(SEEN_POLICY, "INSERT OR IGNORE INTO temp.seen_policy (id) VALUES (?1)")                  \
	X(SOURCE_ERROR_INSERT,                                                                     \
	  "INSERT INTO source_error (source, doc_index, namespace, name, error, updated_at, "      \
	  "kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                                             \
	X(SOURCE_ERRORS_CLEAR, "DELETE FROM source_error WHERE source = ?1")                       \
	X(SOURCE_ERROR_CLEAR_ONE,                                                                  \
	  "DELETE FROM source_error WHERE source = ?1 AND namespace IS ?2 AND name IS ?3")         \
	X(SOURCE_ERROR_DELETE_NAME, "DELETE FROM source_error WHERE namespace = ?1 AND name = ?2") \
	X(SOURCE_ERROR_SAME, "SELECT count(*) FROM source_error WHERE source = ?1 AND "            \
			     "doc_index IS NULL AND error = ?2")                                   \
	X(SOURCE_DELETE_UNSEEN, "DELETE FROM policy WHERE source = ?1 AND id NOT IN "              \
				"(SELECT id FROM temp.seen_policy)")                               \
	X(SOURCE_KEEP_UNSEEN,                                                                      \
	  "UPDATE policy SET valid = 0, error = ?2, updated_at = ?3 WHERE source = ?1 "            \
	  "AND id NOT IN (SELECT id FROM temp.seen_policy) AND (valid OR error IS NOT ?2)")        \
	X(SOURCE_SET_ERROR, "UPDATE policy SET valid = 0, error = ?2, updated_at = ?3 "            \
			    "WHERE source = ?1 AND (valid OR error IS NOT ?2)")                    \
	X(SOURCE_COUNT, "SELECT count(*) FROM policy WHERE source = ?1")                           \
	X(SOURCE_DELETE, "DELETE FROM policy WHERE source = ?1")                                   \
	X(SOURCE_RENAME, "UPDATE policy SET source = ?2 WHERE source = ?1")                        \
	X(SOURCE_ERRORS_RENAME, "UPDATE source_error SET source = ?2 WHERE source = ?1")           \
	X(SOURCES, "SELECT source FROM policy UNION SELECT source FROM source_error ORDER BY 1")   \
	/* store-workloads.c */                                                                    \
	X(WORKLOAD_FIND,                                                                           \
	  "SELECT id FROM workload WHERE kind = ?1 AND namespace = ?2 AND name = ?3")              \
	X(WORKLOAD_INSERT,                                                                         \
	  "INSERT INTO workload (kind, namespace, name, updated_at) VALUES (?1, ?2, ?3, ?4)")      \
	X(WORKLOAD_TOUCH, "UPDATE workload SET updated_at = ?2 WHERE id = ?1")                     \
	X(WORKLOAD_DELETE,                                                                         \
	  "DELETE FROM workload WHERE kind = ?1 AND namespace = ?2 AND name = ?3")                 \
	X(WORKLOAD_SWEEP,                                                                          \
	  "DELETE FROM workload WHERE id NOT IN (SELECT id FROM temp.seen_workload)")              \
	X(SEEN_WORKLOAD, "INSERT OR IGNORE INTO temp.seen_workload (id) VALUES (?1)")              \
	X(WORKLOAD_IPS, "SELECT ip FROM workload_ip WHERE workload_id = ?1 ORDER BY ip")           \
	X(WORKLOAD_IPS_CLEAR, "DELETE FROM workload_ip WHERE workload_id = ?1")                    \
	X(WORKLOAD_IP_INSERT,                                                                      \
	  "INSERT OR IGNORE INTO workload_ip (workload_id, ip) VALUES (?1, ?2)")                   \
	X(WORKLOAD_PODS,                                                                           \
	  "SELECT pod_name FROM workload_pod WHERE workload_id = ?1 ORDER BY pod_name")            \
	X(WORKLOAD_PODS_CLEAR, "DELETE FROM workload_pod WHERE workload_id = ?1")                  \
	X(WORKLOAD_POD_INSERT, "INSERT OR IGNORE INTO workload_pod (workload_id, pod_name, "       \
			       "pod_namespace) VALUES (?1, ?2, ?3)")                               \
	/* store-pods.c */                                                                         \
	X(POD_FIND, "SELECT id FROM pod WHERE netns_dev = ?1 AND netns_ino = ?2")                  \
	X(POD_INSERT,                                                                              \
	  "INSERT INTO pod (netns_dev, netns_ino, namespace, name, uid, kind, netns_path, ips, "   \
	  "containers, registered_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "    \
	  "?11)")                                                                                  \
	X(POD_UPDATE,                                                                              \
	  "UPDATE pod SET namespace = ?3, name = ?4, uid = ?5, kind = ?6, netns_path = ?7, "       \
	  "ips = ?8, containers = ?9, registered_at = ?10, state = ?11 "                           \
	  "WHERE netns_dev = ?1 AND netns_ino = ?2")                                               \
	X(POD_DELETE, "DELETE FROM pod WHERE netns_dev = ?1 AND netns_ino = ?2")                   \
	X(DNS_CLEAR, "DELETE FROM dns_name WHERE pod_id = "                                        \
		     "(SELECT id FROM pod WHERE netns_dev = ?1 AND netns_ino = ?2)")               \
	X(DNS_INSERT, "INSERT OR REPLACE INTO dns_name (pod_id, name, ip, expires_at) "            \
		      "SELECT id, ?3, ?4, ?5 FROM pod WHERE netns_dev = ?1 AND netns_ino = ?2")    \
	X(POD_IPS_CLEAR, "DELETE FROM pod_ip WHERE pod_id = ?1")                                   \
	X(POD_CTS_CLEAR, "DELETE FROM pod_container WHERE pod_id = ?1")                            \
	X(POD_IP_INSERT, "INSERT OR IGNORE INTO pod_ip (pod_id, ip) VALUES (?1, ?2)")              \
	X(POD_CT_INSERT, "INSERT INTO pod_container (pod_id, idx, container, pid, start_time, "    \
			 "caps) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                  \
	X(PODS_LIST, "SELECT id, namespace, name, uid, kind, netns_dev, netns_ino, netns_path, "   \
		     "registered_at, state FROM pod ORDER BY id")                                  \
	X(PODS_IPS, "SELECT pod_id, ip FROM pod_ip ORDER BY pod_id")                               \
	X(PODS_CTS, "SELECT pod_id, container, pid, start_time, caps FROM pod_container "          \
		    "ORDER BY pod_id, idx")                                                        \
	X(POD_POLICIES,                                                                            \
	  "WITH p AS (SELECT id, namespace, name FROM pod WHERE netns_dev = ?1 AND netns_ino = "   \
	  "?2) "                                                                                   \
	  "SELECT m.policy_id, m.ip FROM (SELECT t.policy_id, NULL AS ip FROM p JOIN "             \
	  "policy_target t ON t.kind = 'Pod' AND t.namespace = p.namespace AND t.name = p.name "   \
	  "UNION SELECT t.policy_id, NULL FROM p JOIN policy_target t ON t.kind = 'Namespace' "    \
	  "AND t.name = p.namespace "                                                              \
	  "UNION SELECT t.policy_id, NULL FROM p JOIN workload_pod wp ON wp.pod_namespace = "      \
	  "p.namespace AND wp.pod_name = p.name JOIN workload w ON w.id = wp.workload_id JOIN "    \
	  "policy_target t ON t.kind = w.kind AND t.namespace = w.namespace AND t.name = w.name "  \
	  "UNION SELECT t.policy_id, pi.ip FROM p JOIN pod_ip pi ON pi.pod_id = p.id JOIN "        \
	  "workload_ip wi ON wi.ip = pi.ip JOIN workload w ON w.id = wi.workload_id JOIN "         \
	  "policy_target t ON t.kind = w.kind AND t.namespace = w.namespace AND t.name = w.name) " \
	  "m JOIN policy pol ON pol.id = m.policy_id AND pol.in_force = 1 ORDER BY 1, 2")          \
	X(POD_IP_SHARED,                                                                           \
	  "SELECT count(*) FROM pod p JOIN pod_ip a ON a.pod_id = p.id JOIN "                      \
	  "pod_ip b ON b.ip = a.ip AND b.pod_id != p.id WHERE p.netns_dev = ?1 AND "               \
	  "p.netns_ino = ?2")                                                                      \
	/* store-events.c */                                                                       \
	X(EVENT_INSERT,                                                                            \
	  "INSERT INTO event (at, pod_namespace, pod_name, src, dst, dport, action, "              \
	  "policy_namespace, policy_name, rule_index, count, reason, protocol, mode) "             \
	  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")                  \
	/* Ids only grow, so the newest max_rows are the ids from the max_rows-th largest on. */   \
	X(EVENT_TRIM, "DELETE FROM event WHERE id < (SELECT id FROM event ORDER BY id DESC "       \
		      "LIMIT 1 OFFSET ?1 - 1)")                                                    \
	X(EVENT_TRIM_AGE, "DELETE FROM event WHERE at < ?1")                                       \
	/* store-explain.c */                                                                      \
	X(EXPLAIN_POD_IPS,                                                                         \
	  "SELECT pi.ip FROM pod_ip pi JOIN pod p ON p.id = pi.pod_id "                            \
	  "WHERE p.namespace = ?1 AND p.name = ?2 "                                                \
	  "UNION SELECT wi.ip FROM workload_ip wi JOIN workload w ON w.id = wi.workload_id "       \
	  "WHERE w.kind = 'Pod' AND w.namespace = ?1 AND w.name = ?2 ORDER BY 1")                  \
	X(EXPLAIN_RULE_TEXT, "SELECT r.destination, r.ports FROM policy_rule r JOIN policy p ON "  \
			     "p.id = r.policy_id WHERE p.namespace = ?1 AND p.name = ?2 AND "      \
			     "r.rule_index = ?3")                                                  \
	/* store-ruleset.c */                                                                      \
	X(RS_POLICIES, "SELECT id, namespace, name, priority, n_rules, kind, mode FROM policy "    \
		       "WHERE in_force = 1 ORDER BY id")                                           \
	X(RS_RULES, "SELECT policy_id, rule_index, action, log, any_dst FROM policy_rule "         \
		    "ORDER BY policy_id, rule_index")                                              \
	X(RS_PODS, "SELECT p.id, p.namespace, p.name, pi.ip FROM pod p "                           \
		   "LEFT JOIN pod_ip pi ON pi.pod_id = p.id ORDER BY p.id")                        \
	X(RS_WORKLOADS, "SELECT w.id, w.kind, w.namespace, w.name, wi.ip FROM workload w "         \
			"LEFT JOIN workload_ip wi ON wi.workload_id = w.id ORDER BY w.id")         \
	X(RS_WORKLOAD_PODS, "SELECT workload_id, pod_namespace, pod_name FROM workload_pod "       \
			    "ORDER BY workload_id")                                                \
	X(RS_TARGETS, "SELECT policy_id, kind, namespace, name FROM policy_target "                \
		      "ORDER BY policy_id, idx")                                                   \
	X(RS_PEERS, "SELECT policy_id, rule_index, kind, namespace, name, cidr FROM rule_peer "    \
		    "ORDER BY policy_id, rule_index, idx")                                         \
	X(RS_PORTS, "SELECT policy_id, rule_index, port, end_port, protocol FROM rule_port "       \
		    "ORDER BY policy_id, rule_index, idx")                                         \
	X(RS_FQDNS, "SELECT policy_id, rule_index, name FROM rule_fqdn "                           \
		    "ORDER BY policy_id, rule_index, idx")

enum pf_stmt {
#define PF_STMT_ENUM(name, sql) PF_STMT_##name,
	PF_STORE_STATEMENTS(PF_STMT_ENUM)
#undef PF_STMT_ENUM
	    PF_STMT__COUNT
};

struct pf_store {
	sqlite3 *db;
	bool readonly;
	bool in_txn;	 /* explicit pf_store_begin() */
	bool marking;	 /* between mark_workloads and sweep_workloads */
	uint64_t writes; /* statements that changed rows of the database (not temp scratch) */
	sqlite3_stmt *stmts[PF_STMT__COUNT]; /* prepared on first use, kept until close */
};

/* One parameter of a statement; B_TEXT(NULL) and B_NULL bind SQL NULL. */
struct pf_bind {
	enum { PF_BIND_NULL, PF_BIND_INT, PF_BIND_TEXT } type;
	int64_t i;
	const char *t; /* bound SQLITE_STATIC: must outlive the step */
};
#define B_NULL ((struct pf_bind){.type = PF_BIND_NULL})
#define B_INT(v) ((struct pf_bind){.type = PF_BIND_INT, .i = (int64_t)(v)})
#define B_TEXT(v) ((struct pf_bind){.type = PF_BIND_TEXT, .t = (v)})
/* The bind list of a call: binds ?1, ?2, ... in order. */
#define PF_BINDS(...)                                                                              \
	((const struct pf_bind[]){__VA_ARGS__}),                                                   \
	    (sizeof((const struct pf_bind[]){__VA_ARGS__}) / sizeof(struct pf_bind))

/* An sqlite result code as a positive errno (0 for OK, ROW and DONE). */
int pf_store_errno(int rc);
/* Set err from the connection's last error: "store: what: message"; returns -errno. */
int pf_store_db_error(struct pf_store *s, struct pf_error *err, int rc, const char *what);
int pf_store_exec(struct pf_store *s, const char *sql, struct pf_error *err);

/* The cached statement id, reset, unbound, then bound to b[0..n). */
int pf_stmt_bind(struct pf_store *s, enum pf_stmt id, sqlite3_stmt **out, const struct pf_bind *b,
		 size_t n, struct pf_error *err);
/* Bind and run a write statement (counted in writes when it changed rows); scratch: one on
 * the connection's temp tables, not a change anyone sees (never counted). */
int pf_stmt_exec(struct pf_store *s, enum pf_stmt id, bool scratch, const struct pf_bind *b,
		 size_t n, struct pf_error *err);
/* Bind and step a query whose first column is an integer: 1 with *out set, 0 no row, or
 * -errno (what names the query in the message). */
int pf_stmt_exec_int(struct pf_store *s, enum pf_stmt id, const char *what, int64_t *out,
		     const struct pf_bind *b, size_t n, struct pf_error *err);

#define pf_stmt_run(s, id, err, ...)                                                               \
	pf_stmt_exec(s, PF_STMT_##id, false, PF_BINDS(__VA_ARGS__), err)
#define pf_stmt_scratch(s, id, err, ...)                                                           \
	pf_stmt_exec(s, PF_STMT_##id, true, PF_BINDS(__VA_ARGS__), err)
#define pf_stmt_query(s, id, st, err, ...)                                                         \
	pf_stmt_bind(s, PF_STMT_##id, st, PF_BINDS(__VA_ARGS__), err)
#define pf_stmt_int(s, id, what, out, err, ...)                                                    \
	pf_stmt_exec_int(s, PF_STMT_##id, what, out, PF_BINDS(__VA_ARGS__), err)

/* Reset at scope exit so no statement keeps a read transaction open. */
static inline void pf_stmt_resetp(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_reset(*st);
}
#define _cleanup_reset_ _cleanup_(pf_stmt_resetp)

static inline const char *pf_col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}
/* A copy of text column i (NULL for SQL NULL); sets *oom when the copy failed. */
char *pf_col_dup(sqlite3_stmt *st, int i, bool *oom);

/* Every public write is one transaction, or one savepoint inside pf_store_begin(): begin, then
 * end with the result so far (committed when r >= 0, rolled back otherwise; returns r). */
int pf_store_op_begin(struct pf_store *s, struct pf_error *err);
int pf_store_op_end(struct pf_store *s, int r, struct pf_error *err);
/* Read statements run in one transaction so they see one snapshot. */
int pf_store_read_begin(struct pf_store *s, struct pf_error *err);
void pf_store_read_end(struct pf_store *s);

/* Binary search in records sorted by an int64 id at offset off. */
void *pf_store_find_by_id(void *base, size_t n, size_t size, size_t off, int64_t id);
/* Canonical text of each address, sorted (IPv4 before IPv6, numeric), duplicates removed. */
int pf_store_ip_texts(const struct pf_addr *ips, size_t n, char (**out)[PF_ADDR_STRLEN],
		      size_t *n_out);

#endif
