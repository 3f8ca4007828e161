// SPDX-License-Identifier: GPL-2.0
/*
 * nvmet-p2p: our glue, linked into the kernel's own nvmet.ko when it is
 * rebuilt from the target kernel's source (scripts/stage-nvme). The patch
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
 *
 * A namespace's p2pmem attribute (upstream's, default 1 here) takes it
 * out of all this (0), or pins the provider its subsystem's queues use
 * (a PCI name).
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
#include "nvmet-p2p-kunit.h"

/* Not CONFIGFS_ATTR(): configfs.c lists them, so they cannot be static. */
#define NVMET_P2P_ATTR(_var, _name, _mode, _show, _store)		\
	struct configfs_attribute nvmet_p2p_attr_##_var = {		\
		.ca_name = _name,					\
		.ca_mode = _mode,					\
		.ca_owner = THIS_MODULE,				\
		.show = _show,						\
		.store = _store,					\
	}

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

NVMET_P2P_ATTR(allow_p2pmem, "allow_p2pmem", 0644,
	       nvmet_p2p_allow_p2pmem_show, nvmet_p2p_allow_p2pmem_store);
/*
 * The same setting under a name of nvmetcli's "param" group, which it
 * saves and restores (before it links the port's subsystems).
 */
NVMET_P2P_ATTR(param_allow_p2pmem, "param_allow_p2pmem", 0644,
	       nvmet_p2p_allow_p2pmem_show, nvmet_p2p_allow_p2pmem_store);

static ssize_t nvmet_p2p_p2pmem_stats_show(struct config_item *item,
					   char *page)
{
	struct nvmet_p2p_port *p2p = &to_nvmet_port(item)->p2p;

	return sysfs_emit(page,
			  "queues_p2p %lld\nqueues_system_memory %lld\nios %lld\nbytes %lld\nfallback_exhausted %lld\nfallback_namespace %lld\nfallback_client %lld\nfallback_oversize %lld\nprovider %s\n",
			  atomic64_read(&p2p->queues_p2p),
			  atomic64_read(&p2p->queues_sysmem),
			  atomic64_read(&p2p->ios), atomic64_read(&p2p->bytes),
			  atomic64_read(&p2p->fallback_exhausted),
			  atomic64_read(&p2p->fallback_namespace),
			  atomic64_read(&p2p->fallback_client),
			  atomic64_read(&p2p->fallback_oversize),
			  p2p->provider[0] ? p2p->provider : "none");
}

NVMET_P2P_ATTR(p2pmem_stats, "p2pmem_stats", 0444,
	       nvmet_p2p_p2pmem_stats_show, NULL);

static ssize_t nvmet_p2p_ns_p2pmem_show(struct config_item *item, char *page)
{
	struct nvmet_ns *ns = to_nvmet_ns(item);
	ssize_t ret;

	/* The lock keeps a pinned device's name from going under us. */
	mutex_lock(&ns->subsys->lock);
	if (ns->use_p2pmem && ns->p2p_dev)
		ret = sysfs_emit(page, "%s\n", pci_name(ns->p2p_dev));
	else
		ret = sysfs_emit(page, "%d\n", !!ns->use_p2pmem);
	mutex_unlock(&ns->subsys->lock);
	return ret;
}

/*
 * "0", "1" (and kstrtobool's other spellings), or the PCI name of a
 * published provider, which pins it. Names first: "0000:03:00.0" would
 * otherwise read as a 0.
 */
VISIBLE_IF_KUNIT int nvmet_p2p_ns_p2pmem_parse(struct nvmet_ns *ns,
					       const char *page, bool *use,
					       struct pci_dev **pin)
{
	int len = strcspn(page, "\n");
	struct device *dev;

	*pin = NULL;
	if (!strchr(page, ':')) {
		if (!kstrtobool(page, use))
			return 0;
		pr_err("namespace %u: p2pmem: write 0, 1 or the PCI name of a p2p memory provider\n",
		       ns->nsid);
		return -EINVAL;
	}
	dev = bus_find_device_by_name(&pci_bus_type, NULL, page);
	if (!dev) {
		pr_err("namespace %u: p2pmem: no PCI device %.*s (lspci -D lists them)\n",
		       ns->nsid, len, page);
		return -ENODEV;
	}
	if (!p2pdma_published(to_pci_dev(dev))) {
		pr_err("namespace %u: p2pmem: %.*s has no published p2p memory (ls -d /sys/bus/pci/devices/*/p2pmem)\n",
		       ns->nsid, len, page);
		put_device(dev);
		return -ENODEV;
	}
	*use = true;
	*pin = to_pci_dev(dev);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_ns_p2pmem_parse);

