// SPDX-License-Identifier: GPL-2.0
/*
 * Topology verdicts: whether a client may use a provider's memory, how far
 * apart they are, and why not. On kernels without CONFIG_PCI_P2PDMA the DMA
 * layer maps our pages as if they were RAM, so a pairing is safe only when
 * that mapping is the address the traffic needs on its path (see the
 * DOC: Topology verdicts in the public header). Verdicts are cached per
 * provider and client, tagged with a generation that every PCI hot-plug,
 * driver bind or unbind and policy change advances.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/cc_platform.h>
#include <linux/dma-mapping.h>
#include <linux/genalloc.h>
#include <linux/iommu.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/seq_buf.h>
#include <linux/swiotlb.h>
#include <linux/xarray.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"

static atomic_t p2pdma_topology_gen = ATOMIC_INIT(0);

/* Cached verdicts from an older generation are ignored. */
void p2pdma_topology_changed(void)
{
	atomic_inc(&p2pdma_topology_gen);
}

static int p2pdma_policy_set(const char *val, const struct kernel_param *kp)
{
	int err = param_set_bool(val, kp);

	if (err) {
		pr_err("%s=%.*s: give 0 or 1 (also n/y)\n", kp->name,
		       (int)strcspn(val, "\n"), val);
		return err;
	}
	p2pdma_topology_changed();
	return 0;
}

static const struct kernel_param_ops p2pdma_policy_ops = {
	.set = p2pdma_policy_set,
	.get = param_get_bool,
};

static bool p2pdma_allow_host_bridge;
module_param_cb(allow_host_bridge, &p2pdma_policy_ops,
		&p2pdma_allow_host_bridge, 0644);
MODULE_PARM_DESC(allow_host_bridge,
		 "Allow paths through host bridges on the allowlist (default: only paths behind one switch)");

static bool p2pdma_soft_rdma;
module_param_cb(soft_rdma, &p2pdma_policy_ops, &p2pdma_soft_rdma, 0644);
MODULE_PARM_DESC(soft_rdma,
		 "Test rigs only: let software RDMA devices (rxe) use p2p memory, judged as the PCI device under their netdev");

const char *p2pdma_path_name(enum p2pdma_path path)
{
	switch (path) {
	case P2PDMA_PATH_SAME_DEVICE:
		return "same device";
	case P2PDMA_PATH_SWITCH:
		return "same switch";
	case P2PDMA_PATH_HOST_BRIDGE:
		return "through host bridge";
	default:
		return "not supported";
	}
}
EXPORT_SYMBOL_GPL(p2pdma_path_name);

/* The PCI device a client is, or sits under. */
static struct pci_dev *p2pdma_client_pci(struct device *dev)
{
	for (; dev; dev = dev->parent)
		if (dev_is_pci(dev))
			return to_pci_dev(dev);
	return NULL;
}

/* ACS that sends peer-to-peer traffic upstream instead of across. */
static bool p2pdma_acs_redirects(struct pci_dev *pdev)
{
	u16 ctrl;

	if (!pdev->acs_cap)
		return false;
	pci_read_config_word(pdev, pdev->acs_cap + PCI_ACS_CTRL, &ctrl);
	return ctrl & (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC);
}

/* Note each redirecting device from @from up to, not including, @to. */
static void p2pdma_acs_on_path(struct pci_dev *from, struct pci_dev *to,
			       struct seq_buf *acs)
{
	for (; from && from != to; from = pci_upstream_bridge(from))
		if (p2pdma_acs_redirects(from))
			seq_buf_printf(acs, "%s%s", seq_buf_used(acs) ? ";" : "",
				       pci_name(from));
}

static const char *p2pdma_iommu_domain(struct pci_dev *client)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(&client->dev);

	if (!domain || domain->type == IOMMU_DOMAIN_IDENTITY)
		return NULL;
	switch (domain->type) {
	case IOMMU_DOMAIN_DMA:
		return "DMA";
	case IOMMU_DOMAIN_DMA_FQ:
		return "DMA-FQ";
	case IOMMU_DOMAIN_UNMANAGED:
		return "unmanaged";
	case IOMMU_DOMAIN_BLOCKED:
		return "blocked";
	default:
		return "translating";
	}
}

/*
 * Highest bus address of @pdev's memory BARs. A BAR whose bus address is
 * not its CPU address gives both in *@bus_at and *@cpu_at; else 0.
 */
