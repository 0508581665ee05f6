/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfence-hook: the OCI hook that registers a container's netns with podfenced (podfence-hook(8)).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "conf.h"
#include "ctl.h"
#include "doc.h"
#include "log.h"
#include "netns.h"
#include "oci.h"

#define HOOK_DEFAULT_TIMEOUT_MS 5000
#define HOOK_MAX_TIMEOUT_MS 600000
#define HOOK_MAX_RUNTIME_TIMEOUT_S 600
/* Kept back from the runtime's timeout for starting, reading and exiting. */
#define HOOK_RUNTIME_MARGIN_MS 1000

enum stage { STAGE_AUTO, STAGE_PRESTART, STAGE_POSTSTOP };

struct opts {
	const char *config;
	const char *socket;
	const char *state_dir;
	bool fail_closed;
	uint32_t timeout_ms;	    /* --timeout / timeout, 0 when not given */
	uint32_t runtime_timeout_s; /* --runtime-timeout / runtime_timeout, 0 when not given */
	uint64_t deadline_ns;	    /* when we stop waiting for the engine */
	enum stage stage;
	const char *stage_name;
};

/*
 * Everything goes to syslog; warnings and errors also to stderr, which the runtime shows when
 * a hook fails. stdout stays silent: some runtimes treat hook output as part of their own.
 */
static void say(int level, const char *fmt, ...) _printf_(2, 3);
static void say(int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pf_log_internal(level, 0, "%s", msg);
	if (level <= LOG_WARNING)
		fprintf(stderr, "podfence-hook: %s\n", msg);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: podfence-hook [OPTION]... STAGE\n"
		"OCI runtime hook: registers a container's network namespace with podfenced.\n"
		"Reads the OCI container state (JSON) on standard input.\n"
		"\n"
		"STAGE is prestart or createRuntime (register), or poststop (unregister). Without\n"
		"it, the stage follows the state's status (\"stopped\" means poststop).\n"
		"\n"
		"  --config FILE        configuration file (default %s)\n"
		"  --socket PATH        engine control socket (default %s)\n"
		"  --state-dir DIR      where records for the engine go when it is unreachable\n"
		"                       (default %s)\n"
		"  --fail-mode MODE     open: start unenforced containers when the engine is\n"
		"                       unreachable (and leave a record it adopts later);\n"
		"                       closed: make the runtime refuse them (default open)\n"
		"  --timeout MS         how long to wait for the engine (default %d, or the\n"
		"                       runtime timeout less a margin)\n"
		"  --runtime-timeout S  the \"timeout\" of the hooks.d entry that runs the hook:\n"
		"                       its answer (an error if the engine is too slow) comes\n"
		"                       %d ms before the runtime would kill it\n"
		"  --help               show this help\n"
		"  --version            show the version\n"
		"\n"
		"Exit status: 0 registered (or skipped, or fail-open), 1 runtime failure,\n"
		"2 usage or invalid input. poststop always exits 0.\n",
		PF_DEFAULT_CONFIG, PF_DEFAULT_SOCKET, PF_DEFAULT_STATE_DIR, HOOK_DEFAULT_TIMEOUT_MS,
		HOOK_RUNTIME_MARGIN_MS);
}

static int parse_fail_mode(const char *s, bool *closed)
{
	if (!strcmp(s, "open"))
		*closed = false;
	else if (!strcmp(s, "closed"))
		*closed = true;
	else
		return -EINVAL;
	return 0;
}

static int parse_stage(const char *s, enum stage *st)
{
	if (!strcmp(s, "prestart") || !strcmp(s, "createRuntime"))
		*st = STAGE_PRESTART;
	else if (!strcmp(s, "poststop"))
		*st = STAGE_POSTSTOP;
	else
		return -EINVAL;
	return 0;
}

enum {
	OPT_CONFIG = 256,
	OPT_SOCKET,
	OPT_STATE_DIR,
	OPT_FAIL_MODE,
	OPT_TIMEOUT,
	OPT_RUNTIME_TIMEOUT,
	OPT_HELP,
	OPT_VERSION
};

