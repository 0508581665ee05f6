/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OCI runtime documents as podfence-hook reads them: the container state on the hook's stdin,
 * the bundle's config.json, and what podfence derives from them (the network namespace and
 * the workload identity). Pure functions but for reading config.json; the hook
 * turns their results into a register request (lib/ctl).
 */
#ifndef PF_OCI_H
#define PF_OCI_H

#include "ctl.h"
#include "doc.h"
#include "error.h"

/* Bounds on what a runtime (or anyone who can run the hook) makes us read. config.json carries
 * seccomp profiles and can reach a few hundred KiB. The state carries the pod's annotations,
 * which Kubernetes lets reach 256 KiB (one value as large), and CRI-O adds them a second
 * time JSON-encoded: a valid pod must never be refused for its size, so the same bound. */
#define PF_OCI_MAX_STATE (4 * 1024 * 1024)
#define PF_OCI_MAX_CONFIG (4 * 1024 * 1024)
#define PF_OCI_MAX_ID 256
#define PF_OCI_MAX_PATH 4096

struct pf_oci_state {
	struct pf_node *doc;
	const char *id;	    /* never NULL after a successful parse */
	const char *status; /* "creating", "created", "running", "stopped"; may be NULL */
	int pid;	    /* 0 when absent (poststop) */
	const char *bundle; /* may be NULL */
	const struct pf_node *annotations; /* map or NULL */
};

struct pf_oci_config {
	struct pf_node *doc;
	const struct pf_node *annotations; /* map or NULL */
	bool has_netns;			   /* linux.namespaces holds a "network" entry */
	const char *netns_path;		   /* its "path", NULL when the runtime creates one */
	const char *hostname;		   /* may be NULL */
};

enum pf_oci_id_source {
	PF_OCI_ID_CRIO,	      /* io.kubernetes.pod.* */
	PF_OCI_ID_CONTAINERD, /* io.kubernetes.cri.sandbox-* */
	PF_OCI_ID_PODFENCE,   /* podfence.io/namespace, podfence.io/name */
	PF_OCI_ID_CONTAINER,  /* nothing found: the container id in "default" */
};

struct pf_oci_identity {
	char *namespace;
	char *name;
	char *uid;	  /* NULL when the source has none */
	const char *kind; /* "Pod", or "Container" for the container-id fallback */
	enum pf_oci_id_source source;
	char note[512]; /* annotations set aside (forged or shadowed ones), for the log; or "" */
};

/* Container ids name files in the state directory: 1..PF_OCI_MAX_ID of [A-Za-z0-9_.+-],
 * not starting with '.' (runc's own rule is a subset of this). */
bool pf_oci_valid_id(const char *id);

/* Parse the state document. Requires "id" (valid), accepts a missing "pid"/"bundle". */
int pf_oci_state_parse(const char *buf, size_t len, struct pf_oci_state *st, struct pf_error *err);
void pf_oci_state_done(struct pf_oci_state *st);

int pf_oci_config_parse(const char *buf, size_t len, struct pf_oci_config *cfg,
			struct pf_error *err);
/* Read bundle/config.json (bounded) and parse it. */
int pf_oci_config_load(const char *bundle, struct pf_oci_config *cfg, struct pf_error *err);
void pf_oci_config_done(struct pf_oci_config *cfg);

/* Annotation lookup: the state's first (what the runtime saw), then config.json's.
 * Either may be NULL. Returns NULL when absent or not a string. */
const char *pf_oci_annotation(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			      const char *key);

/*
 * The identity of the workload, from the keys of the runtime that ran the container, decided
 * by keys a pod cannot set (see podfence-hook(8)): CRI-O (its io.kubernetes.cri-o.ContainerID
 * or, for a sandbox, SandboxID is the container's own id) -> io.kubernetes.pod.*, corrected by
 * CRI-O's own Namespace and Labels; else containerd (io.kubernetes.cri.container-type or
 * sandbox-id present) -> io.kubernetes.cri.sandbox-*. The podfence.io keys and the other
 * runtime's are then ignored (and named in id->note). Without either runtime:
 * io.kubernetes.pod.*, the podfence.io keys, the container id. Names found are checked
 * (DNS-1123); an invalid one is an error naming the annotation rather than a silent fallback
 * to another identity.
 */
int pf_oci_identity_derive(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			   struct pf_oci_identity *id, struct pf_error *err);
void pf_oci_identity_done(struct pf_oci_identity *id);
const char *pf_oci_id_source_name(enum pf_oci_id_source s);

/*
 * Which netns path the engine should open: "/proc/PID/ns/net" when the state has a pid,
 * else the network namespace path in config.json. *path is NULL (and *host_network true)
 * when config.json has no network namespace entry (the container shares the host's).
 * -ENOENT when there is neither a pid nor a path to go by.
 */
int pf_oci_netns_path(const struct pf_oci_state *st, const struct pf_oci_config *cfg, char **path,
		      bool *host_network, struct pf_error *err);

/*
 * containerd runs a pod's sandbox (pause) container without the base runtime spec's hooks, so
 * the sandbox never registers; its app containers' config.json name the pod's netns as
 * /proc/PID/ns/net of the pause process, which holds it for as long as the pod lives. For such
 * a container (io.kubernetes.cri.container-type "container", a valid
 * io.kubernetes.cri.sandbox-id that is not its own id, a netns path /proc/PID/ns/net with PID
 * not its own): *sandbox is the sandbox id (pointing into the documents) and *pid the pause
 * process. Otherwise NULL and 0. Always returns 0: without a holder the pod simply lives as
 * long as its containers. The engine checks that PID's netns is the pod's before it uses it.
 */
int pf_oci_sandbox_holder(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			  const char **sandbox, int *pid);

/*
 * Capabilities that reach around the fence, from config.json's process.capabilities: one
 * counts when it is in any of its sets (bounding too: an executable with file capabilities
 * gains what the bounding set allows). No process.capabilities means none. A malformed
 * field is an error naming it. *caps holds PF_CTL_CAP_NET_ADMIN and PF_CTL_CAP_NET_RAW, as
 * the register request carries them.
 */
int pf_oci_config_caps(const struct pf_oci_config *cfg, unsigned *caps, struct pf_error *err);

#endif
