-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 5: ClusterFencePolicy, the cluster-scoped tier, and Pass.
--
-- A ClusterFencePolicy is a policy row with kind 'ClusterFencePolicy' and namespace '' (it has
-- none; '' is never a namespace, so (namespace, name) still names one policy). The views show
-- its namespace as NULL. Its rules may have action 'Pass', which the CHECK on policy_rule did
-- not admit: policy_rule is rebuilt, and with it the two tables whose keys reference it (a
-- migration runs in a transaction with foreign keys on, where renaming a parent rewrites its
-- children's references and dropping it cascades into them).
ALTER TABLE policy ADD COLUMN kind TEXT NOT NULL DEFAULT 'FencePolicy'
	CHECK (kind IN ('FencePolicy', 'ClusterFencePolicy'));
-- The kind a rejected document meant to be, when it could be read (NULL: unknown).
ALTER TABLE source_error ADD COLUMN kind TEXT;

DROP VIEW applied_policies;
DROP VIEW policies;

ALTER TABLE rule_peer RENAME TO rule_peer_old;
ALTER TABLE rule_port RENAME TO rule_port_old;
ALTER TABLE policy_rule RENAME TO policy_rule_old;

CREATE TABLE policy_rule (
	policy_id INTEGER NOT NULL REFERENCES policy (id) ON DELETE CASCADE,
	rule_index INTEGER NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('Allow', 'Deny', 'Reject', 'Alert', 'Pass')),
	log INTEGER NOT NULL DEFAULT 0,
	any_dst INTEGER NOT NULL,
	destination TEXT NOT NULL,
	ports TEXT NOT NULL,
	PRIMARY KEY (policy_id, rule_index)
) WITHOUT ROWID;

CREATE TABLE rule_peer (
	policy_id INTEGER NOT NULL,
	rule_index INTEGER NOT NULL,
	idx INTEGER NOT NULL,
	kind TEXT,
	namespace TEXT,
	name TEXT,
	cidr TEXT,
	PRIMARY KEY (policy_id, rule_index, idx),
	FOREIGN KEY (policy_id, rule_index) REFERENCES policy_rule (policy_id, rule_index) ON DELETE CASCADE,
	CHECK ((cidr IS NULL) = (kind IS NOT NULL))
) WITHOUT ROWID;

CREATE TABLE rule_port (
	policy_id INTEGER NOT NULL,
	rule_index INTEGER NOT NULL,
	idx INTEGER NOT NULL,
	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	end_port INTEGER NOT NULL CHECK (end_port BETWEEN port AND 65535),
	PRIMARY KEY (policy_id, rule_index, idx),
	FOREIGN KEY (policy_id, rule_index) REFERENCES policy_rule (policy_id, rule_index) ON DELETE CASCADE
) WITHOUT ROWID;

INSERT INTO policy_rule SELECT * FROM policy_rule_old;
INSERT INTO rule_peer SELECT * FROM rule_peer_old;
INSERT INTO rule_port SELECT * FROM rule_port_old;
DROP TABLE rule_peer_old;
DROP TABLE rule_port_old;
DROP TABLE policy_rule_old;
CREATE INDEX rule_peer_ref ON rule_peer (kind, namespace, name);

-- Rows in evaluation order: the cluster tier first. Columns as before, kind added at the end.
CREATE VIEW applied_policies AS
SELECT p.namespace AS pod_namespace,
	p.name AS pod_name,
	p.ips AS pod_ip,
	NULLIF(pol.namespace, '') AS policy_namespace,
	pol.name AS policy_name,
	pol.priority AS priority,
	r.rule_index AS rule_index,
	r.action AS action,
	r.destination AS destination,
	r.ports AS ports,
	p.state AS pod_state,
	pol.kind AS kind
FROM pod_policy_match m
JOIN pod p ON p.id = m.pod_id
JOIN policy pol ON pol.id = m.policy_id AND pol.in_force = 1
JOIN policy_rule r ON r.policy_id = pol.id
ORDER BY p.namespace, p.name, pol.kind = 'FencePolicy', pol.priority, pol.namespace, pol.name,
	r.rule_index;

CREATE VIEW policies AS
SELECT NULLIF(namespace, '') AS namespace,
	name,
	priority,
	valid,
	error,
	source,
	strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch') AS updated_at,
	in_force,
	n_rules AS rules,
	kind
FROM policy
UNION ALL
SELECT NULLIF(namespace, ''),
	name,
	NULL,
	0,
	error,
	source,
	strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch'),
	0,
	0,
	kind
FROM source_error
ORDER BY 1, 2, 6;
