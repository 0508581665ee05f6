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
#include <libnftnl/set.h>
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
		w->fragoff_ok |= nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 6 &&
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

/* Rules 1, 2 and the queue rule (after the reuse rules when there are any). */
static void check_rules(const struct msgs *m, size_t at, int family,
			const struct pf_nft_config *cfg, bool reuse)
{
	static const char *const want[] = {
	    "meta cmp counter immediate", "meta cmp meta cmp counter reject",
	    NULL, /* depends on backend */
	};
	struct expr_walk w[3];

	size_t n_reuse = !reuse ? 0 : family == NFPROTO_INET ? 2 : 1;

	for (int i = 0; i < 3; i++) {
		const struct nlmsghdr *nlh = m->m[at + (size_t)i + (i == 2 ? n_reuse : 0)];
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

/* The reuse rule (rules 3 and 4 in inet, 3 in ip and ip6) and its set's messages. */
static size_t check_reuse_rules(const struct msgs *m, size_t at, int family)
{
	size_t n = 0;

	for (int v6 = 0; v6 < 2; v6++) {
		struct nftnl_rule *r;
		struct expr_walk w = {0};
		char want[160];

		if ((v6 && family == NFPROTO_IPV4) || (!v6 && family == NFPROTO_IPV6))
			continue;
		r = nftnl_rule_alloc();
		is_int(msg_type(m->m[at + n]), NFT_MSG_NEWRULE, "reuse rule message");
		ok(nftnl_rule_nlmsg_parse(m->m[at + n], r) == 0, "reuse rule parses back");
		nftnl_expr_foreach(r, walk_expr, &w);
		nftnl_rule_free(r);
		/* family, not-a-fragment / no extension header, SYN only, saddr daddr dport */
		snprintf(want, sizeof(want),
			 "%s%s meta cmp payload bitwise cmp payload payload payload lookup counter "
			 "immediate",
			 family == NFPROTO_INET ? "meta cmp " : "",
			 v6 ? "payload cmp" : "payload bitwise cmp");
		is_str(w.names, want, "IPv%d reuse rule: (saddr . daddr . dport) in set -> accept",
		       v6 ? 6 : 4);
		if (!v6)
			ok(w.fragoff_ok && w.fragmask_ok, "IPv4 reuse rule: frag-off & 0x3fff");
		n++;
	}
	return n;
}

static size_t check_sets(const struct msgs *m, size_t at, int family)
{
	size_t n = 0;

	for (int v6 = 0; v6 < 2; v6++) {
		struct nftnl_set *s;

		if ((v6 && family == NFPROTO_IPV4) || (!v6 && family == NFPROTO_IPV6))
			continue;
		s = nftnl_set_alloc();
		is_int(msg_type(m->m[at + n]), NFT_MSG_NEWSET, "set message");
		ok(!(m->m[at + n]->nlmsg_flags & NLM_F_EXCL),
		   "set add without EXCL (kept if there)");
		ok(nftnl_set_nlmsg_parse(m->m[at + n], s) == 0, "set parses back");
		is_str(nftnl_set_get_str(s, NFTNL_SET_NAME),
		       v6 ? PF_NFT_REUSE_SET6 : PF_NFT_REUSE_SET4, "set name");
		is_int(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), v6 ? 36 : 12,
		       "key: saddr . daddr . dport");
		is_int(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), NFT_SET_TIMEOUT, "flags timeout");
		is_int(nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE), PF_NFT_REUSE_MAX, "bounded size");
		nftnl_set_free(s);
		is_int(msg_type(m->m[at + n + 1]), NFT_MSG_DELSETELEM, "then emptied");
		ok(m->m[at + n + 1]->nlmsg_flags & NLM_F_ACK, "the flush is acked");
		n += 2;
	}
	return n;
}

