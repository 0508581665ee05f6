/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The per-netns nftables ruleset (doc/architecture.md), sent in one libmnl batch. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft.h"

#define TABLE_COMMENT_TEXT                                                                         \
	"podfence: egress enforcement for this pod (managed by podfenced, do not edit)"
#define RULE_LO_COMMENT "podfence: traffic inside the pod is never judged"
#define RULE_REJECT_COMMENT "podfence: verdict Reject (packet repeated with the reject mark)"
#define RULE_QUEUE_COMMENT "podfence: new TCP connections are judged by podfenced"
#define RULE_REUSE_COMMENT                                                                         \
	"podfence: a connection podfenced allowed a moment ago is accepted without asking again"
#define RULE_FRAG_COMMENT                                                                          \
	"podfence: fragments (made by raw sockets: the stack fragments after this hook) too"
#define RULE_UDP_COMMENT "podfence: the first packet of each new UDP flow is judged by podfenced"
#define RULE_CUT_COMMENT                                                                           \
	"podfence: a connection whose conntrack entry podfenced removed is judged again"
#define RULE_REJECT_UDP_COMMENT "podfence: verdict Reject on UDP: port unreachable"
#define RULE_DNS_COMMENT "podfence: DNS answers are read by podfenced before the pod gets them"
#define RULE_LO_IN_COMMENT "podfence: what the pod sends itself is never read as an answer"

/* Largest single message we build (a rule with ~10 expressions and a comment is < 1 KiB);
 * libnftnl writes without bounds, so each message goes to scratch space first. */
#define MSG_SCRATCH 4096
/* Whole batches: install is ~12 messages, far below this. */
#define BATCH_MAX (64 * 1024)
#define ACK_TIMEOUT_S 10

struct batch {
	uint8_t *buf;
	size_t size, used;
	uint32_t seq;	/* next sequence number */
	uint32_t seq0;	/* the first one */
	int fd;		/* the caller's socket, or -1: one of its own */
	unsigned n_ack; /* messages that will be answered */
	int err;	/* first failure while building */
	char scratch[MSG_SCRATCH] __attribute__((aligned(8)));
};

static unsigned probe_counter;
static const int compat_families[] = {NFPROTO_IPV4, NFPROTO_IPV6};
static const int all_families[] = {NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6};

void pf_nft_config_init(struct pf_nft_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = PF_QUEUE_COMPAT;
	cfg->queue_num = PF_NFT_DEFAULT_QUEUE;
	cfg->bypass = true;
	cfg->priority = PF_NFT_DEFAULT_PRIORITY;
	cfg->reject_mark = PF_REJECT_MARK;
	cfg->flow_priority = PF_NFT_FLOW_PRIORITY;
}

const char *pf_nft_backend_name(enum pf_queue_backend b)
{
	switch (b) {
	case PF_QUEUE_NATIVE:
		return "native";
	case PF_QUEUE_COMPAT:
		return "compat";
	}
	return "unknown";
}

/* Copy the message just built in scratch into the batch, if it fits. */
static void batch_commit(struct batch *b, const struct nlmsghdr *nlh, bool acked)
{
	if (b->err)
		return;
	if (nlh->nlmsg_len > MSG_SCRATCH) { /* libnftnl overran scratch: cannot happen with
					     * our fixed rules, but never trust it silently */
		b->err = -EOVERFLOW;
		return;
	}
	if (b->size - b->used < NLMSG_ALIGN(nlh->nlmsg_len)) {
		b->err = -ENOSPC;
		return;
	}
	memcpy(b->buf + b->used, nlh, nlh->nlmsg_len);
	memset(b->buf + b->used + nlh->nlmsg_len, 0, NLMSG_ALIGN(nlh->nlmsg_len) - nlh->nlmsg_len);
	b->used += NLMSG_ALIGN(nlh->nlmsg_len);
	if (acked)
		b->n_ack++;
}

static void batch_begin(struct batch *b)
{
	memset(b->scratch, 0, sizeof(b->scratch));
	batch_commit(b, nftnl_batch_begin(b->scratch, b->seq++), false);
}

static void batch_end(struct batch *b)
{
	memset(b->scratch, 0, sizeof(b->scratch));
	batch_commit(b, nftnl_batch_end(b->scratch, b->seq++), false);
}

static struct nlmsghdr *msg_hdr(struct batch *b, uint16_t type, int family, uint16_t flags)
{
	memset(b->scratch, 0, sizeof(b->scratch));
	return nftnl_nlmsg_build_hdr(b->scratch, type, (uint16_t)family, flags | NLM_F_ACK,
				     b->seq++);
}

static int set_comment(void *obj, int udata_type, const char *text,
		       void (*set)(void *, uint16_t, const void *, uint32_t), uint16_t attr)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

	if (!ud)
		return -ENOMEM;
	if (!nftnl_udata_put_strz(ud, (uint8_t)udata_type, text)) {
		nftnl_udata_buf_free(ud);
		return -E2BIG;
	}
	/* libnftnl copies user data (unlike a target's info, which it takes over). */
	set(obj, attr, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return 0;
}

static void table_set_data(void *t, uint16_t attr, const void *d, uint32_t len)
{
	nftnl_table_set_data(t, attr, d, len);
}

static void rule_set_data(void *r, uint16_t attr, const void *d, uint32_t len)
{
	nftnl_rule_set_data(r, attr, d, len);
}

enum {
	TABLE_COMMENT = 1 << 0, /* carry our comment */
	TABLE_WAKE = 1 << 1, /* send flags 0: wakes a dormant table (flags change only when sent) */
};

