/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pf_conf_merge: defaults, then the file, then the flags, '_' in the file for '-'. */
#include <stdio.h>

#include "conf.h"
#include "tap.h"

enum { O_CONFIG = 256, O_STATE_DIR, O_ONCE, O_SOCKET, O_HELP };

struct seen {
	char log[512];
	const char *state_dir, *socket;
};

static int set(void *ctx, int val, const char *v, const char *what, bool file)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "%s%s=%s;", file ? "f:" : "", what,
		 v ? v : "(null)");
	if (val == O_STATE_DIR)
		s->state_dir = v;
	if (val == O_SOCKET)
		s->socket = v;
	if (val == O_HELP)
		return 1;
	return val == '?' ? -EINVAL : 0;
}

int main(void)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, O_CONFIG},
	    {"state-dir", required_argument, NULL, O_STATE_DIR},
	    {"once", no_argument, NULL, O_ONCE},
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"help", no_argument, NULL, O_HELP},
	    {},
	};
	char path[] = "/tmp/pf-test-conf.XXXXXX";
	int fd = mkstemp(path);
	struct pf_config file = {0};
	struct pf_error err = {0};
	struct seen s = {0};
	struct pf_conf_program p = {.options = opts, .shortopts = "", .set = set, .ctx = &s};
	char cfgarg[64];
	int r;

	if (fd < 0)
		return tap_skip_all("no temporary file");
	dprintf(fd, "state_dir = /file\n# comment\nother_program_key = x\nonce = false\n"
		    "help = true\nsocket = /file.sock\n");
	close(fd);
	snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
	{
		char *argv[] = {"prog", cfgarg, "--state-dir", "/flag", "--once", "operand", NULL};

		r = pf_conf_merge(&p, 6, argv, &file, &err);
		is_int(r, 0, "merged");
		is_str(s.state_dir, "/flag", "a flag beats the file");
		is_str(s.socket, "/file.sock", "the file beats the default");
		is_int(optind, 5, "optind at the operand");
		has_str(s.log, "f:", "file values say so");
		ok(!strstr(s.log, "other_program") && !strstr(s.log, "help"),
		   "other programs' keys and help are not read from the file");
		ok(strstr(s.log, ":1: state_dir=/file;") && strstr(s.log, "--once=true;"),
		   "file values name file and line, a flag without argument is \"true\": %s",
		   s.log);
		ok(strstr(s.log, "state_dir=/file") < strstr(s.log, "--state-dir=/flag"),
		   "the file before the flags");
		pf_config_free(&file);
	}
	{
		char *argv[] = {"prog", cfgarg, "--help", NULL};

		s = (struct seen){0};
		is_int(pf_conf_merge(&p, 3, argv, &file, &err), 1,
		       "a positive set() stops the merge");
		pf_config_free(&file);
	}
	{
		char *argv[] = {"prog", "--config", "/nonexistent/pf.conf", NULL};

		is_int(pf_conf_merge(&p, 3, argv, &file, &err), -ENOENT,
		       "an explicit file must exist");
		has_str(err.msg, "/nonexistent/pf.conf", "the error names it");
		pf_config_free(&file);
	}
	unlink(path);
	return tap_done();
}
