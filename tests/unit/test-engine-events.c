/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's event path without a kernel: rate limiting per (pod, destination, port) with
 * summary counts, batches written to a real store, and the reply JSON writer. */
#include <sqlite3.h>
#include <stdio.h>

#include "../../engine/events.h"
#include "../../engine/requests.h"
#include "../../engine/pods.h"
#include "events-collide.h"
#include "tap.h"

int main(void);

static struct pf_pod pod(const char *ns, const char *name, uint64_t ino)
{
	return (struct pf_pod){
	    .namespace = (char *)ns, .name = (char *)name, .id = {.dev = 4, .ino = ino}};
}

static struct pf_tuple tuple(const char *src, const char *dst, uint16_t dport)
{
	struct pf_tuple t = {.dport = dport, .sport = 40000};

	pf_addr_parse(src, &t.src);
	pf_addr_parse(dst, &t.dst);
	return t;
}

static long long q(struct pf_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(pf_store_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int flush(struct pf_events *ev, struct pf_store *s, int64_t now, bool final)
{
	struct pf_pending_event *pe;
	struct pf_error err = {};
	size_t n;
	int r;

	pf_events_collect(ev, now, final, &pe, &n);
	r = pf_events_write(s, pe, n, &err);
	if (r < 0)
		tap_diag("write: %s", err.msg);
	pf_events_batch_free(pe, n);
	return r < 0 ? r : (int)n;
}

/*
 * A pod that knows its netns id picks destinations that the old, unkeyed bucket function put
 * in one chain: with the keyed hash they spread, so each record compares a few keys, not
 * thousands (asserted on chain length and keys compared, not on time).
 */
#define N_COLLIDE 2000
static void test_colliding_keys(void)
{
	static struct pf_addr dst[N_COLLIDE];
	struct pf_pod p = pod("evil", "scan", 4026532999ull);
	struct pf_verdict deny = {.action = PF_ACTION_DENY, .rule_index = -1};
	struct pf_tuple t = tuple("10.1.1.9", "10.0.0.1", 443);
	struct pf_events ev;
	size_t found;
	uint64_t before;

	p.id.dev = 4;
	if (pf_events_init(&ev) < 0) {
		ok(0, "init");
		return;
	}
	found = old_events_colliding(p.id.dev, p.id.ino, 443, ev.keys.n_buckets, 7, dst, N_COLLIDE);
	is_int(found, N_COLLIDE, "attacker found %d destinations in one old bucket", N_COLLIDE);
	for (size_t i = 0; i < found; i++) {
		t.dst = dst[i];
		pf_events_record(&ev, &p, &t, &deny, 1000);
	}
	is_int(pf_hashtable_count(&ev.keys), found,
	       "every colliding key got its own rate-limit entry");
	ok(pf_events_longest_chain(&ev) <= 16, "longest chain %zu (old hash: %d)",
	   pf_events_longest_chain(&ev), N_COLLIDE);
	before = ev.probes;
	for (size_t i = 0; i < found; i++) {
		t.dst = dst[i];
		pf_events_record(&ev, &p, &t, &deny, 1001);
	}
	is_int(ev.suppressed, found, "second burst rate-limited for every key");
	ok((ev.probes - before) <= 8 * found, "keys compared per record: %.2f (old hash: ~%d)",
	   (double)(ev.probes - before) / (double)found, N_COLLIDE / 2);
	pf_events_free(&ev);

	/* Whatever the hash, one chain holds at most PF_EVENTS_MAX_CHAIN keys. */
	if (pf_events_init(&ev) < 0)
		return;
	ev.keys.n_buckets = 1;
	for (size_t i = 0; i < 100; i++) {
		t.dst = dst[i];
		pf_events_record(&ev, &p, &t, &deny, 1000);
	}
	is_int(pf_events_longest_chain(&ev), PF_EVENTS_MAX_CHAIN, "chain bounded");
	is_int(pf_hashtable_count(&ev.keys), PF_EVENTS_MAX_CHAIN,
	       "keys past the bound are not kept");
	is_int(ev.n_pending, 100, "but each still gets its event");
	pf_events_free(&ev);
}

int main(void)
{
	char dir[] = "/tmp/pf-test-events.XXXXXX", path[64];
	struct pf_pod web = pod("shop", "web", 100), db = pod("shop", "db", 200);
	struct pf_verdict deny = {.action = PF_ACTION_DENY,
				  .matched = true,
				  .policy_namespace = "shop",
				  .policy_name = "p",
				  .rule_index = 3};
	struct pf_verdict dflt = {.action = PF_ACTION_REJECT, .rule_index = -1};
	struct pf_tuple t1 = tuple("10.1.1.2", "10.99.0.1", 443),
			t2 = tuple("10.1.1.2", "10.99.0.2", 443);
	struct pf_store *s = NULL;
	struct pf_error err = {};
	struct pf_events ev;
	char *json;
	int64_t now = 1000000;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/db", dir);
	if (pf_store_open(path, 0, &s, &err) < 0) {
		printf("# %s\n", err.msg);
		return 1;
	}
	ok(pf_events_init(&ev) == 0, "init");

	/* A burst of 50 to one (pod, dst, port): one event now, the rest later as one summary. */
	for (int i = 0; i < 50; i++)
		pf_events_record(&ev, &web, &t1, &deny, now + i);
	pf_events_record(&ev, &web, &t2, &deny, now + 50); /* another destination */
	pf_events_record(&ev, &db, &t1, &dflt, now + 50);  /* another pod */
	is_int(ev.n_pending, 3, "first of each key queued at once");
	is_int(ev.suppressed, 49, "49 suppressed");
	is_int(flush(&ev, s, now + 100, false), 3, "three rows written inside the window");
	is_int(flush(&ev, s, now + 200, false), 0, "nothing while the window is open");
	is_int(flush(&ev, s, now + PF_EVENTS_WINDOW_MS + 60, false), 1,
	       "summary when the window closes");
	is_int(q(s, "SELECT sum(count) FROM recent_events WHERE pod_name='web' AND dst='10.99.0.1' "
		    "AND dport=443"),
	       50, "counts add up to the burst");
	is_int(
	    q(s, "SELECT max(count) FROM recent_events WHERE pod_name='web' AND dst='10.99.0.1'"),
	    49, "summary row carries the suppressed count");
	is_int(q(s, "SELECT count(*) FROM recent_events WHERE pod_name='db' AND action='Reject' "
		    "AND policy_name IS NULL "
		    "AND (rule_index IS NULL OR rule_index < 0)"),
	       1, "default-action event has no policy");
	is_int(q(s, "SELECT count(*) FROM recent_events WHERE policy_name='p' AND rule_index=3 AND "
		    "action='Deny'"),
	       3, "policy and rule recorded");

	/* After the window, the same key starts a new window with an immediate event. */
	pf_events_record(&ev, &web, &t1, &deny, now + 5000);
	pf_events_record(&ev, &web, &t1, &deny, now + 5001);
	is_int(flush(&ev, s, now + 5002, true), 2,
	       "final flush writes the event and the open window's summary");
	is_int(
	    q(s, "SELECT sum(count) FROM recent_events WHERE pod_name='web' AND dst='10.99.0.1'"),
	    52, "total 52");

	/* An event that is not a verdict: written at once with its reason, never folded. */
	pf_events_note(&ev, &web, "unparsed", &t1.src, NULL, 0, PF_ACTION_DENY, now + 6000);
	pf_events_note(&ev, &web, "unparsed", &t1.src, NULL, 0, PF_ACTION_DENY, now + 6001);
	is_int(flush(&ev, s, now + 6002, false), 2, "notes are queued at once, one row each");
	is_int(q(s, "SELECT count(*) FROM recent_events WHERE reason='unparsed' AND pod_name='web' "
		    "AND action='Deny' AND dst='::' AND dport=0 AND policy_name IS NULL"),
	       2, "reason, pod and action recorded; unknown destination is ::");
	is_int(q(s, "SELECT count(*) FROM recent_events WHERE reason IS NOT NULL"), 2,
	       "verdict events have no reason");
	pf_events_free(&ev);

	/* Reply JSON: the one generator's escaping (lib/json-gen). */
	json = pf_requests_error("a\"b\\c\n\x01");
	is_str(json, "{\"ok\":false,\"error\":\"a\\\"b\\\\c\\n\\u0001\"}", "error reply");
	free(json);

	is_int(pf_pid_from_netns_path("/proc/123/ns/net"), 123, "pid from /proc path");
	is_int(pf_pid_from_netns_path("/proc/123/ns/net2"), 0, "not a netns path");
	is_int(pf_pid_from_netns_path("/run/netns/x"), 0, "bind mount path");
	is_int(pf_pid_from_netns_path("/proc/self/ns/net"), 0, "self is not a pid");

	test_colliding_keys();

	pf_store_close(s);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		tap_diag("cleanup failed");
	return tap_done();
}