/* NEWTABLE (creates, or is a no-op on an existing table but for TABLE_WAKE) or DELTABLE. */
static void add_table_msg(struct batch *b, uint16_t type, int family, unsigned opts)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;

	if (b->err)
		return;
	t = nftnl_table_alloc();
	if (!t) {
		b->err = -ENOMEM;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, PF_NFT_TABLE);
	if (opts & TABLE_WAKE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	if (opts & TABLE_COMMENT) {
		int r = set_comment(t, NFTNL_UDATA_TABLE_COMMENT, TABLE_COMMENT_TEXT,
				    table_set_data, NFTNL_TABLE_USERDATA);
		if (r < 0) {
			b->err = r;
			nftnl_table_free(t);
			return;
		}
	}
	nlh = msg_hdr(b, type, family, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_commit(b, nlh, true);
}

static void add_chain_msg_hook(struct batch *b, int family, const char *table, const char *name,
			       bool base, uint32_t hook, int32_t prio);

static void add_chain_msg(struct batch *b, int family, const char *table, const char *name,
			  bool base, int32_t prio)
{
	add_chain_msg_hook(b, family, table, name, base, NF_INET_LOCAL_OUT, prio);
}

static void add_chain_msg_hook(struct batch *b, int family, const char *table, const char *name,
			       bool base, uint32_t hook, int32_t prio)
{
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;

	if (b->err)
		return;
	c = nftnl_chain_alloc();
	if (!c) {
		b->err = -ENOMEM;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (base) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = msg_hdr(b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_commit(b, nlh, true);
}

/* Expression helpers: each returns false (and leaves the rule to be freed) on ENOMEM. */
static bool add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

static struct nftnl_expr *meta(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *cmp_eq(const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *counter(void)
{
	return nftnl_expr_alloc("counter");
}

static struct nftnl_expr *verdict_accept(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	}
	return e;
}

/* meta l4proto tcp: the dependency nft itself puts before any tcp match. */
static bool add_l4proto_tcp(struct nftnl_rule *r)
{
	uint8_t tcp = IPPROTO_TCP;

	return add_expr(r, meta(NFT_META_L4PROTO)) && add_expr(r, cmp_eq(&tcp, sizeof(tcp)));
}

/* len bytes at base + offset into register dreg. */
static bool add_load(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
		     uint32_t dreg)
{
	struct nftnl_expr *p = nftnl_expr_alloc("payload");

	if (!p)
		return false;
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_rule_add_expr(r, p);
	return true;
}

/* Register 1 &= mask (len bytes, len <= 4). */
static bool add_mask_reg1(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[4];
	struct nftnl_expr *bw = nftnl_expr_alloc("bitwise");

	if (!bw)
		return false;
	nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, zero, len);
	nftnl_rule_add_expr(r, bw);
	return true;
}

/* len bytes at base + offset, ANDed with mask, into register 1 (len <= 4). */
static bool add_payload_masked(struct nftnl_rule *r, uint32_t base, uint32_t offset,
			       const void *mask, uint32_t len)
{
	return add_load(r, base, offset, len, NFT_REG_1) && add_mask_reg1(r, mask, len);
}

/* tcp flags & (syn|ack) == syn */
static bool add_syn_only(struct nftnl_rule *r)
{
	uint8_t mask = 0x12, syn = 0x02;

	return add_l4proto_tcp(r) &&
	       add_payload_masked(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, &mask, sizeof(mask)) &&
	       add_expr(r, cmp_eq(&syn, sizeof(syn)));
}

static struct nftnl_expr *queue_native(const struct pf_nft_config *cfg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("queue");

	if (e) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, cfg->queue_num);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
				   cfg->bypass ? NFT_QUEUE_FLAG_BYPASS : 0);
	}
	return e;
}

static struct nftnl_expr *queue_compat(const struct pf_nft_config *cfg)
{
	/* x_tables sizes are 8-aligned (XT_ALIGN); send what iptables-nft sends. */
	size_t len = (sizeof(struct xt_NFQ_info_v3) + 7) & ~(size_t)7;
	struct xt_NFQ_info_v3 *info;
	struct nftnl_expr *e;

	e = nftnl_expr_alloc("target");
	if (!e)
		return NULL;
	info = calloc(1, len);
	if (!info) {
		nftnl_expr_free(e);
		return NULL;
	}
	info->queuenum = cfg->queue_num;
	info->queues_total = 1;
	info->flags = cfg->bypass ? NFQ_FLAG_BYPASS : 0;
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	/* libnftnl takes ownership of the info buffer. */
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, (uint32_t)len);
	return e;
}

enum rule_kind {
	RULE_LO,
	RULE_REJECT,
	RULE_REUSE4,
	RULE_REUSE6,
	RULE_QUEUE,
	RULE_FRAG4,
	RULE_FRAG6,
	RULE_REJECT_UDP,
	RULE_UDP_NEW,
	RULE_TCP_CUT,
	RULE_DNS,
	RULE_LO_IN,
};

static bool add_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	return add_expr(r, meta(NFT_META_L4PROTO)) && add_expr(r, cmp_eq(&proto, sizeof(proto)));
}

/* key (NFT_CT_STATE, NFT_CT_STATUS: 32 bits) & mask into register 1 */
static bool add_ct_masked(struct nftnl_rule *r, uint32_t key, uint32_t mask)
{
	struct nftnl_expr *ct = nftnl_expr_alloc("ct");

	if (!ct)
		return false;
	nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, ct);
	return add_mask_reg1(r, &mask, sizeof(mask));
}

static struct nftnl_expr *cmp_neq(const void *data, uint32_t len);

/*
 * ct state new, and the entry not confirmed yet: the packet that created it. Conntrack
 * confirms an entry when its first packet leaves the last hook; every later packet of the
 * flow finds it confirmed (a UDP flow stays "new" until a reply, so state alone would queue
 * each packet sent before one).
 */
static bool add_ct_first(struct nftnl_rule *r)
{
	uint32_t zero = 0, new_bit = 1u << (IP_CT_NEW + 1), confirmed = 1u << IPS_CONFIRMED_BIT;

	return add_ct_masked(r, NFT_CT_STATE, new_bit) &&
	       add_expr(r, cmp_neq(&zero, sizeof(zero))) &&
	       add_ct_masked(r, NFT_CT_STATUS, confirmed) &&
	       add_expr(r, cmp_eq(&zero, sizeof(zero)));
}

/* reject with icmpx port-unreachable where the family allows (inet), else its ICMP code */
static struct nftnl_expr *reject_port_unreach(int family)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (!e)
		return NULL;
	if (family == NFPROTO_INET) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_PORT_UNREACH);
	} else {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
		/* ICMP_PORT_UNREACH (3), ICMPV6_PORT_UNREACH (4) */
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, family == NFPROTO_IPV6 ? 4 : 3);
	}
	return e;
}

static struct nftnl_expr *cmp_neq(const void *data, uint32_t len)
{
	struct nftnl_expr *e = cmp_eq(data, len);

	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
	return e;
}

/* In the inet table, the family first (the ip and ip6 tables are one family already). */
static bool add_nfproto(struct nftnl_rule *r, int family, uint8_t proto)
{
	if (family != NFPROTO_INET)
		return true;
	return add_expr(r, meta(NFT_META_NFPROTO)) && add_expr(r, cmp_eq(&proto, sizeof(proto)));
}

/*
 * A TCP fragment never matches the SYN rule (a non-first one has no TCP header; a first one
 * cut before the flags byte fails the payload load), yet the receiver reassembles it into a
 * SYN. The stack fragments after the output hook, so only raw sockets put fragments here:
 * queue them, and the engine judges a first fragment that carries the whole TCP header and
 * drops the others. IPv4: l4proto tcp, frag-off & (MF | offset) != 0.
 */
static bool add_frag4(struct nftnl_rule *r, int family)
{
	uint16_t mask = htons(0x3fff), zero = 0;

	return add_nfproto(r, family, NFPROTO_IPV4) && add_l4proto_tcp(r) &&
	       add_payload_masked(r, NFT_PAYLOAD_NETWORK_HEADER, 6, &mask, sizeof(mask)) &&
	       add_expr(r, cmp_neq(&zero, sizeof(zero)));
}

/* IPv6: any packet with a fragment header. The protocol cannot be trusted here (a first
 * fragment may cut its header chain before the TCP header, so the kernel finds no l4proto). */
static bool add_frag6(struct nftnl_rule *r, int family)
{
	uint8_t one = 1;
	struct nftnl_expr *x;

	if (!add_nfproto(r, family, NFPROTO_IPV6))
		return false;
	x = nftnl_expr_alloc("exthdr");
	if (!x)
		return false;
	nftnl_expr_set_u8(x, NFTNL_EXPR_EXTHDR_TYPE, IPPROTO_FRAGMENT);
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_OFFSET, 0);
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_LEN, 1);
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_FLAGS, NFT_EXTHDR_F_PRESENT);
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, x);
	return add_expr(r, cmp_eq(&one, sizeof(one)));
}

static void add_rule_msg_from(struct batch *b, int family, const char *table, const char *chain,
			      enum rule_kind kind, const struct pf_nft_config *cfg,
			      const struct pf_addr *from);