/* One family's part of an install or restore: table, chain, flush, [sets], rules. */
static size_t check_family(const struct msgs *m, size_t at, int family,
			   const struct pf_nft_config *cfg, bool install)
{
	size_t start = at;
	struct nftnl_table *t = nftnl_table_alloc();

	check_table(m->m[at], NFT_MSG_NEWTABLE, family, install);
	ok(nftnl_table_nlmsg_parse(m->m[at], t) == 0 && nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) &&
	       nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) == 0,
	   "table flags sent as 0 (wakes a dormant table)");
	nftnl_table_free(t);
	at++;
	check_chain(m->m[at], family, cfg->priority);
	ok(!(m->m[at]->nlmsg_flags & NLM_F_EXCL), "chain add without EXCL (kept if there)");
	at++;
	is_int(msg_type(m->m[at++]), NFT_MSG_DELRULE, "flush of our chain's rules");
	if (cfg->reuse_timeout_ms)
		at += check_sets(m, at, family);
	check_rules(m, at, family, cfg, cfg->reuse_timeout_ms != 0);
	at += 2;
	if (cfg->reuse_timeout_ms)
		at += check_reuse_rules(m, at, family);
	at += 1;
	at += check_frag_rules(m, at, family, cfg);
	return at - start;
}

static void check_install(const struct pf_nft_config *cfg)
{
	struct msgs m;
	ssize_t len = pf_nft_build_batch(cfg, buf, sizeof(buf), 100);
	size_t at = 0, want;
	uint32_t seq = 100;
	bool seq_ok = true, no_delete_ours = true, no_delchain = true;
	bool native = cfg->backend == PF_QUEUE_NATIVE;
	size_t reuse = cfg->reuse_timeout_ms ? 1 : 0;

	tap_diag("backend %s, queue %u, bypass %d, priority %d, reuse %u",
		 pf_nft_backend_name(cfg->backend), cfg->queue_num, cfg->bypass, cfg->priority,
		 cfg->reuse_timeout_ms);
	ok(len > 0, "batch builds (%zd bytes)", len);
	if (len <= 0)
		return;
	split(buf, (size_t)len, &m);
	/* begin, the other backend's tables (add + delete each), ours, end */
	want = native ? 1 + 4 + (3 + 5 + reuse * 6) + 1 : 1 + 2 + 2 * (3 + 4 + reuse * 3) + 1;
	is_int(m.n, want, "message count");
	for (size_t i = 0; i < m.n; i++)
		seq_ok &= m.m[i]->nlmsg_seq == seq++;
	ok(seq_ok, "sequence numbers count up from the given one");
	is_int(msg_type(m.m[at++]), NFNL_MSG_BATCH_BEGIN, "batch begins");
	/* Remove what the other backend left: add (no-op if present) then delete. */
	for (size_t f = 0; f < (native ? 2u : 1u); f++) {
		int fam = native ? (f ? NFPROTO_IPV6 : NFPROTO_IPV4) : NFPROTO_INET;

		check_table(m.m[at++], NFT_MSG_NEWTABLE, fam, false);
		check_table(m.m[at++], NFT_MSG_DELTABLE, fam, false);
	}
	for (size_t i = at; i < m.n; i++) {
		no_delete_ours &= msg_type(m.m[i]) != NFT_MSG_DELTABLE;
		no_delchain &= msg_type(m.m[i]) != NFT_MSG_DELCHAIN;
	}
	ok(no_delete_ours && no_delchain,
	   "our table and base chain are kept (deleting them drops what is queued)");
	if (native) {
		at += check_family(&m, at, NFPROTO_INET, cfg, true);
	} else {
		at += check_family(&m, at, NFPROTO_IPV4, cfg, true);
		at += check_family(&m, at, NFPROTO_IPV6, cfg, true);
	}
	is_int(msg_type(m.m[at]), NFNL_MSG_BATCH_END, "batch ends");
	is_int(at + 1, m.n, "nothing after the end");
}

