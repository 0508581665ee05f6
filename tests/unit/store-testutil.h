/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What test-store and test-store-ruleset share: the scratch directory and policies as structs. */
#ifndef PF_STORE_TESTUTIL_H
#define PF_STORE_TESTUTIL_H

#include "store.h"

/* The scratch directory (a mkdtemp template until main creates it) and a path inside it. */
extern char tmpdir[];
char *db_path(const char *name);
void rm_rf(const char *dir);

char *xstrdup(const char *s);
void *xgrow(void *p, size_t n, size_t size);
struct pf_addr ip(const char *s);

/* ---- building policies as structs ---------------------------------------------------------- */
struct pf_policy *mk_policy(const char *ns, const char *name, uint32_t priority);
void add_target(struct pf_policy *p, enum pf_kind kind, const char *ns, const char *name);
struct pf_rule *add_rule(struct pf_policy *p, enum pf_action action);
void to_ref(struct pf_rule *r, enum pf_kind kind, const char *ns, const char *name);
void to_cidr(struct pf_rule *r, const char *cidr);
void add_ports(struct pf_rule *r, uint16_t port, uint16_t end_port);
struct pf_policy_doc valid_doc(struct pf_policy *p, unsigned index);
struct pf_policy_doc invalid_doc(const char *ns, const char *name, unsigned index,
				 const char *error);
void docs_clear(struct pf_policy_doc *d, size_t n);
/* shop/web: Allow Pod shop/db 5432, Allow Service shop/db-svc 5432-5433 and 10.20.0.0/16, Deny. */
struct pf_policy *web_policy(uint32_t priority);

#endif
