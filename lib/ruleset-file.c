/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The last good resolved ruleset on disk: a checked binary encoding, written atomically. */
#include <endian.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ruleset-file.h"

/*
 * Layout, little endian: "PFRSET\0" + version byte, u64 payload length, u64 FNV-1a of the
 * payload, then the payload: u32 policies; each: u32 id, u32 priority, u8 cluster (1: a
 * ClusterFencePolicy, the tier evaluated first), str namespace,
 * str name, u32 sources + 16 bytes each, u32 rules; each rule: u8 action, u8 log, u8 any_dst,
 * u32 rule_index, u32 ips + 16 bytes each, u32 prefixes + 17 bytes each (address, length),
 * u32 port ranges + 5 bytes each (port, end port, protocol), u32 fqdns + a str each. str: u32
 * length + bytes. Version 3 added the protocol and the fqdns.
 */
static const char MAGIC[8] = {'P', 'F', 'R', 'S', 'E', 'T', 0, 3};
#define HEADER_LEN 24

struct wbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > w->cap) {
		size_t cap = MAX(w->cap * 2, w->len + n + 4096);
		char *p = realloc(w->p, cap);

		if (!p) {
			w->failed = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	v = htole32(v);
	put(w, &v, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	v = htole64(v);
	put(w, &v, 8);
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	n = MIN(n, (size_t)PF_RULESET_FILE_MAX_STR);
	put_u32(w, (uint32_t)n);
	put(w, s, n);
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int pf_ruleset_encode(const struct pf_ruleset *rs, char **out, size_t *len)
{
	static const struct pf_ruleset empty;
	struct wbuf w = {};
	uint64_t h;

	/* The file is what a restarted engine enforces before it reads the store: Audit policies
	 * decide nothing, so they are left out (their events resume with the store). */
	if (pf_ruleset_has_audit(rs)) {
		struct pf_ruleset v;
		int r = pf_ruleset_view(rs, false, &v);

		if (r < 0)
			return r;
		r = pf_ruleset_encode(&v, out, len);
		pf_ruleset_view_done(&v);
		return r;
	}
	if (!rs)
		rs = &empty;
	put(&w, MAGIC, sizeof(MAGIC));
	put_u64(&w, 0); /* length and checksum, filled in below */
	put_u64(&w, 0);
	put_u32(&w, (uint32_t)rs->n_policies);
	for (size_t i = 0; i < rs->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];

		put_u32(&w, p->id);
		put_u32(&w, p->priority);
		put_u8(&w, p->cluster);
		put_str(&w, p->namespace);
		put_str(&w, p->name);
		put_u32(&w, (uint32_t)p->n_src);
		for (size_t k = 0; k < p->n_src; k++)
			put(&w, p->src[k].b, 16);
		put_u32(&w, (uint32_t)p->n_rules);
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *r = &p->rules[j];

			put_u8(&w, (uint8_t)r->action);
			put_u8(&w, r->log);
			put_u8(&w, r->any_dst);
			put_u32(&w, r->rule_index);
			put_u32(&w, (uint32_t)r->n_dst_ips);
			for (size_t k = 0; k < r->n_dst_ips; k++)
				put(&w, r->dst_ips[k].b, 16);
			put_u32(&w, (uint32_t)r->n_dst_nets);
			for (size_t k = 0; k < r->n_dst_nets; k++) {
				put(&w, r->dst_nets[k].addr.b, 16);
				put_u8(&w, r->dst_nets[k].len);
			}
			put_u32(&w, (uint32_t)r->n_ports);
			for (size_t k = 0; k < r->n_ports; k++) {
				uint16_t a = htole16(r->ports[k].port),
					 b = htole16(r->ports[k].end_port);

				put(&w, &a, 2);
				put(&w, &b, 2);
				put_u8(&w, r->ports[k].protocol);
			}
			put_u32(&w, (uint32_t)r->n_fqdns);
			for (size_t k = 0; k < r->n_fqdns; k++)
				put_str(&w, r->fqdns[k]);
		}
	}
	if (w.failed) {
		free(w.p);
		return -ENOMEM;
	}
	h = htole64(fnv1a(w.p + HEADER_LEN, w.len - HEADER_LEN));
	{
		uint64_t n = htole64((uint64_t)(w.len - HEADER_LEN));

		memcpy(w.p + 8, &n, 8);
		memcpy(w.p + 16, &h, 8);
	}
	*out = w.p;
	*len = w.len;
	return 0;
}

struct rbuf {
	const char *p;
	size_t left;
	bool bad;
};

static bool get(struct rbuf *r, void *d, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		return false;
	}
	memcpy(d, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

static uint8_t get_u8(struct rbuf *r)
{
	uint8_t v = 0;

	get(r, &v, 1);
	return v;
}

static uint32_t get_u32(struct rbuf *r)
{
	uint32_t v = 0;

	get(r, &v, 4);
	return le32toh(v);
}

/* A count of items of size each: never more than what is left to read. */
static size_t get_count(struct rbuf *r, size_t each)
{
	uint32_t n = get_u32(r);

	if (r->bad || (size_t)n > r->left / each) {
		r->bad = true;
		return 0;
	}
	return n;
}

static char *get_str(struct rbuf *r)
{
	uint32_t n = get_u32(r);
	char *s;

	if (r->bad || n > PF_RULESET_FILE_MAX_STR || n > r->left) {
		r->bad = true;
		return NULL;
	}
	s = pf_strndup0(r->p, n);
	if (!s)
		return NULL;
	r->p += n;
	r->left -= n;
	return s;
}

static void *get_array(struct rbuf *r, size_t n, size_t sz, bool *oom)
{
	void *a = calloc(n ? n : 1, sz);

	if (!a)
		*oom = true;
	return a;
}

static int decode_rule(struct rbuf *r, struct pf_rs_rule *rr, bool *oom)
{
	uint8_t action = get_u8(r);

	rr->log = get_u8(r) != 0;
	rr->any_dst = get_u8(r) != 0;
	rr->rule_index = get_u32(r);
	if (action >= _PF_ACTION_MAX)
		r->bad = true;
	rr->action = (enum pf_action)action;
	rr->n_dst_ips = get_count(r, 16);
	rr->dst_ips = get_array(r, rr->n_dst_ips, sizeof(*rr->dst_ips), oom);
	if (*oom)
		return -ENOMEM;
	for (size_t k = 0; k < rr->n_dst_ips; k++)
		get(r, rr->dst_ips[k].b, 16);
	rr->n_dst_nets = get_count(r, 17);
	rr->dst_nets = get_array(r, rr->n_dst_nets, sizeof(*rr->dst_nets), oom);
	if (*oom)
		return -ENOMEM;
	for (size_t k = 0; k < rr->n_dst_nets; k++) {
		get(r, rr->dst_nets[k].addr.b, 16);
		rr->dst_nets[k].len = get_u8(r);
		if (rr->dst_nets[k].len > 128)
			r->bad = true;
	}
	rr->n_ports = get_count(r, 5);
	rr->ports = get_array(r, rr->n_ports, sizeof(*rr->ports), oom);
	if (*oom)
		return -ENOMEM;
	for (size_t k = 0; k < rr->n_ports; k++) {
		uint16_t a = 0, b = 0;

		get(r, &a, 2);
		get(r, &b, 2);
		rr->ports[k].port = le16toh(a);
		rr->ports[k].end_port = le16toh(b);
		rr->ports[k].protocol = get_u8(r);
		if (rr->ports[k].protocol >= _PF_PROTO_MAX)
			r->bad = true;
	}
	rr->n_fqdns = get_count(r, 4);
	rr->fqdns = get_array(r, rr->n_fqdns, sizeof(*rr->fqdns), oom);
	if (*oom)
		return -ENOMEM;
	for (size_t k = 0; k < rr->n_fqdns; k++) {
		rr->fqdns[k] = get_str(r);
		if (!rr->fqdns[k]) {
			rr->n_fqdns = k; /* what was read is freed with the rule */
			if (!r->bad)
				*oom = true;
			return r->bad ? 0 : -ENOMEM;
		}
	}
	return 0;
}

int pf_ruleset_decode(const char *buf, size_t len, struct pf_ruleset **out, struct pf_error *err)
{
	struct pf_ruleset *rs;
	struct rbuf r;
	uint64_t n, h;
	bool oom = false;

	*out = NULL;
	if (len < HEADER_LEN || memcmp(buf, MAGIC, sizeof(MAGIC)))
		return pf_error_set(err, EINVAL, "not a saved ruleset (or of another version)");
	memcpy(&n, buf + 8, 8);
	memcpy(&h, buf + 16, 8);
	if (le64toh(n) != len - HEADER_LEN)
		return pf_error_set(err, EINVAL,
				    "truncated: %zu bytes of content, the header says %llu",
				    len - HEADER_LEN, (unsigned long long)le64toh(n));
	if (le64toh(h) != fnv1a(buf + HEADER_LEN, len - HEADER_LEN))
		return pf_error_set(err, EINVAL, "checksum mismatch: the content is damaged");
	r = (struct rbuf){buf + HEADER_LEN, len - HEADER_LEN, false};

	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return pf_error_set(err, ENOMEM, "out of memory");
	/* a policy takes at least 21 bytes */
	n = get_count(&r, 21);
	rs->policies = get_array(&r, n, sizeof(*rs->policies), &oom);
	for (size_t i = 0; i < n && !oom && !r.bad; i++) {
		struct pf_rs_policy *p = &rs->policies[i];

		rs->n_policies++;
		p->id = get_u32(&r);
		p->priority = get_u32(&r);
		{
			uint8_t cluster = get_u8(&r);

			if (cluster > 1)
				r.bad = true;
			p->cluster = cluster == 1;
		}
		p->namespace = get_str(&r);
		p->name = get_str(&r);
		if (!r.bad && (!p->namespace || !p->name)) {
			oom = true;
			break;
		}
		p->n_src = get_count(&r, 16);
		p->src = get_array(&r, p->n_src, sizeof(*p->src), &oom);
		if (oom)
			break;
		for (size_t k = 0; k < p->n_src; k++)
			get(&r, p->src[k].b, 16);
		/* a rule takes at least 19 bytes */
		p->n_rules = get_count(&r, 19);
		p->rules = get_array(&r, p->n_rules, sizeof(*p->rules), &oom);
		if (oom)
			break;
		for (size_t j = 0; j < p->n_rules && !r.bad; j++)
			if (decode_rule(&r, &p->rules[j], &oom) < 0)
				break;
	}
	if (!oom && !r.bad && r.left)
		r.bad = true;
	if (oom || r.bad) {
		pf_ruleset_free(rs);
		return oom ? pf_error_set(err, ENOMEM, "out of memory")
			   : pf_error_set(err, EINVAL, "malformed content");
	}
	*out = rs;
	return 0;
}

int pf_ruleset_save(const struct pf_ruleset *rs, const char *path, uint64_t *last)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	uint64_t h;
	int r;

	r = pf_ruleset_encode(rs, &buf, &len);
	if (r < 0)
		return r;
	memcpy(&h, buf + 16, 8);
	if (last && *last == h && access(path, F_OK) == 0)
		return 0;
	r = pf_write_file_atomic(path, buf, len, 0600);
	if (r < 0)
		return r;
	if (last)
		*last = h;
	return 0;
}

int pf_ruleset_load_file(const char *path, struct pf_ruleset **out, struct pf_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = pf_read_file(path, PF_RULESET_FILE_MAX, &buf, &len);
	if (r < 0)
		return pf_error_set(err, -r, "%s: %s", path, strerror(-r));
	r = pf_ruleset_decode(buf, len, out, err);
	if (r < 0)
		return pf_error_prefix(err, "%s", path);
	return 0;
}
