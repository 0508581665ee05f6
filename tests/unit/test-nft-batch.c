/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ruleset batch, built without a kernel and parsed back with libnftnl (as libnftnl's own
 * tests/nft-rule-test.c): message order, families, chain hook/priority/policy, every rule's
 * expressions and their attributes, the NFQUEUE target info, comments, bounds. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <stdio.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft.h"
#include "tap.h"

int main(void);

static uint8_t buf[65536];

struct msgs {
	const struct nlmsghdr *m[64];
	size_t n;
};

static void split(const void *b, size_t len, struct msgs *out)
{
	const struct nlmsghdr *nlh = b;
	int rem = (int)len;

	out->n = 0;
	for (; mnl_nlmsg_ok(nlh, rem) && out->n < PF_ARRAY_SIZE(out->m);
	     nlh = mnl_nlmsg_next(nlh, &rem))
		out->m[out->n++] = nlh;
	ok(rem == 0, "batch splits into whole messages (%zu)", out->n);
}

static int msg_family(const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

	return g->nfgen_family;
}

static int msg_type(const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END)
		return nlh->nlmsg_type;
	return NFNL_MSG_TYPE(nlh->nlmsg_type);
}

static void check_table(const struct nlmsghdr *nlh, int type, int family, bool comment)
{
	struct nftnl_table *t = nftnl_table_alloc();

	is_int(msg_type(nlh), type, "table message type %d", type);
	is_int(msg_family(nlh), family, "table family %d", family);
	ok(nlh->nlmsg_flags & NLM_F_ACK, "table message asks for an ack");
	ok(nftnl_table_nlmsg_parse(nlh, t) == 0, "table parses back");
	is_str(nftnl_table_get_str(t, NFTNL_TABLE_NAME), PF_NFT_TABLE, "table name");
	ok(nftnl_table_is_set(t, NFTNL_TABLE_USERDATA) == comment, "table comment %s",
	   comment ? "present" : "absent");
	nftnl_table_free(t);
}

static void check_chain(const struct nlmsghdr *nlh, int family, int32_t prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	is_int(msg_type(nlh), NFT_MSG_NEWCHAIN, "chain message");
	is_int(msg_family(nlh), family, "chain family");
	ok(nftnl_chain_nlmsg_parse(nlh, c) == 0, "chain parses back");
	is_str(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), PF_NFT_TABLE, "chain table");
	is_str(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), PF_NFT_CHAIN, "chain name");
	is_str(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter", "chain type filter");
	is_int(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_LOCAL_OUT, "hook output");
	is_int(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), prio, "chain priority");
	is_int(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT, "policy accept");
	nftnl_chain_free(c);
}

struct expr_walk {
	char names[256];
	const struct pf_nft_config *cfg;
	int cmp_index;
	uint32_t cmp_vals[8];
	uint32_t meta_keys[8];
	int meta_index;
	bool queue_ok, target_ok, reject_ok, payload_ok, bitwise_ok;
	bool fragoff_ok, fragmask_ok, neq_zero, exthdr_frag_ok; /* the fragment rules */
};