static u64 p2pdma_bus_end(struct pci_dev *pdev, u64 *bus_at, u64 *cpu_at)
{
	u64 end = 0;
	int bar;

	*bus_at = 0;
	*cpu_at = 0;
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		u64 bus = pci_bus_address(pdev, bar);

		if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) ||
		    !pci_resource_len(pdev, bar))
			continue;
		end = max_t(u64, end, bus + pci_resource_len(pdev, bar) - 1);
		if (bus != pci_resource_start(pdev, bar) && !*cpu_at) {
			*bus_at = bus;
			*cpu_at = pci_resource_start(pdev, bar);
		}
	}
	return end;
}

/*
 * The device at 00.0 of a host bridge's root bus, which names the bridge,
 * or NULL. Read without pci_bus_sem, which sleeps: verdicts are taken on
 * the I/O path, and a root bus's first device stays as long as the bus.
 */
static struct pci_dev *p2pdma_host_bridge_dev(struct pci_host_bridge *hb)
{
	struct pci_dev *root = list_first_entry_or_null(&hb->bus->devices,
							 struct pci_dev,
							 bus_list);

	return root && root->devfn == PCI_DEVFN(0, 0) ? root : NULL;
}

/* The highest address the client's DMA layer hands out without an IOMMU. */
static u64 p2pdma_dma_limit(struct pci_dev *client)
{
	return min_not_zero(dma_get_mask(&client->dev),
			    client->dev.bus_dma_limit);
}

/* Verdict for a path that routes through the host bridge. */
static void p2pdma_host_bridge_path(struct pci_dev *provider,
				    struct pci_dev *client,
				    struct p2pdma_verdict *v,
				    struct seq_buf *why)
{
	struct pci_host_bridge *hb = pci_find_host_bridge(provider->bus);
	struct pci_dev *root;

	if (hb != pci_find_host_bridge(client->bus)) {
		v->reason = P2PDMA_OTHER_HOST_BRIDGE;
		seq_buf_printf(why,
			       "provider and client are under different PCI host bridges (domains %04x and %04x)",
			       pci_domain_nr(provider->bus),
			       pci_domain_nr(client->bus));
		return;
	}
	if (!READ_ONCE(p2pdma_allow_host_bridge)) {
		v->reason = P2PDMA_HOST_BRIDGE_OFF;
		seq_buf_printf(why,
			       "different switch: the path goes through the host bridge, which p2pdma uses only with allow_host_bridge=1 and a host bridge on the allowlist");
		return;
	}
	root = p2pdma_host_bridge_dev(hb);
	if (!p2pdma_host_bridge_allowed(root)) {
		v->reason = P2PDMA_HOST_BRIDGE_UNLISTED;
		if (root)
			seq_buf_printf(why,
				       "the path goes through host bridge %s [%04x:%04x], which is not on the allowlist of host bridges known to route peer-to-peer traffic",
				       pci_name(root), root->vendor, root->device);
		else
			seq_buf_printf(why,
				       "the path goes through a host bridge without a device at 00.0, which cannot be on the allowlist");
	}
}

/* PCI devices from @pdev up to its root port: the links to the host bridge. */
static int p2pdma_links_up(struct pci_dev *pdev)
{
	int links = 0;

	for (; pdev; pdev = pci_upstream_bridge(pdev))
		links++;
	return links;
}

/*
 * Traffic that crosses no bridge in common, or that ACS redirect sends up
 * instead of across, goes through the host bridge: as upstream, redirect
 * on such a path refuses nothing, since up is where it goes anyway. A
 * translating IOMMU is fine there too: it sees the traffic.
 */
static void p2pdma_via_host_bridge(struct pci_dev *provider,
				   struct pci_dev *client, const char *domain,
				   struct seq_buf *acs, struct p2pdma_verdict *v,
				   struct seq_buf *why)
{
	struct seq_buf none;
	char scratch[1];

