-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 4: events that are not verdicts say why they were recorded.
--
-- reason is NULL for an ordinary verdict event (the pod's connection was judged). Otherwise it
-- names what the engine saw: 'unparsed' (a queued packet it could not read, judged Deny),
-- 'ruleset-restored' (someone changed the pod's rules and the engine put them back),
-- 'privileged' (a container that may change or bypass its rules), and so on; see podfenced(8).
ALTER TABLE event ADD COLUMN reason TEXT;

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
	reason
FROM event
ORDER BY event.at DESC, event.id DESC;
