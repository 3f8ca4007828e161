// SPDX-License-Identifier: GPL-2.0
/*
 * Providers: ranges of PCI memory BARs registered as ZONE_DEVICE pages with
 * a genalloc pool, found by their PCI device through a lockless registry.
 *
 * Teardown rides on the registering driver's devres, so it runs in the
 * reverse order of set-up when that driver unbinds (unbind, remove,
 * hot-unplug): each range first marks the provider dying (new allocations
 * fail at once), then devm_memremap_pages()'s release kills the pages'
 * reference and waits for every allocation to be freed; last the sysfs
 * files go and the provider leaves the registry.
 */

#include <linux/device.h>
#include <linux/genalloc.h>
#include <linux/jiffies.h>
#include <linux/memremap.h>
#include <linux/pci.h>
#include <linux/seq_buf.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"
#include "trace.h"

/* Providers by PCI domain and routing ID; xa_load() under RCU. */
static DEFINE_XARRAY(p2pdma_providers);
/* Serialises provider creation; never taken on the allocation path. */
static DEFINE_MUTEX(p2pdma_registry_lock);

static unsigned long p2pdma_key(struct pci_dev *pdev)
{
	return (unsigned long)pci_domain_nr(pdev->bus) << 16 | pci_dev_id(pdev);
}

/*
 * @pdev's provider, under RCU: another device's provider under the same
 * key (a removed device's, still releasing) may be freed at any time, so
 * even comparing its device must be done under RCU. The result stays
 * valid after rcu_read_unlock() only when something else keeps it alive
 * (@pdev's devres that owns it).
 */
struct p2pdma_provider *p2pdma_provider_find_rcu(struct pci_dev *pdev)
{
	struct p2pdma_provider *p;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "provider lookup outside RCU");
	p = xa_load(&p2pdma_providers, p2pdma_key(pdev));
	/* A removed device's address may belong to a new device by now. */
	return p && p->pdev == pdev ? p : NULL;
}

bool p2pdma_is_provider(struct pci_dev *pdev)
{
	bool found;

	rcu_read_lock();
	found = p2pdma_provider_find_rcu(pdev);
	rcu_read_unlock();
	return found;
}

/* The next published provider with free memory from *@index on, held. */
struct pci_dev *p2pdma_next_candidate(unsigned long *index)
{
	struct p2pdma_provider *p;
	struct pci_dev *pdev = NULL;

	rcu_read_lock();
	while (!pdev) {
		p = xa_find(&p2pdma_providers, index, ULONG_MAX, XA_PRESENT);
		if (!p)
			break;
		(*index)++;
		if (READ_ONCE(p->published) && !READ_ONCE(p->dying) &&
		    p2pdma_available(p) >= PAGE_SIZE)
			pdev = pci_dev_get(p->pdev);
	}
	rcu_read_unlock();
	return pdev;
}

/* The first report after teardown began, and then how often. */
#define P2PDMA_HELD_FIRST_REPORT	(5 * HZ)
#define P2PDMA_HELD_REPORT		(30 * HZ)

/*
 * Teardown waits, as it must, until all of the memory is back: pages may
 * not go while a device can still be pointed at them. Kernel users give
 * it back once their I/O is done; what userspace holds after its mappings
 * were revoked are long-term pins, which these kernels cannot refuse.
 * Say who holds what, so that an operator can end the wait.
 */
