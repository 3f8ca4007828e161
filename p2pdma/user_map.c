// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace mappings of p2p memory: upstream's p2pmem/allocate file
 * (Linux 6.2 and later), where each mmap(MAP_SHARED) at offset 0 maps that
 * many freshly allocated bytes.
 *
 * The pages are inserted as ordinary pages, so their refcount tracks the
 * mapping: fork shares them, and when the last mapping (or pin) goes the
 * page drops to zero and p2pdma_page_free() gives it back. Being ordinary
 * pages, O_DIRECT and RDMA registrations can pin them and point any device
 * at them. Debian's DMA layer cannot refuse a device whose path to the BAR
 * the topology verdicts reject, so mapping is refused until the operator
 * opts in for the provider (p2pmem/allow_user_dma) and takes that on.
 *
 * Removal revokes: the allocate file goes first, and kernfs zaps every
 * mapping of it; later accesses get SIGBUS.
 */

#include <linux/genalloc.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/percpu-refcount.h>
#include <linux/sysfs.h>

#include "provider.h"

/*
 * Zero memory about to be handed to userspace, here and by the char
 * device. Stores to the BAR are uncached, one bus write each: a chunk at
 * a time, letting others run.
 */
void p2pdma_zero(unsigned long addr, size_t len)
{
	size_t chunk;

	while (len) {
		chunk = min_t(size_t, len, SZ_1M);
		memset((void *)addr, 0, chunk);
		addr += chunk;
		len -= chunk;
		cond_resched();
	}
}

/* The last reference to a mapped page went: back to the pool. */
static void p2pdma_page_free(struct page *page)
{
	struct p2pdma_range *range = container_of(page->pgmap,
						  struct p2pdma_range, pgmap);
	struct p2pdma_provider *p = range->provider;

	p2pdma_account_mapped(p, -PAGE_SIZE);
	/* The page's range reference keeps @p alive until here. */
	p2pdma_pool_give(p, (unsigned long)page_to_virt(page), PAGE_SIZE);
}

/* Kernel users keep a page's first reference: only mappings reach zero. */
const struct dev_pagemap_ops p2pdma_pgmap_ops = {
	.page_free = p2pdma_page_free,
};

static int p2pdma_allocate_mmap(struct file *filp, struct kobject *kobj,
				struct bin_attribute *attr,
				struct vm_area_struct *vma)
{
	struct pci_dev *pdev = to_pci_dev(kobj_to_dev(kobj));
	size_t len = vma->vm_end - vma->vm_start, done;
	int ret = 0;
	struct p2pdma_provider *p;
	struct percpu_ref *ref;
	unsigned long kaddr;

	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pci_info_ratelimited(pdev, "p2pdma: %s: allocate maps only with MAP_SHARED\n",
				     current->comm);
		return -EINVAL;
	}
	if (vma->vm_pgoff) {
		pci_info_ratelimited(pdev, "p2pdma: %s: allocate maps only at offset 0\n",
				     current->comm);
		return -EINVAL;
	}
	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (!p || READ_ONCE(p->dying)) {
		rcu_read_unlock();
		return -ENODEV;
	}
	if (!READ_ONCE(p->allow_user_dma)) {
		rcu_read_unlock();
		pci_info_ratelimited(pdev, "p2pdma: %s: userspace mappings are off: write 1 to p2pmem/allow_user_dma to allow them (the DMA of devices pointed at them is not checked)\n",
				     current->comm);
		return -EPERM;
	}
	/* One reference for the whole run; each page takes its own. */
	kaddr = p2pdma_pool_take(p, len, &ref);
	rcu_read_unlock();
	if (!kaddr) {
		pci_info_ratelimited(pdev, "p2pdma: %s: no %zu bytes of p2p memory free for a mapping\n",
				     current->comm, len);
		return -ENOMEM;
	}
	/* Not what the last user, a process or an nvmet host, left there. */
	p2pdma_zero(kaddr, len);

	for (done = 0; done < len; done += PAGE_SIZE) {
		struct page *page = virt_to_page((void *)(kaddr + done));

		ret = vm_insert_page(vma, vma->vm_start + done, page);
		if (ret) {
			/* Inserted pages return as the failed VMA is unmapped. */
			gen_pool_free(p->pool, kaddr + done, len - done);
			break;
		}
		percpu_ref_get(ref);
		/* The mapping's reference is now the page's only one. */
		put_page(page);
	}
	/* Pages mapped before a failure come back as the VMA goes. */
	p2pdma_account_mapped(p, done);
	percpu_ref_put(ref);
	return done < len ? ret : 0;
}

/* Upstream's size: tools (python's mmap) check it against the length. */
struct bin_attribute p2pdma_allocate_attr = {
	.attr = { .name = "allocate", .mode = 0600 },
	.size = SZ_1T,
	.mmap = p2pdma_allocate_mmap,
};

/*
 * At teardown, before the pages are waited for: zap every mapping of the
 * allocate file (kernfs does it as the file goes) and of the char device.
 */
void p2pdma_user_revoke(struct p2pdma_provider *p)
{
	sysfs_remove_file_from_group(&p->pdev->dev.kobj,
				     &p2pdma_allocate_attr.attr, "p2pmem");
	p2pdma_cdev_revoke(p);
}
