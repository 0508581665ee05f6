/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Events out of the engine for log pipelines: each event the store gets is also one JSON
 * object per line to the journal (native protocol, with structured PODFENCE_* fields and
 * SYSLOG_IDENTIFIER=podfenced) or, without a journal, to syslog. Used by the store worker only.
 */
#ifndef PF_ENGINE_EVENTLOG_H
#define PF_ENGINE_EVENTLOG_H

#include "store.h"

#define PF_JOURNAL_SOCKET "/run/systemd/journal/socket"

enum pf_eventlog_mode {
	PF_EVENTLOG_AUTO = 0, /* the journal when its socket is there, else syslog */
	PF_EVENTLOG_JOURNAL,
	PF_EVENTLOG_SYSLOG,
	PF_EVENTLOG_NONE,
};

struct pf_eventlog {
	enum pf_eventlog_mode mode; /* as configured */
	int fd;			    /* the journal's socket, -1 when writing to syslog */
	char path[108];
	uint64_t sent, failed;
};

/* "auto", "journal", "syslog", "none"; -EINVAL otherwise. */
int pf_eventlog_mode_from_string(const char *s);
/* Decide where events go (PODFENCE_JOURNAL_SOCKET names another journal socket, for tests). */
void pf_eventlog_open(struct pf_eventlog *el, enum pf_eventlog_mode mode);
void pf_eventlog_close(struct pf_eventlog *el);
void pf_eventlog_write(struct pf_eventlog *el, const struct pf_event *ev, size_t n);

#endif