	seq_buf_init(&none, scratch, sizeof(scratch));
	v->distance = p2pdma_links_up(provider) + p2pdma_links_up(client);
	v->path = P2PDMA_PATH_HOST_BRIDGE;
	if (!seq_buf_used(acs)) {
		p2pdma_host_bridge_path(provider, client, v, why);
		return;
	}
	/* A switch path that redirect turns into a host bridge path. */
	p2pdma_host_bridge_path(provider, client, v, &none);
	if (!v->reason)
		return;
	v->reason = P2PDMA_ACS_REDIRECT;
	seq_buf_printf(why,
		       "ACS redirect on %.*s sends the traffic up through the host bridge, which p2pdma uses only with allow_host_bridge=1 and a host bridge on the allowlist",
		       (int)seq_buf_used(acs), acs->buffer);
	/* Across the switch, a translated client's peer would see an IOVA. */
	if (!domain)
		seq_buf_printf(why, "; or boot with pci=disable_acs_redir=%.*s",
			       (int)seq_buf_used(acs), acs->buffer);
}

/*
 * The verdict on @client using @provider's memory, walked afresh, without
 * sleeping. The first reason found wins; @why gets it in words (a bridge
 * list, an address), or the path's details when supported.
 */
static void p2pdma_walk(struct pci_dev *provider, struct pci_dev *client,
			bool virt_dma, struct p2pdma_verdict *v,
			struct seq_buf *why)
{
	struct pci_dev *a, *b, *common = NULL;
	int dist_a, dist_b = 0, hops_a = 0;
	u64 offset_bus, offset_cpu;
	const char *domain;
	char acs_list[128];
	struct seq_buf acs;
	u64 end, limit;

	*v = (struct p2pdma_verdict){ .path = P2PDMA_PATH_NOT_SUPPORTED };
	if (virt_dma && !READ_ONCE(p2pdma_soft_rdma)) {
		v->reason = P2PDMA_VIRT_DMA;
		seq_buf_printf(why,
			       "the client moves data with the CPU (software RDMA); only test rigs may allow that, with soft_rdma=1");
		return;
	}

	/* The closest bridge both sit under, if any; distance in links. */
	for (a = provider, dist_a = 0; a && !common;
	     a = pci_upstream_bridge(a), dist_a++) {
		for (b = client, dist_b = 0; b; b = pci_upstream_bridge(b), dist_b++) {
			if (a == b) {
				common = a;
				break;
			}
		}
		hops_a = dist_a;
	}

	domain = p2pdma_iommu_domain(client);
	seq_buf_init(&acs, acs_list, sizeof(acs_list));
	if (common) {
		/* The common bridge routes the traffic: its ACS counts too. */
		p2pdma_acs_on_path(provider, pci_upstream_bridge(common), &acs);
		p2pdma_acs_on_path(client, common, &acs);
	}
	if (common && !seq_buf_used(&acs)) {
		v->distance = hops_a + dist_b;
		v->path = v->distance ? P2PDMA_PATH_SWITCH :
					P2PDMA_PATH_SAME_DEVICE;
	} else {
		p2pdma_via_host_bridge(provider, client, domain, &acs, v, why);
		if (v->reason)
			goto refused;
	}

	if (domain && v->path != P2PDMA_PATH_HOST_BRIDGE) {
		v->reason = P2PDMA_IOMMU;
		seq_buf_printf(why,
			       "the client's DMA is translated by the IOMMU (%s domain), which traffic across a switch never reaches: boot with iommu=pt or give the client's IOMMU group an identity domain",
			       domain);
		goto refused;
	}
	/* Without translation the client gets CPU physical addresses. */
	end = p2pdma_bus_end(provider, &offset_bus, &offset_cpu);
	limit = p2pdma_dma_limit(client);
	if (!domain && offset_cpu) {
		v->reason = P2PDMA_BUS_OFFSET;
		seq_buf_printf(why,
			       "the host bridge maps the provider's memory at bus address %#llx, not at its CPU address %#llx, and the client's DMA layer would use the CPU address",
			       offset_bus, offset_cpu);
		goto refused;
	}
	if (!domain && end > limit) {
		v->reason = P2PDMA_DMA_MASK;
		seq_buf_printf(why,
			       "the client's DMA mask %#llx does not reach the provider's bus addresses (up to %#llx)",
			       limit, end);
		goto refused;
	}
	if (is_swiotlb_force_bounce(&client->dev)) {
		v->reason = P2PDMA_SWIOTLB;
		seq_buf_printf(why, "swiotlb bounces all of the client's DMA (swiotlb=force)");
		goto refused;
	}
	if (cc_platform_has(CC_ATTR_MEM_ENCRYPT)) {
		v->reason = P2PDMA_MEM_ENCRYPT;
		seq_buf_printf(why,
			       "memory encryption is active: DMA goes through unencrypted bounce buffers");
		goto refused;
	}
	if (common && v->path != P2PDMA_PATH_HOST_BRIDGE && v->distance)
		seq_buf_printf(why, " (common bridge %s)", pci_name(common));
	else if (seq_buf_used(&acs))
		seq_buf_printf(why, " (ACS redirect on %.*s sends it up)",
			       (int)seq_buf_used(&acs), acs_list);
	return;

refused:
	v->path = P2PDMA_PATH_NOT_SUPPORTED;
}

