/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The saved last good ruleset: round trip, and damaged files refused without a crash. */
#include <stdio.h>
#include <sys/stat.h>

#include "ruleset-file.h"
#include "tap.h"

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		abort();
	return p;
}

static struct pf_ruleset *sample(void)
{
	struct pf_ruleset *rs = xcalloc(1, sizeof(*rs));

	rs->n_policies = 3;
	rs->policies = xcalloc(3, sizeof(*rs->policies));
	for (size_t i = 0; i < 3; i++) {
		struct pf_rs_policy *p = &rs->policies[i];
		char buf[32];

		p->id = (uint32_t)(7 + i);
		p->priority = (uint32_t)(100 * i);
		p->cluster = i == 0; /* the cluster tier, with a Pass rule */
		snprintf(buf, sizeof(buf), i == 0 ? "" : "ns%zu", i);
		p->namespace = strdup(buf);
		snprintf(buf, sizeof(buf), "pol-%zu", i);
		p->name = strdup(buf);
		p->n_src = i;
		p->src = xcalloc(i, sizeof(*p->src));
		for (size_t k = 0; k < i; k++)
			pf_addr_parse(k ? "fd00::5" : "10.0.0.5", &p->src[k]);
		p->n_rules = 2;
		p->rules = xcalloc(2, sizeof(*p->rules));
		p->rules[0] =
		    (struct pf_rs_rule){.action = i == 0 ? PF_ACTION_PASS : PF_ACTION_REJECT,
					.log = true,
					.rule_index = 0,
					.any_dst = true};
		p->rules[1] = (struct pf_rs_rule){.action = PF_ACTION_ALERT, .rule_index = 1};
		p->rules[1].n_dst_ips = 1;
		p->rules[1].dst_ips = xcalloc(1, sizeof(struct pf_addr));
		pf_addr_parse("10.9.9.9", p->rules[1].dst_ips);
		p->rules[1].n_dst_nets = 1;
		p->rules[1].dst_nets = xcalloc(1, sizeof(struct pf_prefix));
		pf_prefix_parse("fd99::/64", p->rules[1].dst_nets, NULL);
		p->rules[1].n_ports = 2;
		p->rules[1].ports = xcalloc(2, sizeof(struct pf_port_range));
		p->rules[1].ports[0] = (struct pf_port_range){80, 80};
		p->rules[1].ports[1] = (struct pf_port_range){8000, 8999, PF_PROTO_UDP};
		p->rules[1].n_fqdns = 2;
		p->rules[1].fqdns = xcalloc(2, sizeof(char *));
		p->rules[1].fqdns[0] = strdup("db.shop.test");
		p->rules[1].fqdns[1] = strdup("*.example.com");
	}
	return rs;
}

static bool same(const struct pf_ruleset *a, const struct pf_ruleset *b)
{
	if (a->n_policies != b->n_policies)
		return false;
	for (size_t i = 0; i < a->n_policies; i++) {
		const struct pf_rs_policy *p = &a->policies[i], *q = &b->policies[i];

		if (p->id != q->id || p->priority != q->priority || p->cluster != q->cluster ||
		    strcmp(p->namespace, q->namespace) || strcmp(p->name, q->name) ||
		    p->n_src != q->n_src || p->n_rules != q->n_rules ||
		    (p->n_src && memcmp(p->src, q->src, p->n_src * sizeof(*p->src))))
			return false;
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *r = &p->rules[j], *s = &q->rules[j];

			if (r->action != s->action || r->log != s->log ||
			    r->any_dst != s->any_dst || r->rule_index != s->rule_index ||
			    r->n_dst_ips != s->n_dst_ips || r->n_dst_nets != s->n_dst_nets ||
			    r->n_ports != s->n_ports || r->n_fqdns != s->n_fqdns)
				return false;
			for (size_t k = 0; k < r->n_fqdns; k++)
				if (strcmp(r->fqdns[k], s->fqdns[k]))
					return false;
			for (size_t k = 0; k < r->n_dst_ips; k++)
				if (!pf_addr_eq(&r->dst_ips[k], &s->dst_ips[k]))
					return false;
			for (size_t k = 0; k < r->n_dst_nets; k++)
				if (!pf_addr_eq(&r->dst_nets[k].addr, &s->dst_nets[k].addr) ||
				    r->dst_nets[k].len != s->dst_nets[k].len)
					return false;
			for (size_t k = 0; k < r->n_ports; k++)
				if (r->ports[k].port != s->ports[k].port ||
				    r->ports[k].end_port != s->ports[k].end_port ||
				    r->ports[k].protocol != s->ports[k].protocol)
					return false;
		}
	}
	return true;
}