static int walk_expr(struct nftnl_expr *e, void *data)
{
	struct expr_walk *w = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	uint32_t len = 0;

	if (w->names[0])
		strcat(w->names, " ");
	strcat(w->names, name);
	if (!strcmp(name, "meta") && w->meta_index < 8) {
		w->meta_keys[w->meta_index++] = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
	} else if (!strcmp(name, "cmp") && w->cmp_index < 8) {
		const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		uint32_t v = 0;

		if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_NEQ && len == 2)
			w->neq_zero = !memcmp(d, "\0\0", 2);
		if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ)
			v = 0xdeadbeef;
		else if (len == 1)
			v = *(const uint8_t *)d;
		else if (len == 4)
			memcpy(&v, d, 4);
		else
			v = 0xdeadbeef;
		w->cmp_vals[w->cmp_index++] = v;
	} else if (!strcmp(name, "payload") &&
		   nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == NFT_PAYLOAD_NETWORK_HEADER) {
		w->fragoff_ok = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 6 &&
				nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2;
	} else if (!strcmp(name, "exthdr")) {
		w->exthdr_frag_ok =
		    nftnl_expr_get_u8(e, NFTNL_EXPR_EXTHDR_TYPE) == IPPROTO_FRAGMENT &&
		    nftnl_expr_get_u32(e, NFTNL_EXPR_EXTHDR_FLAGS) == NFT_EXTHDR_F_PRESENT;
	} else if (!strcmp(name, "payload")) {
		w->payload_ok = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) ==
				    NFT_PAYLOAD_TRANSPORT_HEADER &&
				nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 13 &&
				nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 1;
	} else if (!strcmp(name, "bitwise")) {
		const uint8_t *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);

		if (len == 2)
			w->fragmask_ok = m[0] == 0x3f && m[1] == 0xff;
		else
			w->bitwise_ok = len == 1 && *m == 0x12;
	} else if (!strcmp(name, "queue")) {
		w->queue_ok = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM) == w->cfg->queue_num &&
			      nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL) == 1 &&
			      nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS) ==
				  (w->cfg->bypass ? NFT_QUEUE_FLAG_BYPASS : 0);
	} else if (!strcmp(name, "target")) {
		const struct xt_NFQ_info_v3 *info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);

		w->target_ok = !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "NFQUEUE") &&
			       nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV) == 3 && info &&
			       len >= sizeof(*info) && len % 8 == 0 &&
			       info->queuenum == w->cfg->queue_num && info->queues_total == 1 &&
			       info->flags == (w->cfg->bypass ? NFQ_FLAG_BYPASS : 0);
	} else if (!strcmp(name, "reject")) {
		w->reject_ok = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE) == NFT_REJECT_TCP_RST;
	}
	return 0;
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
		*(const char **)data = nftnl_udata_get(attr);
	return 0;
}

/* Rules 4 (IPv4) and 5 (IPv6) in inet, rule 4 in ip and ip6: fragments are queued too. */
static size_t check_frag_rules(const struct msgs *m, size_t at, int family,
			       const struct pf_nft_config *cfg)
{
	const char *q = cfg->backend == PF_QUEUE_NATIVE ? "queue" : "target";
	size_t n = 0;
	char want[128];

	for (int v6 = 0; v6 < 2; v6++) {
		struct nftnl_rule *r;
		struct expr_walk w = {.cfg = cfg};

		if ((v6 && family == NFPROTO_IPV4) || (!v6 && family == NFPROTO_IPV6))
			continue;
		r = nftnl_rule_alloc();
		is_int(msg_type(m->m[at + n]), NFT_MSG_NEWRULE, "fragment rule message");
		ok(nftnl_rule_nlmsg_parse(m->m[at + n], r) == 0, "fragment rule parses back");
		nftnl_expr_foreach(r, walk_expr, &w);
		nftnl_rule_free(r);
		snprintf(want, sizeof(want), "%s%s counter %s",
			 family == NFPROTO_INET ? "meta cmp " : "",
			 v6 ? "exthdr cmp" : "meta cmp payload bitwise cmp", q);
		is_str(w.names, want, "IPv%d fragment rule -> queue", v6 ? 6 : 4);
		if (family == NFPROTO_INET)
			is_int(w.meta_keys[0], NFT_META_NFPROTO, "inet: the family first");
		if (v6) {
			ok(w.exthdr_frag_ok, "IPv6: a fragment header is present");
		} else {
			ok(w.fragoff_ok && w.fragmask_ok && w.neq_zero,
			   "IPv4: frag-off & 0x3fff != 0");
		}
		ok(cfg->backend == PF_QUEUE_NATIVE ? w.queue_ok : w.target_ok,
		   "fragment rule queues like the SYN rule");
		n++;
	}
	return n;
}

