-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 3: workloads also resolve to pod NAMES.
--
-- A pod object (name, ownerReferences) is in the API before its sandbox starts, its IP only
-- after: matching registered pods by (namespace, name) lets a policy reach a scaled-up pod
-- from its first SYN, before podfence-sync has learnt its address.

-- The pods podfence-sync resolved a workload to, by name (pods without an IP yet included,
-- finished ones not). The pods are in the workload's namespace (for kind Namespace, the
-- namespace itself). Pod and Namespace refs match registered pods by name directly, so sync
-- need not list pods for those kinds.
CREATE TABLE workload_pod (
	workload_id INTEGER NOT NULL REFERENCES workload (id) ON DELETE CASCADE,
	pod_namespace TEXT NOT NULL,
	pod_name TEXT NOT NULL,
	PRIMARY KEY (workload_id, pod_namespace, pod_name)
) WITHOUT ROWID;
CREATE INDEX workload_pod_pod ON workload_pod (pod_namespace, pod_name);

-- pod_policy_match gains the branch by pod name; applied_policies depends on it, so both are
-- recreated (same columns).
DROP VIEW applied_policies;
DROP VIEW pod_policy_match;

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
	JOIN pod_ip pi ON pi.ip = wi.ip
UNION
SELECT p.id, t.policy_id
	FROM policy_target t
	JOIN workload w ON w.kind = t.kind AND w.namespace = t.namespace AND w.name = t.name
	JOIN workload_pod wp ON wp.workload_id = w.id
	JOIN pod p ON p.namespace = wp.pod_namespace AND p.name = wp.pod_name;

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
