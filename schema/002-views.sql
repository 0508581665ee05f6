-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 2: the public views (doc/architecture.md, "The store"), for sqlite3 users, scripts
-- and podfencectl. Columns are only ever added at the end; times are ISO-8601 UTC with
-- milliseconds, addresses text, actions as written in a policy ("Allow", ...).

-- Which registered pod each policy applies to: by a Pod or Namespace ref directly (standalone
-- mode and kube mode alike), or through the addresses podfence-sync resolved a workload to.
CREATE VIEW pod_policy_match AS
SELECT p.id AS pod_id, t.policy_id AS policy_id
	FROM policy_target t JOIN pod p ON p.namespace = t.namespace AND p.name = t.name
	WHERE t.kind = 'Pod'
UNION
SELECT p.id, t.policy_id
	FROM policy_target t JOIN pod p ON p.namespace = t.name
	WHERE t.kind = 'Namespace'
UNION
SELECT pi.pod_id, t.policy_id
	FROM policy_target t
	JOIN workload w ON w.kind = t.kind AND w.namespace = t.namespace AND w.name = t.name
	JOIN workload_ip wi ON wi.workload_id = w.id
	JOIN pod_ip pi ON pi.ip = wi.ip;

-- One row per (registered pod, rule of a policy in force) pair, in evaluation order.
-- pod_ip lists every address of the pod (", " separated; usually one).
CREATE VIEW applied_policies AS
SELECT p.namespace AS pod_namespace,
	p.name AS pod_name,
	p.ips AS pod_ip,
	pol.namespace AS policy_namespace,
	pol.name AS policy_name,
	pol.priority AS priority,
	r.rule_index AS rule_index,
	r.action AS action,
	r.destination AS destination,
	r.ports AS ports,
	p.state AS pod_state
FROM pod_policy_match m
JOIN pod p ON p.id = m.pod_id
JOIN policy pol ON pol.id = m.policy_id AND pol.in_force = 1
JOIN policy_rule r ON r.policy_id = pol.id
ORDER BY p.namespace, p.name, pol.priority, pol.namespace, pol.name, r.rule_index;

CREATE VIEW pods AS
SELECT namespace,
	name,
	kind,
	ips,
	netns_path AS netns,
	containers,
	strftime('%Y-%m-%dT%H:%M:%fZ', registered_at / 1000.0, 'unixepoch') AS registered_at,
	state,
	uid,
	netns_dev,
	netns_ino
FROM pod
ORDER BY pod.namespace, pod.name, pod.id;

-- One row per policy; valid is whether the latest version seen is valid, in_force whether a
-- (last valid) version is enforced. Errors that belong to no policy (an unreadable file, a
-- document without metadata, a name defined twice) are rows with valid = 0 and in_force = 0.
CREATE VIEW policies AS
SELECT namespace,
	name,
	priority,
	valid,
	error,
	source,
	strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch') AS updated_at,
	in_force,
	n_rules AS rules
FROM policy
UNION ALL
SELECT namespace,
	name,
	NULL,
	0,
	error,
	source,
	strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch'),
	0,
	0
FROM source_error
ORDER BY 1, 2, 6;

-- Newest first. policy_namespace/policy_name/rule_index are NULL when the default action
-- decided; count is 1 plus the events rate limiting folded into this one.
CREATE VIEW recent_events AS
SELECT strftime('%Y-%m-%dT%H:%M:%fZ', event.at / 1000.0, 'unixepoch') AS at,
	pod_namespace,
	pod_name,
	src,
	dst,
	dport,
	action,
	policy_namespace,
	policy_name,
	rule_index,
	count
FROM event
ORDER BY event.at DESC, event.id DESC;
