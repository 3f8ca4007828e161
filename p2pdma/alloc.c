// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation of peer-to-peer memory. Runs on the I/O path: no shared lock,
 * no sleeping allocation, safe in atomic context. Every allocation holds a
 * reference on its range's pages (the genalloc chunk's owner), which is
 * what provider teardown waits for. Freed buffers go to a small per-CPU
 * cache first, so that most alloc/free pairs touch only this CPU's data
 * and never genalloc's shared bitmap.
 */

#include <linux/genalloc.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/percpu-refcount.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

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
		struct p2pdma_counters *c = &per_cpu_ptr(p->cpu, cpu)->counters;

		sum->allocations += READ_ONCE(c->allocations);
		sum->frees += READ_ONCE(c->frees);
		sum->failed += READ_ONCE(c->failed);
	}
}

size_t p2pdma_cached_bytes(struct p2pdma_provider *p)
{
	size_t bytes = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		bytes += READ_ONCE(per_cpu_ptr(p->cpu, cpu)->bytes);
	return bytes;
}

/* Free bytes: the pool's, and the buffers CPUs keep for reuse. */
size_t p2pdma_available(struct p2pdma_provider *p)
{
	return gen_pool_avail(p->pool) + p2pdma_cached_bytes(p);
}

/* Give every cached buffer back to the pool, with its reference. */
void p2pdma_cache_drain(struct p2pdma_provider *p)
{
	unsigned long flags;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct p2pdma_cpu *c = per_cpu_ptr(p->cpu, cpu);

		spin_lock_irqsave(&c->lock, flags);
		while (c->nr) {
			c->nr--;
			p2pdma_pool_give(p, c->slot[c->nr].addr,
					 c->slot[c->nr].bytes);
		}
		WRITE_ONCE(c->bytes, 0);
		spin_unlock_irqrestore(&c->lock, flags);
	}
}

/* A buffer of @bytes from this CPU's cache, or 0. */
static unsigned long p2pdma_cache_take(struct p2pdma_provider *p, size_t bytes)
{
	unsigned long flags, addr = 0;
	struct p2pdma_cpu *c;
	int i;

	local_irq_save(flags);
	c = this_cpu_ptr(p->cpu);
	spin_lock(&c->lock);
	for (i = c->nr - 1; i >= 0; i--) {
		if (c->slot[i].bytes != bytes)
			continue;
		addr = c->slot[i].addr;
		c->slot[i] = c->slot[--c->nr];
		WRITE_ONCE(c->bytes, c->bytes - bytes);
		break;
	}
	spin_unlock(&c->lock);
	local_irq_restore(flags);
	return addr;
}

/* Keep a freed buffer, with its reference, on this CPU if there is room. */
static bool p2pdma_cache_keep(struct p2pdma_provider *p, unsigned long addr,
			      size_t bytes)
{
	struct p2pdma_cpu *c;
	unsigned long flags;
	bool kept = false;

	local_irq_save(flags);
	c = this_cpu_ptr(p->cpu);
	spin_lock(&c->lock);
	/* Read under the lock: a drain after "dying" finds what we add. */
	if (!READ_ONCE(p->dying) && c->nr < P2PDMA_CACHE_SLOTS &&
	    c->bytes + bytes <= READ_ONCE(p->cache_limit)) {
		c->slot[c->nr].addr = addr;
		c->slot[c->nr].bytes = bytes;
		c->nr++;
		WRITE_ONCE(c->bytes, c->bytes + bytes);
		kept = true;
	}
	spin_unlock(&c->lock);
	local_irq_restore(flags);
	return kept;
}

/* A buffer from the pool, holding a reference on its range (*@ref), or 0. */
unsigned long p2pdma_pool_take(struct p2pdma_provider *p, size_t bytes,
			       struct percpu_ref **ref)
{
	unsigned long addr;
	size_t cached;

	addr = gen_pool_alloc_owner(p->pool, bytes, (void **)ref);
	/*
	 * Free memory may sit in caches, in pieces of other sizes. Draining
	 * takes every CPU's lock: only when it can make room, so that a
	 * full provider fails its allocations cheaply.
	 */
	cached = addr ? 0 : p2pdma_cached_bytes(p);
	if (cached && gen_pool_avail(p->pool) + cached >= bytes) {
		p2pdma_cache_drain(p);
		addr = gen_pool_alloc_owner(p->pool, bytes, (void **)ref);
	}
	/* The range is being torn down: give the memory back. */
	if (addr && unlikely(!percpu_ref_tryget_live_rcu(*ref))) {
		gen_pool_free(p->pool, addr, bytes);
		addr = 0;
	}
	return addr;
}

/* Back to the pool, with the range reference that @addr's take held. */
void p2pdma_pool_give(struct p2pdma_provider *p, unsigned long addr,
		      size_t bytes)
{
	struct percpu_ref *ref;

	gen_pool_free_owner(p->pool, addr, bytes, (void **)&ref);
	percpu_ref_put(ref);
}

static const char *p2pdma_owner_name(struct module *owner)
{
	return owner ? owner->name : "kernel";
}

/* First allocation of a module from @p: give it a slot, if one is left. */
static noinline int p2pdma_user_add(struct p2pdma_provider *p,
				    struct module *owner)
{
	const char *name = p2pdma_owner_name(owner);
	unsigned long flags;
	int i;