/* Recompute the checksum after tampering, so only the structure checks stand in the way. */
static void reseal(char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 24; i < len; i++) {
		h ^= (uint8_t)buf[i];
		h *= 0x100000001b3ull;
	}
	h = htole64(h);
	memcpy(buf + 16, &h, 8);
}

int main(void)
{
	struct pf_ruleset *rs = sample(), *back = NULL;
	struct pf_error err = {};
	char *buf = NULL, path[] = "/tmp/pf-test-ruleset-XXXXXX", file[64];
	size_t len = 0;
	unsigned long crashes_avoided = 0;
	uint64_t last = 0, before;
	struct stat st;

	is_int(pf_ruleset_encode(rs, &buf, &len), 0, "encode");
	is_int(pf_ruleset_decode(buf, len, &back, &err), 0, "decode: %s", err.msg);
	ok(back && same(rs, back), "round trip keeps every field");
	pf_ruleset_free(back);

	is_int(pf_ruleset_decode(buf, len - 1, &back, &err), -EINVAL, "truncated: refused");
	has_str(err.msg, "truncated", "  says so");
	buf[len / 2] ^= 0x40;
	is_int(pf_ruleset_decode(buf, len, &back, &err), -EINVAL, "a flipped bit: refused");
	has_str(err.msg, "checksum", "  says so");
	buf[len / 2] ^= 0x40;
	memcpy(buf, "PFRSET\0\1", 8); /* the format before the cluster tier */
	is_int(pf_ruleset_decode(buf, len, &back, &err), -EINVAL, "another version: refused");
	memcpy(buf, "PFRSET\0\2", 8); /* the format before protocols and fqdns */
	is_int(pf_ruleset_decode(buf, len, &back, &err), -EINVAL, "version 2: refused");
	memcpy(buf, "PFRSET\0\3", 8);

	/* every byte of the content set to 0xff in turn, checksum fixed: never a crash or a
	 * huge allocation, either refused or decoded */
	for (size_t i = 24; i < len; i++) {
		char saved = buf[i];

		buf[i] = (char)0xff;
		reseal(buf, len);
		if (pf_ruleset_decode(buf, len, &back, &err) == 0)
			pf_ruleset_free(back);
		else
			crashes_avoided++;
		buf[i] = saved;
	}
	reseal(buf, len);
	ok(crashes_avoided > 0, "tampered counts and lengths refused (%lu of %zu)", crashes_avoided,
	   len - 24);
	free(buf);

	if (!mkdtemp(path))
		return printf("Bail out! mkdtemp\n"), 1;
	snprintf(file, sizeof(file), "%s/last-good", path);
	is_int(pf_ruleset_load_file(file, &back, &err), -ENOENT, "no file: -ENOENT");
	umask(0);
	is_int(pf_ruleset_save(rs, file, &last), 0, "save");
	memset(&st, 0, sizeof(st));
	stat(file, &st);
	ok((st.st_mode & 0777) == 0600, "mode 0600 whatever the umask (%o)", st.st_mode & 0777);
	umask(022);
	before = (uint64_t)st.st_mtim.tv_nsec ^ (uint64_t)st.st_ino;
	is_int(pf_ruleset_save(rs, file, &last), 0, "save the same again");
	ok(stat(file, &st) == 0 && ((uint64_t)st.st_mtim.tv_nsec ^ (uint64_t)st.st_ino) == before,
	   "unchanged content is not rewritten");
	pf_error_clear(&err);
	is_int(pf_ruleset_load_file(file, &back, &err), 0, "load");
	ok(back && same(rs, back), "what was saved comes back");
	pf_ruleset_free(back);
	unlink(file);
	rmdir(path);
	pf_ruleset_free(rs);
	return tap_done();
}