/* The reuse sets' keys: saddr . daddr . dport, each field in whole 32-bit registers. */
#define REUSE_KEY4_LEN 12
#define REUSE_KEY6_LEN 36
/* nft's type ids (ipv4_addr 7, ipv6_addr 8, inet_service 13) concatenated 6 bits apiece, so
 * `nft list set` prints the elements. */
#define REUSE_KEY4_TYPE ((((7u << 6) | 7u) << 6) | 13u)
#define REUSE_KEY6_TYPE ((((8u << 6) | 8u) << 6) | 13u)
#define REUSE_SET4_ID 1
#define REUSE_SET6_ID 2

/*
 * A SYN whose (saddr . daddr . dport) the engine allowed is accepted here, in the kernel,
 * instead of being queued again. Only packets the engine would read the same way: IPv4 not
 * a fragment (frag-off & (MF | offset) == 0, so no first fragment whose reassembly could say
 * otherwise), IPv6 with the TCP header right after the fixed header (no extension header, so
 * no fragment header); anything else goes on to the queue rule.
 */
static bool add_reuse(struct nftnl_rule *r, int family, bool v6)
{
	uint16_t mask = htons(0x3fff), zero = 0;
	uint8_t tcp = IPPROTO_TCP;
	struct nftnl_expr *l;

	if (!add_nfproto(r, family, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4))
		return false;
	if (v6) {
		if (!add_load(r, NFT_PAYLOAD_NETWORK_HEADER, 6, 1, NFT_REG_1) ||
		    !add_expr(r, cmp_eq(&tcp, sizeof(tcp))))
			return false;
	} else if (!add_payload_masked(r, NFT_PAYLOAD_NETWORK_HEADER, 6, &mask, sizeof(mask)) ||
		   !add_expr(r, cmp_eq(&zero, sizeof(zero)))) {
		return false;
	}
	if (!add_syn_only(r))
		return false;
	if (v6) {
		if (!add_load(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG32_00) ||
		    !add_load(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG32_04) ||
		    !add_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_08))
			return false;
	} else if (!add_load(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00) ||
		   !add_load(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_01) ||
		   !add_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02)) {
		return false;
	}
	l = nftnl_expr_alloc("lookup");
	if (!l)
		return false;
	nftnl_expr_set_u32(l, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_str(l, NFTNL_EXPR_LOOKUP_SET, v6 ? PF_NFT_REUSE_SET6 : PF_NFT_REUSE_SET4);
	nftnl_expr_set_u32(l, NFTNL_EXPR_LOOKUP_SET_ID, v6 ? REUSE_SET6_ID : REUSE_SET4_ID);
	nftnl_rule_add_expr(r, l);
	return add_expr(r, counter()) && add_expr(r, verdict_accept());
}

static void add_rule_msg(struct batch *b, int family, const char *table, const char *chain,
			 enum rule_kind kind, const struct pf_nft_config *cfg)
{
	add_rule_msg_from(b, family, table, chain, kind, cfg, NULL);
}

/* ip saddr == a (ip6 saddr for IPv6), its family first in the inet table */
static bool add_saddr(struct nftnl_rule *r, int family, const struct pf_addr *a)
{
	struct nftnl_expr *p;
	bool v4 = pf_addr_is_v4(a);

	if (!add_nfproto(r, family, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6))
		return false;
	p = nftnl_expr_alloc("payload");
	if (!p)
		return false;
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET, v4 ? 12 : 8);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_LEN, v4 ? 4 : 16);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, p);
	return add_expr(r, cmp_eq(v4 ? a->b + 12 : a->b, v4 ? 4 : 16));
}

static void add_rule_msg_from(struct batch *b, int family, const char *table, const char *chain,
			      enum rule_kind kind, const struct pf_nft_config *cfg,
			      const struct pf_addr *from)
{
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	const char *comment = NULL;
	bool ok = false;
	uint32_t lo = 1; /* LOOPBACK_IFINDEX: lo is ifindex 1 in every netns */
	struct nftnl_expr *rej;

	if (b->err)
		return;
	r = nftnl_rule_alloc();
	if (!r) {
		b->err = -ENOMEM;
		return;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	switch (kind) {
	case RULE_LO_IN:
		comment = RULE_LO_IN_COMMENT;
		ok = add_expr(r, meta(NFT_META_IIF)) && add_expr(r, cmp_eq(&lo, sizeof(lo))) &&
		     add_expr(r, counter()) && add_expr(r, verdict_accept());
		break;
	case RULE_LO:
		comment = RULE_LO_COMMENT;
		ok = add_expr(r, meta(NFT_META_OIF)) && add_expr(r, cmp_eq(&lo, sizeof(lo))) &&
		     add_expr(r, counter()) && add_expr(r, verdict_accept());
		break;
	case RULE_REJECT:
		comment = RULE_REJECT_COMMENT;
		rej = nftnl_expr_alloc("reject");
		if (rej) {
			nftnl_expr_set_u32(rej, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
			nftnl_expr_set_u8(rej, NFTNL_EXPR_REJECT_CODE, 0);
		}
		ok = rej && add_expr(r, meta(NFT_META_MARK)) &&
		     add_expr(r, cmp_eq(&cfg->reject_mark, sizeof(cfg->reject_mark))) &&
		     add_l4proto_tcp(r) && add_expr(r, counter());
		if (ok)
			nftnl_rule_add_expr(r, rej);
		else if (rej)
			nftnl_expr_free(rej);
		break;
	case RULE_REUSE4:
	case RULE_REUSE6:
		comment = RULE_REUSE_COMMENT;
		ok = add_reuse(r, family, kind == RULE_REUSE6);
		break;
	case RULE_QUEUE:
		comment = RULE_QUEUE_COMMENT;
		ok = add_syn_only(r) && add_expr(r, counter()) &&
		     add_expr(r, cfg->backend == PF_QUEUE_NATIVE ? queue_native(cfg)
								 : queue_compat(cfg));
		break;
	case RULE_REJECT_UDP:
		comment = RULE_REJECT_UDP_COMMENT;
		rej = reject_port_unreach(family);
		ok = rej && add_expr(r, meta(NFT_META_MARK)) &&
		     add_expr(r, cmp_eq(&cfg->reject_mark, sizeof(cfg->reject_mark))) &&
		     add_l4proto(r, IPPROTO_UDP) && add_expr(r, counter());
		if (ok)
			nftnl_rule_add_expr(r, rej);
		else if (rej)
			nftnl_expr_free(rej);
		break;
	case RULE_UDP_NEW:
		comment = RULE_UDP_COMMENT;
		ok = add_l4proto(r, IPPROTO_UDP) && add_ct_first(r) && add_expr(r, counter()) &&
		     add_expr(r, cfg->backend == PF_QUEUE_NATIVE ? queue_native(cfg)
								 : queue_compat(cfg));
		break;
	case RULE_TCP_CUT: {
		uint8_t syn = 0x02, zero = 0;

		comment = RULE_CUT_COMMENT;
		ok = add_l4proto_tcp(r) &&
		     add_payload_masked(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, &syn, sizeof(syn)) &&
		     add_expr(r, cmp_eq(&zero, sizeof(zero))) && add_ct_first(r) &&
		     add_expr(r, counter()) &&
		     add_expr(r, cfg->backend == PF_QUEUE_NATIVE ? queue_native(cfg)
								 : queue_compat(cfg));
		break;
	}
	case RULE_DNS: {
		uint16_t port = htons(53), all = 0xffff;

		comment = RULE_DNS_COMMENT;
		ok = from && add_saddr(r, family, from) && add_l4proto(r, IPPROTO_UDP) &&
		     add_payload_masked(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, &all, sizeof(all)) &&
		     add_expr(r, cmp_eq(&port, sizeof(port))) && add_expr(r, counter()) &&
		     add_expr(r, cfg->backend == PF_QUEUE_NATIVE ? queue_native(cfg)
								 : queue_compat(cfg));
		break;
	}
	case RULE_FRAG4:
	case RULE_FRAG6:
		comment = RULE_FRAG_COMMENT;
		ok = (kind == RULE_FRAG4 ? add_frag4(r, family) : add_frag6(r, family)) &&
		     add_expr(r, counter()) &&
		     add_expr(r, cfg->backend == PF_QUEUE_NATIVE ? queue_native(cfg)
								 : queue_compat(cfg));
		break;
	}
	if (ok && set_comment(r, NFTNL_UDATA_RULE_COMMENT, comment, rule_set_data,
			      NFTNL_RULE_USERDATA) < 0)
		ok = false;
	if (!ok) {
		nftnl_rule_free(r);
		b->err = -ENOMEM;
		return;
	}
	nlh = msg_hdr(b, NFT_MSG_NEWRULE, family, NLM_F_APPEND | NLM_F_CREATE);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_commit(b, nlh, true);
}

/* Make sure the table exists, then delete it: DELTABLE alone fails with ENOENT on a fresh
 * netns and would abort the whole batch; NFT_MSG_DESTROYTABLE (6.3+) is not everywhere. */
static void add_remove_msgs(struct batch *b)
{
	for (size_t i = 0; i < PF_ARRAY_SIZE(all_families); i++) {
		add_table_msg(b, NFT_MSG_NEWTABLE, all_families[i], 0);
		add_table_msg(b, NFT_MSG_DELTABLE, all_families[i], 0);
	}
}

/* The tables a previous engine of the other backend left (their families are not ours). */
static void add_remove_other_msgs(struct batch *b, const struct pf_nft_config *cfg)
{
	for (size_t i = 0; i < PF_ARRAY_SIZE(all_families); i++) {
		bool ours = cfg->backend == PF_QUEUE_NATIVE ? all_families[i] == NFPROTO_INET
							    : all_families[i] != NFPROTO_INET;

		if (ours)
			continue;
		add_table_msg(b, NFT_MSG_NEWTABLE, all_families[i], 0);
		add_table_msg(b, NFT_MSG_DELTABLE, all_families[i], 0);
	}
}

/* The base chain's rules, in order: what an install writes and a restore writes again. */
static void add_chain_rules(struct batch *b, int family, const struct pf_nft_config *cfg)
{
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_LO, cfg);
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_REJECT, cfg);
	if (cfg->reuse_timeout_ms && family != NFPROTO_IPV6)
		add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_REUSE4, cfg);
	if (cfg->reuse_timeout_ms && family != NFPROTO_IPV4)
		add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_REUSE6, cfg);
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_QUEUE, cfg);
	if (family != NFPROTO_IPV6)
		add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_FRAG4, cfg);
	if (family != NFPROTO_IPV4)
		add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, RULE_FRAG6, cfg);
}

