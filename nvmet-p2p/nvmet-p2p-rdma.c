// SPDX-License-Identifier: GPL-2.0
/*
 * nvmet-p2p for nvmet-rdma (linked into nvmet-rdma.ko): which device's DMA
 * reaches a queue's data buffers. A hardware RDMA device DMAs itself; a
 * software one (rxe, siw) has the CPU copy the data, and is named by the
 * PCI device under the netdev its connection is bound to, marked virtual,
 * so that the core refuses it unless the test-rig option soft_rdma is set.
 */

#include <linux/netdevice.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

#include "nvmet.h"

void nvmet_p2p_rdma_set_client(struct nvmet_sq *sq, struct rdma_cm_id *cm_id,
			       struct ib_device *ibdev)
{
	struct rdma_dev_addr *addr = &cm_id->route.addr.dev_addr;
	struct net_device *netdev;
	struct device *client;

	if (!ib_uses_virt_dma(ibdev)) {
		sq->p2p.client = get_device(ibdev->dma_device);
		return;
	}
	netdev = dev_get_by_index(addr->net ?: &init_net, addr->bound_dev_if);
	if (!netdev)
		return;
	client = netdev->dev.parent;
	sq->p2p.client = client ? get_device(client) : NULL;
	sq->p2p.virt_dma = true;
	dev_put(netdev);
}
