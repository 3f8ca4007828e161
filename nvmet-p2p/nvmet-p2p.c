// SPDX-License-Identifier: GPL-2.0
/*
 * nvmet-p2p: our glue, linked into the kernel's own nvmet.ko when it is
 * rebuilt from the target kernel's source (scripts/stage-nvmet). The patch
 * series in patches/<series>/ keeps its hooks in nvmet small and calls in
 * here, where the logic lives.
 *
 * A port with allow_p2pmem set gives each of its I/O queues that has a
 * client device (nvmet-rdma names one) the closest published provider
 * that the client and every enabled namespace of the subsystem can reach
 * (p2pdma_find()). The queue holds it until it is destroyed and takes the
 * data buffers of its commands from it; the admin queue and in-capsule
 * data never do. Whatever p2p memory cannot serve falls back to system
 * memory and is counted, so nothing fails for want of p2p memory.
 */

#define pr_fmt(fmt) "nvmet-p2p: " fmt

#include <linux/blkdev.h>
#include <linux/configfs.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/pci.h>
#include <linux/xarray.h>
#include <p2pdma/p2pdma.h>

#include "nvmet.h"

static ssize_t nvmet_p2p_allow_p2pmem_show(struct config_item *item,
					   char *page)
{
	return sysfs_emit(page, "%d\n", READ_ONCE(to_nvmet_port(item)->p2p.allow));
}

static ssize_t nvmet_p2p_allow_p2pmem_store(struct config_item *item,
					    const char *page, size_t count)
{
	struct nvmet_port *port = to_nvmet_port(item);
	bool allow;

	if (kstrtobool(page, &allow)) {
		pr_err("port %u: allow_p2pmem: write 1 or 0 (y/n, on/off also work)\n",
		       le16_to_cpu(port->disc_addr.portid));
		return -EINVAL;
	}
	if (port->enabled) {
		pr_err("port %u: allow_p2pmem: unlink the port's subsystems (disable the port) first\n",
		       le16_to_cpu(port->disc_addr.portid));
		return -EACCES;
	}
	WRITE_ONCE(port->p2p.allow, allow);
	return count;
}

/* Not CONFIGFS_ATTR(): configfs.c lists it, so it cannot be static. */
struct configfs_attribute nvmet_p2p_attr_allow_p2pmem = {
	.ca_name = "allow_p2pmem",
	.ca_mode = 0644,
	.ca_owner = THIS_MODULE,
	.show = nvmet_p2p_allow_p2pmem_show,
	.store = nvmet_p2p_allow_p2pmem_store,
};

static ssize_t nvmet_p2p_p2pmem_stats_show(struct config_item *item,
					   char *page)
{
	struct nvmet_p2p_port *p2p = &to_nvmet_port(item)->p2p;

	return sysfs_emit(page,
			  "queues_p2p %lld\nqueues_system_memory %lld\nios %lld\nbytes %lld\nfallback_exhausted %lld\nfallback_namespace %lld\nprovider %s\n",
			  atomic64_read(&p2p->queues_p2p),
			  atomic64_read(&p2p->queues_sysmem),
			  atomic64_read(&p2p->ios), atomic64_read(&p2p->bytes),
			  atomic64_read(&p2p->fallback_exhausted),
			  atomic64_read(&p2p->fallback_namespace),
			  p2p->provider[0] ? p2p->provider : "none");
}

struct configfs_attribute nvmet_p2p_attr_p2pmem_stats = {
	.ca_name = "p2pmem_stats",
	.ca_mode = 0444,
	.ca_owner = THIS_MODULE,
	.show = nvmet_p2p_p2pmem_stats_show,
};

/* The device that does a namespace's DMA; NULL if none can (a file). */
static struct device *nvmet_p2p_ns_client(struct nvmet_ns *ns)
{
	return ns->bdev ? disk_to_dev(ns->bdev->bd_disk) : NULL;
}

/* Whether @ns may have its data in @provider's memory (a cached verdict). */
static bool nvmet_p2p_ns_reaches(struct nvmet_ns *ns, struct pci_dev *provider)
{
	struct p2pdma_client client = { .dev = nvmet_p2p_ns_client(ns) };
	struct p2pdma_verdict verdict;

	return client.dev && p2pdma_judge(provider, &client, &verdict) >= 0;
}

/*
 * Clients of @sq: its transport's device and every enabled namespace.
 * Returns how many, or -1 if a namespace can never take p2p memory.
 */
static int nvmet_p2p_clients(struct nvmet_sq *sq, struct p2pdma_client **out)
{
	struct nvmet_subsys *subsys = sq->ctrl->subsys;
	struct p2pdma_client *clients;
	struct nvmet_ns *ns;
	unsigned long idx;
	int nr = 0;

	mutex_lock(&subsys->lock);
	clients = kcalloc(subsys->nr_namespaces + 1, sizeof(*clients),
			  GFP_KERNEL);
	if (!clients)
		goto unlock;
	clients[nr].dev = sq->p2p.client;
	clients[nr++].virt_dma = sq->p2p.virt_dma;
	xa_for_each(&subsys->namespaces, idx, ns) {
		if (!ns->enabled)
			continue;
		if (nr > subsys->nr_namespaces)
			break;
		clients[nr].dev = nvmet_p2p_ns_client(ns);
		if (!clients[nr].dev) {
			/* Once per controller: every controller has a queue 1. */
			if (sq->qid == 1)
				pr_info("ctrl %d: namespace %u is not a block device: its I/O queues use system memory\n",
					sq->ctrl->cntlid, ns->nsid);
			nr = -1;
			break;
		}
		nr++;
	}
unlock:
	mutex_unlock(&subsys->lock);
	*out = clients;
	return nr;
}

