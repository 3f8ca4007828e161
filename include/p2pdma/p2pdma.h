/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Public interface of the p2pdma core module (p2pdma.ko).
 */
#ifndef _P2PDMA_P2PDMA_H
#define _P2PDMA_P2PDMA_H

#include <linux/module.h>
#include <linux/types.h>

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
 * overlap, -ENOMEM, or an error of devm_memremap_pages().
 */
int p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size,
			u64 offset);

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

#endif /* _P2PDMA_P2PDMA_H */