static void add_chain_op_msg(struct batch *b, uint16_t type, int family, const char *chain);

/* The flows and dns chains' rules (see nft.h). */
static void add_flow_rules(struct batch *b, int family, const struct pf_nft_config *cfg)
{
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_FLOW_CHAIN, RULE_LO, cfg);
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_FLOW_CHAIN, RULE_REJECT_UDP, cfg);
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_FLOW_CHAIN, RULE_REJECT, cfg);
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_FLOW_CHAIN, RULE_UDP_NEW, cfg);
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_FLOW_CHAIN, RULE_TCP_CUT, cfg);
}

static void add_input_rules(struct batch *b, int family, const struct pf_nft_config *cfg)
{
	add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_INPUT_CHAIN, RULE_LO_IN, cfg);
	for (size_t i = 0; cfg->dns && i < MIN(cfg->n_dns_from, (size_t)8); i++) {
		bool v4 = pf_addr_is_v4(&cfg->dns_from[i]);

		/* the ip table sees IPv4 only, the ip6 table IPv6 only */
		if ((family == NFPROTO_IPV4 && !v4) || (family == NFPROTO_IPV6 && v4))
			continue;
		add_rule_msg_from(b, family, PF_NFT_TABLE, PF_NFT_INPUT_CHAIN, RULE_DNS, cfg,
				  &cfg->dns_from[i]);
	}
	if (cfg->cut_inbound) {
		add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_INPUT_CHAIN, RULE_TCP_CUT, cfg);
		add_rule_msg(b, family, PF_NFT_TABLE, PF_NFT_INPUT_CHAIN, RULE_UDP_NEW, cfg);
	}
}

/* The flows and dns base chains (when cfg asks for them), emptied and written. An add of an
 * existing base chain with the same hook and priority changes nothing. */
static void add_extra_chains(struct batch *b, int family, const struct pf_nft_config *cfg,
			     bool flush)
{
	if (cfg->flows) {
		add_chain_msg_hook(b, family, PF_NFT_TABLE, PF_NFT_FLOW_CHAIN, true,
				   NF_INET_LOCAL_OUT, cfg->flow_priority);
		if (flush)
			add_chain_op_msg(b, NFT_MSG_DELRULE, family, PF_NFT_FLOW_CHAIN);
		add_flow_rules(b, family, cfg);
	}
	if (cfg->dns || cfg->cut_inbound) {
		add_chain_msg_hook(b, family, PF_NFT_TABLE, PF_NFT_INPUT_CHAIN, true,
				   NF_INET_LOCAL_IN, cfg->priority);
		if (flush)
			add_chain_op_msg(b, NFT_MSG_DELRULE, family, PF_NFT_INPUT_CHAIN);
		add_input_rules(b, family, cfg);
	}
}

static void add_reuse_sets(struct batch *b, int family, const struct pf_nft_config *cfg);

static void add_ruleset_msgs(struct batch *b, int family, const struct pf_nft_config *cfg)
{
	add_table_msg(b, NFT_MSG_NEWTABLE, family, TABLE_COMMENT);
	add_chain_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, true, cfg->priority);
	add_reuse_sets(b, family, cfg);
	add_chain_rules(b, family, cfg);
	add_extra_chains(b, family, cfg, false);
}

static int check_cfg(const struct pf_nft_config *cfg)
{
	if (!cfg || (cfg->backend != PF_QUEUE_NATIVE && cfg->backend != PF_QUEUE_COMPAT))
		return -EINVAL;
	/* Mark 0 is every unmarked packet: everything would be rejected. */
	if (cfg->reject_mark == 0)
		return -EINVAL;
	return 0;
}

static void build_install(struct batch *b, const struct pf_nft_config *cfg)
{
	batch_begin(b);
	add_remove_msgs(b);
	if (cfg->backend == PF_QUEUE_NATIVE) {
		add_ruleset_msgs(b, NFPROTO_INET, cfg);
	} else {
		for (size_t i = 0; i < PF_ARRAY_SIZE(compat_families); i++)
			add_ruleset_msgs(b, compat_families[i], cfg);
	}
	batch_end(b);
}

