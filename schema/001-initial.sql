-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 1: the tables. Public views come in 002; tools should read
-- those, not these tables (the tables may change between versions, the views keep their columns).
--
-- Times are integer milliseconds since the epoch (UTC); addresses are text in the canonical
-- form inet_ntop prints (IPv4 dotted, IPv6 compressed), so a join on text is a join on address.

-- One row per FencePolicy (namespace, name). The rows of policy_target, policy_rule,
-- rule_peer and rule_port belong to the last VALID version; an invalid update only sets
-- valid = 0 and error, so the last valid version stays in force (fencepolicy(5)).
CREATE TABLE policy (
	id INTEGER PRIMARY KEY,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	source TEXT NOT NULL,                  -- policy file path, or "kube"
	in_force INTEGER NOT NULL DEFAULT 0 CHECK (in_force IN (0, 1)),
	valid INTEGER NOT NULL CHECK (valid IN (0, 1)),  -- the latest version submitted is valid
	error TEXT,                            -- why the latest version was rejected
	priority INTEGER CHECK (priority BETWEEN 0 AND 65535), -- of the version in force
	n_rules INTEGER NOT NULL DEFAULT 0,
	spec TEXT,                             -- canonical JSON of the version in force
	updated_at INTEGER NOT NULL,
	UNIQUE (namespace, name)
);
CREATE INDEX policy_source ON policy (source);

-- Errors of a source that belong to no policy row: a file that cannot be read or split into
-- documents, a document without readable metadata, a name already defined elsewhere.
CREATE TABLE source_error (
	id INTEGER PRIMARY KEY,
	source TEXT NOT NULL,
	doc_index INTEGER,                     -- NULL: the source as a whole
	namespace TEXT,
	name TEXT,
	error TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX source_error_source ON source_error (source);

-- spec.appliesTo of the version in force.
CREATE TABLE policy_target (
	policy_id INTEGER NOT NULL REFERENCES policy (id) ON DELETE CASCADE,
	idx INTEGER NOT NULL,
	kind TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (policy_id, idx)
) WITHOUT ROWID;
CREATE INDEX policy_target_ref ON policy_target (kind, namespace, name);

-- spec.egress of the version in force. destination and ports are the human forms shown by
-- the applied_policies view.
CREATE TABLE policy_rule (
	policy_id INTEGER NOT NULL REFERENCES policy (id) ON DELETE CASCADE,
	rule_index INTEGER NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('Allow', 'Deny', 'Reject', 'Alert')),
	log INTEGER NOT NULL DEFAULT 0,
	any_dst INTEGER NOT NULL,
	destination TEXT NOT NULL,
	ports TEXT NOT NULL,
	PRIMARY KEY (policy_id, rule_index)
) WITHOUT ROWID;

-- egress[].to: a workload ref (kind, namespace, name) or a cidr.
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
CREATE INDEX rule_peer_ref ON rule_peer (kind, namespace, name);

-- egress[].ports, inclusive ranges.
CREATE TABLE rule_port (
	policy_id INTEGER NOT NULL,
	rule_index INTEGER NOT NULL,
	idx INTEGER NOT NULL,
	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	end_port INTEGER NOT NULL CHECK (end_port BETWEEN port AND 65535),
	PRIMARY KEY (policy_id, rule_index, idx),
	FOREIGN KEY (policy_id, rule_index) REFERENCES policy_rule (policy_id, rule_index) ON DELETE CASCADE
) WITHOUT ROWID;

-- What podfence-sync --kube resolved a (kind, namespace, name) to. For kind Namespace,
-- namespace and name are both the namespace's name, as in a policy ref.
CREATE TABLE workload (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (kind, namespace, name)
);

CREATE TABLE workload_ip (
	workload_id INTEGER NOT NULL REFERENCES workload (id) ON DELETE CASCADE,
	ip TEXT NOT NULL,
	PRIMARY KEY (workload_id, ip)
) WITHOUT ROWID;
CREATE INDEX workload_ip_ip ON workload_ip (ip);

-- Network namespaces registered with podfenced, one per enforced pod (identity: the netns
-- device and inode). ips and containers repeat pod_ip and pod_container as display text.
CREATE TABLE pod (
	id INTEGER PRIMARY KEY,
	netns_dev INTEGER NOT NULL,
	netns_ino INTEGER NOT NULL,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	uid TEXT,
	kind TEXT NOT NULL,
	netns_path TEXT,
	ips TEXT NOT NULL DEFAULT '',
	containers TEXT NOT NULL DEFAULT '',
	registered_at INTEGER NOT NULL,
	state TEXT NOT NULL,
	UNIQUE (netns_dev, netns_ino)
);
CREATE INDEX pod_name ON pod (namespace, name);

CREATE TABLE pod_ip (
	pod_id INTEGER NOT NULL REFERENCES pod (id) ON DELETE CASCADE,
	ip TEXT NOT NULL,
	PRIMARY KEY (pod_id, ip)
) WITHOUT ROWID;
CREATE INDEX pod_ip_ip ON pod_ip (ip);

CREATE TABLE pod_container (
	pod_id INTEGER NOT NULL REFERENCES pod (id) ON DELETE CASCADE,
	idx INTEGER NOT NULL,
	container TEXT NOT NULL,
	PRIMARY KEY (pod_id, idx)
) WITHOUT ROWID;

-- Verdict events, appended in batches by podfenced; bounded (oldest rows dropped).
CREATE TABLE event (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	pod_namespace TEXT,
	pod_name TEXT,
	src TEXT NOT NULL,
	dst TEXT NOT NULL,
	dport INTEGER NOT NULL,
	action TEXT NOT NULL,
	policy_namespace TEXT,                 -- NULL: the engine's default action decided
	policy_name TEXT,
	rule_index INTEGER,
	count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX event_at ON event (at);