/*
 * Note @provider among the controller's, so that namespaces enabled later
 * are checked against it. False if there is no room: the queue must not
 * use a provider the check would miss.
 */
static bool nvmet_p2p_ctrl_add(struct nvmet_ctrl *ctrl, struct pci_dev *provider)
{
	struct pci_dev **slot = ctrl->p2p.providers;
	bool added = false;
	int i;

	mutex_lock(&ctrl->subsys->lock);
	for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS && !added; i++) {
		if (slot[i] == provider) {
			added = true;
		} else if (!slot[i]) {
			slot[i] = pci_dev_get(provider);
			added = true;
		}
	}
	mutex_unlock(&ctrl->subsys->lock);
	return added;
}

/* Called with the subsystem's lock held, as the controller goes. */
void nvmet_p2p_ctrl_release(struct nvmet_ctrl *ctrl)
{
	int i;

	for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS; i++) {
		pci_dev_put(ctrl->p2p.providers[i]);
		ctrl->p2p.providers[i] = NULL;
	}
}

/*
 * Called with the subsystem's lock held, the namespace's device open: a
 * port that uses p2p memory refuses a namespace its memory cannot reach.
 */
int nvmet_p2p_ns_enable(struct nvmet_ns *ns)
{
	struct nvmet_ctrl *ctrl;
	struct pci_dev *p;
	int i;

	list_for_each_entry(ctrl, &ns->subsys->ctrls, subsys_entry) {
		for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS; i++) {
			p = ctrl->p2p.providers[i];
			if (!p || nvmet_p2p_ns_reaches(ns, p))
				continue;
			pr_err("namespace %u (%s) cannot reach p2p memory %s, which controller %d on port %u uses: refused; use a drive that can (scripts/p2pdma-explain %s <drive>), or disconnect and set allow_p2pmem=0\n",
			       ns->nsid, ns->device_path, pci_name(p),
			       ctrl->cntlid, le16_to_cpu(ctrl->port->disc_addr.portid),
			       pci_name(p));
			return -EINVAL;
		}
	}
	return 0;
}

void nvmet_p2p_queue_attach(struct nvmet_req *req)
{
	struct nvmet_p2p_port *port = &req->port->p2p;
	struct nvmet_sq *sq = req->sq;
	struct p2pdma_client *clients;
	struct pci_dev *provider = NULL;
	int nr;

	if (!sq->qid || !READ_ONCE(port->allow) || !sq->p2p.client)
		return;
	nr = nvmet_p2p_clients(sq, &clients);
	if (nr > 0)
		provider = p2pdma_find(clients, nr);
	kfree(clients);
	if (!provider) {
		atomic64_inc(&port->queues_sysmem);
		/* Once per controller: every controller has an I/O queue 1. */
		if (sq->qid == 1 && nr >= 0)
			pr_info("ctrl %d: no p2p memory that %s%s and every namespace can reach: I/O queues use system memory (scripts/p2pdma-explain tells why)\n",
				sq->ctrl->cntlid, sq->p2p.virt_dma ? "virt:" : "",
				dev_name(sq->p2p.client));
		return;
	}
	if (!nvmet_p2p_ctrl_add(sq->ctrl, provider)) {
		pci_dev_put(provider);
		atomic64_inc(&port->queues_sysmem);
		return;
	}
	sq->p2p.provider = provider;
	atomic64_inc(&port->queues_p2p);
	strscpy(port->provider, pci_name(provider), sizeof(port->provider));
	if (sq->qid == 1)
		pr_info("ctrl %d: I/O queues take data buffers from %s\n",
			sq->ctrl->cntlid, pci_name(provider));
}

void nvmet_p2p_sq_destroy(struct nvmet_sq *sq)
{
	pci_dev_put(sq->p2p.provider);
	put_device(sq->p2p.client);
	memset(&sq->p2p, 0, sizeof(sq->p2p));
}

bool nvmet_p2p_alloc_sgls(struct nvmet_req *req)
{
	struct pci_dev *provider = req->sq->p2p.provider;
	u32 len = req->transfer_len - req->metadata_len;
	struct nvmet_p2p_port *port;

	if (!provider || !req->ns)
		return false;
	port = &req->port->p2p;
	if (!nvmet_p2p_ns_reaches(req->ns, provider)) {
		atomic64_inc(&port->fallback_namespace);
		return false;
	}
	req->sg = p2pdma_alloc_sgl(provider, &req->sg_cnt, len);
	if (!req->sg)
		goto exhausted;
	if (req->metadata_len) {
		req->metadata_sg = p2pdma_alloc_sgl(provider,
						    &req->metadata_sg_cnt,
						    req->metadata_len);
		if (!req->metadata_sg) {
			p2pdma_free_sgl(provider, req->sg);
			req->sg = NULL;
			goto exhausted;
		}
	}
	req->p2p_dev = provider;
	atomic64_inc(&port->ios);
	atomic64_add(req->transfer_len, &port->bytes);
	return true;

exhausted:
	atomic64_inc(&port->fallback_exhausted);
	return false;
}

void nvmet_p2p_free_sgls(struct nvmet_req *req)
{
	p2pdma_free_sgl(req->p2p_dev, req->sg);
	if (req->metadata_sg)
		p2pdma_free_sgl(req->p2p_dev, req->metadata_sg);
	req->p2p_dev = NULL;
}