static struct batch *batch_new(void *buf, size_t size, uint32_t seq)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->buf = buf;
	b->size = size;
	b->seq = seq;
	b->seq0 = seq;
	b->fd = -1;
	return b;
}

static void build_restore(struct batch *b, const struct pf_nft_config *cfg, bool replace_chain,
			  const struct pf_nft_chain_ref *extra, size_t n_extra, bool install);

ssize_t pf_nft_build_batch(const struct pf_nft_config *cfg, void *buf, size_t size, uint32_t seq)
{
	_cleanup_free_ struct batch *b = NULL;
	int r = check_cfg(cfg);

	if (r < 0)
		return r;
	b = batch_new(buf, size, seq);
	if (!b)
		return -ENOMEM;
	build_restore(b, cfg, false, NULL, 0, true);
	return b->err ? b->err : (ssize_t)b->used;
}

ssize_t pf_nft_build_remove_batch(void *buf, size_t size, uint32_t seq)
{
	_cleanup_free_ struct batch *b = batch_new(buf, size, seq);

	if (!b)
		return -ENOMEM;
	batch_begin(b);
	add_remove_msgs(b);
	batch_end(b);
	return b->err ? b->err : (ssize_t)b->used;
}

static void mnl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

/* Send a batch and collect one answer per acked message. Returns 0, or the first error the
 * kernel reported (the kernel then aborted the whole batch). */
static int talk_on(int fd, const struct batch *b, int *failed_type);

static int batch_talk(const struct batch *b, int *failed_type, uint32_t *portid_out)
{
	_cleanup_(mnl_closep) struct mnl_socket *nl = NULL;
	_cleanup_free_ char *rbuf = NULL;
	struct timeval tv = {.tv_sec = ACK_TIMEOUT_S};
	int one = 1;
	unsigned answers = 0;
	uint32_t portid;

	*failed_type = -1;
	if (b->fd >= 0)
		return talk_on(b->fd, b, failed_type);
	rbuf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!rbuf)
		return -ENOMEM;
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	/* Errors without the whole request echoed back; a stuck kernel never hangs us. */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	portid = mnl_socket_get_portid(nl);
	if (portid_out)
		*portid_out = portid;
	if (mnl_socket_sendto(nl, b->buf, b->used) < 0)
		return -errno;

	/* nfnetlink handles the batch inside sendmsg(): every answer is queued by now. */
	while (answers < b->n_ack) {
		ssize_t len = mnl_socket_recvfrom(nl, rbuf, MNL_SOCKET_BUFFER_SIZE);
		const struct nlmsghdr *nlh;
		int rem;

		if (len < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		rem = (int)len;
		for (nlh = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, rem);
		     nlh = mnl_nlmsg_next(nlh, &rem)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_pid != portid && nlh->nlmsg_pid != 0)
				continue;
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			e = mnl_nlmsg_get_payload(nlh);
			answers++;
			/* The first error is the cause (the kernel went on only to report more);
			 * an error on the batch header itself (no CAP_NET_ADMIN) is the only
			 * answer there will be. Unread answers die with this socket. */
			if (e->error) {
				*failed_type = NFNL_MSG_TYPE(e->msg.nlmsg_type);
				return e->error < 0 ? e->error : -e->error;
			}
		}
	}
	return 0;
}

/*
 * The same on the caller's non-blocking socket, which outlives the batch: closing a netfilter
 * socket right after a commit waits for the kernel to free the rules it replaced (an RCU grace
 * period, milliseconds), so the engine keeps one per pod. Answers of earlier batches (late
 * errors of element adds) are told apart by sequence number.
 */
static int talk_on(int fd, const struct batch *b, int *failed_type)
{
	char rbuf[8192] __attribute__((aligned(8)));
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int64_t deadline = pf_mono_ns() + (int64_t)ACK_TIMEOUT_S * 1000000000;
	unsigned answers = 0;
	ssize_t n;

	for (int i = 0; i < 64 && recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0; i++)
		;
	do
		n = sendto(fd, b->buf, b->used, 0, (const struct sockaddr *)&kernel,
			   sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	while (answers < b->n_ack) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t len = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		int rem;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == EAGAIN) {
			int64_t left = (deadline - pf_mono_ns()) / 1000000;

			if (left <= 0 || poll(&pfd, 1, (int)MIN(left, 1000)) < 0)
				return -ETIMEDOUT;
			continue;
		}
		if (len < 0)
			return -errno;
		rem = (int)len;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->msg.nlmsg_seq - b->seq0 >= b->seq - b->seq0)
				continue;
			answers++;
			if (e->error) {
				*failed_type = NFNL_MSG_TYPE(e->msg.nlmsg_type);
				return e->error < 0 ? e->error : -e->error;
			}
		}
	}
	return 0;
}

static const char *msg_name(int type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:
		return "add table";
	case NFT_MSG_DELTABLE:
		return "delete table";
	case NFT_MSG_NEWCHAIN:
		return "add chain";
	case NFT_MSG_NEWRULE:
		return "add rule";
	default:
		return "batch";
	}
}

static int run(struct batch *b, const char *what, uint32_t *portid, struct pf_error *err)
{
	int type, r;

	if (b->err)
		return pf_error_set(err, -b->err, "%s: building the netlink batch: %s", what,
				    strerror(-b->err));
	r = batch_talk(b, &type, portid);
	if (r < 0)
		return pf_error_set(err, -r, "%s: %s: %s", what, msg_name(type), strerror(-r));
	return 0;
}

static struct batch *batch_alloc(void)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->buf = malloc(BATCH_MAX);
	if (!b->buf) {
		free(b);
		return NULL;
	}
	b->size = BATCH_MAX;
	/* Sequence numbers only need to differ between batches on one socket; each batch has
	 * its own socket, so any start will do. */
	b->seq = (uint32_t)pf_mono_ns();
	b->seq0 = b->seq;
	b->fd = -1;
	return b;
}

static void batch_freep(struct batch **b)
{
	if (*b) {
		free((*b)->buf);
		free(*b);
	}
}

int pf_nft_remove(const struct pf_nft_config *cfg, struct pf_error *err)
{
	_cleanup_(batch_freep) struct batch *b = batch_alloc();

	(void)cfg;
	if (!b)
		return pf_error_set(err, ENOMEM, "out of memory");
	batch_begin(b);
	add_remove_msgs(b);
	batch_end(b);
	return run(b, "remove ruleset", NULL, err);
}

int pf_nft_remove_on(int fd, struct pf_error *err)
{
	_cleanup_(batch_freep) struct batch *b = batch_alloc();

	if (!b)
		return pf_error_set(err, ENOMEM, "out of memory");
	b->fd = fd;
	batch_begin(b);
	add_remove_msgs(b);
	batch_end(b);
	return run(b, "remove ruleset", NULL, err);
}