static void check_rules(const struct msgs *m, size_t at, int family,
			const struct pf_nft_config *cfg)
{
	static const char *const want[] = {
	    "meta cmp counter immediate", "meta cmp meta cmp counter reject",
	    NULL, /* depends on backend */
	};
	struct expr_walk w[3];

	for (int i = 0; i < 3; i++) {
		const struct nlmsghdr *nlh = m->m[at + (size_t)i];
		struct nftnl_rule *r = nftnl_rule_alloc();
		const char *comment = NULL;
		const void *ud;
		uint32_t udlen = 0;

		memset(&w[i], 0, sizeof(w[i]));
		w[i].cfg = cfg;
		is_int(msg_type(nlh), NFT_MSG_NEWRULE, "rule %d message", i + 1);
		is_int(msg_family(nlh), family, "rule %d family", i + 1);
		ok((nlh->nlmsg_flags & (NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK)) ==
		       (NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK),
		   "rule %d appends, acks", i + 1);
		ok(nftnl_rule_nlmsg_parse(nlh, r) == 0, "rule %d parses back", i + 1);
		is_str(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), PF_NFT_TABLE, "rule %d table",
		       i + 1);
		is_str(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), PF_NFT_CHAIN, "rule %d chain",
		       i + 1);
		nftnl_expr_foreach(r, walk_expr, &w[i]);
		ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
		if (ud)
			nftnl_udata_parse(ud, udlen, comment_cb, &comment);
		has_str(comment, "podfence", "rule %d carries a podfence comment", i + 1);
		nftnl_rule_free(r);
	}
	is_str(w[0].names, want[0], "rule 1: oif lo accept");
	is_int(w[0].meta_keys[0], NFT_META_OIF, "rule 1 matches meta oif");
	is_int(w[0].cmp_vals[0], 1, "rule 1 compares with ifindex 1 (lo)");
	is_str(w[1].names, want[1], "rule 2: mark + tcp -> reject");
	is_int(w[1].meta_keys[0], NFT_META_MARK, "rule 2 matches meta mark");
	is_int(w[1].cmp_vals[0], cfg->reject_mark, "rule 2 mark value");
	is_int(w[1].meta_keys[1], NFT_META_L4PROTO, "rule 2 matches l4proto");
	is_int(w[1].cmp_vals[1], IPPROTO_TCP, "rule 2 l4proto tcp");
	ok(w[1].reject_ok, "rule 2 rejects with tcp reset");
	is_str(w[2].names,
	       cfg->backend == PF_QUEUE_NATIVE ? "meta cmp payload bitwise cmp counter queue"
					       : "meta cmp payload bitwise cmp counter target",
	       "rule 3: tcp syn -> queue");
	ok(w[2].payload_ok && w[2].bitwise_ok, "rule 3 reads tcp flags & (syn|ack)");
	is_int(w[2].cmp_vals[1], 0x02, "rule 3 wants syn without ack");
	if (cfg->backend == PF_QUEUE_NATIVE)
		ok(w[2].queue_ok, "rule 3 queue num/total/flags");
	else
		ok(w[2].target_ok, "rule 3 NFQUEUE v3 info num/total/flags");
}

