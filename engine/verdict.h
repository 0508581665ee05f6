/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hot path: a queued SYN -> a cache lookup -> a verdict. */
#ifndef PF_ENGINE_VERDICT_H
#define PF_ENGINE_VERDICT_H

#include "packet.h"

/* The queue callback; userdata is the pod. */
uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
		       uint32_t *mark);

#endif
