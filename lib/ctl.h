/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's control protocol: a unix SOCK_SEQPACKET socket (mode 0600; the engine answers
 * only peers whose SO_PEERCRED uid is 0), one JSON object per message each way, at most
 * PF_CTL_MAX_MSG bytes. A connection may carry several requests, one at a time; one that
 * sends nothing for 5 s is closed. Used by podfence-hook, podfencectl and tests.
 *
 * Requests ("op" plus fields):
 *   register   {"op":"register","netns":PATH,"pid":N?,"netns_dev":N?,"netns_ino":N?,
 *               "namespace":S?,"name":S,"uid":S?,"container":S,"kind":"Pod"|"Container"?}
 *              netns: "/proc/PID/ns/net" or a bind-mounted netns path; dev/ino, when given,
 *              must match what the engine opens (guards against pid reuse). namespace
 *              defaults to "default", kind to "Pod". A pid (given, or read from a /proc path)
 *              is watched: when it exits, its container counts as unregistered.
 *              Reply {"ok":true,"new":B,"pod":{namespace,name,uid,kind,netns,netns_dev,
 *              netns_ino,ips:[...],containers:[...],state,privileged,verdicts}}, sent only
 *              when the pod's store row is committed, the cache holds its addresses, the
 *              ruleset is installed and the queue bound (a failed row write is retried and
 *              the answer waits for it).
 *              Several containers of one netns are one pod ("new":false for the later ones).
 *              The host's (and the engine's own) netns is refused.
 *              "caps":["CAP_NET_ADMIN"|"CAP_NET_RAW",...]? lists what the container's
 *              config.json grants of those two (other names are ignored);
 *              "caps_unknown":true? says the hook could not read config.json. With
 *              privileged_pods = refuse either refuses the registration.
 *              "sandbox":S?,"sandbox_pid":N? name the process that holds the netns for
 *              the pod (containerd's pause container, which runs without hooks): the
 *              engine watches it as one more container of the pod, S, once it has checked
 *              that N's netns is the pod's, so the pod stays registered while its sandbox
 *              lives, with or without app containers, and goes when it exits. Both or
 *              neither; a sandbox already in the pod is not added twice.
 *   unregister {"op":"unregister","container":S,"netns":PATH?}
 *              Reply {"ok":true,"found":B,"released":B}; an unknown container is not an error
 *              (poststop may run twice). The last container out removes the ruleset.
 *   reload     {"op":"reload"}  rebuild the verdict cache from the store now; the reply
 *              {"ok":true,"generation":N,"sources":N,"build_us":N} comes once it is in place.
 *   status     {"op":"status"}  engine, cache, verdict and event counters, and "pods" (left
 *              out when the list would not fit one message; "n_pods" is always there).
 * Any request may carry "timeout_ms":N (1..3600000), how long its sender waits for the answer;
 * a request that has to wait (register, reload) is then answered by N ms minus a margin, with
 * an error if the work is not done, rather than after the sender gave up. Without it the
 * engine waits up to 60 s. The work itself goes on (a late registration is still enforced).
 * Replies: {"ok":true,...} or {"ok":false,"error":"what was wrong"}; a malformed, oversized
 * or unknown request gets an error reply and changes nothing.
 *
 * Pending records: when the engine is unreachable (no socket, or nobody listening on it; an
 * engine that took the request and is slow is not), podfence-hook (fail_mode=open) leaves its
 * request, as built (without "timeout_ms"), in <state-dir>/pending/<container>.json (written
 * atomically; "op" may be omitted and then means register). The engine adopts them at start and
 * every few seconds while it runs, in the order they were written, and deletes each one it has
 * read.
 */
#ifndef PF_CTL_H
#define PF_CTL_H

#include <stdint.h>

#include "error.h"

#define PF_CTL_MAX_MSG (64 * 1024)

/* ---- requests: every sender builds them here, compact JSON, *out malloc'ed ---- */

/* What a register request's "caps" says of the container. */
#define PF_CTL_CAP_NET_ADMIN (1u << 0)
#define PF_CTL_CAP_NET_RAW (1u << 1)
#define PF_CTL_CAP_UNKNOWN (1u << 2) /* config.json could not be read: the engine cannot tell */

/* A register request; NULL strings, pid 0, dev and ino both 0 and caps 0 are left out. */
struct pf_ctl_register {
	const char *netns;
	int pid;
	uint64_t netns_dev, netns_ino;
	const char *namespace, *name, *uid, *container, *kind;
	unsigned caps;	     /* PF_CTL_CAP_* */
	const char *sandbox; /* with sandbox_pid > 0: the process holding the netns */
	int sandbox_pid;
};
int pf_ctl_msg_register(const struct pf_ctl_register *m, char **out);
/* netns NULL is left out. */
int pf_ctl_msg_unregister(const char *container, const char *netns, char **out);
int pf_ctl_msg_reload(char **out);
int pf_ctl_msg_status(char **out);

/* ---- the client ---- */
#define PF_CTL_DEFAULT_TIMEOUT_MS 10000

/* Connect, send request, wait for the reply within timeout_ms. reply is NUL-terminated JSON. */
int pf_ctl_call(const char *socket_path, const char *request, int timeout_ms, char **reply,
		struct pf_error *err);

/* Put "timeout_ms" (what is left of timeout_ms once connected) first in the request object. */
#define PF_CTL_SEND_DEADLINE (1u << 0)
/* The engine hung up without an answer: connect once more (it may be restarting). */
#define PF_CTL_RETRY_HANGUP (1u << 1)

/*
 * pf_ctl_call with flags, telling apart an engine that cannot be reached from one that can.
 * *reached is false when no connection was made (no socket -ENOENT, nobody listening
 * -ECONNREFUSED, its listen queue full for the whole time -ETIMEDOUT, ...), or when, with
 * PF_CTL_RETRY_HANGUP, the engine hung up and then was gone (-ENOENT, -ECONNREFUSED). It is
 * true once the engine took the connection: whatever fails after that (no answer in time,
 * a reset) left the request in its hands.
 */
int pf_ctl_request(const char *socket_path, const char *request, int timeout_ms, unsigned flags,
		   char **reply, bool *reached, struct pf_error *err);

#endif
