/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Public interface of the p2pdma core module (p2pdma.ko).
 */
#ifndef _P2PDMA_P2PDMA_H
#define _P2PDMA_P2PDMA_H

#include <linux/module.h>
#include <linux/types.h>

struct device;
struct module;
struct page;
struct pci_dev;
struct scatterlist;

/**
 * DOC: Naming
 *
 * Every symbol the core exports starts with ``p2pdma_`` (functions) or
 * ``P2PDMA_`` (constants), never with the upstream ``pci_p2pdma_`` or
 * ``pci_*p2pmem*`` names, so nothing collides with a kernel that has its
 * own P2PDMA framework. Every exported symbol is declared here with
 * kernel-doc.
 */

/**
 * DOC: Providers
 *
 * A provider is a PCI device with one or more ranges of its memory BARs
 * registered as ZONE_DEVICE pages (MEMORY_DEVICE_PCI_P2PDMA, uncached) and
 * handed out from a genalloc pool whose "physical" addresses are the PCI
 * bus addresses. Registration is tied to the registering driver's binding
 * of the device: unbinding, removal or hot-unplug stops new allocations at
 * once and waits until every allocation has been freed before the pages go.
 */

/**
 * p2pdma_add_resource() - register part of a BAR as peer-to-peer memory
 * @pdev: the providing PCI device, bound to the calling driver
 * @bar: the memory BAR (0-5)
 * @size: bytes to register, 0 for the rest of the BAR from @offset
 * @offset: offset of the range in the BAR
 *
 * The range must be a memory BAR, start and end on memremap_compat_align()
 * boundaries, lie inside the BAR, and not overlap a range registered
 * before. A device may register several ranges. The memory is released
 * when @pdev's driver unbinds. Context: process, may sleep.
 *
 * Return: 0, or -EINVAL for a bad BAR, range or alignment, -EBUSY for an
 * overlap or while a removed device that had @pdev's address still
 * releases its memory, -ENOMEM, or an error of devm_memremap_pages().
 */
int p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size,
			u64 offset);

/**
 * p2pdma_remove_resources() - tear a provider down now, waiting for its memory
 * @pdev: the provider, still bound to the driver that registered it
 *
 * For a driver that must have every allocation back while its device
 * still works (an NVMe controller's CMB, before the controller is shut
 * down): does what unbinding would do to the memory registered with
 * p2pdma_add_resource(), now. New allocations fail at once, userspace
 * mappings are revoked, and the call returns once all the memory has
 * been freed. Does nothing for a device that is not a provider.
 * Context: process, sleeps.
 */
void p2pdma_remove_resources(struct pci_dev *pdev);

/**
 * p2pdma_publish() - offer a provider's memory to other drivers, or stop
 * @pdev: a device with memory registered by p2pdma_add_resource()
 * @publish: true to publish, false to withdraw
 *
 * Published providers are the ones clients may be steered to; allocation
 * by an explicit @pdev works either way. Does nothing for a device that is
 * not a provider.
 */
void p2pdma_publish(struct pci_dev *pdev, bool publish);

/**
 * p2pdma_published() - whether a device offers p2p memory to other drivers
 * @pdev: any PCI device
 *
 * For a driver that lets its user name a provider (nvmet's namespace
 * attribute ``p2pmem``) and must refuse a device that is none.
 *
 * Return: true if @pdev is a provider, published and not going away.
 */
bool p2pdma_published(struct pci_dev *pdev);

/**
 * DOC: Users
 *
 * Allocations are accounted to the module that makes them (its
 * ``THIS_MODULE``, passed by the p2pdma_alloc() family of macros), so that
 * ``p2pmem/users`` can tell an operator who holds a provider's memory. A
 * module frees what it allocated: the free is accounted to the caller too.
 */