int pf_nft_probe_backend(enum pf_queue_backend *out, struct pf_error *err)
{
	_cleanup_(batch_freep) struct batch *b = batch_alloc();
	struct pf_nft_config cfg;
	char table[64];
	int type, r;

	if (!b)
		return pf_error_set(err, ENOMEM, "out of memory");
	pf_nft_config_init(&cfg);
	cfg.backend = PF_QUEUE_NATIVE;
	/* A name of our own so a concurrent probe or a real table is never touched. The
	 * batch adds and deletes it, so nothing remains whether it succeeds or fails. */
	snprintf(table, sizeof(table), "podfence-probe-%d-%u", (int)getpid(),
		 __atomic_fetch_add(&probe_counter, 1, __ATOMIC_RELAXED));
	batch_begin(b);
	{
		struct nftnl_table *t = nftnl_table_alloc();
		struct nlmsghdr *nlh;

		if (!t)
			return pf_error_set(err, ENOMEM, "out of memory");
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
		nlh = msg_hdr(b, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE);
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_commit(b, nlh, true);
		add_chain_msg(b, NFPROTO_INET, table, "probe", false, 0);
		add_rule_msg(b, NFPROTO_INET, table, "probe", RULE_QUEUE, &cfg);
		nlh = msg_hdr(b, NFT_MSG_DELTABLE, NFPROTO_INET, 0);
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_commit(b, nlh, true);
		nftnl_table_free(t);
	}
	batch_end(b);
	if (b->err)
		return pf_error_set(err, -b->err, "probe: building the netlink batch: %s",
				    strerror(-b->err));
	r = batch_talk(b, &type, NULL);
	if (r == 0) {
		*out = PF_QUEUE_NATIVE;
		return 0;
	}
	if ((r == -ENOENT || r == -EOPNOTSUPP) && type == NFT_MSG_NEWRULE) {
		*out = PF_QUEUE_COMPAT;
		return 0;
	}
	return pf_error_set(err, -r, "probe nftables queue support: %s: %s", msg_name(type),
			    strerror(-r));
}

/* ---- restoring a tampered ruleset --------------------------------------------------------- */

/* DELRULE without a handle (flush the chain) or DELCHAIN; NEWCHAIN without a hook (creates a
 * regular chain, changes nothing on an existing one). */
static void add_chain_op_msg(struct batch *b, uint16_t type, int family, const char *chain)
{
	struct nlmsghdr *nlh;

	if (b->err)
		return;
	if (type == NFT_MSG_DELRULE) {
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r) {
			b->err = -ENOMEM;
			return;
		}
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, PF_NFT_TABLE);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nlh = msg_hdr(b, type, family, 0);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	} else {
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (!c) {
			b->err = -ENOMEM;
			return;
		}
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, PF_NFT_TABLE);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
		nlh = msg_hdr(b, type, family, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	}
	batch_commit(b, nlh, true);
}

/* NEWSET: the reuse set of one address family (created, or left as it is: an add without
 * EXCL of a set that exists is a no-op). */
static void add_set_msg(struct batch *b, int family, bool v6)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;

	if (b->err)
		return;
	s = nftnl_set_alloc();
	if (!s) {
		b->err = -ENOMEM;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, PF_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, v6 ? PF_NFT_REUSE_SET6 : PF_NFT_REUSE_SET4);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, (uint32_t)family);
	nftnl_set_set_u32(s, NFTNL_SET_ID, v6 ? REUSE_SET6_ID : REUSE_SET4_ID);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, v6 ? REUSE_KEY6_TYPE : REUSE_KEY4_TYPE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v6 ? REUSE_KEY6_LEN : REUSE_KEY4_LEN);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, PF_NFT_REUSE_MAX);
	nlh = msg_hdr(b, NFT_MSG_NEWSET, family, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	batch_commit(b, nlh, true);
}

/* NEWSETELEM with elements (to add, not acked: see pf_nft_reuse_add), or DELSETELEM without
 * any (the kernel flushes the whole set). */
static void add_setelem_msg(struct batch *b, uint16_t type, int family, bool v6,
			    const struct pf_nft_config *cfg, const struct pf_nft_reuse_elem *e,
			    size_t n)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	size_t added = 0;

	if (b->err)
		return;
	s = nftnl_set_alloc();
	if (!s) {
		b->err = -ENOMEM;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, PF_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, v6 ? PF_NFT_REUSE_SET6 : PF_NFT_REUSE_SET4);
	for (size_t i = 0; i < n; i++) {
		uint8_t key[REUSE_KEY6_LEN] = {0};
		uint16_t port = htons(e[i].dport);
		struct nftnl_set_elem *el;
		size_t a = v6 ? 16 : 4, off = v6 ? 0 : 12;

		if (e[i].v6 != v6)
			continue;
		el = nftnl_set_elem_alloc();
		if (!el) {
			nftnl_set_free(s);
			b->err = -ENOMEM;
			return;
		}
		memcpy(key, e[i].src.b + off, a);
		memcpy(key + a, e[i].dst.b + off, a);
		memcpy(key + 2 * a, &port, sizeof(port));
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key,
				   v6 ? REUSE_KEY6_LEN : REUSE_KEY4_LEN);
		/* Its own timeout: a set left by an engine with another setting keeps its own
		 * default (the kernel does not update it). */
		nftnl_set_elem_set_u64(el, NFTNL_SET_ELEM_TIMEOUT, cfg->reuse_timeout_ms);
		nftnl_set_elem_add(s, el);
		added++;
	}
	if (type == NFT_MSG_NEWSETELEM && !added) {
		nftnl_set_free(s);
		return;
	}
	nlh = type == NFT_MSG_NEWSETELEM
		  ? nftnl_nlmsg_build_hdr(memset(b->scratch, 0, sizeof(b->scratch)), type,
					  (uint16_t)family, NLM_F_CREATE, b->seq++)
		  : msg_hdr(b, type, family, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	batch_commit(b, nlh, type != NFT_MSG_NEWSETELEM);
}

/* The reuse sets of a family's table: ip has allowed4, ip6 allowed6, inet both. */
static bool family_has_set(int family, bool v6)
{
	return v6 ? family != NFPROTO_IPV4 : family != NFPROTO_IPV6;
}

/* Created if missing and emptied: nothing allowed under an earlier ruleset survives it. */
static void add_reuse_sets(struct batch *b, int family, const struct pf_nft_config *cfg)
{
	if (!cfg->reuse_timeout_ms)
		return;
	for (int v6 = 0; v6 < 2; v6++)
		if (family_has_set(family, v6)) {
			add_set_msg(b, family, v6);
			add_setelem_msg(b, NFT_MSG_DELSETELEM, family, v6, cfg, NULL, 0);
		}
}

/*
 * One family's part of a restore. The base chain is never deleted while it is ours: deleting
 * it unregisters its hook, and the kernel drops every packet still queued through it. So the
 * table is created or woken, the chain created or left (an add with the same hook and
 * priority is a no-op on an existing chain), its rules flushed and written again, all in the
 * one transaction. Only when `output` is not our base chain any more (the pod made one of
 * its own under that name) does `replace_chain` delete and recreate it.
 */
