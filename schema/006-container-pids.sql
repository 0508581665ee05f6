-- SPDX-License-Identifier: GPL-2.0-or-later
-- podfence store, schema version 6: each container's own process.
--
-- pid is the container's process as the engine watched it, start_time that process's start
-- time (clock ticks after boot, /proc/PID/stat field 22), so that a restarted engine watches
-- each container again, and a pid the kernel has given to another process since is not taken
-- for the container. Both NULL when unknown (registered by a netns path alone). caps holds
-- the capabilities of the container's configuration that reach around the fence (1:
-- CAP_NET_ADMIN, 2: CAP_NET_RAW), so a privileged pod is still flagged after a restart.
ALTER TABLE pod_container ADD COLUMN pid INTEGER;
ALTER TABLE pod_container ADD COLUMN start_time INTEGER;
ALTER TABLE pod_container ADD COLUMN caps INTEGER NOT NULL DEFAULT 0;
