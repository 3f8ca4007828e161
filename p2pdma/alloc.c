// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation of peer-to-peer memory. Runs on the I/O path: no lock, no
 * sleeping allocation, safe in atomic context. Every allocation holds a
 * reference on its range's pages (the genalloc chunk's owner), which is
 * what provider teardown waits for.
 */

#include <linux/genalloc.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/percpu-refcount.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"
#include "trace.h"

/* Bytes the pool really takes for a request: whole pages. */
static size_t p2pdma_pool_bytes(size_t size)
{
	return PAGE_ALIGN(size);
}

void p2pdma_counters_sum(struct p2pdma_provider *p, struct p2pdma_counters *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct p2pdma_counters *c = per_cpu_ptr(p->counters, cpu);

		sum->allocations += READ_ONCE(c->allocations);
		sum->frees += READ_ONCE(c->frees);
		sum->failed += READ_ONCE(c->failed);
	}
}

/* Count @bytes in use; the peak line is written only when exceeded. */
static void p2pdma_account_alloc(struct p2pdma_provider *p, size_t bytes)
{
	s64 now = atomic64_add_return(bytes, &p->in_use);
	s64 peak = atomic64_read(&p->peak_in_use);

	while (now > peak && !atomic64_try_cmpxchg(&p->peak_in_use, &peak, now))
		;
}

void *p2pdma_alloc(struct pci_dev *pdev, size_t size)
{
	struct p2pdma_provider *p;
	struct percpu_ref *ref;
	void *addr = NULL;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (!p)
		goto out;
	if (!size || READ_ONCE(p->dying))
		goto failed;
	addr = (void *)gen_pool_alloc_owner(p->pool, size, (void **)&ref);
	if (!addr)
		goto failed;
	/* The range is being torn down: give the memory back. */
	if (unlikely(!percpu_ref_tryget_live_rcu(ref))) {
		gen_pool_free(p->pool, (unsigned long)addr, size);
		addr = NULL;
		goto failed;
	}
	this_cpu_inc(p->counters->allocations);
	p2pdma_account_alloc(p, p2pdma_pool_bytes(size));
	goto out;
failed:
	this_cpu_inc(p->counters->failed);
	trace_p2pdma_alloc_failed(pdev, size, READ_ONCE(p->dying));
out:
	rcu_read_unlock();
	return addr;
}
EXPORT_SYMBOL_GPL(p2pdma_alloc);

void p2pdma_free(struct pci_dev *pdev, void *addr, size_t size)
{
	struct p2pdma_provider *p;
	struct percpu_ref *ref;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (!WARN_ON_ONCE(!p)) {
		gen_pool_free_owner(p->pool, (unsigned long)addr, size,
				    (void **)&ref);
		this_cpu_inc(p->counters->frees);
		atomic64_sub(p2pdma_pool_bytes(size), &p->in_use);
		percpu_ref_put(ref);
	}
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(p2pdma_free);

u64 p2pdma_virt_to_bus(struct pci_dev *pdev, void *addr)
{
	struct p2pdma_provider *p;
	phys_addr_t bus = -1;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (p)
		bus = gen_pool_virt_to_phys(p->pool, (unsigned long)addr);
	rcu_read_unlock();
	return bus == (phys_addr_t)-1 ? 0 : bus;
}
EXPORT_SYMBOL_GPL(p2pdma_virt_to_bus);

struct scatterlist *p2pdma_alloc_sgl(struct pci_dev *pdev,
				     unsigned int *nents, u32 length)
{
	struct scatterlist *sg;
	void *addr;

	sg = kmalloc(sizeof(*sg), GFP_ATOMIC);
	if (!sg)
		return NULL;
	sg_init_table(sg, 1);
	addr = p2pdma_alloc(pdev, length);
	if (!addr) {
		kfree(sg);
		return NULL;
	}
	sg_set_buf(sg, addr, length);
	*nents = 1;
	return sg;
}
EXPORT_SYMBOL_GPL(p2pdma_alloc_sgl);

void p2pdma_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, INT_MAX, i) {
		if (!sg)
			break;
		p2pdma_free(pdev, sg_virt(sg), sg->length);
	}
	kfree(sgl);
}
EXPORT_SYMBOL_GPL(p2pdma_free_sgl);

bool p2pdma_page_is_ours(struct page *page)
{
	return is_zone_device_page(page) &&
	       page->pgmap->ops == &p2pdma_pgmap_ops;
}
EXPORT_SYMBOL_GPL(p2pdma_page_is_ours);
