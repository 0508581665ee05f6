/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfence-sync: options shared by the directory and Kubernetes modes. */
#ifndef PF_SYNC_H
#define PF_SYNC_H

#include "conf.h"

struct pf_sync_options {
	const char *db;
	const char *socket; /* engine control socket, told to reload after each commit */
	const char *state_dir;
	const char *policy_dir; /* standalone mode */
	bool kube;
	const char *kubeconfig;	     /* NULL: in-cluster service account */
	const char *node_name;	     /* NULL: all nodes */
	unsigned resync_min_s;	     /* incremental store updates batched at most this often */
	unsigned resync_max_s;	     /* full reconcile interval */
	bool once;		     /* sync once and exit (tests, `--once`) */
	const char *lease_namespace; /* NULL: the service account's or the context's namespace */
	unsigned lease_duration_s;   /* leaseDurationSeconds of the status writer's Lease */
};

/* Run until SIGTERM/SIGINT (or once). Exit code as podfence-sync(8) says. */
int pf_sync_dir_run(const struct pf_sync_options *o);
int pf_sync_kube_run(const struct pf_sync_options *o);
/* Ask the engine to reload; unreachable engine is fine (it polls data_version). Waits at most
 * half a second for the reply. */
void pf_sync_notify_engine(const struct pf_sync_options *o);
/* The same without waiting, for an event loop: returns a socket to poll for POLLIN (the reply,
 * then pass it to pf_sync_notify_finish) or a negative errno when the engine is unreachable. */
int pf_sync_notify_start(const struct pf_sync_options *o);
void pf_sync_notify_finish(int fd);

#endif
