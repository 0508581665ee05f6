/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cutting flows in a netns's conntrack table (see ct.h): one dump, then one delete each. */
#include <netinet/in.h>
#include <sys/socket.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#include "ct.h"
#include "util.h"

struct dump {
	pf_ct_judge_fn judge;
	void *data;
	struct nf_conntrack **cut;
	size_t n_cut, n_seen;
	bool oom;
};

static bool tcp_established(uint8_t state)
{
	/* after the handshake: what enforcement must reach (a SYN_SENT one is judged anyway) */
	switch (state) {
	case TCP_CONNTRACK_ESTABLISHED:
	case TCP_CONNTRACK_FIN_WAIT:
	case TCP_CONNTRACK_CLOSE_WAIT:
	case TCP_CONNTRACK_LAST_ACK:
		return true;
	default:
		return false;
	}
}

static void flow_of(const struct nf_conntrack *ct, struct pf_ct_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET) {
		uint32_t s = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC),
			 d = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST);

		pf_addr_from_v4(&f->src, &s);
		pf_addr_from_v4(&f->dst, &d);
	} else {
		pf_addr_from_v6(&f->src, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC));
		pf_addr_from_v6(&f->dst, nfct_get_attr(ct, ATTR_ORIG_IPV6_DST));
	}
	f->sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
	f->dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
}

static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct dump *d = data;
	struct pf_ct_flow f;
	uint8_t proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);

	if (proto == IPPROTO_TCP) {
		if (!nfct_attr_is_set(ct, ATTR_TCP_STATE) ||
		    !tcp_established(nfct_get_attr_u8(ct, ATTR_TCP_STATE)))
			return NFCT_CB_CONTINUE;
	} else if (proto != IPPROTO_UDP) {
		return NFCT_CB_CONTINUE;
	}
	if (d->n_seen >= PF_CT_MAX_CUT)
		return NFCT_CB_CONTINUE;
	d->n_seen++;
	flow_of(ct, &f);
	if (!d->judge(d->data, &f))
		return NFCT_CB_CONTINUE;
	d->cut[d->n_cut] = nfct_clone(ct);
	if (!d->cut[d->n_cut]) {
		d->oom = true;
		return NFCT_CB_STOP;
	}
	d->n_cut++;
	return NFCT_CB_CONTINUE;
}

static void nfct_closep(struct nfct_handle **h)
{
	if (*h)
		nfct_close(*h);
}

int pf_ct_cut(pf_ct_judge_fn judge, void *data, size_t *n_seen, size_t *n_cut, struct pf_error *err)
{
	_cleanup_(nfct_closep) struct nfct_handle *h = NULL;
	struct dump d = {.judge = judge, .data = data};
	uint32_t family = AF_UNSPEC;
	size_t deleted = 0;
	int r = 0;

	d.cut = calloc(PF_CT_MAX_CUT, sizeof(*d.cut));
	if (!d.cut)
		return pf_error_set(err, ENOMEM, "out of memory");
	h = nfct_open(CONNTRACK, 0);
	if (!h) {
		r = pf_error_set(err, errno, "conntrack: open: %s", strerror(errno));
		goto out;
	}
	nfct_callback_register(h, NFCT_T_ALL, dump_cb, &d);
	if (nfct_query(h, NFCT_Q_DUMP, &family) < 0) {
		r = pf_error_set(err, errno, "conntrack: dump: %s", strerror(errno));
		goto out;
	}
	if (d.oom) {
		r = pf_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	nfct_callback_unregister(h);
	for (size_t i = 0; i < d.n_cut; i++) {
		/* ENOENT: the flow ended meanwhile, which is what we wanted anyway */
		if (nfct_query(h, NFCT_Q_DESTROY, d.cut[i]) == 0)
			deleted++;
		else if (errno != ENOENT && !r)
			r = pf_error_set(err, errno, "conntrack: delete: %s", strerror(errno));
	}
out:
	for (size_t i = 0; i < d.n_cut; i++)
		nfct_destroy(d.cut[i]);
	free(d.cut);
	if (n_seen)
		*n_seen = d.n_seen;
	if (n_cut)
		*n_cut = deleted;
	return r;
}