/*
 * Cache entries: generation, the client's DMA limit (as a bit count: a
 * driver may set its mask after binding, as nvme does on 6.1), distance,
 * reason and path in one xarray value, keyed by the client PCI device and
 * whether it is a virtual one.
 */
#define P2PDMA_V_PATH		GENMASK(1, 0)
#define P2PDMA_V_REASON		GENMASK(6, 2)
#define P2PDMA_V_DISTANCE	GENMASK(18, 7)
#define P2PDMA_V_LIMIT_BITS	GENMASK(25, 19)
#define P2PDMA_V_GEN		GENMASK_ULL(57, 26)
#define P2PDMA_V_VALID		BIT_ULL(58)

static unsigned long p2pdma_client_key(struct pci_dev *client, bool virt_dma)
{
	return ((unsigned long)pci_domain_nr(client->bus) << 17) |
	       (client->bus->number << 9) | (client->devfn << 1) | virt_dma;
}

/* What a cached verdict must match: the generation and the DMA limit. */
static unsigned long p2pdma_stamp(struct pci_dev *client)
{
	return FIELD_PREP(P2PDMA_V_GEN, atomic_read(&p2pdma_topology_gen)) |
	       FIELD_PREP(P2PDMA_V_LIMIT_BITS, fls64(p2pdma_dma_limit(client)));
}

static bool p2pdma_cached(struct pci_dev *provider, unsigned long key,
			  unsigned long stamp, struct p2pdma_verdict *v)
{
	struct p2pdma_provider *p;
	unsigned long val = 0;
	void *entry;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(provider);
	if (p) {
		entry = xa_load(&p->verdicts, key);
		if (xa_is_value(entry))
			val = xa_to_value(entry);
	}
	rcu_read_unlock();
	if (!(val & P2PDMA_V_VALID) ||
	    (val & (P2PDMA_V_GEN | P2PDMA_V_LIMIT_BITS)) != stamp)
		return false;
	v->path = FIELD_GET(P2PDMA_V_PATH, val);
	v->reason = FIELD_GET(P2PDMA_V_REASON, val);
	v->distance = FIELD_GET(P2PDMA_V_DISTANCE, val);
	return true;
}

static void p2pdma_cache(struct pci_dev *provider, unsigned long key,
			 unsigned long stamp, const struct p2pdma_verdict *v)
{
	unsigned long val = stamp |
			    FIELD_PREP(P2PDMA_V_DISTANCE,
				       min_t(int, v->distance,
					     FIELD_MAX(P2PDMA_V_DISTANCE))) |
			    FIELD_PREP(P2PDMA_V_REASON, v->reason) |
			    FIELD_PREP(P2PDMA_V_PATH, v->path) | P2PDMA_V_VALID;
	struct p2pdma_provider *p;
	unsigned long flags;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(provider);
	/* Best effort: without memory the next call walks again. */
	if (p) {
		/* Any context: block drivers judge in their queue_rq. */
		xa_lock_irqsave(&p->verdicts, flags);
		__xa_store(&p->verdicts, key, xa_mk_value(val),
			   GFP_NOWAIT | __GFP_NOWARN);
		xa_unlock_irqrestore(&p->verdicts, flags);
	}
	rcu_read_unlock();
}

static int p2pdma_verdict_of(struct pci_dev *provider,
			     const struct p2pdma_client *client,
			     struct p2pdma_verdict *v, struct seq_buf *why)
{
	struct pci_dev *pdev = p2pdma_client_pci(client->dev);
	unsigned long key, stamp;
	char scratch[1];
	struct seq_buf none;