/**
 * __p2pdma_alloc() - allocate peer-to-peer memory from a provider
 * @pdev: the provider
 * @size: bytes, rounded up to whole pages by the pool
 * @owner: the module the memory is accounted to
 *
 * Each allocation holds a reference that keeps the provider's pages alive
 * until __p2pdma_free(). Callers use p2pdma_alloc(). Context: any, does not
 * sleep.
 *
 * Return: the kernel virtual address (an uncached mapping of the BAR), or
 * NULL if @pdev is no provider, is going away, or has not enough free
 * memory (counted as a failed allocation).
 */
void *__p2pdma_alloc(struct pci_dev *pdev, size_t size, struct module *owner);

/**
 * p2pdma_alloc() - allocate peer-to-peer memory for the calling module
 * @pdev: the provider
 * @size: bytes
 *
 * __p2pdma_alloc() accounted to ``THIS_MODULE``.
 */
#define p2pdma_alloc(pdev, size) __p2pdma_alloc(pdev, size, THIS_MODULE)

/**
 * __p2pdma_free() - free memory from __p2pdma_alloc()
 * @pdev: the provider it came from
 * @addr: the address __p2pdma_alloc() returned
 * @size: the size passed to __p2pdma_alloc()
 * @owner: the module it was accounted to
 *
 * Callers use p2pdma_free(). Context: any, does not sleep.
 */
void __p2pdma_free(struct pci_dev *pdev, void *addr, size_t size,
		   struct module *owner);

/**
 * p2pdma_free() - free memory the calling module allocated
 * @pdev: the provider it came from
 * @addr: the address p2pdma_alloc() returned
 * @size: the size passed to p2pdma_alloc()
 */
#define p2pdma_free(pdev, addr, size) \
	__p2pdma_free(pdev, addr, size, THIS_MODULE)

/**
 * p2pdma_virt_to_bus() - PCI bus address of peer-to-peer memory
 * @pdev: the provider
 * @addr: an address inside an allocation from @pdev
 *
 * Return: the address a peer device uses to reach @addr, or 0 if @addr is
 * not @pdev's memory.
 */
u64 p2pdma_virt_to_bus(struct pci_dev *pdev, void *addr);

/**
 * __p2pdma_alloc_sgl() - allocate peer-to-peer memory as a scatterlist
 * @pdev: the provider
 * @nents: set to the number of entries (1) on success
 * @length: bytes
 * @owner: the module the memory is accounted to
 *
 * Callers use p2pdma_alloc_sgl(). Context: any, does not sleep.
 *
 * Return: a one-entry scatterlist to free with p2pdma_free_sgl(), or NULL.
 */
struct scatterlist *__p2pdma_alloc_sgl(struct pci_dev *pdev,
				       unsigned int *nents, u32 length,
				       struct module *owner);

/**
 * p2pdma_alloc_sgl() - allocate a scatterlist for the calling module
 * @pdev: the provider
 * @nents: set to the number of entries
 * @length: bytes
 */
#define p2pdma_alloc_sgl(pdev, nents, length) \
	__p2pdma_alloc_sgl(pdev, nents, length, THIS_MODULE)

/**
 * __p2pdma_free_sgl() - free a scatterlist from __p2pdma_alloc_sgl()
 * @pdev: the provider it came from
 * @sgl: the scatterlist
 * @owner: the module it was accounted to
 *
 * Callers use p2pdma_free_sgl(). Context: any, does not sleep.
 */
void __p2pdma_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl,
		       struct module *owner);

/**
 * p2pdma_free_sgl() - free a scatterlist the calling module allocated
 * @pdev: the provider it came from
 * @sgl: the scatterlist
 */
#define p2pdma_free_sgl(pdev, sgl) __p2pdma_free_sgl(pdev, sgl, THIS_MODULE)

/**
 * p2pdma_page_is_ours() - whether a page is peer-to-peer memory of ours
 * @page: any page
 *
 * Return: true if @page belongs to a range registered with
 * p2pdma_add_resource(). The DMA layer of kernels without
 * CONFIG_PCI_P2PDMA cannot tell; this can.
 */
