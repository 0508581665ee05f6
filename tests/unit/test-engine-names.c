/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A pod's DNS names (engine/names.c): TTL clamped to [30 s, 24 h], CNAME chains, the limits
 * with the oldest evicted first and counted, resolv.conf, and the view the cache reads. */
#include <stdio.h>
#include <unistd.h>

#include "names.h"
#include "tap.h"

int main(void);

static struct pf_addr A(const char *s) {
	struct pf_addr a;

	if (pf_addr_parse(s, &a) < 0)
		abort();
	return a;
}

static void
answer(struct pf_dns_answer *a, const char *name, const char *ip, uint32_t ttl)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->names[0], sizeof(a->names[0]), "%s", name);
	a->n_names = 1;
	a->addrs[0].addr = A(ip);
	a->addrs[0].ttl = ttl;
	a->n_addrs = 1;
}

/* The names the cache would see for ip at now_ms, joined by ',' ("" when none). */
static const char *names_at(struct pf_pod_names *n, const char *ip, int64_t now_ms)
{
	static char buf[1024];
	const char *const *v;
	struct pf_addr a = A(ip);
	size_t k;

	n->now_ms = now_ms;
	k = n->view.lookup(n->view.ctx, &a, &v);
	buf[0] = 0;
	for (size_t i = 0; i < k; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "," : "", v[i]);
	return buf;
}

int main(void)
{
	struct pf_pod_names n;
	struct pf_dns_answer a;
	uint64_t evicted = 0;
	char path[] = "/tmp/pf-test-resolv-XXXXXX";
	FILE *f;
	int fd;

	pf_pod_names_init(&n, &evicted);
	is_str(names_at(&n, "192.0.2.1", 0), "", "nothing resolved: no names");

	answer(&a, "db.shop.test", "192.0.2.1", 0);
	pf_pod_names_add(&n, &a, 1000);
	is_str(names_at(&n, "192.0.2.1", 1000), "db.shop.test", "resolved: the name");
	is_str(names_at(&n, "192.0.2.1", 30999), "db.shop.test", "TTL 0 counts for 30 s");
	is_str(names_at(&n, "192.0.2.1", 31000), "", "and not longer");
	answer(&a, "db.shop.test", "192.0.2.1", 7 * 86400);
	pf_pod_names_add(&n, &a, 0);
	is_str(names_at(&n, "192.0.2.1", 86399999), "db.shop.test", "a week's TTL counts a day");
	is_str(names_at(&n, "192.0.2.1", 86400000), "", "and not longer");

	/* a CNAME chain: the address counts for every name on it */
	answer(&a, "alias.shop.test", "192.0.2.2", 300);
	snprintf(a.names[1], sizeof(a.names[1]), "lb.internal.test");
	a.n_names = 2;
	pf_pod_names_add(&n, &a, 0);
	is_str(names_at(&n, "192.0.2.2", 1), "alias.shop.test,lb.internal.test",
	       "a CNAME chain's names");

	/* names per address: the one expiring first goes */
	for (int i = 0; i < PF_NAMES_MAX_PER_ADDR + 2; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%d.test", i);
		answer(&a, name, "192.0.2.3", (uint32_t)(100 + i));
		pf_pod_names_add(&n, &a, 0);
	}
	ok(!strstr(names_at(&n, "192.0.2.3", 1), "n0.test") &&
	       !strstr(names_at(&n, "192.0.2.3", 1), "n1.test,") &&
	       strstr(names_at(&n, "192.0.2.3", 1), "n9.test"),
	   "past %d names per address the oldest go (%s)", PF_NAMES_MAX_PER_ADDR,
	   names_at(&n, "192.0.2.3", 1));
	is_int(evicted, 2, "two names evicted, counted");

	/* addresses per pod: the oldest answer's address goes first */
	evicted = 0;
	for (int i = 0; i < PF_NAMES_MAX_ADDRS + 5; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
		answer(&a, "many.test", ip, 600);
		pf_pod_names_add(&n, &a, 0);
	}
	is_int(pf_pod_names_count(&n), PF_NAMES_MAX_ADDRS, "at most %d addresses",
	       PF_NAMES_MAX_ADDRS);
	is_int(evicted, 7, "the oldest evicted (the 2 earlier ones, then 10.0.0-4.1), counted");
	is_str(names_at(&n, "192.0.2.2", 1), "", "the oldest address is gone");
	is_str(names_at(&n, "10.0.4.1", 1), "", "the first of the flood too");
	is_str(names_at(&n, "10.4.4.1", 1), "many.test", "the newest is kept");
	pf_pod_names_expire(&n, 700000);
	is_int(pf_pod_names_count(&n), 0, "expiry empties the table");

	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		abort();
	fputs("# comment\nsearch shop.svc\nnameserver 10.96.0.10\nnameserver   fd00::53 \n"
	      "nameserver bogus\noptions ndots:5\n",
	      f);
	fclose(f);
	is_int(pf_pod_names_read_resolvers(&n, path), 0, "resolv.conf read");
	is_int(n.n_resolvers, 2, "two nameservers");
	{
		struct pf_addr r1 = A("10.96.0.10"), r2 = A("fd00::53"), r3 = A("10.96.0.11");

		ok(pf_pod_names_is_resolver(&n, &r1) && pf_pod_names_is_resolver(&n, &r2) &&
		       !pf_pod_names_is_resolver(&n, &r3),
		   "only the configured resolvers count");
	}
	unlink(path);
	is_int(pf_pod_names_read_resolvers(&n, path), -ENOENT, "a missing resolv.conf");
	pf_pod_names_free(&n);
	return tap_done();
}
