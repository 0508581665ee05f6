/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FencePolicy model (fencepolicy(5)): parsed from YAML or JSON, validated, defaults applied. */
#ifndef PF_POLICY_H
#define PF_POLICY_H

#include "addr.h"
#include "error.h"

#define PF_POLICY_API_VERSION "podfence.io/v1alpha1"
#define PF_POLICY_KIND "FencePolicy"
#define PF_POLICY_KIND_CLUSTER "ClusterFencePolicy"
#define PF_POLICY_DEFAULT_PRIORITY 1000
#define PF_POLICY_MAX_PRIORITY 65535
#define PF_POLICY_MAX_APPLIES_TO 64
#define PF_POLICY_MAX_RULES 256
/* Bounds the spec does not fix; an outsider must not make us allocate without limit. */
#define PF_POLICY_MAX_TO 256
#define PF_POLICY_MAX_PORTS 256
/*
 * What one policy may make the verdict cache hold (pf_policy_cost): destination-port pairs.
 * Past it the policy is invalid, so one tenant's policy is refused, not every build.
 */
#define PF_POLICY_MAX_COST 4096
#define PF_POLICY_MAX_FILE (4 * 1024 * 1024)
#define PF_POLICY_MAX_DOCS 1024

enum pf_action {
	PF_ACTION_ALLOW = 0,
	PF_ACTION_DENY,
	PF_ACTION_REJECT,
	PF_ACTION_ALERT,
	/* ClusterFencePolicy only: ends the cluster tier, the namespaced policies decide. Never
	 * a verdict, never a default action. */
	PF_ACTION_PASS,
	_PF_ACTION_MAX,
};

/* spec.mode: an Audit policy never changes a verdict; evaluation skips it, and what its first
 * matching rule would have decided is recorded where it differs from the verdict given. */
enum pf_mode {
	PF_MODE_ENFORCE = 0,
	PF_MODE_AUDIT,
};

const char *pf_mode_to_string(enum pf_mode m);
int pf_mode_from_string(const char *s);

enum pf_kind {
	PF_KIND_POD = 0,
	PF_KIND_DEPLOYMENT,
	PF_KIND_REPLICASET,
	PF_KIND_STATEFULSET,
	PF_KIND_DAEMONSET,
	PF_KIND_JOB,
	PF_KIND_CRONJOB,
	PF_KIND_NAMESPACE,
	PF_KIND_SERVICE, /* only in `to` */
	_PF_KIND_MAX,
};

/* "Allow" <-> PF_ACTION_ALLOW; NULL / -EINVAL for unknown. Case-sensitive, as Kubernetes. */
const char *pf_action_to_string(enum pf_action a);
int pf_action_from_string(const char *s);
const char *pf_kind_to_string(enum pf_kind k);
int pf_kind_from_string(const char *s);

struct pf_ref {
	enum pf_kind kind;
	char *namespace; /* defaulted from metadata.namespace; for Namespace refs equals name */
	char *name;
};

/* Longest fqdn accepted: a DNS name's 253 characters, plus "*." room is not needed (the
 * wildcard replaces a label). */
#define PF_POLICY_MAX_FQDN 253

struct pf_peer {
	bool is_cidr;
	/* fqdn: a DNS name in lower case without the trailing dot, or "*." and one (exactly one
	 * leading label wildcard); non-NULL makes this an fqdn peer (is_cidr false, ref empty) */
	char *fqdn;
	struct pf_ref ref;     /* when !is_cidr && !fqdn */
	struct pf_prefix cidr; /* when is_cidr */
};

/* What podfence judges: the first packet of a TCP connection (its SYN) or of a UDP flow. */
enum pf_protocol {
	PF_PROTO_TCP = 0, /* the default */
	PF_PROTO_UDP,
	_PF_PROTO_MAX,
};

/* "TCP" <-> PF_PROTO_TCP; NULL / -EINVAL for unknown. Case-sensitive, as Kubernetes. */
const char *pf_protocol_to_string(enum pf_protocol p);
int pf_protocol_from_string(const char *s);

struct pf_port_range {
	uint16_t port;	   /* 1..65535 */
	uint16_t end_port; /* >= port; equals port when endPort omitted */
	uint8_t protocol;  /* enum pf_protocol */
};

struct pf_rule {
	enum pf_action action;
	struct pf_peer *to; /* n_to == 0: any destination */
	size_t n_to;
	struct pf_port_range *ports; /* n_ports == 0: any port */
	size_t n_ports;
	bool log;
};

struct pf_policy {
	/* ClusterFencePolicy: cluster-scoped, evaluated before every FencePolicy; namespace is
	 * "" (it has none), so (namespace, name) still names a policy uniquely. */
	bool cluster;
	char *namespace; /* FencePolicy: defaults to "default" */
	char *name;
	uint32_t priority; /* default PF_POLICY_DEFAULT_PRIORITY */
	struct pf_ref *applies_to;
	size_t n_applies_to;
	struct pf_rule *egress;
	size_t n_egress;
	enum pf_mode mode; /* default PF_MODE_ENFORCE */
};

void pf_policy_free(struct pf_policy *p);
#define pf_policy_freep(pp) pf_policy_free(*(pp))

