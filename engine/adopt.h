/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Re-adoption at start (the store's pods rows) and the hook's pending records. */
#ifndef PF_ENGINE_ADOPT_H
#define PF_ENGINE_ADOPT_H

#include <stddef.h>
#include <stdint.h>

#include "netns.h"

struct engine;
struct pf_adopt_retry;

/* Re-adoption's own state: records that failed, to try again; rows of gone pods to delete
 * once the store worker runs; the pods listing when it failed. */
struct pf_adopt {
	struct pf_adopt_retry *retry;
	size_t n_retry, cap_retry;
	struct pf_netns_id *gone;
	size_t n_gone, cap_gone;
	int64_t list_next_ms;
	unsigned list_backoff_ms;
};

void pf_adopt_store(struct engine *e);
void pf_adopt_pending(struct engine *e);
/* Every tick: retry the re-adoptions (and the listing) that failed, when due. */
void pf_adopt_retry_tick(struct engine *e);
/* Once the store worker runs: delete the rows of pods found gone at start. */
void pf_adopt_flush_gone(struct engine *e);
void pf_adopt_done(struct engine *e);

#endif