static ssize_t nvmet_p2p_ns_p2pmem_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct nvmet_ns *ns = to_nvmet_ns(item);
	struct pci_dev *pin;
	bool use;
	int ret;

	ret = nvmet_p2p_ns_p2pmem_parse(ns, page, &use, &pin);
	if (ret)
		return ret;
	mutex_lock(&ns->subsys->lock);
	if (ns->enabled) {
		mutex_unlock(&ns->subsys->lock);
		pci_dev_put(pin);
		pr_err("namespace %u: p2pmem: write 0 to the namespace's enable first\n",
		       ns->nsid);
		return -EBUSY;
	}
	pci_dev_put(ns->p2p_dev);
	ns->p2p_dev = pin;
	ns->use_p2pmem = use;
	mutex_unlock(&ns->subsys->lock);
	return count;
}

NVMET_P2P_ATTR(ns_p2pmem, "p2pmem", 0644,
	       nvmet_p2p_ns_p2pmem_show, nvmet_p2p_ns_p2pmem_store);
/*
 * The same setting in nvmetcli's "device" group, which it saves and
 * restores before it enables the namespace.
 */
NVMET_P2P_ATTR(device_p2pmem, "device_p2pmem", 0644,
	       nvmet_p2p_ns_p2pmem_show, nvmet_p2p_ns_p2pmem_store);

/* Unlike upstream, a namespace takes p2p memory unless told otherwise. */
void nvmet_p2p_ns_init(struct nvmet_ns *ns)
{
	ns->use_p2pmem = true;
}

void nvmet_p2p_ns_free(struct nvmet_ns *ns)
{
	pci_dev_put(ns->p2p_dev);
	ns->p2p_dev = NULL;
}

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
 * Whether @sq's transport device may still use @provider's memory: a
 * policy change (soft_rdma, allow_host_bridge) after the queue chose it
 * applies at once. A cached verdict.
 */
static bool nvmet_p2p_client_reaches(struct nvmet_sq *sq,
				     struct pci_dev *provider)
{
	struct p2pdma_client client = { .dev = sq->p2p.client,
					.virt_dma = sq->p2p.virt_dma };
	struct p2pdma_verdict verdict;

	return p2pdma_judge(provider, &client, &verdict) >= 0;
}

/*
 * Clients of @sq: its transport's device and every enabled namespace that
 * takes p2p memory; *@pin gets the provider one of them pins, held, or
 * NULL. Returns how many, or -1 if a namespace can never take p2p memory.
 */
VISIBLE_IF_KUNIT int nvmet_p2p_clients(struct nvmet_sq *sq,
				       struct p2pdma_client **out,
				       struct pci_dev **pin)
{
	struct nvmet_subsys *subsys = sq->ctrl->subsys;
	struct p2pdma_client *clients;
	struct nvmet_ns *ns;
	unsigned long idx;
	int nr = 0;

	*pin = NULL;
	mutex_lock(&subsys->lock);
	clients = kcalloc(subsys->nr_namespaces + 1, sizeof(*clients),
			  GFP_KERNEL);
	if (!clients)
		goto unlock;
	clients[nr].dev = sq->p2p.client;
	clients[nr++].virt_dma = sq->p2p.virt_dma;
	xa_for_each(&subsys->namespaces, idx, ns) {
		if (!ns->enabled || !ns->use_p2pmem)
			continue;
		if (nr > subsys->nr_namespaces)
			break;
		clients[nr].dev = nvmet_p2p_ns_client(ns);
		if (!clients[nr].dev) {
			/* Once per controller: every controller has a queue 1. */
			if (sq->qid == 1)
				pr_info("ctrl %d: namespace %u is not a block device: its I/O queues use system memory (write 0 to its p2pmem to change that)\n",
					sq->ctrl->cntlid, ns->nsid);
			nr = -1;
			break;
		}
		/* nvmet_p2p_ns_enable() lets no two namespaces pin apart. */
		if (ns->p2p_dev && !*pin)
			*pin = pci_dev_get(ns->p2p_dev);
		nr++;
	}
unlock:
	mutex_unlock(&subsys->lock);
	*out = clients;
	return nr;
}
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_clients);

