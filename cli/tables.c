/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl pods, policies, events: the store's public views, for people and scripts. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "query.h"

static int no_args(const char *name, int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "podfencectl %s: unexpected argument '%s'\n", name, argv[1]);
		return -EINVAL;
	}
	return 0;
}

static int show(const struct pf_cli *cli, const char *sql)
{
	struct pf_store *s = pf_cli_open_store(cli);
	int r;

	if (!s)
		return 1;
	r = pf_cli_print_query(cli, pf_store_db(s), sql, NULL, 0, NULL, true);
	pf_store_close(s);
	return r < 0 ? 1 : 0;
}

int cmd_pods(const struct pf_cli *cli, int argc, char **argv)
{
	if (no_args("pods", argc, argv) < 0)
		return 2;
	return show(cli,
		    "SELECT namespace, name, kind, ips, state, containers, registered_at, netns "
		    "FROM pods");
}

int cmd_policies(const struct pf_cli *cli, int argc, char **argv)
{
	if (no_args("policies", argc, argv) < 0)
		return 2;
	/* kind before error (the one column of unbounded width); the others keep their places */
	return show(cli,
		    "SELECT namespace, name, priority, valid, in_force, rules, source, updated_at, "
		    "kind, mode, error FROM policies");
}

/* "2026-11-26T10:00:00Z", "2026-11-26 10:00:00" (UTC), an epoch in ms, or a duration ago:
 * "30s", "5m", "2h", "1d". */
static int parse_since(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	uint64_t v;
	size_t n = strlen(s);
	const char *end;

	if (n >= 2 && strchr("smhd", s[n - 1])) {
		char num[32];
		static const int64_t unit[] = {['s' - 'a'] = 1000,
					       ['m' - 'a'] = 60000,
					       ['h' - 'a'] = 3600000,
					       ['d' - 'a'] = 86400000};

		if (n - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (pf_parse_u64(num, 100ull * 365 * 86400, &v) < 0)
			return -EINVAL;
		*ms = pf_now_ms() - (int64_t)v * unit[s[n - 1] - 'a'];
		return 0;
	}
	if (pf_parse_u64(s, INT64_MAX, &v) == 0) {
		*ms = (int64_t)v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!end || (*end && strcmp(end, "Z")))
		return -EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	stop = 1;
}

int cmd_events(const struct pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"since", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'n'},
	    {},
	};
	/* The view's columns, from the table so --follow can resume by row id. */
	static const char cols[] =
	    "SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', at / 1000.0, 'unixepoch') AS at, "
	    "pod_namespace, pod_name, src, dst, dport, action, policy_namespace, policy_name, "
	    "rule_index, count, reason, mode FROM event ";
	char since_buf[32] = "0", limit_buf[32] = "100", last_buf[32];
	bool follow = false;
	int64_t since = 0, last_id = 0;
	uint64_t limit = 100;
	struct pf_store *s;
	int c, r;

	while ((c = getopt_long(argc, argv, "fs:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 's':
			if (parse_since(optarg, &since) < 0) {
				fprintf(
				    stderr,
				    "podfencectl events: --since '%s': expected a time "
				    "(2026-11-26T10:00:00Z) or a duration ago (30s, 5m, 2h, 1d)\n",
				    optarg);
				return 2;
			}
			break;
		case 'n':
			if (pf_parse_u64(optarg, 1000000, &limit) < 0 || limit == 0) {
				fprintf(stderr, "podfencectl events: --limit must be 1..1000000\n");
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "podfencectl events: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	snprintf(since_buf, sizeof(since_buf), "%lld", (long long)since);
	snprintf(limit_buf, sizeof(limit_buf), "%llu", (unsigned long long)limit);
	s = pf_cli_open_store(cli);
	if (!s)
		return 1;
	{
		/* Newest `limit` events since T, printed oldest first so --follow continues below.
		 */
		_cleanup_free_ char *sql = NULL;
		const char *params[] = {since_buf, limit_buf};

		if (asprintf(&sql,
			     "SELECT * FROM (%s WHERE at >= CAST(?1 AS INTEGER) ORDER BY id DESC "
			     "LIMIT CAST(?2 AS INTEGER)) ORDER BY id",
			     cols) < 0) {
			pf_store_close(s);
			return 1;
		}
		r = pf_cli_print_query(cli, pf_store_db(s), sql, params, 2, &last_id, true);
	}
	if (r < 0 || !follow) {
		pf_store_close(s);
		return r < 0 ? 1 : 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* Follow the table, not a connection: when the store cannot be read (the engine
	 * restarting, a migration, the file replaced) open it again and go on from the last id,
	 * so a follower outlives the engine. */
	while (!stop) {
		_cleanup_free_ char *sql = NULL;
		const char *params[] = {last_buf};
		struct pf_error err = {0};

		usleep(200 * 1000);
		if (!s) {
			if (pf_store_open(cli->db, PF_STORE_READONLY, &s, &err) < 0) {
				s = NULL;
				continue;
			}
			fprintf(stderr, "podfencectl events: reading %s again\n", cli->db);
		}
		snprintf(last_buf, sizeof(last_buf), "%lld", (long long)last_id);
		if (asprintf(&sql, "%s WHERE id > CAST(?1 AS INTEGER) ORDER BY id", cols) < 0) {
			r = -ENOMEM;
			break;
		}
		if (pf_cli_print_query(cli, pf_store_db(s), sql, params, 1, &last_id, false) < 0) {
			fprintf(stderr, "podfencectl events: %s unreadable, retrying\n", cli->db);
			pf_store_close(s);
			s = NULL;
		}
	}
	pf_store_close(s);
	return r < 0 ? 1 : 0;
}
