/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: everything podfence-hook derives from a state document or a config.json. */
#include <stdio.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_oci_state st;
	struct pf_oci_config cfg;
	struct pf_oci_identity id;
	struct pf_error err = {0};
	const char *buf = (const char *)data;
	bool have_st, have_cfg, host;
	char *netns = NULL, *req = NULL;

	have_st = pf_oci_state_parse(buf, size, &st, &err) == 0;
	have_cfg = pf_oci_config_parse(buf, size, &cfg, &err) == 0;
	if (have_st) {
		if (pf_oci_netns_path(&st, have_cfg ? &cfg : NULL, &netns, &host, &err) == 0)
			free(netns);
		if (pf_oci_identity_derive(&st, have_cfg ? &cfg : NULL, &id, &err) == 0) {
			struct pf_ctl_register m = {.netns = "/proc/1/ns/net",
						    .pid = st.pid,
						    .netns_dev = 1,
						    .netns_ino = 2,
						    .namespace = id.namespace,
						    .name = id.name,
						    .uid = id.uid,
						    .container = st.id,
						    .kind = id.kind};

			pf_oci_sandbox_holder(&st, have_cfg ? &cfg : NULL, &m.sandbox,
					      &m.sandbox_pid);

			if (pf_ctl_msg_register(&m, &req) == 0)
				free(req);
			pf_oci_identity_done(&id);
		}
		if (pf_ctl_msg_unregister(st.id, have_cfg ? cfg.netns_path : NULL, &req) == 0)
			free(req);
		pf_oci_state_done(&st);
	}
	if (have_cfg)
		pf_oci_config_done(&cfg);
	return 0;
}