	spin_lock_irqsave(&p->users_lock, flags);
	for (i = 0; i < p->nr_users; i++) {
		/* The same module loaded again: keep its line. */
		if (!strcmp(p->users[i].name, name)) {
			WRITE_ONCE(p->users[i].owner, owner);
			goto out;
		}
	}
	if (i == P2PDMA_USERS) {
		i = -1;
		goto out;
	}
	p->users[i].owner = owner;
	strscpy(p->users[i].name, name, sizeof(p->users[i].name));
	/* Lockless readers see the entry complete. */
	smp_store_release(&p->nr_users, i + 1);
out:
	spin_unlock_irqrestore(&p->users_lock, flags);
	return i;
}

/* @owner's slot in @p, or -1 (not found, or no slot left for @add). */
static int p2pdma_user_slot(struct p2pdma_provider *p, struct module *owner,
			    bool add)
{
	/* Pairs with the release in p2pdma_user_add(): entries are complete. */
	unsigned int i, nr = smp_load_acquire(&p->nr_users);

	for (i = 0; i < nr; i++)
		if (READ_ONCE(p->users[i].owner) == owner)
			return i;
	return add ? p2pdma_user_add(p, owner) : -1;
}

/* Count @bytes in use. */
static void p2pdma_account_alloc(struct p2pdma_provider *p, size_t bytes,
				 struct module *owner)
{
	s64 now = atomic64_add_return(bytes, &p->in_use);
	int user = p2pdma_user_slot(p, owner, true);

	this_cpu_inc(p->cpu->counters.allocations);
	if (user >= 0) {
		this_cpu_add(p->cpu->users[user].bytes, bytes);
		this_cpu_inc(p->cpu->users[user].allocations);
	}
	p2pdma_raise_peak(p, now);
}

static void p2pdma_account_free(struct p2pdma_provider *p, size_t bytes,
				struct module *owner)
{
	int user = p2pdma_user_slot(p, owner, false);

	this_cpu_inc(p->cpu->counters.frees);
	atomic64_sub(bytes, &p->in_use);
	if (user >= 0)
		this_cpu_sub(p->cpu->users[user].bytes, bytes);
}

void p2pdma_user_sum(struct p2pdma_provider *p, int user,
		     struct p2pdma_user_counters *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct p2pdma_user_counters *c = &per_cpu_ptr(p->cpu, cpu)->users[user];

		sum->bytes += READ_ONCE(c->bytes);
		sum->allocations += READ_ONCE(c->allocations);
	}
}

void *__p2pdma_alloc(struct pci_dev *pdev, size_t size, struct module *owner)
{
	size_t bytes = p2pdma_pool_bytes(size);
	struct p2pdma_provider *p;
	struct percpu_ref *ref;
	unsigned long addr = 0;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (!p)
		goto out;
	if (size && !READ_ONCE(p->dying)) {
		addr = p2pdma_cache_take(p, bytes);
		if (!addr)
			addr = p2pdma_pool_take(p, bytes, &ref);
	}
	if (addr) {
		p2pdma_account_alloc(p, bytes, owner);
	} else {
		this_cpu_inc(p->cpu->counters.failed);
		trace_p2pdma_alloc_failed(pdev, size, READ_ONCE(p->dying));
	}
out:
	rcu_read_unlock();
	return (void *)addr;
}
EXPORT_SYMBOL_GPL(__p2pdma_alloc);

void __p2pdma_free(struct pci_dev *pdev, void *addr, size_t size,
		   struct module *owner)
{
	size_t bytes = p2pdma_pool_bytes(size);
	struct p2pdma_provider *p;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (!WARN_ON_ONCE(!p)) {
		p2pdma_account_free(p, bytes, owner);
		if (!p2pdma_cache_keep(p, (unsigned long)addr, bytes))
			p2pdma_pool_give(p, (unsigned long)addr, bytes);
	}
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(__p2pdma_free);

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

struct scatterlist *__p2pdma_alloc_sgl(struct pci_dev *pdev,
				       unsigned int *nents, u32 length,
				       struct module *owner)
{
	struct scatterlist *sg;
	void *addr;

	sg = kmalloc(sizeof(*sg), GFP_ATOMIC);
	if (!sg)
		return NULL;
	sg_init_table(sg, 1);
	addr = __p2pdma_alloc(pdev, length, owner);
	if (!addr) {
		kfree(sg);
		return NULL;
	}
	sg_set_buf(sg, addr, length);
	*nents = 1;
	return sg;
}
EXPORT_SYMBOL_GPL(__p2pdma_alloc_sgl);

void __p2pdma_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl,
		       struct module *owner)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, INT_MAX, i) {
		if (!sg)
			break;
		__p2pdma_free(pdev, sg_virt(sg), sg->length, owner);
	}
	kfree(sgl);
}
EXPORT_SYMBOL_GPL(__p2pdma_free_sgl);

bool p2pdma_page_is_ours(struct page *page)
{
	return is_zone_device_page(page) &&
	       page->pgmap->ops == &p2pdma_pgmap_ops;
}
EXPORT_SYMBOL_GPL(p2pdma_page_is_ours);

struct pci_dev *p2pdma_page_provider(struct page *page)
{
	if (!p2pdma_page_is_ours(page))
		return NULL;
	/* A held page holds its range, and the range its provider. */
	return container_of(page->pgmap, struct p2pdma_range, pgmap)->provider->pdev;
}
EXPORT_SYMBOL_GPL(p2pdma_page_provider);
