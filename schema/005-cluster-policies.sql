-- SPDX-License-Identifier: GPL-2.0-or-later
-- PLACEHOLDER, not for main: stands in for the ClusterFencePolicy migration (another branch)
-- so that 006 builds on this branch. On merge, take the other branch's file.
SELECT 1;