/* One value from the file or a flag (lib/conf.h). */
static int merge_option(void *ctx, int val, const char *v, const char *what, bool file)
{
	struct opts *o = ctx;

	(void)file;
	switch (val) {
	case OPT_SOCKET:
		o->socket = v;
		return 0;
	case OPT_STATE_DIR:
		o->state_dir = v;
		return 0;
	case OPT_FAIL_MODE:
		if (parse_fail_mode(v, &o->fail_closed) < 0) {
			say(LOG_ERR, "%s must be open or closed, not '%s'", what, v);
			return -EINVAL;
		}
		return 0;
	case OPT_TIMEOUT:
		if (pf_parse_u32(v, HOOK_MAX_TIMEOUT_MS, &o->timeout_ms) < 0 || !o->timeout_ms) {
			say(LOG_ERR, "%s must be 1..%d milliseconds, not '%s'", what,
			    HOOK_MAX_TIMEOUT_MS, v);
			return -EINVAL;
		}
		return 0;
	case OPT_RUNTIME_TIMEOUT:
		if (pf_parse_u32(v, HOOK_MAX_RUNTIME_TIMEOUT_S, &o->runtime_timeout_s) < 0 ||
		    !o->runtime_timeout_s) {
			say(LOG_ERR, "%s must be 1..%d seconds, not '%s'", what,
			    HOOK_MAX_RUNTIME_TIMEOUT_S, v);
			return -EINVAL;
		}
		return 0;
	case OPT_HELP:
		usage(stdout);
		return 1;
	case OPT_VERSION:
		printf("podfence-hook %s\n", PACKAGE_VERSION);
		return 1;
	default:
		usage(stderr);
		return -EINVAL;
	}
}

/* The file first, flags over it (podfence.conf(5)). Returns an exit code, or -1 to go on. */
static int parse_args(int argc, char **argv, struct opts *o, struct pf_config *cfg)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	    {"fail-mode", required_argument, NULL, OPT_FAIL_MODE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"runtime-timeout", required_argument, NULL, OPT_RUNTIME_TIMEOUT},
	    {"help", no_argument, NULL, OPT_HELP},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {},
	};
	struct pf_error err = {0};
	int r;

	o->config = pf_config_path_from_argv(argc, argv);
	r = pf_conf_merge(
	    &(struct pf_conf_program){
		.options = longopts, .shortopts = "", .set = merge_option, .ctx = o},
	    argc, argv, cfg, &err);
	if (r < 0 && err.msg[0])
		say(LOG_ERR, "%s", err.msg);
	if (r < 0)
		return 2;
	if (r > 0)
		return 0;
	if (optind + 1 < argc) {
		say(LOG_ERR, "one STAGE expected, got %d arguments (try --help)", argc - optind);
		return 2;
	}
	if (optind < argc) {
		o->stage_name = argv[optind];
		if (parse_stage(o->stage_name, &o->stage) < 0) {
			say(LOG_ERR, "unknown stage '%s' (prestart, createRuntime or poststop)",
			    o->stage_name);
			return 2;
		}
	}
	if (!o->socket)
		o->socket = PF_DEFAULT_SOCKET;
	if (!o->state_dir)
		o->state_dir = PF_DEFAULT_STATE_DIR;
	if (o->runtime_timeout_s) {
		/* The runtime kills a hook at its timeout and then refuses the container by
		 * its own rules: answer before that, whatever --timeout says. */
		uint32_t rt = o->runtime_timeout_s * 1000;
		uint32_t cap = rt - MIN((uint32_t)HOOK_RUNTIME_MARGIN_MS, rt / 5);

		if (!o->timeout_ms || o->timeout_ms > cap)
			o->timeout_ms = cap;
	}
	if (!o->timeout_ms)
		o->timeout_ms = HOOK_DEFAULT_TIMEOUT_MS;
	return -1;
}

/* Milliseconds left until the deadline, at least 1 (the call then fails at once). */
static int time_left_ms(const struct opts *o)
{
	uint64_t now = pf_mono_ns();

	return now >= o->deadline_ns ? 1 : (int)MAX((o->deadline_ns - now) / 1000000, 1);
}

