/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvme-p2p: the state our patches add to the NVMe PCI driver's struct
 * nvme_dev, and the hooks they call. Included by the staged pci.c; the
 * logic lives in nvme-p2p.c, linked into nvme.ko.
 */
#ifndef _NVME_P2P_H
#define _NVME_P2P_H

#include <linux/atomic.h>
#include <linux/blk_types.h>
#include <linux/types.h>

struct pci_dev;
struct request;

/**
 * struct nvme_p2p_cmb - a controller's CMB, as nvme-p2p registered it
 * @state: %NVME_P2P_CMB_NONE, %NVME_P2P_CMB_REGISTERED, or
 *	%NVME_P2P_CMB_WITHDRAWING while being taken back (the controller's
 *	enables, in its reset work, may run meanwhile)
 * @cmbmsc: what CMBMSC holds while a 1.4-style CMB is on (its bus address
 *	and the enable bits), 0 for a legacy CMB, which is always on
 */
struct nvme_p2p_cmb {
	atomic_t state;
	u64 cmbmsc;
};

enum {
	NVME_P2P_CMB_NONE,
	NVME_P2P_CMB_REGISTERED,
	NVME_P2P_CMB_WITHDRAWING,
};

bool nvme_p2p_map_cmb(struct nvme_p2p_cmb *cmb, struct pci_dev *pdev,
		      void __iomem *regs, u64 cap, u32 *cmbsz, u32 *cmbloc);
void nvme_p2p_unmap_cmb(struct nvme_p2p_cmb *cmb, struct pci_dev *pdev,
			void __iomem *regs);
blk_status_t nvme_p2p_check_rq(struct pci_dev *pdev, struct request *req);

#endif /* _NVME_P2P_H */
