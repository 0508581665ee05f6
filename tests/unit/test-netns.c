/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network namespace helpers against the real kernel: open/identify (and refuse what is not a
 * netns), enter and leave on this thread, list addresses, install and remove the ruleset in a
 * netns of our own (a forked child's unshare(CLONE_NEWNET)). Needs root; skipped otherwise. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "netns.h"
#include "nft.h"
#include "tap.h"

int main(void);

/* A child that sits in a fresh netns until killed; its /proc/PID/ns/net is our test netns. */
static pid_t spawn_netns(void)
{
	int p[2];
	char c = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) == 0)
			c = 1;
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 1) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	close(p[0]);
	return pid;
}

int main(void)
{
	struct pf_netns_id self, cur, host, child, tmp;
	struct pf_error err = {0};
	struct pf_nft_config cfg;
	struct pf_addr *addrs = NULL;
	char path[64];
	size_t n = 99;
	int fd = -1, saved = -1, r;
	pid_t pid;

	if (geteuid() != 0)
		return tap_skip_all("needs root (setns, unshare)");

	ok(pf_netns_current_id(&cur) == 0, "current netns identity");
	ok(pf_netns_host_id(&host) == 0, "host netns identity");
	r = pf_netns_open("/proc/self/ns/net", &fd, &self, &err);
	is_int(r, 0, "open /proc/self/ns/net");
	ok(pf_netns_id_eq(&self, &cur), "its identity is the current netns");
	close(fd);

	r = pf_netns_open("/proc/self/ns/mnt", &fd, &tmp, &err);
	is_int(r, -EINVAL, "a mount namespace is refused");
	has_str(err.msg, "not a network namespace", "and the message says why");
	r = pf_netns_open("/etc/hostname", &fd, &tmp, &err);
	is_int(r, -EINVAL, "a regular file is refused");
	has_str(err.msg, "not a namespace file", "and the message says why");
	r = pf_netns_open("/nonexistent/podfence", &fd, &tmp, &err);
	is_int(r, -ENOENT, "a missing path is -ENOENT");
	has_str(err.msg, "/nonexistent/podfence", "and the message names the path");
	/* A FIFO nobody writes to: a plain open would block forever (the engine's whole loop
	 * with it). The alarm turns such a hang into a failure. */
	{
		char fifo[] = "/tmp/test-netns-fifo-XXXXXX";
		int tfd = mkstemp(fifo);

		if (tfd >= 0) {
			close(tfd);
			unlink(fifo);
		}
		ok(tfd >= 0 && mkfifo(fifo, 0600) == 0, "make a FIFO");
		alarm(10);
		r = pf_netns_open(fifo, &fd, &tmp, &err);
		alarm(0);
		is_int(r, -EINVAL, "a FIFO is refused without blocking");
		unlink(fifo);
	}
	r = pf_netns_open("/dev/null", &fd, &tmp, &err);
	is_int(r, -EINVAL, "a device is refused");
	has_str(err.msg, "not a namespace file", "and the message says why");
	{
		int before = open("/dev/null", O_RDONLY | O_CLOEXEC);

		close(before);
		(void)pf_netns_open("/etc/hostname", &fd, &tmp, &err);
		r = open("/dev/null", O_RDONLY | O_CLOEXEC);
		is_int(r, before, "no fd left open by a refused path");
		close(r);
	}

	pid = spawn_netns();
	if (pid < 0) {
		ok(0, "unshare(CLONE_NEWNET) in a child");
		return tap_done();
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	r = pf_netns_open(path, &fd, &child, &err);
	is_int(r, 0, "open the child's netns");
	ok(!pf_netns_id_eq(&child, &cur) && !pf_netns_id_eq(&child, &host),
	   "it is a different netns");

	is_int(pf_netns_list_addrs_at(fd, &addrs, &n), 0,
	       "list addresses of the new netns from outside");
	is_int(n, 0, "a new netns has no global address");
	ok(addrs == NULL, "no array for no addresses");
	ok(pf_netns_current_id(&tmp) == 0 && pf_netns_id_eq(&tmp, &cur),
	   "back in our netns after listing");

	is_int(pf_netns_enter(fd, &saved), 0, "enter the child's netns");
	ok(pf_netns_current_id(&tmp) == 0 && pf_netns_id_eq(&tmp, &child), "this thread is in it");
	pf_nft_config_init(&cfg);
	r = pf_nft_probe_backend(&cfg.backend, &err);
	is_int(r, 0, "probe the queue backend (%s)",
	       r ? err.msg : pf_nft_backend_name(cfg.backend));
	r = pf_nft_install(&cfg, &err);
	is_int(r, 0, "install the ruleset in the child's netns%s%s", r ? ": " : "",
	       r ? err.msg : "");
	r = pf_nft_install(&cfg, &err);
	is_int(r, 0, "install again (replace)");
	r = pf_nft_remove(&cfg, &err);
	is_int(r, 0, "remove it");
	r = pf_nft_remove(NULL, &err);
	is_int(r, 0, "remove again: missing is fine");
	pf_netns_leave(&saved);
	is_int(saved, -1, "leave resets the saved fd");
	ok(pf_netns_current_id(&tmp) == 0 && pf_netns_id_eq(&tmp, &cur), "left: back in our netns");
	pf_netns_leave(&saved); /* -1: no-op */

	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return tap_done();
}