static void check_install(const struct pf_nft_config *cfg)
{
	struct msgs m;
	ssize_t len = pf_nft_build_batch(cfg, buf, sizeof(buf), 100);
	static const int remove_families[] = {NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6};
	size_t at = 0;
	uint32_t seq = 100;
	bool seq_ok = true;

	tap_diag("backend %s, queue %u, bypass %d, priority %d", pf_nft_backend_name(cfg->backend),
		 cfg->queue_num, cfg->bypass, cfg->priority);
	ok(len > 0, "batch builds (%zd bytes)", len);
	if (len <= 0)
		return;
	split(buf, (size_t)len, &m);
	is_int(m.n, cfg->backend == PF_QUEUE_NATIVE ? 1 + 6 + 7 + 1 : 1 + 6 + 12 + 1,
	       "message count");
	for (size_t i = 0; i < m.n; i++)
		seq_ok &= m.m[i]->nlmsg_seq == seq++;
	ok(seq_ok, "sequence numbers count up from the given one");
	is_int(msg_type(m.m[at++]), NFNL_MSG_BATCH_BEGIN, "batch begins");
	/* Remove whatever any backend left: add (no-op if present) then delete, each family. */
	for (size_t f = 0; f < 3; f++) {
		check_table(m.m[at++], NFT_MSG_NEWTABLE, remove_families[f], false);
		check_table(m.m[at++], NFT_MSG_DELTABLE, remove_families[f], false);
	}
	if (cfg->backend == PF_QUEUE_NATIVE) {
		check_table(m.m[at++], NFT_MSG_NEWTABLE, NFPROTO_INET, true);
		check_chain(m.m[at++], NFPROTO_INET, cfg->priority);
		check_rules(&m, at, NFPROTO_INET, cfg);
		at += 3;
		at += check_frag_rules(&m, at, NFPROTO_INET, cfg);
	} else {
		check_table(m.m[at++], NFT_MSG_NEWTABLE, NFPROTO_IPV4, true);
		check_chain(m.m[at++], NFPROTO_IPV4, cfg->priority);
		check_rules(&m, at, NFPROTO_IPV4, cfg);
		at += 3;
		at += check_frag_rules(&m, at, NFPROTO_IPV4, cfg);
		check_table(m.m[at++], NFT_MSG_NEWTABLE, NFPROTO_IPV6, true);
		check_chain(m.m[at++], NFPROTO_IPV6, cfg->priority);
		check_rules(&m, at, NFPROTO_IPV6, cfg);
		at += 3;
		at += check_frag_rules(&m, at, NFPROTO_IPV6, cfg);
	}
	is_int(msg_type(m.m[at]), NFNL_MSG_BATCH_END, "batch ends");
	is_int(at + 1, m.n, "nothing after the end");
}

/* The restore never deletes our base chain: table (woken: flags 0), chain (a no-op on an
 * existing one), flush, the install's rules (fragments included); chains someone added are
 * made sure of, flushed, deleted. */
static void check_restore(void)
{
	struct pf_nft_chain_ref extra[2] = {{NFPROTO_IPV4, "evil"}, {NFPROTO_IPV6, "evil6"}};
	struct pf_nft_config cfg;
	struct nftnl_table *t;
	struct msgs m;
	ssize_t len;
	bool no_delchain = true;

	pf_nft_config_init(&cfg);
	len = pf_nft_build_restore_batch(&cfg, false, NULL, 0, buf, sizeof(buf), 1);
	ok(len > 0, "restore batch builds");
	if (len <= 0)
		return;
	split(buf, (size_t)len, &m);
	is_int(m.n, 1 + 2 * 7 + 1, "restore: begin, 2 x (table, chain, flush, 4 rules), end");
	for (size_t f = 0; f < 2; f++) {
		size_t at = 1 + f * 7;
		int fam = f ? NFPROTO_IPV6 : NFPROTO_IPV4;

		is_int(msg_type(m.m[at]), NFT_MSG_NEWTABLE, "restore: table first");
		t = nftnl_table_alloc();
		ok(nftnl_table_nlmsg_parse(m.m[at], t) == 0 &&
		       nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) &&
		       nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) == 0,
		   "restore: table flags sent as 0 (wakes a dormant table)");
		nftnl_table_free(t);
		check_chain(m.m[at + 1], fam, cfg.priority);
		ok(!(m.m[at + 1]->nlmsg_flags & NLM_F_EXCL), "restore: chain add without EXCL");
		is_int(msg_type(m.m[at + 2]), NFT_MSG_DELRULE, "restore: flush of our chain");
		check_rules(&m, at + 3, fam, &cfg);
		is_int(check_frag_rules(&m, at + 6, fam, &cfg), 1,
		       "restore: the fragment rule is written again too");
	}
	for (size_t i = 0; i < m.n; i++)
		no_delchain &= msg_type(m.m[i]) != NFT_MSG_DELCHAIN;
	ok(no_delchain, "restore: our base chain is never deleted");

	len = pf_nft_build_restore_batch(&cfg, false, extra, 2, buf, sizeof(buf), 1);
	ok(len > 0, "restore batch with extra chains builds");
	if (len > 0) {
		split(buf, (size_t)len, &m);
		is_int(m.n, 1 + 2 * (7 + 3) + 1,
		       "restore: each extra chain added, flushed, deleted");
		is_int(msg_type(m.m[8]), NFT_MSG_NEWCHAIN, "extra chain made sure of");
		is_int(msg_type(m.m[9]), NFT_MSG_DELRULE, "extra chain flushed");
		is_int(msg_type(m.m[10]), NFT_MSG_DELCHAIN, "extra chain deleted");
	}
	len = pf_nft_build_restore_batch(&cfg, true, NULL, 0, buf, sizeof(buf), 1);
	ok(len > 0, "restore batch replacing a foreign 'output' builds");
	if (len > 0) {
		split(buf, (size_t)len, &m);
		is_int(msg_type(m.m[4]), NFT_MSG_DELCHAIN, "a foreign 'output' is deleted first");
		check_chain(m.m[5], NFPROTO_IPV4, cfg.priority);
	}
}