bool p2pdma_page_is_ours(struct page *page);

/**
 * p2pdma_page_provider() - the provider a page of peer-to-peer memory is from
 * @page: any page
 *
 * For a driver that maps pages it did not allocate (a block driver's
 * request data) and must judge those of ours with p2pdma_judge(). The
 * provider stays valid while the caller holds @page. Context: any.
 *
 * Return: the provider (no reference taken), or NULL if @page is not
 * peer-to-peer memory of ours.
 */
struct pci_dev *p2pdma_page_provider(struct page *page);

/**
 * DOC: Topology verdicts
 *
 * Debian's DMA layer treats our pages as RAM: it hands a device the address
 * it would use for RAM at that spot. That is right only on some paths, so
 * the core judges every provider/client pair and hands memory only to safe
 * ones. A client is a &struct device judged as the PCI device it is or
 * sits under; a software RDMA device, whose "DMA" is the CPU's, is refused
 * unless the test-rig option ``soft_rdma`` is set, in which case it is
 * judged as the PCI device under its netdev (&p2pdma_client.virt_dma).
 * Verdicts are cached per provider and client and dropped whenever a PCI
 * device is added, removed, bound or unbound, or a policy parameter
 * changes; a cached verdict is also walked again when the client's DMA
 * mask has changed since.
 */

/**
 * enum p2pdma_path - how a client's traffic reaches a provider
 * @P2PDMA_PATH_SAME_DEVICE: the provider is the client itself
 * @P2PDMA_PATH_SWITCH: both sit below one PCI bridge (a switch), which
 *	routes the traffic
 * @P2PDMA_PATH_HOST_BRIDGE: through an allowlisted host bridge, with the
 *	operator's opt-in (``allow_host_bridge``): the two share no bridge,
 *	or ACS redirect sends their traffic up instead of across
 * @P2PDMA_PATH_NOT_SUPPORTED: no safe path; the reason says why
 */
enum p2pdma_path {
	P2PDMA_PATH_SAME_DEVICE,
	P2PDMA_PATH_SWITCH,
	P2PDMA_PATH_HOST_BRIDGE,
	P2PDMA_PATH_NOT_SUPPORTED,
};

/**
 * enum p2pdma_reason - why a pairing is not supported
 * @P2PDMA_OK: it is
 * @P2PDMA_NOT_PCI: the client is not a PCI device and sits under none
 * @P2PDMA_VIRT_DMA: the client does its DMA with the CPU (software RDMA)
 * @P2PDMA_OTHER_HOST_BRIDGE: client and provider are under different host
 *	bridges
 * @P2PDMA_HOST_BRIDGE_OFF: the path crosses the host bridge and
 *	``allow_host_bridge`` is off
 * @P2PDMA_HOST_BRIDGE_UNLISTED: the path crosses a host bridge that is not
 *	on the allowlist
 * @P2PDMA_ACS_REDIRECT: ACS P2P Request or Completion Redirect or Egress
 *	Control on a bridge below the common one sends the traffic up to the
 *	host bridge, and that path is not allowed
 * @P2PDMA_IOMMU: the client's DMA is translated by an IOMMU on a path that
 *	never reaches it
 * @P2PDMA_BUS_OFFSET: the host bridge maps the provider's BAR at a bus
 *	address other than its CPU address
 * @P2PDMA_DMA_MASK: the client's DMA mask does not reach the provider's bus
 *	addresses
 * @P2PDMA_SWIOTLB: swiotlb bounces all of the client's DMA
 * @P2PDMA_MEM_ENCRYPT: memory encryption makes DMA go through bounce buffers
 * @P2PDMA_REASONS: the number of reasons
 */
