/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Re-adoption at start (the store's pods rows) and the hook's pending records. */
#ifndef PF_ENGINE_ADOPT_H
#define PF_ENGINE_ADOPT_H

#include "nft.h"
#include "store.h"

struct pf_adopt;
struct pf_pods;
struct pf_reload;
struct pf_requests;

/* Pods come back through the registry; pending records are requests like the hook's. */
int pf_adopt_new(const char *state_dir, struct pf_store *store, const struct pf_nft_config *nft,
		 struct pf_pods *pods, struct pf_reload *reload, struct pf_requests *requests,
		 struct pf_adopt **out);
void pf_adopt_free(struct pf_adopt *ad);
void pf_adopt_store(struct pf_adopt *ad);
void pf_adopt_pending(struct pf_adopt *ad);
/* Every tick: retry the re-adoptions (and the listing) that failed, when due. */
void pf_adopt_retry_tick(struct pf_adopt *ad);
/* Once the store worker runs: delete the rows of pods found gone at start. */
void pf_adopt_flush_gone(struct pf_adopt *ad);

#endif
