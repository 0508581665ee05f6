/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Events to the journal (native protocol) or syslog, one JSON object each. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>

#include "eventlog.h"
#include "json-gen.h"
#include "log.h"

int pf_eventlog_mode_from_string(const char *s)
{
	static const char *const names[] = {"auto", "journal", "syslog", "none"};

	for (size_t i = 0; i < PF_ARRAY_SIZE(names); i++)
		if (pf_streq(s, names[i]))
			return (int)i;
	return -EINVAL;
}

void pf_eventlog_open(struct pf_eventlog *el, enum pf_eventlog_mode mode)
{
	const char *path = getenv("PODFENCE_JOURNAL_SOCKET");
	struct stat st;

	*el = (struct pf_eventlog){.mode = mode, .fd = -1};
	if (mode == PF_EVENTLOG_NONE || mode == PF_EVENTLOG_SYSLOG)
		return;
	if (!path || !*path)
		path = PF_JOURNAL_SOCKET;
	if (strlen(path) >= sizeof(el->path) || stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		if (mode == PF_EVENTLOG_JOURNAL)
			log_warning("event_log = journal, but %s is no socket: events go to syslog",
				    path);
		return;
	}
	snprintf(el->path, sizeof(el->path), "%s", path);
	el->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

void pf_eventlog_close(struct pf_eventlog *el)
{
	if (el->fd >= 0)
		close(el->fd);
	el->fd = -1;
}

static int event_json(const struct pf_event *e, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_int(&j, "at_ms", e->at_ms);
	pf_jgen_kv_str(&j, "pod_namespace", e->pod_namespace);
	pf_jgen_kv_str(&j, "pod_name", e->pod_name);
	pf_jgen_kv_str(&j, "src", pf_addr_fmt(&e->src, s));
	pf_jgen_kv_str(&j, "dst", pf_addr_fmt(&e->dst, d));
	pf_jgen_kv_uint(&j, "dport", e->dport);
	pf_jgen_kv_str(&j, "action", pf_action_to_string(e->action));
	pf_jgen_kv_str(&j, "policy_namespace", e->policy_namespace);
	pf_jgen_kv_str(&j, "policy_name", e->policy_name);
	pf_jgen_key(&j, "rule_index");
	if (e->policy_name && e->rule_index >= 0)
		pf_jgen_int(&j, e->rule_index);
	else
		pf_jgen_null(&j);
	pf_jgen_kv_uint(&j, "count", e->count ? e->count : 1);
	pf_jgen_kv_str(&j, "reason", e->reason);
	pf_jgen_kv_str(&j, "mode", e->audit ? "Audit" : "Enforce");
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

/* One journal field: "KEY=value\n"; values hold no newline here (JSON escapes them, names and
 * addresses have none), so the simple form of the native protocol is enough. */
static void field(struct pf_buf *b, const char *key, const char *v)
{
	if (!v)
		return;
	pf_buf_printf(b, "%s=", key);
	for (; *v; v++)
		pf_buf_add(b, *v == '\n' ? " " : v, 1);
	pf_buf_add(b, "\n", 1);
}

static void to_journal(struct pf_eventlog *el, const struct pf_event *e, const char *json)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_buf_ struct pf_buf b = {0};
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN], num[32], pod[512];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", el->path);
	field(&b, "MESSAGE", json);
	/* notice for what was let through, warning for what was stopped */
	field(&b, "PRIORITY",
	      !e->audit && (e->action == PF_ACTION_DENY || e->action == PF_ACTION_REJECT) ? "4"
											  : "5");
	field(&b, "SYSLOG_IDENTIFIER", "podfenced");
	field(&b, "PODFENCE_ACTION", pf_action_to_string(e->action));
	field(&b, "PODFENCE_MODE", e->audit ? "Audit" : "Enforce");
	snprintf(pod, sizeof(pod), "%s/%s", pf_strna(e->pod_namespace), pf_strna(e->pod_name));
	field(&b, "PODFENCE_POD", pod);
	field(&b, "PODFENCE_SRC", pf_addr_fmt(&e->src, s));
	field(&b, "PODFENCE_DST", pf_addr_fmt(&e->dst, d));
	snprintf(num, sizeof(num), "%u", e->dport);
	field(&b, "PODFENCE_DPORT", num);
	if (e->policy_name) {
		snprintf(pod, sizeof(pod), "%s%s%s", e->policy_namespace ? e->policy_namespace : "",
			 e->policy_namespace ? "/" : "", e->policy_name);
		field(&b, "PODFENCE_POLICY", pod);
		snprintf(num, sizeof(num), "%d", e->rule_index);
		field(&b, "PODFENCE_RULE", num);
	}
	field(&b, "PODFENCE_REASON", e->reason);
	snprintf(num, sizeof(num), "%u", e->count ? e->count : 1);
	field(&b, "PODFENCE_COUNT", num);
	if (b.r < 0 || sendto(el->fd, b.s, b.len, MSG_NOSIGNAL | MSG_DONTWAIT,
			      (struct sockaddr *)&sa, sizeof(sa)) < 0)
		el->failed++;
	else
		el->sent++;
}

void pf_eventlog_write(struct pf_eventlog *el, const struct pf_event *ev, size_t n)
{
	if (el->mode == PF_EVENTLOG_NONE)
		return;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *json = NULL;

		if (event_json(&ev[i], &json) < 0) {
			el->failed++;
			continue;
		}
		if (el->fd >= 0) {
			to_journal(el, &ev[i], json);
		} else {
			syslog(LOG_DAEMON | LOG_NOTICE, "%s", json);
			el->sent++;
		}
	}
}