	if (!pdev) {
		*v = (struct p2pdma_verdict){ .path = P2PDMA_PATH_NOT_SUPPORTED,
					      .reason = P2PDMA_NOT_PCI };
		if (why)
			seq_buf_printf(why, "the client is not a PCI device and sits under none");
		return -1;
	}
	key = p2pdma_client_key(pdev, client->virt_dma);
	stamp = p2pdma_stamp(pdev);
	if (why || !p2pdma_cached(provider, key, stamp, v)) {
		seq_buf_init(&none, scratch, sizeof(scratch));
		p2pdma_walk(provider, pdev, client->virt_dma, v,
			    why ? why : &none);
		p2pdma_cache(provider, key, stamp, v);
	}
	return v->path == P2PDMA_PATH_NOT_SUPPORTED ? -1 : v->distance;
}

int p2pdma_judge(struct pci_dev *provider, const struct p2pdma_client *client,
		 struct p2pdma_verdict *verdict)
{
	return p2pdma_verdict_of(provider, client, verdict, NULL);
}
EXPORT_SYMBOL_GPL(p2pdma_judge);

int p2pdma_explain(struct pci_dev *provider,
		   const struct p2pdma_client *client, char *buf, size_t size)
{
	struct p2pdma_verdict v;
	char detail[256];
	struct seq_buf why;
	int dist;

	seq_buf_init(&why, detail, sizeof(detail));
	dist = p2pdma_verdict_of(provider, client, &v, &why);
	if (dist < 0)
		snprintf(buf, size, "refused: %.*s", (int)seq_buf_used(&why),
			 detail);
	else
		snprintf(buf, size, "accepted: %s, distance %d%.*s",
			 p2pdma_path_name(v.path), dist,
			 (int)seq_buf_used(&why), detail);
	return dist;
}
EXPORT_SYMBOL_GPL(p2pdma_explain);

int p2pdma_distance(struct pci_dev *provider,
		    const struct p2pdma_client *clients, int num_clients)
{
	struct p2pdma_verdict v;
	int i, dist, sum = 0;

	if (num_clients < 1)
		return -1;
	for (i = 0; i < num_clients; i++) {
		dist = p2pdma_judge(provider, &clients[i], &v);
		if (dist < 0)
			return -1;
		sum += dist;
	}
	return sum;
}
EXPORT_SYMBOL_GPL(p2pdma_distance);

#define P2PDMA_MAX_TIES 8

struct pci_dev *p2pdma_find(const struct p2pdma_client *clients,
			    int num_clients)
{
	static atomic_t turn = ATOMIC_INIT(0);
	struct pci_dev *ties[P2PDMA_MAX_TIES], *pdev, *found = NULL;
	int i, dist, best = INT_MAX, nr = 0;
	unsigned long index = 0;

	if (num_clients < 1)
		return NULL;
	while ((pdev = p2pdma_next_candidate(&index))) {
		dist = p2pdma_distance(pdev, clients, num_clients);
		if (dist < 0 || dist > best || (dist == best && nr == P2PDMA_MAX_TIES)) {
			pci_dev_put(pdev);
			continue;
		}
		if (dist < best) {
			while (nr)
				pci_dev_put(ties[--nr]);
			best = dist;
		}
		ties[nr++] = pdev;
	}
	/* Take turns among equals so queues spread over them. */
	if (nr)
		found = ties[(unsigned int)atomic_inc_return(&turn) % nr];
	for (i = 0; i < nr; i++)
		if (ties[i] != found)
			pci_dev_put(ties[i]);
	return found;
}
EXPORT_SYMBOL_GPL(p2pdma_find);

static int p2pdma_topology_notify(struct notifier_block *nb,
				  unsigned long action, void *data)
{
	switch (action) {
	case BUS_NOTIFY_ADD_DEVICE:
	case BUS_NOTIFY_DEL_DEVICE:
	case BUS_NOTIFY_BOUND_DRIVER:
	case BUS_NOTIFY_UNBOUND_DRIVER:
		/* New devices come with their ACS set; drivers set masks. */
		p2pdma_topology_changed();
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block p2pdma_topology_nb = {
	.notifier_call = p2pdma_topology_notify,
};

int p2pdma_topology_start(void)
{
	return bus_register_notifier(&pci_bus_type, &p2pdma_topology_nb);
}

void p2pdma_topology_stop(void)
{
	bus_unregister_notifier(&pci_bus_type, &p2pdma_topology_nb);
}