/*
 * The engine is down only when nothing takes the connection: no socket, or nobody listening
 * on it (and so, after a hang-up, when it is gone on the second try). An engine that took the
 * request and did not answer in time, or whose listen queue stayed full, is alive and slow:
 * starting the container then would run it unjudged on load alone.
 */
static bool unreachable(int r, bool reached)
{
	return !reached && (r == -ENOENT || r == -ECONNREFUSED);
}

/*
 * Rootless runtimes (Podman run by a user) run their hooks as that user, or as "root" of a
 * user namespace that maps to that user: neither may use the engine's socket, which answers
 * only the real root. uid 0 mapped to anything but uid 0 outside is such a namespace.
 */
static bool is_rootless(uid_t *outside)
{
	_cleanup_free_ char *map = NULL;
	size_t len = 0;
	char *line, *save = NULL;

	*outside = geteuid();
	if (*outside != 0)
		return true;
	if (pf_read_file("/proc/self/uid_map", 65536, &map, &len) < 0)
		return false;
	for (line = strtok_r(map, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long in, out, count;

		if (sscanf(line, "%lu %lu %lu", &in, &out, &count) != 3)
			continue;
		if (in == 0 && count > 0) {
			*outside = (uid_t)out;
			return out != 0;
		}
	}
	/* uid 0 not mapped at all: not the host's root either. */
	*outside = (uid_t)-1;
	return true;
}

static int pending_path(const struct opts *o, const char *id, char **out)
{
	return asprintf(out, "%s/pending/%s.json", o->state_dir, id) < 0 ? -ENOMEM : 0;
}

/* Leave the register request where the engine adopts it when it comes (back) up. The netns
 * dev/ino inside let it check the pid still names the same namespace. */
static int write_pending(const struct opts *o, const char *id, const char *request)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	int r;

	if (asprintf(&dir, "%s/pending", o->state_dir) < 0 || pending_path(o, id, &path) < 0)
		return -ENOMEM;
	r = pf_mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	return pf_write_file_atomic(path, request, strlen(request), 0600);
}