static void p2pdma_held_report(struct work_struct *work)
{
	struct p2pdma_provider *p = container_of(to_delayed_work(work),
						 struct p2pdma_provider,
						 held_report);
	s64 in_use = atomic64_read(&p->in_use);
	s64 mapped = atomic64_read(&p->mapped);
	struct p2pdma_user_counters sum;
	unsigned int i, nr;
	char users[128];
	struct seq_buf s;

	if (in_use <= 0)
		return;
	seq_buf_init(&s, users, sizeof(users));
	/* Pairs with the release in p2pdma_user_add(). */
	nr = smp_load_acquire(&p->nr_users);
	for (i = 0; i < nr; i++) {
		p2pdma_user_sum(p, i, &sum);
		if (sum.bytes > 0)
			seq_buf_printf(&s, " %s %lld", p->users[i].name, sum.bytes);
	}
	if (!seq_buf_used(&s))
		seq_buf_printf(&s, " none");
	pci_warn(p->pdev, "p2pdma: removal waits for %lld bytes of p2p memory still in use (%u s): modules:%.*s; userspace: %lld bytes pinned past their revoked mappings (an RDMA memory registration, see rdma resource show mr; io_uring fixed buffers; VFIO): it goes on once they are released\n",
		 in_use, jiffies_to_msecs(jiffies - p->teardown_start) / 1000,
		 (int)seq_buf_used(&s), users, mapped);
	schedule_delayed_work(&p->held_report, P2PDMA_HELD_REPORT);
}

/* Last devres action of a provider: nothing of it is in use any more. */
static void p2pdma_provider_release(void *data)
{
	struct p2pdma_provider *p = data;

	cancel_delayed_work_sync(&p->held_report);

	/* A provider that never had a range was never retired. */
	p2pdma_cdev_revoke(p);
	xa_erase(&p2pdma_providers, p2pdma_key(p->pdev));
	/* Lockless readers may still be inside the pool. */
	synchronize_rcu();
	trace_p2pdma_remove(p->pdev, p->size);
	gen_pool_destroy(p->pool);
	xa_destroy(&p->verdicts);
	free_percpu(p->cpu);
	pci_info(p->pdev, "p2pdma: provider removed\n");
	kfree(p);
}

static void p2pdma_sysfs_remove(void *data)
{
	struct pci_dev *pdev = data;

	sysfs_remove_group(&pdev->dev.kobj, &p2pdma_sysfs_group);
}

static struct p2pdma_provider *p2pdma_provider_create(struct pci_dev *pdev)
{
	struct p2pdma_provider *p;
	int cpu, err;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return ERR_PTR(-ENOMEM);
	p->pdev = pdev;
	INIT_LIST_HEAD(&p->ranges);
	mutex_init(&p->lock);
	spin_lock_init(&p->users_lock);
	xa_init_flags(&p->verdicts, XA_FLAGS_LOCK_IRQ);
	INIT_DELAYED_WORK(&p->held_report, p2pdma_held_report);
	p->pool = gen_pool_create(PAGE_SHIFT, dev_to_node(&pdev->dev));
	p->cpu = alloc_percpu(struct p2pdma_cpu);
	err = p->pool && p->cpu ? 0 : -ENOMEM;
	if (!err)
		for_each_possible_cpu(cpu)
			spin_lock_init(&per_cpu_ptr(p->cpu, cpu)->lock);
	if (!err)
		err = xa_insert(&p2pdma_providers, p2pdma_key(pdev), p, GFP_KERNEL);
	if (err) {
		if (p->pool)
			gen_pool_destroy(p->pool);
		free_percpu(p->cpu);
		kfree(p);
		return ERR_PTR(err);
	}
	/* From here on the release action undoes everything above. */
	err = devm_add_action_or_reset(&pdev->dev, p2pdma_provider_release, p);
	if (err)
		return ERR_PTR(err);
	err = sysfs_create_group(&pdev->dev.kobj, &p2pdma_sysfs_group);
	if (err)
		goto release;
	err = devm_add_action_or_reset(&pdev->dev, p2pdma_sysfs_remove, pdev);
	if (err)
		goto release;
	err = p2pdma_cdev_add(p);
	if (err) {
		pci_err(pdev, "p2pdma: cannot add the provider's char device: %d\n",
			err);
		devm_release_action(&pdev->dev, p2pdma_sysfs_remove, pdev);
		goto release;
	}
	return p;

release:
	/* No half-made provider stays registered: the next try starts clean. */
	devm_release_action(&pdev->dev, p2pdma_provider_release, p);
	return ERR_PTR(err);
}

