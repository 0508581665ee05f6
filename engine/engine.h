/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfenced: its configuration, and the engine that engine.c builds from its modules. */
#ifndef PF_ENGINE_H
#define PF_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/* How long a pod's kernel accepts again a (source, destination, port) the engine allowed. */
#define PF_VERDICT_REUSE_DEFAULT_MS 60000u

struct pf_engine_config {
	bool foreground;
	char *config_path;
	char *db_path;
	char *socket_path;
	char *state_dir;
	bool fail_closed;
	enum pf_action default_action;
	uint16_t queue_num;
	uint32_t queue_maxlen; /* 0: PF_NFQ_QUEUE_MAXLEN */
	int32_t priority;
	uint32_t event_window_ms;
	uint32_t verdict_reuse_ms; /* 0: every SYN is queued (no reuse sets) */
	char *metrics;
	int log_level;
	bool refuse_privileged; /* privileged_pods = refuse (default warn) */
	/* enforce_established: a policy change also cuts the connections it now denies */
	bool enforce_established;
	int event_log; /* enum pf_eventlog_mode */
	uint32_t event_max_rows;
	uint32_t event_max_age_s; /* 0: no bound */
};

struct engine; /* engine.c's */

/* Start-up in order (pods before the socket), the loop, and shutdown. */
int pf_engine_new(const struct pf_engine_config *cfg, struct engine **out);
int pf_engine_start(struct engine *e);
int pf_engine_run(struct engine *e);
void pf_engine_stop(struct engine *e);
void pf_engine_free(struct engine *e);

#endif