/* The elements the engine adds, and the flush: one message per family set. */
static void check_reuse_batches(void)
{
	struct pf_nft_reuse_elem e[3] = {0};
	struct pf_nft_config cfg;
	struct nftnl_set *s;
	struct msgs m;
	ssize_t len;
	uint32_t v4 = htonl(0x0a000001), v4d = htonl(0x0a000002);

	pf_nft_config_init(&cfg);
	is_int(pf_nft_build_reuse_add_batch(&cfg, e, 1, buf, sizeof(buf), 1), -EINVAL,
	       "reuse off: no elements");
	cfg.reuse_timeout_ms = 5000;
	pf_addr_from_v4(&e[0].src, &v4);
	pf_addr_from_v4(&e[0].dst, &v4d);
	e[0].dport = 443;
	e[1] = e[0];
	e[1].dport = 80;
	e[2].v6 = true;
	e[2].src.b[0] = 0xfd;
	e[2].dst.b[0] = 0xfd;
	e[2].dst.b[15] = 2;
	e[2].dport = 5432;
	len = pf_nft_build_reuse_add_batch(&cfg, e, 3, buf, sizeof(buf), 1);
	ok(len > 0, "add batch builds");
	if (len > 0) {
		split(buf, (size_t)len, &m);
		is_int(m.n, 4, "add: begin, allowed4 (2 elements), allowed6 (1), end");
		is_int(msg_family(m.m[2]), NFPROTO_IPV6, "IPv6 elements in table ip6");
	}
	/* libnftnl numbers the nested elements 1, 2, ... (the kernel reads any) but parses
	 * back only one: look at one element. */
	len = pf_nft_build_reuse_add_batch(&cfg, e, 1, buf, sizeof(buf), 1);
	if (len > 0) {
		split(buf, (size_t)len, &m);
		is_int(m.n, 3, "add of one IPv4 element: begin, allowed4, end");
		s = nftnl_set_alloc();
		ok(nftnl_set_elems_nlmsg_parse(m.m[1], s) == 0, "elements parse back");
		is_int(msg_family(m.m[1]), NFPROTO_IPV4, "compat: IPv4 elements in table ip");
		is_str(nftnl_set_get_str(s, NFTNL_SET_NAME), PF_NFT_REUSE_SET4, "into allowed4");
		{
			struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
			struct nftnl_set_elem *el = it ? nftnl_set_elems_iter_next(it) : NULL;
			const uint8_t *k;
			uint32_t klen = 0;
			uint8_t want[12] = {10, 0, 0, 1, 10, 0, 0, 2, 443 >> 8, 443 & 0xff, 0, 0};

			k = el ? nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &klen) : NULL;
			ok(k && klen == 12 && !memcmp(k, want, 12),
			   "key: saddr . daddr . dport (network order, padded)");
			ok(el && nftnl_set_elem_get_u64(el, NFTNL_SET_ELEM_TIMEOUT) == 5000,
			   "each element carries the timeout");
			if (it)
				nftnl_set_elems_iter_destroy(it);
		}
		nftnl_set_free(s);
		ok(!(m.m[1]->nlmsg_flags & NLM_F_ACK), "adds are not waited for");
	}
	is_int(pf_nft_build_reuse_add_batch(&cfg, e, PF_NFT_REUSE_BATCH + 1, buf, sizeof(buf), 1),
	       -EINVAL, "more than a batch is refused");
	len = pf_nft_build_reuse_flush_batch(&cfg, buf, sizeof(buf), 1);
	ok(len > 0, "flush batch builds");
	if (len > 0) {
		split(buf, (size_t)len, &m);
		is_int(m.n, 4, "flush: begin, allowed4, allowed6, end");
		is_int(msg_type(m.m[1]), NFT_MSG_DELSETELEM, "a delete without elements empties");
		ok(m.m[1]->nlmsg_flags & NLM_F_ACK, "the flush is acked");
	}
	cfg.backend = PF_QUEUE_NATIVE;
	len = pf_nft_build_reuse_flush_batch(&cfg, buf, sizeof(buf), 1);
	if (len > 0) {
		split(buf, (size_t)len, &m);
		ok(msg_family(m.m[1]) == NFPROTO_INET && msg_family(m.m[2]) == NFPROTO_INET,
		   "native: both sets in table inet");
	}
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
		check_rules(&m, at + 3, fam, &cfg, false);
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
	check_reuse_batches();
	cfg.reuse_timeout_ms = 60000;
	check_install(&cfg);
	cfg.backend = PF_QUEUE_NATIVE;
	check_install(&cfg);
	cfg.backend = PF_QUEUE_COMPAT;
	cfg.reuse_timeout_ms = 0;

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
