// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/bus/pci/devices/<bdf>/p2pmem/: upstream's size, available and
 * published, plus our allocation statistics and who holds the memory, all
 * read-only; allow_user_dma, and upstream's allocate (user_map.c).
 */

#include <linux/device.h>
#include <linux/genalloc.h>
#include <linux/pci.h>
#include <linux/sysfs.h>

#include "provider.h"

/* Which value of a provider an attribute shows. */
enum p2pdma_stat {
	P2PDMA_SIZE,
	P2PDMA_AVAILABLE,
	P2PDMA_PUBLISHED,
	P2PDMA_IN_USE,
	P2PDMA_PEAK_IN_USE,
	P2PDMA_CACHED,
	P2PDMA_MAPPED,
	P2PDMA_ALLOW_USER_DMA,
	P2PDMA_ALLOCATIONS,
	P2PDMA_FREES,
	P2PDMA_FAILED,
};

static u64 p2pdma_stat_value(struct p2pdma_provider *p, enum p2pdma_stat stat)
{
	struct p2pdma_counters sum;

	switch (stat) {
	case P2PDMA_SIZE:
		return gen_pool_size(p->pool);
	case P2PDMA_AVAILABLE:
		/* Cached buffers are free: any allocation may drain them. */
		return p2pdma_available(p);
	case P2PDMA_PUBLISHED:
		return READ_ONCE(p->published);
	case P2PDMA_IN_USE:
		return atomic64_read(&p->in_use);
	case P2PDMA_PEAK_IN_USE:
		return atomic64_read(&p->peak_in_use);
	case P2PDMA_CACHED:
		return p2pdma_cached_bytes(p);
	case P2PDMA_MAPPED:
		return atomic64_read(&p->mapped);
	case P2PDMA_ALLOW_USER_DMA:
		return READ_ONCE(p->allow_user_dma);
	default:
		break;
	}
	p2pdma_counters_sum(p, &sum);
	switch (stat) {
	case P2PDMA_ALLOCATIONS:
		return sum.allocations;
	case P2PDMA_FREES:
		return sum.frees;
	default:
		return sum.failed;
	}
}

struct p2pdma_attribute {
	struct device_attribute attr;
	enum p2pdma_stat stat;
};

static ssize_t p2pdma_stat_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	enum p2pdma_stat stat = container_of(attr, struct p2pdma_attribute, attr)->stat;
	struct p2pdma_provider *p;
	ssize_t ret = -ENODEV;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(to_pci_dev(dev));
	if (p)
		ret = sysfs_emit(buf, "%llu\n", p2pdma_stat_value(p, stat));
	rcu_read_unlock();
	return ret;
}

#define P2PDMA_ATTR(_name, _stat)					\
	static struct p2pdma_attribute p2pdma_attr_##_name = {		\
		.attr = __ATTR(_name, 0444, p2pdma_stat_show, NULL),	\
		.stat = _stat,						\
	}

P2PDMA_ATTR(size, P2PDMA_SIZE);
P2PDMA_ATTR(available, P2PDMA_AVAILABLE);
P2PDMA_ATTR(published, P2PDMA_PUBLISHED);
P2PDMA_ATTR(in_use, P2PDMA_IN_USE);
P2PDMA_ATTR(peak_in_use, P2PDMA_PEAK_IN_USE);
P2PDMA_ATTR(cached, P2PDMA_CACHED);
P2PDMA_ATTR(mapped, P2PDMA_MAPPED);
P2PDMA_ATTR(allocations, P2PDMA_ALLOCATIONS);
P2PDMA_ATTR(frees, P2PDMA_FREES);
P2PDMA_ATTR(failed_allocations, P2PDMA_FAILED);

/* One line per module that allocated: name, bytes in use, allocations. */
static ssize_t users_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct p2pdma_user_counters sum;
	struct p2pdma_provider *p;
	ssize_t len = -ENODEV;
	unsigned int i, nr;

	rcu_read_lock();
	p = p2pdma_provider_find_rcu(to_pci_dev(dev));
	if (p) {
		len = 0;
		/* Pairs with the release in p2pdma_user_add(). */
		nr = smp_load_acquire(&p->nr_users);
		for (i = 0; i < nr; i++) {
			p2pdma_user_sum(p, i, &sum);
			len += sysfs_emit_at(buf, len, "%s %lld %llu\n",
					     p->users[i].name, sum.bytes,
					     sum.allocations);
		}
	}
	rcu_read_unlock();
	return len;
}
static DEVICE_ATTR_RO(users);

/* Existing mappings stay when it is turned off; new ones are refused. */
static ssize_t allow_user_dma_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	struct p2pdma_provider *p;
	bool allow;

	if (kstrtobool(buf, &allow)) {
		dev_err(dev, "p2pdma: allow_user_dma: write 1 or 0\n");
		return -EINVAL;
	}
	rcu_read_lock();
	p = p2pdma_provider_find_rcu(to_pci_dev(dev));
	if (p)
		WRITE_ONCE(p->allow_user_dma, allow);
	rcu_read_unlock();
	if (!p)
		return -ENODEV;
	if (allow)
		dev_warn(dev, "p2pdma: userspace may map this memory; devices pointed at it by O_DIRECT or RDMA are not checked against the topology\n");
	return count;
}

/* Shown like the statistics, so it reuses their show. */
static struct p2pdma_attribute p2pdma_attr_allow_user_dma = {
	.attr = __ATTR(allow_user_dma, 0644, p2pdma_stat_show, allow_user_dma_store),
	.stat = P2PDMA_ALLOW_USER_DMA,
};

static struct attribute *p2pdma_attrs[] = {
	&p2pdma_attr_size.attr.attr,
	&p2pdma_attr_available.attr.attr,
	&p2pdma_attr_published.attr.attr,
	&p2pdma_attr_in_use.attr.attr,
	&p2pdma_attr_peak_in_use.attr.attr,
	&p2pdma_attr_cached.attr.attr,
	&p2pdma_attr_mapped.attr.attr,
	&p2pdma_attr_allocations.attr.attr,
	&p2pdma_attr_frees.attr.attr,
	&p2pdma_attr_failed_allocations.attr.attr,
	&dev_attr_users.attr,
	&p2pdma_attr_allow_user_dma.attr.attr,
	NULL,
};

static struct bin_attribute *p2pdma_bin_attrs[] = {
	&p2pdma_allocate_attr,
	NULL,
};

const struct attribute_group p2pdma_sysfs_group = {
	.name = "p2pmem",
	.attrs = p2pdma_attrs,
	.bin_attrs = p2pdma_bin_attrs,
};