static void add_restore_msgs(struct batch *b, int family, const struct pf_nft_config *cfg,
			     bool replace_chain, const struct pf_nft_chain_ref *extra,
			     size_t n_extra, unsigned table_opts)
{
	add_table_msg(b, NFT_MSG_NEWTABLE, family, TABLE_WAKE | table_opts);
	if (replace_chain) {
		add_chain_op_msg(b, NFT_MSG_NEWCHAIN, family, PF_NFT_CHAIN);
		add_chain_op_msg(b, NFT_MSG_DELRULE, family, PF_NFT_CHAIN);
		add_chain_op_msg(b, NFT_MSG_DELCHAIN, family, PF_NFT_CHAIN);
	}
	add_chain_msg(b, family, PF_NFT_TABLE, PF_NFT_CHAIN, true, cfg->priority);
	add_chain_op_msg(b, NFT_MSG_DELRULE, family, PF_NFT_CHAIN);
	add_reuse_sets(b, family, cfg);
	add_chain_rules(b, family, cfg);
	add_extra_chains(b, family, cfg, true);
	/* Chains someone added to our table: make sure each exists (so a name already gone does
	 * not abort the batch), empty them all (jumps between them), then delete them. */
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i].family == family)
			add_chain_op_msg(b, NFT_MSG_NEWCHAIN, family, extra[i].name);
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i].family == family)
			add_chain_op_msg(b, NFT_MSG_DELRULE, family, extra[i].name);
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i].family == family)
			add_chain_op_msg(b, NFT_MSG_DELCHAIN, family, extra[i].name);
}

/* install: also remove the tables of the other backend's families, and carry our comment. */
static void build_restore(struct batch *b, const struct pf_nft_config *cfg, bool replace_chain,
			  const struct pf_nft_chain_ref *extra, size_t n_extra, bool install)
{
	unsigned opts = install ? TABLE_COMMENT : 0;

	batch_begin(b);
	if (install)
		add_remove_other_msgs(b, cfg);
	if (cfg->backend == PF_QUEUE_NATIVE) {
		add_restore_msgs(b, NFPROTO_INET, cfg, replace_chain, extra, n_extra, opts);
	} else {
		for (size_t i = 0; i < PF_ARRAY_SIZE(compat_families); i++)
			add_restore_msgs(b, compat_families[i], cfg, replace_chain, extra, n_extra,
					 opts);
	}
	batch_end(b);
}

ssize_t pf_nft_build_restore_batch(const struct pf_nft_config *cfg, bool replace_chain,
				   const struct pf_nft_chain_ref *extra, size_t n_extra, void *buf,
				   size_t size, uint32_t seq)
{
	_cleanup_free_ struct batch *b = NULL;
	int r = check_cfg(cfg);

	if (r < 0)
		return r;
	b = batch_new(buf, size, seq);
	if (!b)
		return -ENOMEM;
	build_restore(b, cfg, replace_chain, extra, n_extra, false);
	return b->err ? b->err : (ssize_t)b->used;
}

static int restore_once(int fd, const struct pf_nft_config *cfg, bool replace_chain,
			const struct pf_nft_chain_ref *extra, size_t n_extra, bool install,
			uint32_t *portid, struct pf_error *err)
{
	_cleanup_(batch_freep) struct batch *b = batch_alloc();

	if (!b)
		return pf_error_set(err, ENOMEM, "out of memory");
	b->fd = fd;
	build_restore(b, cfg, replace_chain, extra, n_extra, install);
	return run(b, install ? "install ruleset" : "restore ruleset", portid, err);
}

/* Last resort, one transaction as well: our table, replaced whole. */
static int install_fresh(int fd, const struct pf_nft_config *cfg, uint32_t *portid,
			 struct pf_error *err)
{
	_cleanup_(batch_freep) struct batch *b = batch_alloc();

	if (!b)
		return pf_error_set(err, ENOMEM, "out of memory");
	b->fd = fd;
	build_install(b, cfg);
	return run(b, "install ruleset", portid, err);
}

int pf_nft_restore(int fd, const struct pf_nft_config *cfg, const struct pf_nft_chain_ref *extra,
		   size_t n_extra, uint32_t *portid, struct pf_error *err)
{
	int r;

	if (check_cfg(cfg) < 0)
		return pf_error_set(err, EINVAL, "invalid nftables configuration");
	if (n_extra > PF_NFT_MAX_EXTRA_CHAINS)
		n_extra = PF_NFT_MAX_EXTRA_CHAINS;
	/* Each try is one transaction: a failed one changed nothing, so the next starts over. */
	r = restore_once(fd, cfg, false, extra, n_extra, false, portid, err);
	if (r == 0)
		goto done;
	/* A chain of someone else's still jumped to, or gone in a way we cannot see: the rules
	 * matter more than the leftovers. */
	if (n_extra) {
		pf_error_clear(err);
		r = restore_once(fd, cfg, false, NULL, 0, false, portid, err);
		if (r == 0)
			goto done;
	}
	/* EEXIST: `output` exists but is not our base chain (another hook, priority or type). */
	if (r == -EEXIST || r == -EOPNOTSUPP) {
		pf_error_clear(err);
		r = restore_once(fd, cfg, true, NULL, 0, false, portid, err);
		if (r == 0)
			goto done;
	}
	pf_error_clear(err);
	return install_fresh(fd, cfg, portid, err);
done:
	return 0;
}

int pf_nft_replace(int fd, const struct pf_nft_config *cfg, uint32_t *portid, struct pf_error *err)
{
	if (check_cfg(cfg) < 0)
		return pf_error_set(err, EINVAL, "invalid nftables configuration");
	return install_fresh(fd, cfg, portid, err);
}

int pf_nft_install(const struct pf_nft_config *cfg, struct pf_error *err)
{
	return pf_nft_install_as(-1, cfg, NULL, err);
}

int pf_nft_install_as(int fd, const struct pf_nft_config *cfg, uint32_t *portid,
		      struct pf_error *err)
{
	int r;

	if (check_cfg(cfg) < 0)
		return pf_error_set(err, EINVAL, "invalid nftables configuration");
	/* Our table and base chain are kept when they are there (a restarted engine's queue
	 * may hold SYNs already): only the rules and sets inside are replaced. */
	r = restore_once(fd, cfg, false, NULL, 0, true, portid, err);
	if (r == 0)
		return 0;
	/* EEXIST: `output` exists but is not our base chain (another hook, priority or type). */
	if (r == -EEXIST || r == -EOPNOTSUPP) {
		pf_error_clear(err);
		r = restore_once(fd, cfg, true, NULL, 0, true, portid, err);
		if (r == 0)
			return 0;
	}
	pf_error_clear(err);
	return install_fresh(fd, cfg, portid, err);
}

/* ---- verdict reuse ------------------------------------------------------------------------ */

static void build_reuse(struct batch *b, const struct pf_nft_config *cfg, uint16_t type,
			const struct pf_nft_reuse_elem *e, size_t n)
{
	batch_begin(b);
	for (int v6 = 0; v6 < 2; v6++) {
		int family = cfg->backend == PF_QUEUE_NATIVE ? NFPROTO_INET
			     : v6			     ? NFPROTO_IPV6
							     : NFPROTO_IPV4;

		add_setelem_msg(b, type, family, v6, cfg, e, n);
	}
	batch_end(b);
}

static ssize_t build_reuse_into(const struct pf_nft_config *cfg, uint16_t type,
				const struct pf_nft_reuse_elem *e, size_t n, void *buf, size_t size,
				uint32_t seq, unsigned *n_ack)
{
	_cleanup_free_ struct batch *b = NULL;
	int r = check_cfg(cfg);

	if (r < 0)
		return r;
	if (!cfg->reuse_timeout_ms || n > PF_NFT_REUSE_BATCH)
		return -EINVAL;
	b = batch_new(buf, size, seq);
	if (!b)
		return -ENOMEM;
	build_reuse(b, cfg, type, e, n);
	if (n_ack)
		*n_ack = b->n_ack;
	return b->err ? b->err : (ssize_t)b->used;
}