static void remove_pending(const struct opts *o, const char *id)
{
	_cleanup_free_ char *path = NULL;

	if (pending_path(o, id, &path) == 0 && unlink(path) < 0 && errno != ENOENT)
		say(LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
}

/* {"ok":true,...} -> 0; {"ok":false,"error":E} -> -EPROTO with E in err. */
static int check_reply(const char *reply, struct pf_error *err)
{
	struct pf_node *doc = NULL;
	const struct pf_node *okn;
	const char *e;
	int r;

	r = pf_json_parse(reply, strlen(reply), NULL, &doc, err);
	if (r < 0)
		return pf_error_prefix(err, "unreadable reply from the engine");
	okn = pf_node_get(doc, "ok");
	if (okn && okn->type == PF_NODE_BOOL && okn->b) {
		r = 0;
	} else {
		e = pf_node_str(doc, "error");
		r = pf_error_set(err, EPROTO, "%s", e ? e : "reply without \"ok\":true");
	}
	pf_node_free(doc);
	return r;
}

static int do_prestart(const struct opts *o, struct pf_oci_state *st)
{
	struct pf_oci_config cfg = {0};
	struct pf_oci_identity id = {0};
	struct pf_error err = {0};
	_cleanup_free_ char *netns = NULL, *req = NULL, *reply = NULL;
	struct pf_netns_id nsid = {0};
	unsigned caps = 0;
	const char *sandbox = NULL;
	int sandbox_pid = 0;
	bool host = false, reached = false;
	uid_t outside;
	int r, rc = 1;

	if (is_rootless(&outside)) {
		/* Blocking them would break every rootless container on the node, in either
		 * fail mode: fail_mode is about the engine being down, and these containers
		 * can never reach it. They start, and the log says so each time. */
		say(LOG_WARNING,
		    "rootless container %s (uid %d) not enforced: podfenced only enforces "
		    "containers started by root; its egress is not filtered",
		    st->id, outside == (uid_t)-1 ? -1 : (int)outside);
		return 0;
	}
	if (st->bundle) {
		r = pf_oci_config_load(st->bundle, &cfg, &err);
		if (r < 0 && st->pid <= 0) {
			say(LOG_ERR, "container %s: %s", st->id, err.msg);
			return r == -EINVAL ? 2 : 1;
		}
		if (r < 0)
			say(LOG_WARNING, "container %s: %s; going by pid %d", st->id, err.msg,
			    st->pid);
	}
	r = pf_oci_netns_path(st, &cfg, &netns, &host, &err);
	if (r < 0) {
		say(LOG_ERR, "container %s: cannot find its network namespace: %s", st->id,
		    err.msg);
		rc = 2;
		goto out;
	}
	if (!host) {
		r = pf_netns_id_of_path(netns, &nsid);
		if (r < 0) {
			say(LOG_ERR, "container %s: network namespace %s: %s", st->id, netns,
			    strerror(-r));
			goto out;
		}
		host = pf_netns_is_host(&nsid);
	}
	if (host) {
		say(LOG_INFO, "container %s uses the host network: not enforced", st->id);
		rc = 0;
		goto out;
	}
	r = pf_oci_identity_derive(st, &cfg, &id, &err);
	if (r < 0) {
		say(LOG_ERR, "container %s: %s", st->id, err.msg);
		rc = 2;
		goto out;
	}
	if (id.note[0])
		say(LOG_WARNING, "container %s: %s", st->id, id.note);
	/* What the engine warns about or refuses (privileged_pods). */
	r = pf_oci_config_caps(&cfg, &caps, &err);
	if (r == 0 && !cfg.doc)
		caps = PF_CTL_CAP_UNKNOWN; /* no config.json read: refuse mode refuses it */
	if (r < 0) {
		say(LOG_ERR, "container %s: %s", st->id, err.msg);
		rc = 2;
		goto out;
	}
	pf_oci_sandbox_holder(st, &cfg, &sandbox, &sandbox_pid);
	r = pf_ctl_msg_register(&(struct pf_ctl_register){.netns = netns,
							  .pid = st->pid,
							  .netns_dev = nsid.dev,
							  .netns_ino = nsid.ino,
							  .namespace = id.namespace,
							  .name = id.name,
							  .uid = id.uid,
							  .container = st->id,
							  .kind = id.kind,
							  .caps = caps,
							  .sandbox = sandbox,
							  .sandbox_pid = sandbox_pid},
				&req);
	if (r < 0) {
		say(LOG_ERR, "container %s: %s", st->id, strerror(-r));
		goto out;
	}

	r = pf_ctl_request(o->socket, req, time_left_ms(o),
			   PF_CTL_SEND_DEADLINE | PF_CTL_RETRY_HANGUP, &reply, &reached, &err);
	if (r < 0 && unreachable(r, reached)) {
		if (o->fail_closed) {
			say(LOG_ERR,
			    "the podfence engine is unreachable (%s); refusing to start container "
			    "%s (%s/%s) unprotected because fail_mode is closed",
			    err.msg, st->id, id.namespace, id.name);
			goto out;
		}
		r = write_pending(o, st->id, req);
		if (r < 0)
			say(LOG_ERR,
			    "the podfence engine is unreachable (%s) and the record for container "
			    "%s could not be written to %s/pending: %s; the container starts "
			    "unenforced (fail_mode open)",
			    err.msg, st->id, o->state_dir, strerror(-r));
		else
			say(LOG_WARNING,
			    "the podfence engine is unreachable (%s); container %s (%s/%s) starts "
			    "unenforced until the engine adopts %s/pending/%s.json (fail_mode "
			    "open)",
			    err.msg, st->id, id.namespace, id.name, o->state_dir, st->id);
		rc = 0;
		goto out;
	}
	if (r < 0 && reached) {
		/* In either fail mode: it is not down, and an unjudged start is what the
		 * fence is there to prevent. */
		say(LOG_ERR,
		    "the podfence engine took the registration of container %s (%s/%s) but did "
		    "not confirm it (%s); refusing to start it unjudged",
		    st->id, id.namespace, id.name, err.msg);
		goto out;
	}
	if (r < 0) {
		say(LOG_ERR,
		    "cannot reach the podfence engine (%s); refusing to start container "
		    "%s (%s/%s) unjudged",
		    err.msg, st->id, id.namespace, id.name);
		goto out;
	}
	r = check_reply(reply, &err);
	if (r < 0) {
		say(LOG_ERR, "the podfence engine did not enforce container %s (%s/%s): %s", st->id,
		    id.namespace, id.name, err.msg);
		goto out;
	}
	remove_pending(o, st->id);
	say(LOG_INFO, "container %s registered as %s %s/%s (netns %s, %s)", st->id, id.kind,
	    id.namespace, id.name, netns, pf_oci_id_source_name(id.source));
	rc = 0;
out:
	pf_oci_identity_done(&id);
	pf_oci_config_done(&cfg);
	return rc;
}

/* Never fails a stop: everything here is logged and the exit status is 0. */
static int do_poststop(const struct opts *o, struct pf_oci_state *st)
{
	struct pf_oci_config cfg = {0};
	struct pf_error err = {0};
	_cleanup_free_ char *req = NULL, *reply = NULL;
	bool reached = false;
	uid_t outside;
	int r;

	if (is_rootless(&outside)) {
		say(LOG_DEBUG, "rootless container %s: nothing to unregister", st->id);
		return 0;
	}
	remove_pending(o, st->id);
	/* Podman runs poststop after the bundle is gone; the container id is enough then. */
	if (st->bundle && pf_oci_config_load(st->bundle, &cfg, &err) == 0 && !cfg.has_netns) {
		say(LOG_DEBUG, "container %s used the host network: nothing to unregister", st->id);
		goto out;
	}
	r = pf_ctl_msg_unregister(st->id, cfg.netns_path, &req);
	if (r < 0) {
		say(LOG_ERR, "container %s: %s", st->id, strerror(-r));
		goto out;
	}
	/* Unregistering never waits for a rebuild: no deadline to pass on. */
	r = pf_ctl_request(o->socket, req, time_left_ms(o), 0, &reply, &reached, &err);
	if (r < 0) {
		say(unreachable(r, reached) ? LOG_NOTICE : LOG_ERR,
		    "container %s not unregistered: %s", st->id, err.msg);
		goto out;
	}
	r = check_reply(reply, &err);
	if (r < 0)
		say(LOG_NOTICE, "container %s: engine: %s", st->id, err.msg);
	else
		say(LOG_INFO, "container %s unregistered", st->id);
out:
	pf_oci_config_done(&cfg);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct pf_config cfg = {0};
	struct pf_oci_state st = {0};
	struct pf_error err = {0};
	_cleanup_free_ char *buf = NULL;
	uint64_t t0 = pf_mono_ns();
	size_t len = 0;
	int r, rc;

	pf_log_open("podfence-hook", PF_LOG_SYSLOG, LOG_INFO);
	rc = parse_args(argc, argv, &o, &cfg);
	if (rc >= 0)
		goto out;
	/* Counted from our start: the runtime's clock started before we did. */
	o.deadline_ns = t0 + (uint64_t)o.timeout_ms * 1000000ull;

	r = pf_read_fd(STDIN_FILENO, PF_OCI_MAX_STATE, &buf, &len);
	if (r < 0) {
		if (r == -EFBIG)
			say(LOG_ERR, "container state on stdin is larger than %d bytes",
			    PF_OCI_MAX_STATE);
		else
			say(LOG_ERR, "cannot read the container state on stdin: %s", strerror(-r));
		rc = o.stage == STAGE_POSTSTOP ? 0 : 2;
		goto out;
	}
	r = pf_oci_state_parse(buf, len, &st, &err);
	if (r < 0) {
		say(LOG_ERR, "%s (podfence-hook expects the OCI state JSON on stdin)", err.msg);
		rc = o.stage == STAGE_POSTSTOP ? 0 : 2;
		goto out;
	}
	if (o.stage == STAGE_AUTO)
		o.stage = pf_streq(st.status, "stopped") ? STAGE_POSTSTOP : STAGE_PRESTART;
	rc = o.stage == STAGE_POSTSTOP ? do_poststop(&o, &st) : do_prestart(&o, &st);
out:
	pf_oci_state_done(&st);
	pf_config_free(&cfg);
	return rc;
}