int main(void)
{
	struct pf_nft_config cfg;
	struct msgs m;
	ssize_t len, full;

	pf_nft_config_init(&cfg);
	is_int(cfg.priority, -301, "default priority raw - 1");
	is_int(cfg.queue_num, 1, "default queue 1");
	ok(cfg.bypass, "default bypass");
	check_install(&cfg);
	check_restore();

	cfg.backend = PF_QUEUE_NATIVE;
	check_install(&cfg);

	cfg.backend = PF_QUEUE_COMPAT;
	cfg.queue_num = 65535;
	cfg.bypass = false;
	cfg.priority = -150;
	cfg.reject_mark = 0x1234;
	check_install(&cfg);
	cfg.backend = PF_QUEUE_NATIVE;
	check_install(&cfg);

	len = pf_nft_build_remove_batch(buf, sizeof(buf), 7);
	ok(len > 0, "remove batch builds");
	if (len > 0) {
		split(buf, (size_t)len, &m);
		is_int(m.n, 8, "remove: begin, 3 x (add, delete), end");
		check_table(m.m[5], NFT_MSG_NEWTABLE, NFPROTO_IPV6, false);
		check_table(m.m[6], NFT_MSG_DELTABLE, NFPROTO_IPV6, false);
	}

	/* Bounds: every size short of the full batch is refused, never overrun. */
	pf_nft_config_init(&cfg);
	full = pf_nft_build_batch(&cfg, buf, sizeof(buf), 1);
	for (size_t sz = 0; full > 0 && sz < (size_t)full; sz += 13) {
		memset(buf, 0xaa, sizeof(buf));
		if (pf_nft_build_batch(&cfg, buf, sz, 1) != -ENOSPC || buf[sz] != 0xaa) {
			ok(0, "batch into %zu bytes", sz);
			break;
		}
	}
	ok(1, "short buffers give -ENOSPC and nothing is written past them");
	is_int(pf_nft_build_batch(&cfg, buf, (size_t)full, 1), full, "exact size fits");
	cfg.reject_mark = 0;
	is_int(pf_nft_build_batch(&cfg, buf, sizeof(buf), 1), -EINVAL, "reject mark 0 is refused");
	cfg.reject_mark = 1;
	cfg.backend = (enum pf_queue_backend)7;
	is_int(pf_nft_build_batch(&cfg, buf, sizeof(buf), 1), -EINVAL,
	       "unknown backend is refused");
	is_int(pf_nft_build_batch(NULL, buf, sizeof(buf), 1), -EINVAL, "NULL config is refused");
	return tap_done();
}
