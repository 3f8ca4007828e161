/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal state of p2pdma providers, shared by the files of p2pdma.ko.
 */
#ifndef _P2PDMA_PROVIDER_H
#define _P2PDMA_PROVIDER_H

#include <linux/list.h>
#include <linux/memremap.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

struct gen_pool;
struct p2pmem_dev;

/* Per-CPU allocation counters: updated without a shared cache line. */
struct p2pdma_counters {
	u64 allocations;
	u64 frees;
	u64 failed;
};

#define P2PDMA_CACHE_SLOTS 16
#define P2PDMA_USERS 8

/**
 * struct p2pdma_user - a module that allocated from a provider
 * @owner: the module as its allocations name it; re-pointed under the
 *	provider's @users_lock when a module of the same name comes back
 * @name: its name, kept so a listing never follows a stale pointer
 */
struct p2pdma_user {
	struct module *owner;
	char name[MODULE_NAME_LEN];
};

/* Per-CPU share of one user's accounting. */
struct p2pdma_user_counters {
	s64 bytes;
	u64 allocations;
};

/**
 * struct p2pdma_cpu - per-CPU state of a provider
 * @lock: taken by this CPU's allocations and by drains from any CPU
 * @nr: buffers in @slot
 * @bytes: bytes in @slot
 * @slot: freed buffers kept for reuse without genalloc; each still holds
 *	its range's reference, so a drain must run before teardown waits
 * @slot.addr: kernel address of the buffer
 * @slot.bytes: its size in the pool (whole pages)
 * @counters: allocation counters
 * @users: accounting of each of the provider's &struct p2pdma_user
 */
struct p2pdma_cpu {
	spinlock_t lock; /* this CPU's fast path, and drains */
	unsigned int nr;
	size_t bytes;
	struct {
		unsigned long addr;
		size_t bytes;
	} slot[P2PDMA_CACHE_SLOTS];
	struct p2pdma_counters counters;
	struct p2pdma_user_counters users[P2PDMA_USERS];
};

/**
 * struct p2pdma_provider - a PCI device whose BAR memory we hand out
 * @pdev: the device
 * @pool: the allocator; "phys" of a chunk is its PCI bus address
 * @ranges: the registered &struct p2pdma_range, under @lock
 * @lock: serialises registration (never taken on the allocation path)
 * @size: bytes registered
 * @published: offered to clients (p2pdma_publish())
 * @dying: set first at teardown; allocations fail from then on
 * @in_use: bytes allocated and not freed, by our own count (not the pool's)
 * @peak_in_use: the most bytes ever allocated at once
 * @mapped: bytes mapped to userspace (part of @in_use)
 * @allow_user_dma: the operator lets userspace map the memory, and so
 *	point devices at it unchecked (p2pmem/allow_user_dma)
 * @cache_limit: most bytes one CPU may keep in its cache of freed buffers
 * @cpu: per-CPU caches and counters
 * @users: modules that allocated, the first @nr_users valid
 * @nr_users: entries of @users in use; only grows
 * @users_lock: serialises additions to @users
 * @verdicts: cached topology verdicts, keyed by client (topology.c)
 * @cdev: its character device (chardev.c), until revoked
 * @held_report: while teardown waits for memory still in use, says who
 *	holds it, every so often
 * @teardown_start: when teardown began (jiffies)
 * @rcu: frees the provider after lockless readers are done
 */
struct p2pdma_provider {
	struct pci_dev *pdev;
	struct gen_pool *pool;
	struct list_head ranges;
	struct mutex lock; /* registration only, never on the allocation path */
	u64 size;
	bool published;
	bool dying;
	atomic64_t in_use;
	atomic64_t peak_in_use;
	atomic64_t mapped;
	bool allow_user_dma;
	size_t cache_limit;
	struct p2pdma_cpu __percpu *cpu;
	struct p2pdma_user users[P2PDMA_USERS];
	unsigned int nr_users;
	spinlock_t users_lock; /* additions to users[] */
	struct xarray verdicts;
	struct p2pmem_dev *cdev;
	struct delayed_work held_report;
	unsigned long teardown_start;
	struct rcu_head rcu;
};

/**
 * struct p2pdma_range - one registered BAR range of a provider
 * @pgmap: its ZONE_DEVICE pages; @pgmap.ref is taken by every allocation
 * @provider: the provider it belongs to
 * @node: entry in @provider->ranges
 */
struct p2pdma_range {
	struct dev_pagemap pgmap;
	struct p2pdma_provider *provider;
	struct list_head node;
};

struct seq_file;

struct p2pdma_provider *p2pdma_provider_find_rcu(struct pci_dev *pdev);
bool p2pdma_is_provider(struct pci_dev *pdev);
struct pci_dev *p2pdma_next_candidate(unsigned long *index);
void p2pdma_counters_sum(struct p2pdma_provider *p, struct p2pdma_counters *sum);
void p2pdma_user_sum(struct p2pdma_provider *p, int user,
		     struct p2pdma_user_counters *sum);
size_t p2pdma_cached_bytes(struct p2pdma_provider *p);
size_t p2pdma_available(struct p2pdma_provider *p);
unsigned long p2pdma_pool_take(struct p2pdma_provider *p, size_t bytes,
			       struct percpu_ref **ref);
void p2pdma_pool_give(struct p2pdma_provider *p, unsigned long addr,
		      size_t bytes);
void p2pdma_user_revoke(struct p2pdma_provider *p);
int p2pdma_cdev_add(struct p2pdma_provider *p);
void p2pdma_cdev_revoke(struct p2pdma_provider *p);
int p2pdma_cdev_start(void);
void p2pdma_cdev_stop(void);
void p2pdma_cache_drain(struct p2pdma_provider *p);
void p2pdma_zero(unsigned long addr, size_t len);

/* Raise the peak to @now bytes in use; the line is written only when exceeded. */
static inline void p2pdma_raise_peak(struct p2pdma_provider *p, s64 now)
{
	s64 peak = atomic64_read(&p->peak_in_use);

	while (now > peak && !atomic64_try_cmpxchg(&p->peak_in_use, &peak, now))
		;
}

/* @bytes more (or, negative, fewer) mapped to userspace, and so in use. */
static inline void p2pdma_account_mapped(struct p2pdma_provider *p, s64 bytes)
{
	atomic64_add(bytes, &p->mapped);
	p2pdma_raise_peak(p, atomic64_add_return(bytes, &p->in_use));
}

extern const struct attribute_group p2pdma_sysfs_group;
extern const struct dev_pagemap_ops p2pdma_pgmap_ops;
extern struct bin_attribute p2pdma_allocate_attr;

int p2pdma_bar_driver_register(void);
void p2pdma_bar_driver_unregister(void);

void p2pdma_topology_changed(void);
int p2pdma_topology_start(void);
void p2pdma_topology_stop(void);
bool p2pdma_host_bridge_allowed(struct pci_dev *root);
int p2pdma_host_bridge_list(struct seq_file *m, void *unused);
int p2pdma_host_bridge_add(const char *cmd);
void p2pdma_debugfs_start(void);
void p2pdma_debugfs_stop(void);

#endif /* _P2PDMA_PROVIDER_H */