static struct p2pdma_provider *p2pdma_provider_get(struct pci_dev *pdev)
{
	struct p2pdma_provider *p;
	bool other;

	mutex_lock(&p2pdma_registry_lock);
	rcu_read_lock();
	p = xa_load(&p2pdma_providers, p2pdma_key(pdev));
	/* Under RCU: a removed device's dying provider may be freed now. */
	other = p && p->pdev != pdev;
	rcu_read_unlock();
	if (!p) {
		p = p2pdma_provider_create(pdev);
	} else if (other) {
		/* Never add ranges to a removed device's dying provider. */
		pci_err(pdev, "p2pdma: the device that had this address before is still releasing its p2p memory: register again once it is gone\n");
		p = ERR_PTR(-EBUSY);
	}
	mutex_unlock(&p2pdma_registry_lock);
	return p;
}

/* First devres action of each range at teardown: stop handing it out. */
static void p2pdma_range_retire(void *data)
{
	struct p2pdma_range *range = data;
	struct p2pdma_provider *p = range->provider;

	if (!READ_ONCE(p->dying))
		p->teardown_start = jiffies;
	WRITE_ONCE(p->dying, true);
	WRITE_ONCE(p->published, false);
	/* Cached buffers and user mappings hold references teardown waits for. */
	p2pdma_cache_drain(p);
	p2pdma_user_revoke(p);
	/* Once, for all ranges: the first to be retired starts it. */
	if (atomic64_read(&p->in_use) > 0)
		schedule_delayed_work(&p->held_report, P2PDMA_HELD_FIRST_REPORT);
	mutex_lock(&p->lock);
	list_del(&range->node);
	mutex_unlock(&p->lock);
}

static bool p2pdma_range_overlaps(struct p2pdma_provider *p, u64 start, u64 end)
{
	struct p2pdma_range *r;

	list_for_each_entry(r, &p->ranges, node)
		if (start <= r->pgmap.range.end && end >= r->pgmap.range.start)
			return true;
	return false;
}

static int p2pdma_check_range(struct pci_dev *pdev, int bar, size_t *size,
			      u64 offset)
{
	unsigned long align = memremap_compat_align();
	resource_size_t len;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS ||
	    !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM)) {
		pci_err(pdev, "p2pdma: BAR %d is not a memory BAR: choose one of the device's memory BARs\n",
			bar);
		return -EINVAL;
	}
	len = pci_resource_len(pdev, bar);
	if (!*size && offset < len)
		*size = len - offset;
	if (offset >= len || *size > len - offset) {
		pci_err(pdev, "p2pdma: %#zx bytes at offset %#llx do not fit BAR %d of %pa bytes\n",
			*size, offset, bar, &len);
		return -EINVAL;
	}
	if (!IS_ALIGNED(pci_resource_start(pdev, bar) + offset, align) ||
	    !IS_ALIGNED(*size, align)) {
		pci_err(pdev, "p2pdma: BAR %d range at %#llx of %#zx bytes is not aligned to %#lx (memremap_compat_align)\n",
			bar, offset, *size, align);
		return -EINVAL;
	}
	return 0;
}

