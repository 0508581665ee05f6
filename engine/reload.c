/* Cache rebuild and swap: compile beside the old cache, then one pointer store. */
#include <inttypes.h>

#include "engine.h"
#include "log.h"

int pf_reload(struct engine *e, const char *why, struct pf_error *err)
{
	struct pf_ruleset *rs = NULL;
	struct pf_cache *c = NULL;
	uint64_t t0 = pf_mono_ns(), dv = 0;
	int r;

	/* Read the version first: a commit that lands while we load triggers one more reload
	 * rather than being missed. */
	r = pf_store_data_version(e->store, &dv);
	if (r < 0) {
		e->stats.reload_failures++;
		return pf_error_set(err, -r, "reading the store's data_version: %s", strerror(-r));
	}
	r = pf_store_load_ruleset(e->store, &rs, err);
	if (r < 0) {
		e->stats.reload_failures++;
		return r;
	}
	r = pf_cache_build(rs, e->cfg.default_action, &c);
	if (r < 0) {
		size_t n = pf_ruleset_n_rules(rs);

		pf_ruleset_free(rs);
		e->stats.reload_failures++;
		return pf_error_set(err, -r, "compiling the verdict cache (%zu rules): %s", n, strerror(-r));
	}
	/* The loop is single-threaded and verdicts run inside it, so no lookup is in flight
	 * here: every verdict sees either the old cache or the new one, never a mix. */
	pf_cache_free(e->cache);
	e->cache = c;
	e->cache_generation++;
	e->data_version = dv;
	e->stats.reloads++;
	e->stats.last_reload_ms = pf_now_ms();
	e->stats.last_reload_us = (pf_mono_ns() - t0) / 1000;
	log_debug("Cache generation %" PRIu64 " (%s): %zu policies, %zu rules, built in %" PRIu64 " us",
		  e->cache_generation, why, rs->n_policies, pf_ruleset_n_rules(rs), e->stats.last_reload_us);
	pf_ruleset_free(rs);
	return 0;
}

void pf_reload_poll(struct engine *e)
{
	struct pf_error err = {};
	uint64_t dv;
	int r;

	r = pf_store_data_version(e->store, &dv);
	if (r < 0 || dv == e->data_version)
		return;
	r = pf_reload(e, "store changed", &err);
	if (r < 0) {
		/* Keep enforcing the last good cache; try again at the next poll. */
		if (e->stats.reload_failures < 10 || e->stats.reload_failures % 100 == 0)
			log_error("Reload failed, keeping the previous cache: %s", err.msg);
	}
}
