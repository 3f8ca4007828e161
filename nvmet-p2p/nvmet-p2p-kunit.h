/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvmet-p2p's internals that its KUnit suite (nvmet-p2p-kunit.c) calls:
 * static without KUnit, exported to the suite's namespace with it.
 */
#ifndef _NVMET_P2P_KUNIT_H
#define _NVMET_P2P_KUNIT_H

#include <kunit/visibility.h>

#if IS_ENABLED(CONFIG_KUNIT)
struct p2pdma_client;

int nvmet_p2p_ns_p2pmem_parse(struct nvmet_ns *ns, const char *page,
			      bool *use, struct pci_dev **pin);
int nvmet_p2p_clients(struct nvmet_sq *sq, struct p2pdma_client **out,
		      struct pci_dev **pin);
bool nvmet_p2p_ctrl_add(struct nvmet_ctrl *ctrl, struct pci_dev *provider);
struct pci_dev *nvmet_p2p_provider_for(struct nvmet_sq *sq,
				       struct p2pdma_client *clients,
				       int nr, struct pci_dev *pin);
void nvmet_p2p_ctrl_prune(struct nvmet_ctrl *ctrl);
void nvmet_setup_p2p_ns_map(struct nvmet_ctrl *ctrl, struct nvmet_req *req);
#endif

#endif /* _NVMET_P2P_KUNIT_H */
