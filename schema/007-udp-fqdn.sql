-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 7: UDP ports, fqdn destinations, and the names pods resolved.
--
-- A ports entry now names its protocol (rows before this version were all TCP). An fqdn peer
-- (`to: - fqdn: api.example.com`) is a rule_fqdn row, not a rule_peer one: it names no
-- workload and no CIDR, and nothing resolves it here; the engine matches it against the
-- addresses the pod itself received in DNS answers, which it records in dns_name.
ALTER TABLE rule_port ADD COLUMN protocol TEXT NOT NULL DEFAULT 'TCP'
	CHECK (protocol IN ('TCP', 'UDP'));
-- What the views show: 'TCP', 'UDP', 'TCP,UDP', or 'any' for a rule without ports.
ALTER TABLE policy_rule ADD COLUMN protocol TEXT NOT NULL DEFAULT 'any';
UPDATE policy_rule SET protocol = 'TCP'
	WHERE EXISTS (SELECT 1 FROM rule_port p
		      WHERE p.policy_id = policy_rule.policy_id AND p.rule_index = policy_rule.rule_index);

CREATE TABLE rule_fqdn (
	policy_id INTEGER NOT NULL,
	rule_index INTEGER NOT NULL,
	idx INTEGER NOT NULL,                  -- the entry's index in the rule's `to`
	name TEXT NOT NULL,                    -- lower case, no trailing dot, maybe "*." first
	PRIMARY KEY (policy_id, rule_index, idx),
	FOREIGN KEY (policy_id, rule_index) REFERENCES policy_rule (policy_id, rule_index) ON DELETE CASCADE
) WITHOUT ROWID;

ALTER TABLE event ADD COLUMN protocol TEXT NOT NULL DEFAULT 'TCP';

-- Per pod: the addresses it received in DNS answers from its resolver, by name, until the
-- answer's TTL (clamped to [30 s, 24 h]) runs out. Written by podfenced; a pod's rows go
-- with it.
CREATE TABLE dns_name (
	pod_id INTEGER NOT NULL REFERENCES pod (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	ip TEXT NOT NULL,
	expires_at INTEGER NOT NULL,           -- ms since the epoch
	PRIMARY KEY (pod_id, name, ip)
) WITHOUT ROWID;

DROP VIEW applied_policies;
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
	r.protocol AS protocol
FROM pod_policy_match m
JOIN pod p ON p.id = m.pod_id
JOIN policy pol ON pol.id = m.policy_id AND pol.in_force = 1
JOIN policy_rule r ON r.policy_id = pol.id
ORDER BY p.namespace, p.name, pol.kind = 'FencePolicy', pol.priority, pol.namespace, pol.name,
	r.rule_index;

DROP VIEW recent_events;
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
	protocol
FROM event
ORDER BY event.at DESC, event.id DESC;

CREATE VIEW dns_names AS
SELECT p.namespace AS pod_namespace,
	p.name AS pod_name,
	d.name AS name,
	d.ip AS ip,
	strftime('%Y-%m-%dT%H:%M:%fZ', d.expires_at / 1000.0, 'unixepoch') AS expires_at
FROM dns_name d
JOIN pod p ON p.id = d.pod_id
ORDER BY 1, 2, 3, 4;