enum p2pdma_reason {
	P2PDMA_OK,
	P2PDMA_NOT_PCI,
	P2PDMA_VIRT_DMA,
	P2PDMA_OTHER_HOST_BRIDGE,
	P2PDMA_HOST_BRIDGE_OFF,
	P2PDMA_HOST_BRIDGE_UNLISTED,
	P2PDMA_ACS_REDIRECT,
	P2PDMA_IOMMU,
	P2PDMA_BUS_OFFSET,
	P2PDMA_DMA_MASK,
	P2PDMA_SWIOTLB,
	P2PDMA_MEM_ENCRYPT,
	P2PDMA_REASONS,
};

/**
 * struct p2pdma_client - a device that is to use peer-to-peer memory
 * @dev: the device that does the DMA, or for @virt_dma the device its
 *	traffic leaves through (the PCI device under an rxe netdev)
 * @virt_dma: the client moves data with the CPU (ib_uses_virt_dma())
 */
struct p2pdma_client {
	struct device *dev;
	bool virt_dma;
};

/**
 * struct p2pdma_verdict - a provider/client pairing, judged
 * @path: how the traffic flows, or %P2PDMA_PATH_NOT_SUPPORTED
 * @reason: %P2PDMA_OK, or the first reason found against the pairing
 * @distance: PCI hops between the two (0 for the same device), the host
 *	bridge counting as one; meaningful unless not supported
 */
struct p2pdma_verdict {
	enum p2pdma_path path;
	enum p2pdma_reason reason;
	int distance;
};

/**
 * p2pdma_judge() - judge one provider/client pairing
 * @provider: a PCI device (need not be a provider yet)
 * @client: the client
 * @verdict: filled in
 *
 * Uses the cached verdict when there is one, and walks the topology
 * without sleeping when there is none, so that block drivers can judge
 * each request's pages. Context: any.
 *
 * Return: @verdict->distance when supported, else -1.
 */
int p2pdma_judge(struct pci_dev *provider, const struct p2pdma_client *client,
		 struct p2pdma_verdict *verdict);

/**
 * p2pdma_explain() - judge a pairing afresh and say why, in plain words
 * @provider: a PCI device
 * @client: the client
 * @buf: receives one line without a newline, for example "refused: the
 *	client's DMA is translated by the IOMMU (DMA-FQ domain), which traffic
 *	across a switch never reaches: boot with iommu=pt or ..."
 * @size: size of @buf
 *
 * Walks the topology even when a verdict is cached, and caches the new
 * one, so an explanation is never stale. Context: process.
 *
 * Return: the distance when supported, else -1.
 */
int p2pdma_explain(struct pci_dev *provider,
		   const struct p2pdma_client *client, char *buf, size_t size);

/**
 * p2pdma_distance() - how far a provider is from a set of clients
 * @provider: a PCI device
 * @clients: the clients
 * @num_clients: how many
 *
 * Context: process.
 *
 * Return: the sum of the distances from @provider to each client (a
 * provider that is one of the clients is closer than one beside them), or
 * -1 if any client may not use @provider's memory or there is none.
 */
int p2pdma_distance(struct pci_dev *provider,
		    const struct p2pdma_client *clients, int num_clients);

/**
 * p2pdma_find() - the closest published provider that every client can use
 * @clients: the clients
 * @num_clients: how many (at least one)
 *
 * Considers published providers with free memory. Among the closest,
 * successive calls take turns, so that several queues spread over
 * equally good providers. Context: process.
 *
 * Return: the provider with a reference the caller drops with
 * pci_dev_put(), or NULL if no provider qualifies.
 */
struct pci_dev *p2pdma_find(const struct p2pdma_client *clients,
			    int num_clients);

/**
 * p2pdma_path_name() - a path type in words
 * @path: the path
 *
 * Return: "same device", "same switch", "through host bridge" or
 * "not supported".
 */
const char *p2pdma_path_name(enum p2pdma_path path);

#endif /* _P2PDMA_P2PDMA_H */
