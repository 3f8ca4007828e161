/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvmet-p2p: the state our patches add to nvmet's structures, and the
 * hooks they call. Included by the staged nvmet.h; the logic lives in
 * nvmet-p2p.c (linked into nvmet.ko) and nvmet-p2p-rdma.c (nvmet-rdma.ko).
 */
#ifndef _NVMET_P2P_H
#define _NVMET_P2P_H

/*
 * Nothing but linux/types.h: a header that defined more types here would
 * change the symbol CRCs of nvmet-fc, which in-tree lpfc was built
 * against.
 */
#include <linux/types.h>

struct configfs_attribute;
struct device;
struct ib_device;
struct nvmet_ctrl;
struct nvmet_ns;
struct nvmet_req;
struct nvmet_sq;
struct pci_dev;
struct rdma_cm_id;

/**
 * struct nvmet_p2p_port - peer-to-peer state of an nvmet port
 * @allow: the port's allow_p2pmem: its RDMA I/O queues take their data
 *	buffers from the closest provider that every client can reach
 * @queues_p2p: I/O queues created with a provider
 * @queues_sysmem: I/O queues created without one (none qualified)
 * @ios: I/O commands whose data buffers were p2p memory
 * @bytes: bytes of those buffers
 * @fallback_exhausted: I/Os on system memory because the provider was full
 *	or going away
 * @fallback_namespace: I/Os on system memory because their namespace
 *	cannot reach the queue's provider
 * @fallback_client: I/Os on system memory because the queue's transport
 *	device may no longer use the provider (a policy changed)
 * @fallback_oversize: I/Os on system memory because the command's length
 *	was more than any command may carry (it fails validation later)
 * @provider: PCI name of the newest I/O queue's provider, or empty
 */
struct nvmet_p2p_port {
	bool allow;
	atomic64_t queues_p2p;
	atomic64_t queues_sysmem;
	atomic64_t ios;
	atomic64_t bytes;
	atomic64_t fallback_exhausted;
	atomic64_t fallback_namespace;
	atomic64_t fallback_client;
	atomic64_t fallback_oversize;
	char provider[32];
};

/**
 * struct nvmet_p2p_sq - peer-to-peer state of an nvmet submission queue
 * @client: the device whose DMA reaches the data buffers (set by the
 *	transport, with a reference), or NULL: never p2p memory
 * @virt_dma: @client's data is moved by the CPU (software RDMA)
 * @provider: where this queue's data buffers come from, with a reference
 */
struct nvmet_p2p_sq {
	struct device *client;
	bool virt_dma;
	struct pci_dev *provider;
};

#define NVMET_P2P_CTRL_PROVIDERS 8

/**
 * struct nvmet_p2p_ctrl - peer-to-peer state of an nvmet controller
 * @providers: the providers its I/O queues hold, each with a reference;
 *	under the subsystem's lock. A namespace enabled in the subsystem
 *	must reach every one of them.
 */
struct nvmet_p2p_ctrl {
	struct pci_dev *providers[NVMET_P2P_CTRL_PROVIDERS];
};

extern struct configfs_attribute nvmet_p2p_attr_allow_p2pmem;
extern struct configfs_attribute nvmet_p2p_attr_p2pmem_stats;
extern struct configfs_attribute nvmet_p2p_attr_ns_p2pmem;
extern struct configfs_attribute nvmet_p2p_attr_param_allow_p2pmem;
extern struct configfs_attribute nvmet_p2p_attr_device_p2pmem;

void nvmet_p2p_queue_attach(struct nvmet_req *req);
void nvmet_p2p_sq_destroy(struct nvmet_sq *sq);
void nvmet_p2p_ns_init(struct nvmet_ns *ns);
int nvmet_p2p_ns_enable(struct nvmet_ns *ns);
void nvmet_p2p_ns_free(struct nvmet_ns *ns);
void nvmet_p2p_ctrl_release(struct nvmet_ctrl *ctrl);
bool nvmet_p2p_alloc_sgls(struct nvmet_req *req);
void nvmet_p2p_free_sgls(struct nvmet_req *req);

/* In nvmet-rdma.ko: name the queue's client for the topology verdicts. */
void nvmet_p2p_rdma_set_client(struct nvmet_sq *sq, struct rdma_cm_id *cm_id,
			       struct ib_device *ibdev);

#endif /* _NVMET_P2P_H */