/*
 * Forget the providers of @ctrl that are gone or withdrawn: its queues no
 * longer take their memory, so namespaces enabled later need not reach
 * them. Called with the subsystem's lock held.
 */
VISIBLE_IF_KUNIT void nvmet_p2p_ctrl_prune(struct nvmet_ctrl *ctrl)
{
	int i;

	for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS; i++) {
		if (ctrl->p2p.providers[i] &&
		    !p2pdma_published(ctrl->p2p.providers[i])) {
			pci_dev_put(ctrl->p2p.providers[i]);
			ctrl->p2p.providers[i] = NULL;
		}
	}
}
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_ctrl_prune);

/*
 * Note @provider among the controller's, so that namespaces enabled later
 * are checked against it. False if there is no room: the queue must not
 * use a provider the check would miss.
 */
VISIBLE_IF_KUNIT bool nvmet_p2p_ctrl_add(struct nvmet_ctrl *ctrl,
					 struct pci_dev *provider)
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
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_ctrl_add);

/* Called with the subsystem's lock held, as the controller goes. */
void nvmet_p2p_ctrl_release(struct nvmet_ctrl *ctrl)
{
	int i;

	for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS; i++) {
		pci_dev_put(ctrl->p2p.providers[i]);
		ctrl->p2p.providers[i] = NULL;
	}
}
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_ctrl_release);

/*
 * A namespace that pins a provider must reach it, and its subsystem's
 * queues can use only one: refuse a second, different pin.
 */
static int nvmet_p2p_ns_pin_check(struct nvmet_ns *ns)
{
	struct pci_dev *pin = ns->p2p_dev;
	struct nvmet_ns *other;
	unsigned long idx;

	if (!nvmet_p2p_ns_reaches(ns, pin)) {
		pr_err("namespace %u (%s) cannot reach p2p memory %s, which its p2pmem pins: refused; p2pdma-explain %s <drive> tells why, or write 1 to p2pmem\n",
		       ns->nsid, ns->device_path, pci_name(pin), pci_name(pin));
		return -EINVAL;
	}
	xa_for_each(&ns->subsys->namespaces, idx, other) {
		if (other == ns || !other->enabled || !other->use_p2pmem ||
		    !other->p2p_dev || other->p2p_dev == pin)
			continue;
		pr_err("namespace %u pins p2p memory %s, namespace %u pins %s: refused; a subsystem's queues use one provider, pin the same one or write 1 to p2pmem\n",
		       ns->nsid, pci_name(pin), other->nsid,
		       pci_name(other->p2p_dev));
		return -EINVAL;
	}
	return 0;
}

/*
 * Called with the subsystem's lock held, the namespace's device open: a
 * port that uses p2p memory refuses a namespace its memory cannot reach,
 * unless the namespace keeps out of p2p memory (p2pmem 0).
 */
