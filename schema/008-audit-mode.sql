-- SPDX-License-Identifier: GPL-2.0-or-later
-- Audit mode: a policy's spec.mode (Enforce or Audit) as a column of the version in force,
-- read from its canonical JSON so that no writer has to set it; events record the mode that
-- produced them ('Audit': what an Audit policy would have decided, never the verdict given).
-- The views add mode at the end of their columns.
ALTER TABLE policy ADD COLUMN mode TEXT
	GENERATED ALWAYS AS (coalesce(json_extract(spec, '$.spec.mode'), 'Enforce')) VIRTUAL;
ALTER TABLE event ADD COLUMN mode TEXT NOT NULL DEFAULT 'Enforce';

DROP VIEW applied_policies;
DROP VIEW policies;
DROP VIEW recent_events;

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
	pol.kind AS kind,
	r.protocol AS protocol,
	pol.mode AS mode
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
	kind,
	mode
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
	kind,
	NULL
FROM source_error
ORDER BY 1, 2, 6;

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
	count,
	reason,
	protocol,
	mode
FROM event
ORDER BY event.at DESC, event.id DESC;