int p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size,
			u64 offset)
{
	struct p2pdma_provider *p;
	struct p2pdma_range *range;
	u64 start, bus;
	void *addr;
	int err;

	err = p2pdma_check_range(pdev, bar, &size, offset);
	if (err)
		return err;
	start = pci_resource_start(pdev, bar) + offset;
	bus = pci_bus_address(pdev, bar) + offset;

	p = p2pdma_provider_get(pdev);
	if (IS_ERR(p))
		return PTR_ERR(p);

	mutex_lock(&p->lock);
	if (p2pdma_range_overlaps(p, start, start + size - 1)) {
		pci_err(pdev, "p2pdma: BAR %d range at %#llx overlaps memory registered before\n",
			bar, offset);
		err = -EBUSY;
		goto unlock;
	}

	range = devm_kzalloc(&pdev->dev, sizeof(*range), GFP_KERNEL);
	if (!range) {
		err = -ENOMEM;
		goto unlock;
	}
	range->provider = p;
	range->pgmap.range.start = start;
	range->pgmap.range.end = start + size - 1;
	range->pgmap.nr_range = 1;
	range->pgmap.type = MEMORY_DEVICE_PCI_P2PDMA;
	range->pgmap.ops = &p2pdma_pgmap_ops;

	addr = devm_memremap_pages(&pdev->dev, &range->pgmap);
	if (IS_ERR(addr)) {
		err = PTR_ERR(addr);
		pci_err(pdev, "p2pdma: cannot map BAR %d range as ZONE_DEVICE pages: %d\n",
			bar, err);
		goto free_range;
	}
	list_add_tail(&range->node, &p->ranges);
	/* Registered after the pages, so it runs before they go. */
	err = devm_add_action(&pdev->dev, p2pdma_range_retire, range);
	if (err)
		goto unmap;
	err = gen_pool_add_owner(p->pool, (unsigned long)addr, bus, size,
				 dev_to_node(&pdev->dev), &range->pgmap.ref);
	if (err)
		goto retire;
	p->size += size;
	/* Caches on all CPUs together keep at most an eighth of the pool. */
	WRITE_ONCE(p->cache_limit, p->size / 8 / num_possible_cpus());
	mutex_unlock(&p->lock);

	trace_p2pdma_register(pdev, bar, size, bus);
	pci_info(pdev, "p2pdma: registered %#zx bytes of BAR %d (%sprefetchable) at bus address %#llx\n",
		 size, bar,
		 pci_resource_flags(pdev, bar) & IORESOURCE_PREFETCH ? "" : "non-",
		 bus);
	return 0;

retire:
	devm_remove_action(&pdev->dev, p2pdma_range_retire, range);
unmap:
	list_del(&range->node);
	devm_memunmap_pages(&pdev->dev, &range->pgmap);
free_range:
	devm_kfree(&pdev->dev, range);
unlock:
	mutex_unlock(&p->lock);
	return err;
}
EXPORT_SYMBOL_GPL(p2pdma_add_resource);

/*
 * Releases exactly our own devres entries, in the order an unbind would:
 * releasing a devres group instead would also release entries the owning
 * driver added meanwhile.
 */
void p2pdma_remove_resources(struct pci_dev *pdev)
{
	struct p2pdma_provider *p;
	struct p2pdma_range *range;

	/* Ours, so kept alive past RCU by @pdev's devres, released below. */
	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	rcu_read_unlock();
	if (!p)
		return;
	for (;;) {
		mutex_lock(&p->lock);
		range = list_empty(&p->ranges) ? NULL :
			list_last_entry(&p->ranges, struct p2pdma_range, node);
		mutex_unlock(&p->lock);
		if (!range)
			break;
		devm_release_action(&pdev->dev, p2pdma_range_retire, range);
		devm_memunmap_pages(&pdev->dev, &range->pgmap);
		devm_kfree(&pdev->dev, range);
	}
	devm_release_action(&pdev->dev, p2pdma_sysfs_remove, pdev);
	devm_release_action(&pdev->dev, p2pdma_provider_release, p);
}
EXPORT_SYMBOL_GPL(p2pdma_remove_resources);

void p2pdma_publish(struct pci_dev *pdev, bool publish)
{
	struct p2pdma_provider *p;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	if (p && !READ_ONCE(p->dying))
		WRITE_ONCE(p->published, publish);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(p2pdma_publish);

bool p2pdma_published(struct pci_dev *pdev)
{
	struct p2pdma_provider *p;
	bool published;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(pdev);
	published = p && READ_ONCE(p->published) && !READ_ONCE(p->dying);
	rcu_read_unlock();
	return published;
}
EXPORT_SYMBOL_GPL(p2pdma_published);