/*
 * One document of a policy file (or one API object). On success policy is set and error
 * empty. On a validation error policy is NULL and error names the field path, e.g.
 * "spec.egress[2].ports[0].endPort: must be >= port (80)"; namespace/name are filled in
 * when the document's metadata could be read, so the store can keep the last valid version
 * of that policy in force.
 */
struct pf_policy_doc {
	struct pf_policy *policy;
	bool cluster;	     /* kind ClusterFencePolicy (namespace then "") */
	char *namespace;     /* may be NULL when unreadable */
	char *name;	     /* may be NULL when unreadable */
	unsigned index;	     /* document index in the file, 0-based (empty documents count too) */
	unsigned line;	     /* line where the document's content starts, 0 when unknown */
	unsigned error_line; /* line of the offending field, 0 when unknown or valid */
	char error[1024];    /* "" when valid */
};

/* "FILE: document N (line L): FIELD.PATH: message" with N 1-based and L the offending line
 * (the document's when unknown); what `podfencectl check` and podfence-sync print. */
const char *pf_policy_doc_format_error(const char *file, const struct pf_policy_doc *d, char *buf,
				       size_t size);

struct pf_policy_file {
	struct pf_policy_doc *docs;
	size_t n_docs;
};

/*
 * Parse a file's bytes. name is used in messages only. The format is YAML unless the first
 * non-space byte is '{' or '[': then a JSON stream, one or more values (YAML parsers accept JSON
 * too, but yajl gives better messages). Empty documents (a stray `---`, a file of comments, a
 * JSON null) are skipped, as kubectl does; a file with none is valid and holds no policy.
 * Returns 0 when the file could be split into documents (each doc then valid or not), or a
 * negative errno with err set when the file as a whole is unreadable (syntax error, too large,
 * too many documents) — then nothing in it is applied.
 */
int pf_policy_parse_buffer(const char *name, const char *buf, size_t len,
			   struct pf_policy_file *out, struct pf_error *err);
int pf_policy_parse_file(const char *path, struct pf_policy_file *out, struct pf_error *err);
/* Whether a directory entry is a policy file: *.yaml, *.yml or *.json, not hidden (editor swap
 * files, Kubernetes' ..data links) and not an #autosave#. What podfence-sync --policy-dir loads
 * and `podfencectl check DIR` checks. */
bool pf_policy_is_file_name(const char *name);
void pf_policy_file_free(struct pf_policy_file *f);
/* Number of invalid docs in f. */
size_t pf_policy_file_n_invalid(const struct pf_policy_file *f);

struct pf_node;
/* Validate one already-parsed document tree (a Kubernetes API object, say). Returns 0 and *out,
 * or -EINVAL with info->error / info->error_line set (-ENOMEM possible). info (may be NULL) gets
 * namespace/name (malloc'ed, freed by pf_policy_doc_clear) and cluster whenever the document is
 * a FencePolicy or ClusterFencePolicy whose metadata names are well-formed, valid or not
 * (namespace "" for a ClusterFencePolicy); info->policy is left alone. */
int pf_policy_from_node(const struct pf_node *doc, struct pf_policy **out,
			struct pf_policy_doc *info);
/* Free what a pf_policy_doc owns (policy, namespace, name) and zero it. */
void pf_policy_doc_clear(struct pf_policy_doc *d);

/* Canonical JSON of a policy (what the store keeps and `podfencectl policies -o json` shows): a
 * full FencePolicy (or ClusterFencePolicy) document with every default written out and keys in a
 * fixed order, so equal models give byte-equal text and the text parses back to the same model. */
int pf_policy_to_json(const struct pf_policy *p, char **out);
/* Human forms used by the store's views: "Service shop/db, 10.20.0.0/16" / "any"; "5432-5433/TCP,
 * 80/TCP" / "any". */
int pf_rule_destination_string(const struct pf_rule *r, char **out);
int pf_rule_ports_string(const struct pf_rule *r, char **out);
/* The protocols a rule matches, for the views: "TCP", "UDP", "TCP,UDP" (ports of both), or
 * "any" (no ports: every protocol podfence judges). Static. */
const char *pf_rule_protocols_string(const struct pf_rule *r);
/* Whether a rule names a destination by fqdn (bypassable when it denies: see check). */
bool pf_rule_has_fqdn(const struct pf_rule *r);

/*
 * Whether name (a DNS name, any case, trailing dot allowed) matches pattern (a policy's fqdn:
 * lower case, no trailing dot, "*." matching exactly one leading label).
 */
bool pf_fqdn_match(const char *pattern, const char *name);
/*
 * Validate a policy's fqdn and give its canonical form (lower case, no trailing dot) in
 * *out (malloc'ed). -EINVAL with msg saying what is wrong (labels of letters, digits, '-'
 * and '_', 1..63 each, at most PF_POLICY_MAX_FQDN in all; '*' only as the whole first
 * label), -ENOMEM.
 */
int pf_fqdn_normalize(const char *s, char **out, char *msg, size_t msg_size);

/*
 * The cache cost of a policy's rules: the sum over rules of max(1, to entries) x max(1, port
 * ranges), plus, for each rule without `to` (which every destination's port table carries),
 * its port ranges x the policy's `to` entries. Saturates at SIZE_MAX.
 */
size_t pf_policy_cost(const struct pf_rule *rules, size_t n_rules);
/* "FencePolicy" or "ClusterFencePolicy". */
const char *pf_policy_kind_string(bool cluster);

#endif