int nvmet_p2p_ns_enable(struct nvmet_ns *ns)
{
	struct nvmet_ctrl *ctrl;
	struct pci_dev *p;
	int i, ret;

	if (!ns->use_p2pmem)
		return 0;
	if (ns->p2p_dev) {
		ret = nvmet_p2p_ns_pin_check(ns);
		if (ret)
			return ret;
	}
	list_for_each_entry(ctrl, &ns->subsys->ctrls, subsys_entry) {
		/* A removed provider is no reason to refuse a namespace. */
		nvmet_p2p_ctrl_prune(ctrl);
		for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS; i++) {
			p = ctrl->p2p.providers[i];
			if (!p)
				continue;
			if (!nvmet_p2p_ns_reaches(ns, p)) {
				pr_err("namespace %u (%s) cannot reach p2p memory %s, which controller %d on port %u uses: refused; write 0 to the namespace's p2pmem to keep its data in system memory, use a drive that can (p2pdma-explain %s <drive>), or disconnect\n",
				       ns->nsid, ns->device_path, pci_name(p),
				       ctrl->cntlid,
				       le16_to_cpu(ctrl->port->disc_addr.portid),
				       pci_name(p));
				return -EINVAL;
			}
			if (ns->p2p_dev && ns->p2p_dev != p) {
				pr_err("namespace %u pins p2p memory %s, but controller %d uses %s: refused; disconnect first, or write 1 to p2pmem\n",
				       ns->nsid, pci_name(ns->p2p_dev),
				       ctrl->cntlid, pci_name(p));
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* The provider for @sq's clients: the pinned one if it serves them all. */
VISIBLE_IF_KUNIT struct pci_dev *
nvmet_p2p_provider_for(struct nvmet_sq *sq, struct p2pdma_client *clients,
		       int nr, struct pci_dev *pin)
{
	const char *virt = sq->p2p.virt_dma ? "virt:" : "";
	struct pci_dev *provider;

	if (pin) {
		if (p2pdma_published(pin) &&
		    p2pdma_distance(pin, clients, nr) >= 0)
			return pci_dev_get(pin);
		/* Once per controller: every controller has an I/O queue 1. */
		if (sq->qid == 1)
			pr_info("ctrl %d: p2p memory %s, which a namespace pins, is gone or out of reach of %s%s or a namespace: I/O queues use system memory (p2pdma-explain tells why)\n",
				sq->ctrl->cntlid, pci_name(pin), virt,
				dev_name(sq->p2p.client));
		return NULL;
	}
	provider = p2pdma_find(clients, nr);
	if (!provider && sq->qid == 1)
		pr_info("ctrl %d: no p2p memory that %s%s and every namespace can reach: I/O queues use system memory (p2pdma-explain tells why)\n",
			sq->ctrl->cntlid, virt, dev_name(sq->p2p.client));
	return provider;
}
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_provider_for);

void nvmet_p2p_queue_attach(struct nvmet_req *req)
{
	struct nvmet_p2p_port *port = &req->port->p2p;
	struct nvmet_sq *sq = req->sq;
	struct p2pdma_client *clients;
	struct pci_dev *provider = NULL, *pin;
	int nr;

	if (!sq->qid || !READ_ONCE(port->allow) || !sq->p2p.client)
		return;
	nr = nvmet_p2p_clients(sq, &clients, &pin);
	if (nr > 0)
		provider = nvmet_p2p_provider_for(sq, clients, nr, pin);
	pci_dev_put(pin);
	kfree(clients);
	if (!provider) {
		atomic64_inc(&port->queues_sysmem);
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

/*
 * The most data one command may carry: the transport's MDTS (in units of
 * the 4 KiB minimum page size), or 1 MiB where it sets none.
 */
static u32 nvmet_p2p_max_len(struct nvmet_ctrl *ctrl)
{
	u8 mdts = ctrl->ops->get_mdts ? ctrl->ops->get_mdts(ctrl) : 0;

	return mdts ? SZ_4K << min_t(u8, mdts, 18) : SZ_1M;
}

bool nvmet_p2p_alloc_sgls(struct nvmet_req *req)
{
	struct pci_dev *provider = req->sq->p2p.provider;
	u32 len = req->transfer_len - req->metadata_len;
	struct nvmet_p2p_port *port;

	if (!provider || !req->ns || !req->ns->use_p2pmem)
		return false;
	port = &req->port->p2p;
	/*
	 * Buffers are taken before the command is validated: a remote host
	 * must not drain the provider with lengths no valid command has.
	 */
	if (len > nvmet_p2p_max_len(req->sq->ctrl) ||
	    req->metadata_len > nvmet_p2p_max_len(req->sq->ctrl)) {
		atomic64_inc(&port->fallback_oversize);
		return false;
	}
	/* Gone or withdrawn: fall back at once, no verdict to walk. */
	if (!p2pdma_published(provider))
		goto exhausted;
	if (!nvmet_p2p_client_reaches(req->sq, provider)) {
		atomic64_inc(&port->fallback_client);
		return false;
	}
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
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_alloc_sgls);

void nvmet_p2p_free_sgls(struct nvmet_req *req)
{
	p2pdma_free_sgl(req->p2p_dev, req->sg);
	if (req->metadata_sg)
		p2pdma_free_sgl(req->p2p_dev, req->metadata_sg);
	req->p2p_dev = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(nvmet_p2p_free_sgls);
