/* Tell the engine to reload the store after a commit; an absent engine is fine (it also polls). */
#include "ctl.h"
#include "doc.h"
#include "log.h"
#include "sync.h"

/* Short: the sync loop must not stall behind a busy engine; the engine polls data_version
 * anyway, so a missed nudge only delays the reload. */
#define NOTIFY_TIMEOUT_MS 500

static bool reply_ok(const char *reply)
{
	struct pf_node *n = NULL;
	const struct pf_node *ok;
	bool r;

	if (pf_json_parse(reply, strlen(reply), NULL, &n, NULL) < 0)
		return false;
	ok = pf_node_get(n, "ok");
	r = ok && ok->type == PF_NODE_BOOL && ok->b;
	pf_node_free(n);
	return r;
}

void pf_sync_notify_engine(const struct pf_sync_options *o)
{
	struct pf_error err = {0};
	_cleanup_free_ char *reply = NULL;
	int r;

	if (!o->socket || !*o->socket)
		return;
	r = pf_ctl_call(o->socket, "{\"op\":\"reload\"}", NOTIFY_TIMEOUT_MS, &reply, &err);
	if (r == -ENOENT || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EAGAIN) {
		log_debug("engine not told to reload: %s", err.msg);
		return;
	}
	if (r < 0) {
		log_warning("could not tell the engine to reload: %s", err.msg);
		return;
	}
	if (!reply_ok(reply))
		log_warning("the engine did not reload: %s", reply);
	else
		log_debug("engine reloaded");
}