ssize_t pf_nft_build_reuse_add_batch(const struct pf_nft_config *cfg,
				     const struct pf_nft_reuse_elem *e, size_t n, void *buf,
				     size_t size, uint32_t seq)
{
	return build_reuse_into(cfg, NFT_MSG_NEWSETELEM, e, n, buf, size, seq, NULL);
}

ssize_t pf_nft_build_reuse_flush_batch(const struct pf_nft_config *cfg, void *buf, size_t size,
				       uint32_t seq)
{
	return build_reuse_into(cfg, NFT_MSG_DELSETELEM, NULL, 0, buf, size, seq, NULL);
}

int pf_nft_reuse_open(int *fd, uint32_t *portid)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	socklen_t len = sizeof(sa);
	int one = 1, s;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
	if (s < 0)
		return -errno;
	/* Errors without the request echoed back. */
	(void)setsockopt(s, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	*fd = s;
	*portid = sa.nl_pid;
	return 0;
}

/* Whatever the kernel answered to earlier sends (errors of adds: a full set). */
static void reuse_drain(int fd)
{
	char buf[4096] __attribute__((aligned(8)));

	for (int i = 0; i < 64; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno != EINTR)
			return;
}

static int reuse_send(int fd, const void *buf, size_t len)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	ssize_t n;

	do
		n = sendto(fd, buf, len, 0, (const struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int pf_nft_reuse_add(int fd, const struct pf_nft_config *cfg, const struct pf_nft_reuse_elem *e,
		     size_t n)
{
	uint8_t buf[2 * MSG_SCRATCH] __attribute__((aligned(8)));
	ssize_t len;

	if (!n)
		return 0;
	reuse_drain(fd);
	len = build_reuse_into(cfg, NFT_MSG_NEWSETELEM, e, n, buf, sizeof(buf),
			       (uint32_t)pf_mono_ns(), NULL);
	if (len < 0)
		return (int)len;
	return reuse_send(fd, buf, (size_t)len);
}

int pf_nft_reuse_flush(int fd, const struct pf_nft_config *cfg, struct pf_error *err)
{
	uint8_t buf[MSG_SCRATCH] __attribute__((aligned(8)));
	char rbuf[4096] __attribute__((aligned(8)));
	uint32_t seq = (uint32_t)pf_mono_ns();
	unsigned n_ack = 0, answers = 0;
	int64_t deadline = pf_mono_ns() + (int64_t)ACK_TIMEOUT_S * 1000000000;
	ssize_t len;
	int r;

	reuse_drain(fd);
	len = build_reuse_into(cfg, NFT_MSG_DELSETELEM, NULL, 0, buf, sizeof(buf), seq, &n_ack);
	if (len < 0)
		return pf_error_set(err, (int)-len, "emptying the reuse sets: %s",
				    strerror((int)-len));
	r = reuse_send(fd, buf, (size_t)len);
	if (r < 0)
		return pf_error_set(err, -r, "emptying the reuse sets: %s", strerror(-r));
	/* nfnetlink runs the batch inside sendmsg(): the answers are queued by now; the poll
	 * is only for a kernel that does otherwise. */
	while (answers < n_ack) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t got = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		int rem;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN) {
			int64_t left = (deadline - pf_mono_ns()) / 1000000;

			if (left <= 0 || poll(&pfd, 1, (int)MIN(left, 1000)) < 0)
				return pf_error_set(err, ETIMEDOUT,
						    "emptying the reuse sets: no answer");
			continue;
		}
		if (got < 0)
			return pf_error_set(err, errno, "emptying the reuse sets: %s",
					    strerror(errno));
		rem = (int)got;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			/* Only answers to this batch (an add's late error is not one). */
			if (e->msg.nlmsg_seq - seq > n_ack + 1)
				continue;
			if (e->error)
				return pf_error_set(err, -e->error, "emptying the reuse sets: %s",
						    strerror(-e->error));
			answers++;
		}
	}
	return 0;
}

/* ---- watching the ruleset ---------------------------------------------------------------- */

int pf_nft_monitor_open(int *fd)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int group = NFNLGRP_NFTABLES, size = 1 << 20;
	int s;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
	if (s < 0)
		return -errno;
	/* Room for a burst of changes; a loss is noticed (ENOBUFS) and answered with a restore. */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	*fd = s;
	return 0;
}

static bool our_family(const struct pf_nft_config *cfg, int family)
{
	if (cfg->backend == PF_QUEUE_NATIVE)
		return family == NFPROTO_INET;
	return family == NFPROTO_IPV4 || family == NFPROTO_IPV6;
}

/* Attribute 1 of every nf_tables object message is the name of its table (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, ..._OBJ_, ..._FLOWTABLE_TABLE). */
struct msg_attrs {
	const char *table;
	const char *name; /* chains: NFTA_CHAIN_NAME */
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct msg_attrs *m = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		m->table = mnl_attr_get_str(a);
	else if (type == NFTA_CHAIN_NAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		m->name = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static void note_msg(const struct pf_nft_config *cfg, const struct nlmsghdr *nlh,
		     struct pf_nft_gen *g)
{
	const struct nfgenmsg *nfg;
	struct msg_attrs m = {};
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	bool ours;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)))
		return;
	nfg = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*nfg), attr_cb, &m);
	if (!m.table)
		return;
	ours = !strcmp(m.table, PF_NFT_TABLE) && our_family(cfg, nfg->nfgen_family);
	if (ours) {
		g->touched = true;
		if (type == NFT_MSG_NEWCHAIN && m.name && strcmp(m.name, PF_NFT_CHAIN) &&
		    !(cfg->flows && !strcmp(m.name, PF_NFT_FLOW_CHAIN)) &&
		    !((cfg->dns || cfg->cut_inbound) && !strcmp(m.name, PF_NFT_INPUT_CHAIN))) {
			for (size_t i = 0; i < g->n_chains; i++)
				if (g->chains[i].family == nfg->nfgen_family &&
				    !strcmp(g->chains[i].name, m.name))
					return;
			if (g->n_chains < PF_NFT_MAX_EXTRA_CHAINS &&
			    strlen(m.name) < sizeof(g->chains[0].name)) {
				g->chains[g->n_chains].family = nfg->nfgen_family;
				snprintf(g->chains[g->n_chains].name, sizeof(g->chains[0].name),
					 "%s", m.name);
				g->n_chains++;
			} else {
				g->chains_overflow = true;
			}
		}
		return;
	}
	if (type == NFT_MSG_NEWTABLE && !g->foreign_table) {
		g->foreign_table = true;
		snprintf(g->foreign_name, sizeof(g->foreign_name), "%s", m.table);
		g->foreign_family = nfg->nfgen_family;
	}
}

int pf_nft_monitor_read(int fd, const struct pf_nft_config *cfg, struct pf_nft_gen *g,
			unsigned max_reads, pf_nft_gen_done_fn done, void *data)
{
	static char buf[1 << 16] __attribute__((aligned(8)));

	for (unsigned n = 0; n < max_reads; n++) {
		ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int rem;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		if (len == 0)
			return -EAGAIN;
		rem = (int)len;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
				continue;
			if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN) {
				/* The generation is committed: its sender's port id says whose. */
				done(data, nlh->nlmsg_pid, g);
				memset(g, 0, sizeof(*g));
				continue;
			}
			note_msg(cfg, nlh, g);
		}
	}
	return 0;
}
