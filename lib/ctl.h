/*
 * The engine's control protocol: a unix SOCK_SEQPACKET socket, one JSON object per message
 * each way, at most PF_CTL_MAX_MSG bytes. Used by podfence-hook, podfencectl and tests.
 *
 * Requests ("op" plus fields):
 *   register   {"op":"register","netns":PATH,"pid":N?,"netns_dev":N?,"netns_ino":N?,
 *               "namespace":S,"name":S,"uid":S?,"container":S,"kind":"Pod"|"Container"}
 *              netns: "/proc/PID/ns/net" or a bind-mounted netns path; dev/ino, when given,
 *              must match what the engine opens (guards against pid reuse).
 *   unregister {"op":"unregister","container":S,"netns":PATH?}
 *   reload     {"op":"reload"}
 *   status     {"op":"status"}
 * Replies: {"ok":true,...} or {"ok":false,"error":"what was wrong"}.
 * register replies only when the ruleset is installed and the queue bound.
 *
 * DRAFT CONTRACT: owned by the engine maintainer.
 */
#ifndef PF_CTL_H
#define PF_CTL_H

#include "error.h"

#define PF_CTL_MAX_MSG (64 * 1024)
#define PF_CTL_DEFAULT_TIMEOUT_MS 10000

/* Connect, send request, wait for the reply within timeout_ms. -ETIMEDOUT, -ECONNREFUSED, -ENOENT
 * (no socket) are the "engine unreachable" cases. reply is NUL-terminated JSON. */
int pf_ctl_call(const char *socket_path, const char *request, int timeout_ms, char **reply,
		struct pf_error *err);

#endif
