// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the exported API of p2pdma.ko, run on the test rig's
 * devices (tests/rig/boot): the ivshmem BAR bound to p2pdma_bar, the two
 * NVMe CMBs and the e1000e behind one switch, and a drive under another
 * root port. Expected values come from facts the tests establish
 * themselves: the sizes they allocate, BAR addresses and lengths from the
 * PCI core, the bridges above each device, and the p2pmem/ and module
 * parameter files read through sysfs, as an operator would.
 *
 * Cases that rebind a device restore it with a KUnit action, so that a
 * failed assertion leaves the next case the rig it expects.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <asm/processor.h>

#include <p2pdma/p2pdma.h>
#include "../../p2pdma/p2pdma-kunit.h"

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

#define P2PK_IVSHMEM_VENDOR	0x1af4
#define P2PK_IVSHMEM_DEVICE	0x1110
#define P2PK_NVME_VENDOR	0x1b36
#define P2PK_NVME_DEVICE	0x0010
#define P2PK_E1000E_VENDOR	0x8086
#define P2PK_E1000E_DEVICE	0x10d3
/* The ivshmem's shared memory BAR, which p2pdma_bar registers whole. */
#define P2PK_SHM_BAR		2

#define P2PK_PATH_MAX		160
#define P2PK_LINE_MAX		384

/* The rig's devices, with a reference each, and our view of sysfs. */
static struct {
	struct pci_dev *shm;
	struct pci_dev *nic;
	struct pci_dev *drive[2];
	int nr_drives;
	struct pci_dev *outside;
	struct vfsmount *sysfs;
} rig;

/*
 * Sysfs files, read and written as an operator would. Through our own
 * mount: a kernel thread's root is not necessarily where /sys is.
 */
static struct file *p2pk_open(const char *path, int flags)
{
	if (!rig.sysfs)
		return ERR_PTR(-ENODEV);
	return file_open_root_mnt(rig.sysfs, path, flags, 0);
}

/* @path's contents without the trailing newline, or a negative errno. */
static ssize_t p2pk_read(const char *path, char *buf, size_t size)
{
	struct file *f = p2pk_open(path, O_RDONLY);
	loff_t pos = 0;
	ssize_t len;

	if (IS_ERR(f))
		return PTR_ERR(f);
	len = kernel_read(f, buf, size - 1, &pos);
	fput(f);
	if (len < 0)
		return len;
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return len;
}

/* What write(2) of @val to @path returns: open errors included. */
static ssize_t p2pk_write(const char *path, const char *val)
{
	struct file *f = p2pk_open(path, O_WRONLY);
	loff_t pos = 0;
	ssize_t ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = kernel_write(f, val, strlen(val), &pos);
	fput(f);
	return ret;
}

static void p2pk_p2pmem_path(char *path, struct pci_dev *pdev,
			     const char *name)
{
	snprintf(path, P2PK_PATH_MAX, "bus/pci/devices/%s/p2pmem/%s",
		 pci_name(pdev), name);
}

static void p2pk_param_path(char *path, const char *name)
{
	snprintf(path, P2PK_PATH_MAX, "module/p2pdma/parameters/%s", name);
}

/* A number from @pdev's p2pmem/ directory; the test stops if unreadable. */
static u64 p2pk_stat(struct kunit *test, struct pci_dev *pdev,
		     const char *name)
{
	char path[P2PK_PATH_MAX], buf[32];
	ssize_t len;
	u64 val;

	p2pk_p2pmem_path(path, pdev, name);
	len = p2pk_read(path, buf, sizeof(buf));
	KUNIT_ASSERT_GT_MSG(test, len, 0, "reading %s", path);
	KUNIT_ASSERT_EQ_MSG(test, kstrtou64(buf, 10, &val), 0, "%s: %s", path, buf);
	return val;
}

/* Whether @pdev's p2pmem/ directory exists. */
static bool p2pk_has_p2pmem(struct pci_dev *pdev)
{
	char path[P2PK_PATH_MAX];
	struct file *f;

	p2pk_p2pmem_path(path, pdev, "size");
	f = p2pk_open(path, O_RDONLY);
	if (IS_ERR(f))
		return false;
	fput(f);
	return true;
}

/* Bytes and allocations p2pmem/users shows for this module (0 if none). */
static void p2pk_user(struct kunit *test, struct pci_dev *pdev,
		      const char *module, s64 *bytes, u64 *allocs)
{
	char path[P2PK_PATH_MAX], *buf, *line, *next;
	size_t len = strlen(module);

	buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	p2pk_p2pmem_path(path, pdev, "users");
	KUNIT_ASSERT_GE(test, p2pk_read(path, buf, PAGE_SIZE), 0);
	*bytes = 0;
	*allocs = 0;
	for (next = buf; (line = strsep(&next, "\n"));) {
		int fields;

		if (strncmp(line, module, len) || line[len] != ' ')
			continue;
		fields = sscanf(line + len, "%lld %llu", bytes, allocs);
		KUNIT_ASSERT_EQ_MSG(test, fields, 2, "users: %s", line);
	}
	kunit_kfree(test, buf);
}

struct p2pk_saved {
	char path[P2PK_PATH_MAX];
	char val[32];
};

static void p2pk_restore(void *data)
{
	struct p2pk_saved *s = data;

	if (p2pk_write(s->path, s->val) < 0)
		pr_err("p2pdma_kunit: cannot restore %s to %s\n", s->path, s->val);
}

/* Write @path's present value back when the test ends. */
static void p2pk_keep(struct kunit *test, const char *path)
{
	struct p2pk_saved *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, s);
	strscpy(s->path, path, sizeof(s->path));
	KUNIT_ASSERT_GT_MSG(test, p2pk_read(path, s->val, sizeof(s->val)), 0,
			    "reading %s", path);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_restore, s), 0);
}

static void p2pk_set_param(struct kunit *test, const char *name,
			   const char *val)
{
	char path[P2PK_PATH_MAX];

	p2pk_param_path(path, name);
	KUNIT_ASSERT_EQ_MSG(test, p2pk_write(path, val), (ssize_t)strlen(val),
			    "%s=%s", name, val);
}

/* Set module parameter @name to @val until the test ends. */
static void p2pk_set_param_kept(struct kunit *test, const char *name,
				const char *val)
{
	char path[P2PK_PATH_MAX];

	p2pk_param_path(path, name);
	p2pk_keep(test, path);
	p2pk_set_param(test, name, val);
}

/* Whether module parameter @name reads as @val now. */
static bool p2pk_param_is(struct kunit *test, const char *name,
			  const char *val)
{
	char path[P2PK_PATH_MAX], buf[32];

	p2pk_param_path(path, name);
	KUNIT_ASSERT_GT(test, p2pk_read(path, buf, sizeof(buf)), 0);
	return !strcmp(buf, val);
}

/*
 * Topology, counted without p2pdma: links from @a up to the closest device
 * above both and down to @b, or -1 when they share no bridge.
 */
static int p2pk_hops(struct pci_dev *a, struct pci_dev *b,
		     struct pci_dev **common)
{
	struct pci_dev *x, *y;
	int up, down;

	for (x = a, up = 0; x; x = pci_upstream_bridge(x), up++) {
		for (y = b, down = 0; y; y = pci_upstream_bridge(y), down++) {
			if (x == y) {
				if (common)
					*common = x;
				return up + down;
			}
		}
	}
	return -1;
}

/* Links from @pdev up to its root port, and the one to the host bridge. */
static int p2pk_links_to_host(struct pci_dev *pdev)
{
	int links = 0;

	for (; pdev; pdev = pci_upstream_bridge(pdev))
		links++;
	return links;
}

/* The highest bus address of @pdev's memory BARs. */
static u64 p2pk_bus_end(struct pci_dev *pdev)
{
	u64 end = 0;
	int bar;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		if ((pci_resource_flags(pdev, bar) & IORESOURCE_MEM) &&
		    pci_resource_len(pdev, bar))
			end = max_t(u64, end, pci_bus_address(pdev, bar) +
				    pci_resource_len(pdev, bar) - 1);
	return end;
}

static u64 p2pk_shm_bus(void)
{
	return pci_bus_address(rig.shm, P2PK_SHM_BAR);
}

static u64 p2pk_shm_len(void)
{
	return pci_resource_len(rig.shm, P2PK_SHM_BAR);
}

/* @addr's bus range [bus, bus + bytes) lies in [start, start + len). */
static bool p2pk_inside(u64 bus, u64 bytes, u64 start, u64 len)
{
	return bus >= start && bus - start <= len && bytes <= len - (bus - start);
}

/*
 * A PCI driver without an ID table, bound through driver_override: the
 * provider and DMA mask cases need a device that the test's own driver
 * owns. Its probe gives the device the DMA mask of p2pk_dma_bits.
 */
static unsigned int p2pk_dma_bits = 64;

static int p2pk_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int err = pcim_enable_device(pdev);

	if (err)
		return err;
	return dma_set_mask_and_coherent(&pdev->dev,
					 DMA_BIT_MASK(READ_ONCE(p2pk_dma_bits)));
}

static struct pci_driver p2pk_driver = {
	.name = KBUILD_MODNAME,
	.probe = p2pk_probe,
};

static bool p2pk_ours(struct pci_dev *pdev)
{
	return pdev->dev.driver == &p2pk_driver.driver;
}

/* Release @pdev from its driver and set driver_override (NULL: none). */
static int p2pk_override(struct pci_dev *pdev, const char *name)
{
	device_release_driver(&pdev->dev);
	return device_set_driver_override(&pdev->dev, name ?: "");
}

/* A device's binding as the rig had it, to give it back after a suite. */
struct p2pk_binding {
	struct pci_dev *pdev;
	char *override;
	char driver[32];
};

static struct p2pk_binding p2pk_shm_binding, p2pk_nic_binding;

static void p2pk_give_back(struct p2pk_binding *b)
{
	struct pci_dev *pdev = b->pdev;
	int err;

	if (!pdev)
		return;
	err = p2pk_override(pdev, b->override);
	if (!err)
		err = device_attach(&pdev->dev);
	if (err < 0 || !pdev->dev.driver ||
	    strcmp(pdev->dev.driver->name, b->driver))
		pr_err("p2pdma_kunit: %s not given back to %s (%d)\n",
		       pci_name(pdev), b->driver, err);
	kfree(b->override);
	b->override = NULL;
	b->pdev = NULL;
}

/* Take @pdev from its driver; probing it afterwards binds ours. */
static int p2pk_take(struct p2pk_binding *b, struct pci_dev *pdev)
{
	int err;

	if (!pdev)
		return -ENODEV;
	b->pdev = pdev;
	device_lock(&pdev->dev);
	strscpy(b->driver, pdev->dev.driver ? pdev->dev.driver->name : "",
		sizeof(b->driver));
	device_unlock(&pdev->dev);
	spin_lock(&pdev->dev.driver_override.lock);
	b->override = kstrdup(pdev->dev.driver_override.name, GFP_ATOMIC);
	spin_unlock(&pdev->dev.driver_override.lock);
	err = p2pk_override(pdev, p2pk_driver.name);
	if (err) {
		pr_err("p2pdma_kunit: cannot take %s: %d\n", pci_name(pdev), err);
		/* A suite whose init fails gets no exit. */
		p2pk_give_back(b);
	}
	return err;
}

static void p2pk_unbind_ours(void *data)
{
	struct pci_dev *pdev = data;

	if (p2pk_ours(pdev))
		device_release_driver(&pdev->dev);
}

/* Bind a taken device to our driver. */
static void p2pk_attach_ours(struct kunit *test, struct pci_dev *pdev)
{
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	KUNIT_ASSERT_EQ(test, device_attach(&pdev->dev), 1);
	KUNIT_ASSERT_TRUE(test, p2pk_ours(pdev));
}

/*
 * Per case: bound to our driver afresh, and released by an action, not by
 * the suite's exit: exit runs before the actions that free what the case
 * allocated, and an unbind waits for that memory.
 */
static int p2pk_bind_ours(struct kunit *test, struct pci_dev *pdev)
{
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_unbind_ours, pdev), 0);
	p2pk_attach_ours(test, pdev);
	return 0;
}

/* Allocations a case holds, freed when it ends whatever happens. */
struct p2pk_chunk {
	void *addr;
	size_t size;
};

struct p2pk_hold {
	struct pci_dev *pdev;
	unsigned int nr;
	unsigned int max;
	struct p2pk_chunk *chunk;
};

static void p2pk_free_all(void *data)
{
	struct p2pk_hold *h = data;

	while (h->nr) {
		h->nr--;
		p2pdma_free(h->pdev, h->chunk[h->nr].addr, h->chunk[h->nr].size);
	}
}

static struct p2pk_hold *p2pk_hold_new(struct kunit *test,
				       struct pci_dev *pdev, unsigned int max)
{
	struct p2pk_hold *h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, h);
	h->chunk = kunit_kcalloc(test, max, sizeof(*h->chunk), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, h->chunk);
	h->pdev = pdev;
	h->max = max;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_free_all, h), 0);
	return h;
}

static void *p2pk_alloc(struct kunit *test, struct p2pk_hold *h, size_t size)
{
	void *addr;

	KUNIT_ASSERT_LT(test, h->nr, h->max);
	addr = p2pdma_alloc(h->pdev, size);
	if (addr) {
		h->chunk[h->nr].addr = addr;
		h->chunk[h->nr].size = size;
		h->nr++;
	}
	return addr;
}

/*
 * Allocate until the provider refuses: 1 MiB at a time while that fits,
 * then pages for what is left between. Returns the bytes taken and counts
 * the refusals in *@refused.
 */
static u64 p2pk_exhaust(struct kunit *test, struct p2pk_hold *h,
			unsigned int *refused)
{
	static const size_t sizes[] = { SZ_1M, PAGE_SIZE };
	u64 total = 0;
	int i;

	*refused = 0;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		while (p2pk_alloc(test, h, sizes[i]))
			total += sizes[i];
		(*refused)++;
	}
	return total;
}

/* In use and available always add up to the size when nothing moves. */
static void p2pk_expect_balanced(struct kunit *test, struct pci_dev *pdev)
{
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, pdev, "in_use") +
			p2pk_stat(test, pdev, "available"),
			p2pk_stat(test, pdev, "size"));
}

static int p2pk_need_shm_provider(struct kunit *test)
{
	KUNIT_ASSERT_NOT_NULL_MSG(test, rig.shm, "no ivshmem device on the rig");
	KUNIT_ASSERT_NOT_NULL(test, rig.sysfs);
	KUNIT_ASSERT_TRUE_MSG(test, p2pdma_published(rig.shm),
			      "ivshmem %s is not a published provider",
			      pci_name(rig.shm));
	return 0;
}

/* ---- allocator accounting and alignment ---- */

static const size_t p2pk_sizes[] = {
	1, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE + 7,
	SZ_64K, SZ_1M + 1,
};

static void p2pk_size_desc(const size_t *size, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%zu bytes", *size);
}

KUNIT_ARRAY_PARAM(p2pk_sizes, p2pk_sizes, p2pk_size_desc);

/* Every counter moves by the whole pages the request takes, and back. */
static void p2pk_alloc_accounting(struct kunit *test)
{
	size_t size = *(const size_t *)test->param_value;
	u64 pages = PAGE_ALIGN(size), avail, in_use, allocs, frees, failed;
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 1);
	s64 user_bytes, user_bytes0;
	u64 user_allocs, user_allocs0;

	avail = p2pk_stat(test, rig.shm, "available");
	in_use = p2pk_stat(test, rig.shm, "in_use");
	allocs = p2pk_stat(test, rig.shm, "allocations");
	frees = p2pk_stat(test, rig.shm, "frees");
	failed = p2pk_stat(test, rig.shm, "failed_allocations");
	p2pk_user(test, rig.shm, KBUILD_MODNAME, &user_bytes0, &user_allocs0);

	KUNIT_ASSERT_NOT_NULL(test, p2pk_alloc(test, h, size));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), avail - pages);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use + pages);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "allocations"), allocs + 1);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "frees"), frees);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "failed_allocations"), failed);
	KUNIT_EXPECT_GE(test, p2pk_stat(test, rig.shm, "peak_in_use"), in_use + pages);
	p2pk_user(test, rig.shm, KBUILD_MODNAME, &user_bytes, &user_allocs);
	KUNIT_EXPECT_EQ(test, user_bytes, user_bytes0 + (s64)pages);
	KUNIT_EXPECT_EQ(test, user_allocs, user_allocs0 + 1);
	p2pk_expect_balanced(test, rig.shm);

	p2pk_free_all(h);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), avail);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "frees"), frees + 1);
	p2pk_user(test, rig.shm, KBUILD_MODNAME, &user_bytes, &user_allocs);
	KUNIT_EXPECT_EQ(test, user_bytes, user_bytes0);
	KUNIT_EXPECT_EQ(test, user_allocs, user_allocs0 + 1);
}

/* Page-aligned, disjoint, inside the BAR; bus addresses follow offsets. */
static void p2pk_alloc_alignment(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, ARRAY_SIZE(p2pk_sizes));
	u64 bus[ARRAY_SIZE(p2pk_sizes)];
	int i, j;

	for (i = 0; i < ARRAY_SIZE(p2pk_sizes); i++) {
		size_t size = p2pk_sizes[i];
		void *addr = p2pk_alloc(test, h, size);

		KUNIT_ASSERT_NOT_NULL(test, addr);
		KUNIT_EXPECT_TRUE_MSG(test, PAGE_ALIGNED(addr), "%zu bytes at %p",
				      size, addr);
		bus[i] = p2pdma_virt_to_bus(rig.shm, addr);
		KUNIT_EXPECT_TRUE_MSG(test, PAGE_ALIGNED(bus[i]), "bus %#llx", bus[i]);
		KUNIT_EXPECT_TRUE_MSG(test, p2pk_inside(bus[i], PAGE_ALIGN(size),
							p2pk_shm_bus(), p2pk_shm_len()),
				      "%zu bytes at bus %#llx, BAR at %#llx", size,
				      bus[i], p2pk_shm_bus());
		/* The last byte asked for maps linearly from the first. */
		KUNIT_EXPECT_EQ(test, p2pdma_virt_to_bus(rig.shm, addr + size - 1),
				bus[i] + size - 1);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_TRUE_MSG(test,
					      bus[i] + PAGE_ALIGN(size) <= bus[j] ||
					      bus[j] + PAGE_ALIGN(p2pk_sizes[j]) <= bus[i],
					      "allocations %d and %d overlap", i, j);
	}
}

/* Only our allocations have bus addresses, and only from their provider. */
static void p2pk_virt_to_bus_foreign(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 1);
	void *plain = kunit_kmalloc(test, 64, GFP_KERNEL);
	void *addr;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, plain);
	KUNIT_EXPECT_EQ(test, p2pdma_virt_to_bus(rig.shm, plain), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_virt_to_bus(rig.shm, NULL), 0);
	addr = p2pk_alloc(test, h, PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	KUNIT_EXPECT_NE(test, p2pdma_virt_to_bus(rig.shm, addr), 0);
	if (rig.nic)
		KUNIT_EXPECT_EQ(test, p2pdma_virt_to_bus(rig.nic, addr), 0);
	for (i = 0; i < rig.nr_drives; i++)
		KUNIT_EXPECT_EQ(test, p2pdma_virt_to_bus(rig.drive[i], addr), 0);
}

/* Our pages are ZONE_DEVICE pages of ours; RAM pages are not. */
static void p2pk_page_is_ours(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 1);
	void *plain = kunit_kmalloc(test, 64, GFP_KERNEL);
	struct page *page;
	void *addr;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, plain);
	KUNIT_EXPECT_FALSE(test, p2pdma_page_is_ours(virt_to_page(plain)));
	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_FALSE(test, p2pdma_page_is_ours(page));
	__free_page(page);

	/* The pool hands out the direct map of the BAR's ZONE_DEVICE pages. */
	addr = p2pk_alloc(test, h, 3 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	for (i = 0; i < 3; i++) {
		page = virt_to_page(addr + i * PAGE_SIZE);
		KUNIT_EXPECT_TRUE(test, is_zone_device_page(page));
		KUNIT_EXPECT_TRUE_MSG(test, p2pdma_page_is_ours(page), "page %d", i);
		KUNIT_EXPECT_EQ(test, page_to_phys(page),
				(phys_addr_t)pci_resource_start(rig.shm, P2PK_SHM_BAR) +
				(p2pdma_virt_to_bus(rig.shm, addr) - p2pk_shm_bus()) +
				i * PAGE_SIZE);
	}
}

/* A scatterlist that must be refused; freed should it not be. */
static void p2pk_expect_no_sgl(struct kunit *test, struct pci_dev *pdev,
			       u32 length)
{
	unsigned int nents = 0;
	struct scatterlist *sgl = p2pdma_alloc_sgl(pdev, &nents, length);

	KUNIT_EXPECT_NULL(test, sgl);
	KUNIT_EXPECT_EQ(test, nents, 0);
	if (sgl)
		p2pdma_free_sgl(pdev, sgl);
}

/* Refusals: zero bytes is a failed allocation; a non-provider has none. */
static void p2pk_alloc_refused(struct kunit *test)
{
	u64 failed = p2pk_stat(test, rig.shm, "failed_allocations");
	u64 in_use = p2pk_stat(test, rig.shm, "in_use");
	void *addr;

	addr = p2pdma_alloc(rig.shm, 0);
	KUNIT_EXPECT_NULL(test, addr);
	if (addr)
		p2pdma_free(rig.shm, addr, 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "failed_allocations"),
			failed + 1);
	p2pk_expect_no_sgl(test, rig.shm, 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "failed_allocations"),
			failed + 2);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use);

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.nic));
	KUNIT_EXPECT_NULL(test, p2pdma_alloc(rig.nic, PAGE_SIZE));
	p2pk_expect_no_sgl(test, rig.nic, PAGE_SIZE);
	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.nic));
}

static void p2pk_free_unowned(void *addr)
{
	__p2pdma_free(rig.shm, addr, 2 * PAGE_SIZE, NULL);
}

/* Built-in callers (no module) are accounted as "kernel". */
static void p2pk_alloc_owner(struct kunit *test)
{
	s64 bytes, bytes0;
	u64 allocs, allocs0;
	void *addr;

	p2pk_user(test, rig.shm, "kernel", &bytes0, &allocs0);
	addr = __p2pdma_alloc(rig.shm, 2 * PAGE_SIZE, NULL);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_free_unowned, addr), 0);
	p2pk_user(test, rig.shm, "kernel", &bytes, &allocs);
	kunit_release_action(test, p2pk_free_unowned, addr);
	KUNIT_EXPECT_EQ(test, bytes, bytes0 + 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, allocs, allocs0 + 1);
	p2pk_user(test, rig.shm, "kernel", &bytes, &allocs);
	KUNIT_EXPECT_EQ(test, bytes, bytes0);
}

static void p2pk_free_sgl(void *data)
{
	p2pdma_free_sgl(rig.shm, data);
}

/* One entry over our memory, which holds data; freeing gives it back. */
static void p2pk_sgl(struct kunit *test)
{
	u64 in_use = p2pk_stat(test, rig.shm, "in_use");
	u32 length = SZ_64K + 100;
	struct scatterlist *sgl;
	unsigned int nents = 0;
	u8 *buf;
	u64 bus;
	u32 i;

	sgl = p2pdma_alloc_sgl(rig.shm, &nents, length);
	KUNIT_ASSERT_NOT_NULL(test, sgl);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_free_sgl, sgl), 0);
	KUNIT_EXPECT_EQ(test, nents, 1);
	KUNIT_EXPECT_EQ(test, sgl->length, length);
	KUNIT_EXPECT_EQ(test, sgl->offset, 0);
	KUNIT_EXPECT_TRUE(test, sg_is_last(sgl));
	KUNIT_EXPECT_TRUE(test, p2pdma_page_is_ours(sg_page(sgl)));
	bus = p2pdma_virt_to_bus(rig.shm, sg_virt(sgl));
	KUNIT_EXPECT_TRUE(test, p2pk_inside(bus, PAGE_ALIGN(length),
					    p2pk_shm_bus(), p2pk_shm_len()));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"),
			in_use + PAGE_ALIGN(length));

	/* The BAR is real memory (the host's backing file). */
	buf = sg_virt(sgl);
	for (i = 0; i < length; i += 997)
		buf[i] = i & 0xff;
	for (i = 0; i < length; i += 997)
		KUNIT_EXPECT_EQ(test, buf[i], i & 0xff);

	kunit_release_action(test, p2pk_free_sgl, sgl);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use);
}

/* Exhaustion: exactly what was available, refusals counted, all again. */
static void p2pk_exhaustion(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 2048);
	u64 avail, in_use, failed, total, again;
	unsigned int refused;

	avail = p2pk_stat(test, rig.shm, "available");
	in_use = p2pk_stat(test, rig.shm, "in_use");
	failed = p2pk_stat(test, rig.shm, "failed_allocations");
	KUNIT_ASSERT_GE(test, avail, SZ_1M);

	total = p2pk_exhaust(test, h, &refused);
	KUNIT_EXPECT_EQ(test, total, avail);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use + total);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "failed_allocations"),
			failed + refused);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "peak_in_use"),
			in_use + total);

	p2pk_free_all(h);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), avail);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use);
	/* Freed buffers may sit in per-CPU caches: still free memory. */
	KUNIT_EXPECT_LE(test, p2pk_stat(test, rig.shm, "cached"),
			p2pk_stat(test, rig.shm, "size") / 8);

	again = p2pk_exhaust(test, h, &refused);
	KUNIT_EXPECT_EQ(test, again, total);
	p2pk_free_all(h);
	p2pk_expect_balanced(test, rig.shm);
}

/*
 * An allocation nothing can satisfy fails without draining the per-CPU
 * caches (every CPU's lock): a full provider fails cheaply. One that the
 * cached buffers can satisfy drains them and succeeds.
 */
static void p2pk_alloc_fails_cheaply(struct kunit *test)
{
	u64 size = p2pk_stat(test, rig.shm, "size"), avail, cached;
	void *buf;

	buf = p2pdma_alloc(rig.shm, PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	p2pdma_free(rig.shm, buf, PAGE_SIZE);
	cached = p2pk_stat(test, rig.shm, "cached");
	KUNIT_ASSERT_GE_MSG(test, cached, PAGE_SIZE, "the freed page is not cached");

	KUNIT_EXPECT_NULL(test, p2pdma_alloc(rig.shm, size + PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "cached"), cached);

	/* All that is free, cached buffers included. */
	avail = p2pk_stat(test, rig.shm, "available");
	buf = p2pdma_alloc(rig.shm, avail);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "cached"), 0);
	p2pdma_free(rig.shm, buf, avail);
	p2pk_expect_balanced(test, rig.shm);
}

static int p2pk_alloc_init(struct kunit *test)
{
	p2pk_need_shm_provider(test);
	KUNIT_ASSERT_EQ(test, p2pk_stat(test, rig.shm, "size"), p2pk_shm_len());
	return 0;
}

static struct kunit_case p2pk_alloc_cases[] = {
	KUNIT_CASE_PARAM(p2pk_alloc_accounting, p2pk_sizes_gen_params),
	KUNIT_CASE(p2pk_alloc_alignment),
	KUNIT_CASE(p2pk_virt_to_bus_foreign),
	KUNIT_CASE(p2pk_page_is_ours),
	KUNIT_CASE(p2pk_alloc_refused),
	KUNIT_CASE(p2pk_alloc_owner),
	KUNIT_CASE(p2pk_sgl),
	KUNIT_CASE(p2pk_exhaustion),
	KUNIT_CASE(p2pk_alloc_fails_cheaply),
	{}
};

static struct kunit_suite p2pk_alloc_suite = {
	.name = "p2pdma_alloc",
	.init = p2pk_alloc_init,
	.test_cases = p2pk_alloc_cases,
};

/* ---- reference counting around removal ---- */

/* An unbind of the ivshmem from p2pdma_bar, in a thread of its own. */
struct p2pk_unbind {
	struct pci_dev *pdev;
	struct task_struct *task;
	struct completion done;
	void *addr;
	size_t size;
	struct scatterlist *sgl;
};

static int p2pk_unbind_fn(void *data)
{
	struct p2pk_unbind *u = data;

	device_release_driver(&u->pdev->dev);
	complete(&u->done);
	return 0;
}

static void p2pk_unbind_drop(struct p2pk_unbind *u)
{
	if (u->addr)
		p2pdma_free(u->pdev, u->addr, u->size);
	if (u->sgl)
		p2pdma_free_sgl(u->pdev, u->sgl);
	u->addr = NULL;
	u->sgl = NULL;
}

/* Test end: let go of the memory, let the unbind finish, bind again. */
static void p2pk_unbind_cleanup(void *data)
{
	struct p2pk_unbind *u = data;

	p2pk_unbind_drop(u);
	if (u->task) {
		kthread_stop(u->task);
		put_task_struct(u->task);
	}
	if (!u->pdev->dev.driver && device_attach(&u->pdev->dev) != 1)
		pr_err("p2pdma_kunit: %s not bound again\n", pci_name(u->pdev));
}

static struct p2pk_unbind *p2pk_unbind_new(struct kunit *test)
{
	struct p2pk_unbind *u = kunit_kzalloc(test, sizeof(*u), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, u);
	u->pdev = rig.shm;
	init_completion(&u->done);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_unbind_cleanup, u), 0);
	return u;
}

static void p2pk_unbind_start(struct kunit *test, struct p2pk_unbind *u)
{
	struct task_struct *task;

	task = kthread_create(p2pk_unbind_fn, u, "p2pk-unbind");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, task);
	/* Held until the cleanup's kthread_stop(), even after it returns. */
	get_task_struct(task);
	u->task = task;
	wake_up_process(task);
}

/* After the provider is gone: no files, nothing published, no memory. */
static void p2pk_expect_gone(struct kunit *test, struct pci_dev *pdev)
{
	void *addr;

	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(pdev));
	KUNIT_EXPECT_FALSE(test, p2pdma_published(pdev));
	addr = p2pdma_alloc(pdev, PAGE_SIZE);
	KUNIT_EXPECT_NULL(test, addr);
	if (addr)
		p2pdma_free(pdev, addr, PAGE_SIZE);
}

/* Bound again to p2pdma_bar: the whole BAR, published, all free. */
static void p2pk_expect_rebound(struct kunit *test)
{
	KUNIT_ASSERT_EQ(test, device_attach(&rig.shm->dev), 1);
	KUNIT_EXPECT_TRUE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), p2pk_shm_len());
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), p2pk_shm_len());
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "published"), 1);
}

static const char * const p2pk_held_kinds[] = { "buffer", "scatterlist" };

static void p2pk_held_desc(const char * const *kind, char *desc)
{
	strscpy(desc, *kind, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(p2pk_held, p2pk_held_kinds, p2pk_held_desc);

/* Unbinding waits for an allocation held, refusing new ones meanwhile. */
static void p2pk_unbind_waits(struct kunit *test)
{
	bool sgl = !strcmp(*(const char * const *)test->param_value, "scatterlist");
	struct p2pk_unbind *u = p2pk_unbind_new(test);
	u64 in_use, failed;
	unsigned int nents;
	void *addr;
	int i;

	in_use = p2pk_stat(test, rig.shm, "in_use");
	u->size = SZ_64K;
	if (sgl) {
		u->sgl = p2pdma_alloc_sgl(rig.shm, &nents, u->size);
		KUNIT_ASSERT_NOT_NULL(test, u->sgl);
	} else {
		u->addr = p2pdma_alloc(rig.shm, u->size);
		KUNIT_ASSERT_NOT_NULL(test, u->addr);
	}
	failed = p2pk_stat(test, rig.shm, "failed_allocations");
	p2pk_unbind_start(test, u);

	/* Teardown withdraws the provider first, then waits. */
	for (i = 0; i < 500 && p2pdma_published(rig.shm); i++)
		msleep(20);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	KUNIT_ASSERT_EQ_MSG(test, wait_for_completion_timeout(&u->done,
							      msecs_to_jiffies(200)),
			    0, "unbind finished with memory allocated");
	addr = p2pdma_alloc(rig.shm, PAGE_SIZE);
	KUNIT_EXPECT_NULL(test, addr);
	if (addr)
		p2pdma_free(rig.shm, addr, PAGE_SIZE);
	p2pk_expect_no_sgl(test, rig.shm, PAGE_SIZE);
	/* Going, not gone: the statistics still show it. */
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "published"), 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "in_use"), in_use + u->size);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "failed_allocations"),
			failed + 2);
	KUNIT_EXPECT_FALSE(test, completion_done(&u->done));

	p2pk_unbind_drop(u);
	KUNIT_ASSERT_NE_MSG(test, wait_for_completion_timeout(&u->done,
							      msecs_to_jiffies(60000)),
			    0, "unbind still waits after the memory was freed");
	KUNIT_EXPECT_NULL(test, rig.shm->dev.driver);
	p2pk_expect_gone(test, rig.shm);
	p2pk_expect_rebound(test);
}

/* With nothing allocated, unbinding is prompt and binding again restores. */
static void p2pk_unbind_idle(struct kunit *test)
{
	struct p2pk_unbind *u = p2pk_unbind_new(test);
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 4);

	/* Buffers freed into the per-CPU caches must not hold it up. */
	KUNIT_ASSERT_NOT_NULL(test, p2pk_alloc(test, h, PAGE_SIZE));
	KUNIT_ASSERT_NOT_NULL(test, p2pk_alloc(test, h, SZ_64K));
	p2pk_free_all(h);
	p2pk_unbind_start(test, u);
	KUNIT_ASSERT_NE_MSG(test, wait_for_completion_timeout(&u->done,
							      msecs_to_jiffies(60000)),
			    0, "unbind waits with nothing allocated");
	p2pk_expect_gone(test, rig.shm);
	p2pk_expect_rebound(test);
}

static struct kunit_case p2pk_remove_cases[] = {
	KUNIT_CASE_PARAM(p2pk_unbind_waits, p2pk_held_gen_params),
	KUNIT_CASE(p2pk_unbind_idle),
	{}
};

static struct kunit_suite p2pk_remove_suite = {
	.name = "p2pdma_remove",
	.init = p2pk_need_shm_provider,
	.test_cases = p2pk_remove_cases,
};

/* ---- p2pdma_add_resource() on a device of our own driver ---- */

enum p2pk_bad_kind {
	P2PK_BAD_BAR_NEGATIVE,
	P2PK_BAD_BAR_SIX,
	P2PK_BAD_BAR_EMPTY,
	P2PK_BAD_BAR_SMALL,
	P2PK_BAD_OFFSET_HALF,
	P2PK_BAD_OFFSET_PAGE,
	P2PK_BAD_SIZE_PAGE_MORE,
	P2PK_BAD_SIZE_PAGE,
	P2PK_BAD_SIZE_BEYOND,
	P2PK_BAD_OFFSET_END,
	P2PK_BAD_PAST_END,
	P2PK_BAD_OFFSET_BEYOND,
	P2PK_BAD_SIZE_HUGE,
};

struct p2pk_bad {
	enum p2pk_bad_kind kind;
	const char *desc;
};

static const struct p2pk_bad p2pk_bads[] = {
	{ P2PK_BAD_BAR_NEGATIVE, "BAR -1" },
	{ P2PK_BAD_BAR_SIX, "BAR 6" },
	{ P2PK_BAD_BAR_EMPTY, "an empty BAR" },
	{ P2PK_BAD_BAR_SMALL, "the 256-byte register BAR" },
	{ P2PK_BAD_OFFSET_HALF, "offset of half the alignment" },
	{ P2PK_BAD_OFFSET_PAGE, "offset of a page" },
	{ P2PK_BAD_SIZE_PAGE_MORE, "size a page more than aligned" },
	{ P2PK_BAD_SIZE_PAGE, "size of a page" },
	{ P2PK_BAD_SIZE_BEYOND, "size beyond the BAR" },
	{ P2PK_BAD_OFFSET_END, "offset at the BAR's end" },
	{ P2PK_BAD_PAST_END, "range across the BAR's end" },
	{ P2PK_BAD_OFFSET_BEYOND, "offset beyond the BAR" },
	{ P2PK_BAD_SIZE_HUGE, "size near SIZE_MAX" },
};

KUNIT_ARRAY_PARAM_DESC(p2pk_bads, p2pk_bads, desc);

/* The first BAR of @pdev with nothing behind it, or -1. */
static int p2pk_empty_bar(struct pci_dev *pdev)
{
	int bar;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		if (!pci_resource_len(pdev, bar))
			return bar;
	return -1;
}

/* Every malformed registration fails with EINVAL and creates nothing. */
static void p2pk_add_bad(struct kunit *test)
{
	const struct p2pk_bad *bad = test->param_value;
	u64 len = p2pk_shm_len(), align = memremap_compat_align();
	int bar = P2PK_SHM_BAR;
	size_t size = align;
	u64 offset = 0;

	KUNIT_ASSERT_TRUE(test, IS_ALIGNED(len, align));
	switch (bad->kind) {
	case P2PK_BAD_BAR_NEGATIVE:
		bar = -1;
		break;
	case P2PK_BAD_BAR_SIX:
		bar = PCI_STD_NUM_BARS;
		break;
	case P2PK_BAD_BAR_EMPTY:
		bar = p2pk_empty_bar(rig.shm);
		KUNIT_ASSERT_GE(test, bar, 0);
		size = 0;
		break;
	case P2PK_BAD_BAR_SMALL:
		bar = 0;
		KUNIT_ASSERT_TRUE(test, pci_resource_flags(rig.shm, 0) & IORESOURCE_MEM);
		KUNIT_ASSERT_LT(test, pci_resource_len(rig.shm, 0), align);
		size = 0;
		break;
	case P2PK_BAD_OFFSET_HALF:
		offset = align / 2;
		break;
	case P2PK_BAD_OFFSET_PAGE:
		offset = PAGE_SIZE;
		break;
	case P2PK_BAD_SIZE_PAGE_MORE:
		size = align + PAGE_SIZE;
		break;
	case P2PK_BAD_SIZE_PAGE:
		size = PAGE_SIZE;
		break;
	case P2PK_BAD_SIZE_BEYOND:
		size = len + align;
		break;
	case P2PK_BAD_OFFSET_END:
		size = 0;
		offset = len;
		break;
	case P2PK_BAD_PAST_END:
		size = 2 * align;
		offset = len - align;
		break;
	case P2PK_BAD_OFFSET_BEYOND:
		offset = len + align;
		break;
	case P2PK_BAD_SIZE_HUGE:
		size = SIZE_MAX & ~(align - 1);
		offset = align;
		break;
	}
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, bar, size, offset), -EINVAL);
	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.shm));
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_NULL(test, p2pdma_alloc(rig.shm, PAGE_SIZE));
}

/* A good range makes a provider; publishing is a separate switch. */
static void p2pk_add_and_publish(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 1);
	u64 bus = p2pk_shm_bus();
	void *addr;

	KUNIT_ASSERT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, SZ_16M, 0), 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), SZ_16M);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), SZ_16M);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "published"), 0);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));

	/* Named explicitly, an unpublished provider still gives memory. */
	addr = p2pk_alloc(test, h, SZ_64K);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	KUNIT_EXPECT_TRUE(test, p2pk_inside(p2pdma_virt_to_bus(rig.shm, addr),
					    SZ_64K, bus, SZ_16M));
	p2pk_free_all(h);

	p2pdma_publish(rig.shm, true);
	KUNIT_EXPECT_TRUE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "published"), 1);
	p2pdma_publish(rig.shm, false);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "published"), 0);
	p2pdma_publish(rig.shm, true);
	KUNIT_EXPECT_TRUE(test, p2pdma_published(rig.shm));
}

/* A registration overlapping [8 MiB, 16 MiB) in any way, in MiB. */
static const struct {
	unsigned int offset;
	unsigned int size;
} p2pk_overlaps[] = {
	{ 8, 8 },	/* the same */
	{ 4, 8 },	/* from below into it */
	{ 12, 8 },	/* from inside out above */
	{ 10, 2 },	/* inside */
	{ 0, 32 },	/* around */
	{ 14, 2 },	/* its last part */
	{ 0, 0 },	/* the whole BAR */
};

/* Overlaps are EBUSY, adjacent ranges fine, bad ones still EINVAL. */
static void p2pk_add_overlap(struct kunit *test)
{
	int i;

	KUNIT_ASSERT_GE(test, p2pk_shm_len(), (u64)SZ_32M);
	KUNIT_ASSERT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, SZ_8M, SZ_8M), 0);
	for (i = 0; i < ARRAY_SIZE(p2pk_overlaps); i++)
		KUNIT_EXPECT_EQ_MSG(test,
				    p2pdma_add_resource(rig.shm, P2PK_SHM_BAR,
							p2pk_overlaps[i].size * SZ_1M,
							p2pk_overlaps[i].offset * SZ_1M),
				    -EBUSY, "%u MiB at %u MiB", p2pk_overlaps[i].size,
				    p2pk_overlaps[i].offset);
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, SZ_2M, PAGE_SIZE),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), SZ_8M);
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, SZ_2M, SZ_16M), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, SZ_2M, SZ_4M + SZ_2M),
			0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), SZ_8M + 2 * SZ_2M);
}

/* Two ranges pool together; every allocation lies in one of them. */
static void p2pk_add_two_ranges(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 2048);
	u64 len = p2pk_shm_len(), bus = p2pk_shm_bus(), size, total;
	unsigned int refused, i;

	KUNIT_ASSERT_GT(test, len, (u64)SZ_32M);
	KUNIT_ASSERT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, SZ_8M, 0), 0);
	KUNIT_ASSERT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, 0, SZ_32M), 0);
	size = SZ_8M + len - SZ_32M;
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), size);

	total = p2pk_exhaust(test, h, &refused);
	KUNIT_EXPECT_EQ(test, total, size);
	for (i = 0; i < h->nr; i++) {
		u64 at = p2pdma_virt_to_bus(rig.shm, h->chunk[i].addr);
		size_t bytes = h->chunk[i].size;

		KUNIT_EXPECT_TRUE_MSG(test, p2pk_inside(at, bytes, bus, SZ_8M) ||
				      p2pk_inside(at, bytes, bus + SZ_32M, len - SZ_32M),
				      "%zu bytes at bus %#llx", bytes, at);
	}
}

/* Unbinding our driver releases the memory: it can be registered again. */
static void p2pk_add_unbind_releases(struct kunit *test)
{
	void *addr;

	KUNIT_ASSERT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, 0, 0), 0);
	p2pdma_publish(rig.shm, true);
	KUNIT_EXPECT_TRUE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), p2pk_shm_len());
	addr = p2pdma_alloc(rig.shm, PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	p2pdma_free(rig.shm, addr, PAGE_SIZE);

	device_release_driver(&rig.shm->dev);
	p2pk_expect_gone(test, rig.shm);
	KUNIT_EXPECT_EQ(test, p2pdma_virt_to_bus(rig.shm, addr), 0);

	p2pk_attach_ours(test, rig.shm);
	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, 0, 0), 0);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), p2pk_shm_len());
}

/*
 * With every char device minor taken (256 providers), a new provider
 * cannot be made: the registration fails with that error and leaves
 * nothing behind (no p2pmem/ files), so that it succeeds once a minor is
 * free again.
 */
static void p2pk_add_no_minor_left(struct kunit *test)
{
	int *minors = kunit_kcalloc(test, 256, sizeof(*minors), GFP_KERNEL);
	int minor, taken = 0;

	KUNIT_ASSERT_NOT_NULL(test, minors);
	while (taken < 256 &&
	       (minor = ida_alloc_max(&p2pmem_ida, 255, GFP_KERNEL)) >= 0)
		minors[taken++] = minor;
	KUNIT_EXPECT_EQ(test, ida_alloc_max(&p2pmem_ida, 255, GFP_KERNEL), -ENOSPC);
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, 0, 0),
			-ENOSPC);
	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.shm));
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	while (taken)
		ida_free(&p2pmem_ida, minors[--taken]);
	KUNIT_EXPECT_EQ(test, p2pdma_add_resource(rig.shm, P2PK_SHM_BAR, 0, 0), 0);
	KUNIT_EXPECT_TRUE(test, p2pk_has_p2pmem(rig.shm));
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "size"), p2pk_shm_len());
}

/* Publishing does nothing for a device that has no memory registered. */
static void p2pk_publish_non_provider(struct kunit *test)
{
	p2pdma_publish(rig.shm, true);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.shm));
	if (rig.nic) {
		p2pdma_publish(rig.nic, true);
		KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.nic));
		KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.nic));
	}
}

static int p2pk_register_suite_init(struct kunit_suite *suite)
{
	if (!rig.shm || !rig.sysfs)
		return -ENODEV;
	return p2pk_take(&p2pk_shm_binding, rig.shm);
}

static void p2pk_register_suite_exit(struct kunit_suite *suite)
{
	p2pk_give_back(&p2pk_shm_binding);
}

static int p2pk_register_init(struct kunit *test)
{
	return p2pk_bind_ours(test, rig.shm);
}

static struct kunit_case p2pk_register_cases[] = {
	KUNIT_CASE_PARAM(p2pk_add_bad, p2pk_bads_gen_params),
	KUNIT_CASE(p2pk_add_and_publish),
	KUNIT_CASE(p2pk_add_overlap),
	KUNIT_CASE(p2pk_add_two_ranges),
	KUNIT_CASE(p2pk_add_unbind_releases),
	KUNIT_CASE(p2pk_add_no_minor_left),
	KUNIT_CASE(p2pk_publish_non_provider),
	{}
};

static struct kunit_suite p2pk_register_suite = {
	.name = "p2pdma_register",
	.suite_init = p2pk_register_suite_init,
	.suite_exit = p2pk_register_suite_exit,
	.init = p2pk_register_init,
	.test_cases = p2pk_register_cases,
};

/* ---- topology verdicts ---- */

static struct p2pdma_client p2pk_client(struct pci_dev *pdev)
{
	return (struct p2pdma_client){ .dev = &pdev->dev };
}

/* Judge and explain agree on a pairing behind the switch. */
static void p2pk_expect_switch(struct kunit *test, struct pci_dev *provider,
			       struct pci_dev *client_pdev, bool virt_dma)
{
	struct p2pdma_client client = p2pk_client(client_pdev);
	char *line, *want;
	struct p2pdma_verdict v;
	struct pci_dev *common = NULL;
	int hops = p2pk_hops(provider, client_pdev, &common);

	line = kunit_kzalloc(test, P2PK_LINE_MAX, GFP_KERNEL);
	want = kunit_kzalloc(test, P2PK_LINE_MAX, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, line);
	KUNIT_ASSERT_NOT_NULL(test, want);
	KUNIT_ASSERT_GT(test, hops, 0);
	client.virt_dma = virt_dma;

	KUNIT_EXPECT_EQ(test, p2pdma_judge(provider, &client, &v), hops);
	KUNIT_EXPECT_EQ(test, v.path, P2PDMA_PATH_SWITCH);
	KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_OK);
	KUNIT_EXPECT_EQ(test, v.distance, hops);
	KUNIT_EXPECT_EQ(test, p2pdma_explain(provider, &client, line, P2PK_LINE_MAX),
			hops);
	snprintf(want, P2PK_LINE_MAX, "accepted: same switch, distance %d (common bridge %s)",
		 hops, pci_name(common));
	KUNIT_EXPECT_STREQ(test, line, want);
	kunit_kfree(test, want);
	kunit_kfree(test, line);
}

/* Refused for @reason, and the explanation says so with @words. */
static void p2pk_expect_refused(struct kunit *test, struct pci_dev *provider,
				const struct p2pdma_client *client,
				enum p2pdma_reason reason, const char *words)
{
	char *line = kunit_kzalloc(test, P2PK_LINE_MAX, GFP_KERNEL);
	struct p2pdma_verdict v;

	KUNIT_ASSERT_NOT_NULL(test, line);
	KUNIT_EXPECT_EQ(test, p2pdma_judge(provider, client, &v), -1);
	KUNIT_EXPECT_EQ(test, v.path, P2PDMA_PATH_NOT_SUPPORTED);
	KUNIT_EXPECT_EQ(test, v.reason, reason);
	KUNIT_EXPECT_EQ(test, p2pdma_explain(provider, client, line, P2PK_LINE_MAX), -1);
	KUNIT_EXPECT_TRUE_MSG(test, strstarts(line, "refused: "), "%s", line);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, words), "%s", line);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(provider, client, 1), -1);
	kunit_kfree(test, line);
}

/* Providers and clients behind the one switch: accepted, by hop count. */
static void p2pk_verdict_switch(struct kunit *test)
{
	struct pci_dev *common = NULL;
	int i, j;

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	KUNIT_EXPECT_EQ_MSG(test, rig.nr_drives, 2, "NVMe controllers behind the switch");
	/* Each device hangs off its own downstream port of the switch. */
	KUNIT_EXPECT_EQ(test, p2pk_hops(rig.shm, rig.nic, &common), 4);
	KUNIT_ASSERT_NOT_NULL(test, common);
	KUNIT_EXPECT_EQ(test, pci_pcie_type(common), PCI_EXP_TYPE_UPSTREAM);
	KUNIT_EXPECT_PTR_EQ(test, common,
			    pci_upstream_bridge(pci_upstream_bridge(rig.shm)));

	p2pk_expect_switch(test, rig.shm, rig.nic, false);
	for (i = 0; i < rig.nr_drives; i++) {
		p2pk_expect_switch(test, rig.shm, rig.drive[i], false);
		p2pk_expect_switch(test, rig.drive[i], rig.nic, false);
		p2pk_expect_switch(test, rig.drive[i], rig.shm, false);
		for (j = 0; j < rig.nr_drives; j++)
			if (j != i)
				p2pk_expect_switch(test, rig.drive[i], rig.drive[j],
						   false);
	}
}

/* A provider serving itself: same device, distance 0. */
static void p2pk_verdict_same_device(struct kunit *test)
{
	struct p2pdma_client client = p2pk_client(rig.shm);
	char line[P2PK_LINE_MAX];
	struct p2pdma_verdict v;
	int i;

	KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), 0);
	KUNIT_EXPECT_EQ(test, v.path, P2PDMA_PATH_SAME_DEVICE);
	KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_OK);
	KUNIT_EXPECT_EQ(test, v.distance, 0);
	KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line, sizeof(line)), 0);
	KUNIT_EXPECT_STREQ(test, line, "accepted: same device, distance 0");
	for (i = 0; i < rig.nr_drives; i++) {
		client = p2pk_client(rig.drive[i]);
		KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.drive[i], &client, &v), 0);
		KUNIT_EXPECT_EQ(test, v.path, P2PDMA_PATH_SAME_DEVICE);
	}
}

/* The drive under the other root port: refused while the policy is off. */
static void p2pk_verdict_host_bridge_off(struct kunit *test)
{
	struct p2pdma_client client;

	KUNIT_ASSERT_NOT_NULL(test, rig.outside);
	KUNIT_ASSERT_TRUE_MSG(test, p2pk_param_is(test, "allow_host_bridge", "N"),
			      "allow_host_bridge is not at its default");
	KUNIT_EXPECT_EQ(test, p2pk_hops(rig.shm, rig.outside, NULL), -1);
	client = p2pk_client(rig.outside);
	p2pk_expect_refused(test, rig.shm, &client, P2PDMA_HOST_BRIDGE_OFF,
			    "allow_host_bridge");
	client = p2pk_client(rig.shm);
	p2pk_expect_refused(test, rig.outside, &client, P2PDMA_HOST_BRIDGE_OFF,
			    "allow_host_bridge");
}

/* Whether the host is an AMD Zen, whose host bridges need no allowlist. */
static bool p2pk_amd_zen(void)
{
#ifdef CONFIG_X86
	return boot_cpu_data.x86_vendor == X86_VENDOR_AMD && boot_cpu_data.x86 >= 0x17;
#else
	return false;
#endif
}

/*
 * Opted in, the path needs an allowlisted host bridge. q35's is not on the
 * list (test rigs add it through debugfs, which kernel_write() cannot
 * drive); only AMD Zen hosts pass unlisted.
 */
static void p2pk_verdict_host_bridge_on(struct kunit *test)
{
	struct p2pdma_client client;
	char line[P2PK_LINE_MAX], name[32];
	struct p2pdma_verdict v;
	struct pci_bus *bus;
	int links;

	KUNIT_ASSERT_NOT_NULL(test, rig.outside);
	p2pk_set_param_kept(test, "allow_host_bridge", "1");
	client = p2pk_client(rig.outside);
	links = p2pk_links_to_host(rig.shm) + p2pk_links_to_host(rig.outside);
	if (p2pk_amd_zen()) {
		KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), links);
		KUNIT_EXPECT_EQ(test, v.path, P2PDMA_PATH_HOST_BRIDGE);
		KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line,
						     sizeof(line)), links);
		KUNIT_EXPECT_TRUE(test, strstarts(line, "accepted: through host bridge, distance"));
		return;
	}
	for (bus = rig.shm->bus; !pci_is_root_bus(bus); bus = bus->parent)
		;
	p2pk_expect_refused(test, rig.shm, &client, P2PDMA_HOST_BRIDGE_UNLISTED,
			    "not on the allowlist");
	KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line, sizeof(line)), -1);
	snprintf(name, sizeof(name), "host bridge %04x:%02x:00.0",
		 pci_domain_nr(bus), bus->number);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, name), "%s", line);
	/* The switch path does not need the host bridge. */
	if (rig.nic)
		p2pk_expect_switch(test, rig.shm, rig.nic, false);
}

static void p2pk_put_device(void *data)
{
	put_device(data);
}

static void p2pk_child_release(struct device *dev)
{
	kfree(dev);
}

/* A device that is no PCI device and sits under none; one that does. */
static void p2pk_verdict_not_pci(struct kunit *test)
{
	struct p2pdma_client client = {};
	struct device *child;

	client.dev = kunit_device_register(test, "p2pk-not-pci");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, client.dev);
	p2pk_expect_refused(test, rig.shm, &client, P2PDMA_NOT_PCI,
			    "not a PCI device");
	KUNIT_EXPECT_NULL(test, p2pdma_find(&client, 1));

	/* Below the NIC (as its netdev is), it is judged as the NIC. */
	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	child = kzalloc(sizeof(*child), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, child);
	device_initialize(child);
	child->release = p2pk_child_release;
	child->parent = &rig.nic->dev;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_put_device, child), 0);
	KUNIT_ASSERT_EQ(test, dev_set_name(child, "p2pk-child"), 0);
	client.dev = child;
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, &client, 1),
			p2pk_hops(rig.shm, rig.nic, NULL));
}

/* A software RDMA client: refused unless soft_rdma, then its PCI path. */
static void p2pk_verdict_virt_dma(struct kunit *test)
{
	struct p2pdma_client client;

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	KUNIT_ASSERT_TRUE_MSG(test, p2pk_param_is(test, "soft_rdma", "N"),
			      "soft_rdma is not at its default");
	client = p2pk_client(rig.nic);
	client.virt_dma = true;
	p2pk_expect_refused(test, rig.shm, &client, P2PDMA_VIRT_DMA, "soft_rdma");
	KUNIT_EXPECT_NULL(test, p2pdma_find(&client, 1));

	p2pk_set_param_kept(test, "soft_rdma", "1");
	/* The policy change drops the cached refusal. */
	p2pk_expect_switch(test, rig.shm, rig.nic, true);
	p2pk_set_param(test, "soft_rdma", "0");
	p2pk_expect_refused(test, rig.shm, &client, P2PDMA_VIRT_DMA, "soft_rdma");
	/* The plain client next to it was never affected. */
	p2pk_expect_switch(test, rig.shm, rig.nic, false);
}

/* A short buffer gets a terminated prefix; the verdict is unchanged. */
static void p2pk_explain_truncated(struct kunit *test)
{
	struct p2pdma_client client;
	char line[12];

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	client = p2pk_client(rig.nic);
	memset(line, 'x', sizeof(line));
	KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line, sizeof(line)),
			p2pk_hops(rig.shm, rig.nic, NULL));
	KUNIT_EXPECT_STREQ(test, line, "accepted: s");
	if (rig.outside) {
		client = p2pk_client(rig.outside);
		KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line, 9), -1);
		KUNIT_EXPECT_STREQ(test, line, "refused:");
	}
}

/* Sums over clients; any refusal, or no client at all, is -1. */
static void p2pk_distance(struct kunit *test)
{
	struct p2pdma_client clients[3];
	int nic_hops;

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	nic_hops = p2pk_hops(rig.shm, rig.nic, NULL);
	clients[0] = p2pk_client(rig.nic);
	clients[1] = p2pk_client(rig.shm);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, clients, 1), nic_hops);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, clients, 2), nic_hops);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, &clients[1], 1), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, clients, 0), -1);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, clients, -1), -1);
	if (rig.nr_drives) {
		/* A provider beside the clients is farther than one among them. */
		KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.drive[0], clients, 2),
				p2pk_hops(rig.drive[0], rig.nic, NULL) +
				p2pk_hops(rig.drive[0], rig.shm, NULL));
		KUNIT_EXPECT_GT(test, p2pdma_distance(rig.drive[0], clients, 2),
				p2pdma_distance(rig.shm, clients, 2));
	}
	if (rig.outside) {
		clients[2] = p2pk_client(rig.outside);
		KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, clients, 3), -1);
		KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, &clients[2], 1), -1);
	}
}

struct p2pk_path_name {
	enum p2pdma_path path;
	const char *name;
};

static const struct p2pk_path_name p2pk_path_names[] = {
	{ P2PDMA_PATH_SAME_DEVICE, "same device" },
	{ P2PDMA_PATH_SWITCH, "same switch" },
	{ P2PDMA_PATH_HOST_BRIDGE, "through host bridge" },
	{ P2PDMA_PATH_NOT_SUPPORTED, "not supported" },
};

KUNIT_ARRAY_PARAM_DESC(p2pk_path_names, p2pk_path_names, name);

static void p2pk_path_name(struct kunit *test)
{
	const struct p2pk_path_name *p = test->param_value;

	KUNIT_EXPECT_STREQ(test, p2pdma_path_name(p->path), p->name);
}

/* Published providers with memory behind the switch, as sysfs says. */
static int p2pk_switch_providers(struct kunit *test, struct pci_dev **out)
{
	struct pci_dev *all[] = { rig.shm, rig.drive[0], rig.drive[1] };
	int i, nr = 0;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		if (!all[i] || !p2pk_has_p2pmem(all[i]) ||
		    !p2pk_stat(test, all[i], "published") ||
		    p2pk_stat(test, all[i], "available") < PAGE_SIZE)
			continue;
		out[nr++] = all[i];
	}
	return nr;
}

/* Which of @set p2pdma_find() gave (-1: none of them, or NULL). */
static int p2pk_find_index(const struct p2pdma_client *clients, int nr_clients,
			   struct pci_dev **set, int nr)
{
	struct pci_dev *found = p2pdma_find(clients, nr_clients);
	int i;

	for (i = 0; i < nr; i++)
		if (found == set[i])
			break;
	pci_dev_put(found);
	return found && i < nr ? i : -1;
}

/* Equally close providers take turns, each once per round. */
static void p2pk_find_ties(struct kunit *test)
{
	struct pci_dev *ties[3];
	struct p2pdma_client client;
	int round, i, nr, seen;

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	client = p2pk_client(rig.nic);
	nr = p2pk_switch_providers(test, ties);
	KUNIT_ASSERT_GE(test, nr, 1);
	for (i = 1; i < nr; i++)
		KUNIT_ASSERT_EQ(test, p2pk_hops(ties[i], rig.nic, NULL),
				p2pk_hops(ties[0], rig.nic, NULL));
	kunit_info(test, "%d providers equally close to %s\n", nr, pci_name(rig.nic));
	for (round = 0; round < 2; round++) {
		seen = 0;
		for (i = 0; i < nr; i++) {
			int at = p2pk_find_index(&client, 1, ties, nr);

			KUNIT_ASSERT_GE_MSG(test, at, 0, "round %d call %d", round, i);
			KUNIT_EXPECT_FALSE_MSG(test, seen & BIT(at),
					       "%s twice in a round", pci_name(ties[at]));
			seen |= BIT(at);
		}
		KUNIT_EXPECT_EQ(test, seen, (int)BIT(nr) - 1);
	}
}

/* The closest wins alone, every time: a provider among the clients. */
static void p2pk_find_closest(struct kunit *test)
{
	struct p2pdma_client clients[2];
	struct pci_dev *found;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, rig.nic);
	clients[0] = p2pk_client(rig.shm);
	clients[1] = p2pk_client(rig.nic);
	for (i = 0; i < 6; i++) {
		/* Alone, then together with the NIC. */
		found = p2pdma_find(clients, 1 + i % 2);
		KUNIT_EXPECT_PTR_EQ_MSG(test, found, rig.shm, "call %d", i);
		pci_dev_put(found);
	}
}

/* Nothing for a client nothing can serve, or for no client at all. */
static void p2pk_find_none(struct kunit *test)
{
	struct p2pdma_client client;
	struct pci_dev *found;

	KUNIT_ASSERT_NOT_NULL(test, rig.outside);
	client = p2pk_client(rig.outside);
	found = p2pdma_find(&client, 1);
	KUNIT_EXPECT_NULL(test, found);
	pci_dev_put(found);
	client = p2pk_client(rig.shm);
	found = p2pdma_find(&client, 0);
	KUNIT_EXPECT_NULL(test, found);
	pci_dev_put(found);
}

static void p2pk_publish_again(void *data)
{
	p2pdma_publish(data, true);
}

/* Withdrawn or full, a provider is not found; it comes back after. */
static void p2pk_find_skips(struct kunit *test)
{
	struct p2pk_hold *h = p2pk_hold_new(test, rig.shm, 2048);
	struct p2pdma_client client = p2pk_client(rig.shm);
	struct pci_dev *others[3], *found;
	unsigned int refused;
	int i, nr;

	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, p2pk_publish_again,
							rig.shm), 0);
	p2pdma_publish(rig.shm, false);
	KUNIT_EXPECT_FALSE(test, p2pdma_published(rig.shm));
	nr = p2pk_switch_providers(test, others);
	for (i = 0; i < 2 * nr + 1; i++) {
		found = p2pdma_find(&client, 1);
		KUNIT_EXPECT_PTR_NE(test, found, rig.shm);
		if (!nr)
			KUNIT_EXPECT_NULL(test, found);
		pci_dev_put(found);
	}
	p2pdma_publish(rig.shm, true);
	found = p2pdma_find(&client, 1);
	KUNIT_EXPECT_PTR_EQ(test, found, rig.shm);
	pci_dev_put(found);

	p2pk_exhaust(test, h, &refused);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "available"), 0);
	found = p2pdma_find(&client, 1);
	KUNIT_EXPECT_PTR_NE(test, found, rig.shm);
	pci_dev_put(found);
	p2pk_free_all(h);
	found = p2pdma_find(&client, 1);
	KUNIT_EXPECT_PTR_EQ(test, found, rig.shm);
	pci_dev_put(found);
}

/*
 * A verdict not cached yet is walked without sleeping, host bridge
 * included: block drivers judge each request in their queue_rq. Here
 * with preemption off (DEBUG_ATOMIC_SLEEP reports any sleep).
 */
static void p2pk_verdict_atomic(struct kunit *test)
{
	struct p2pdma_client client;
	struct p2pdma_verdict v;
	int dist;

	KUNIT_ASSERT_NOT_NULL(test, rig.outside);
	/* A policy change: nothing is cached from here on. */
	p2pk_set_param_kept(test, "allow_host_bridge", "1");
	client = p2pk_client(rig.outside);
	preempt_disable();
	dist = p2pdma_judge(rig.shm, &client, &v);
	preempt_enable();
	if (p2pk_amd_zen()) {
		KUNIT_EXPECT_EQ(test, v.path, P2PDMA_PATH_HOST_BRIDGE);
	} else {
		KUNIT_EXPECT_EQ(test, dist, -1);
		KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_HOST_BRIDGE_UNLISTED);
	}
}

static struct kunit_case p2pk_topology_cases[] = {
	KUNIT_CASE(p2pk_verdict_switch),
	KUNIT_CASE(p2pk_verdict_same_device),
	KUNIT_CASE(p2pk_verdict_host_bridge_off),
	KUNIT_CASE(p2pk_verdict_host_bridge_on),
	KUNIT_CASE(p2pk_verdict_atomic),
	KUNIT_CASE(p2pk_verdict_not_pci),
	KUNIT_CASE(p2pk_verdict_virt_dma),
	KUNIT_CASE(p2pk_explain_truncated),
	KUNIT_CASE(p2pk_distance),
	KUNIT_CASE_PARAM(p2pk_path_name, p2pk_path_names_gen_params),
	KUNIT_CASE(p2pk_find_ties),
	KUNIT_CASE(p2pk_find_closest),
	KUNIT_CASE(p2pk_find_none),
	KUNIT_CASE(p2pk_find_skips),
	{}
};

static struct kunit_suite p2pk_topology_suite = {
	.name = "p2pdma_topology",
	.init = p2pk_need_shm_provider,
	.test_cases = p2pk_topology_cases,
};

/* ---- the client's DMA mask, on the NIC bound to our driver ---- */

static int p2pk_set_mask(struct pci_dev *pdev, u64 mask)
{
	return dma_set_mask_and_coherent(&pdev->dev, mask);
}

/* Below the provider's bus addresses: refused, and found nothing. */
static void p2pk_mask_refused(struct kunit *test)
{
	struct p2pdma_client client = p2pk_client(rig.nic);
	struct pci_dev *found;
	int i;

	KUNIT_ASSERT_EQ(test, dma_get_mask(&rig.nic->dev), DMA_BIT_MASK(24));
	KUNIT_ASSERT_GT(test, p2pk_bus_end(rig.shm), DMA_BIT_MASK(24));
	p2pk_expect_refused(test, rig.shm, &client, P2PDMA_DMA_MASK, "DMA mask");
	for (i = 0; i < rig.nr_drives; i++) {
		KUNIT_ASSERT_GT(test, p2pk_bus_end(rig.drive[i]), DMA_BIT_MASK(24));
		p2pk_expect_refused(test, rig.drive[i], &client, P2PDMA_DMA_MASK,
				    "DMA mask");
	}
	found = p2pdma_find(&client, 1);
	KUNIT_EXPECT_NULL(test, found);
	pci_dev_put(found);
}

/* A mask that just reaches the top of the provider's BARs is enough. */
static void p2pk_mask_boundary(struct kunit *test)
{
	struct p2pdma_client client = p2pk_client(rig.nic);
	int bits = fls64(p2pk_bus_end(rig.shm));
	char line[P2PK_LINE_MAX];

	KUNIT_ASSERT_GT(test, bits, 24);
	KUNIT_ASSERT_EQ(test, p2pk_set_mask(rig.nic, DMA_BIT_MASK(bits)), 0);
	/* explain walks afresh in any case. */
	KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line, sizeof(line)),
			p2pk_hops(rig.shm, rig.nic, NULL));
	KUNIT_ASSERT_EQ(test, p2pk_set_mask(rig.nic, DMA_BIT_MASK(bits - 1)), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_explain(rig.shm, &client, line, sizeof(line)), -1);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, "DMA mask"), "%s", line);
}

/*
 * The verdict cache sees a mask change at once, with no PCI event: a
 * driver may set its mask after binding (nvme does, on 6.1), and a
 * refusal cached before must not outlive it. Verdicts of the same mask
 * stay cached.
 */
static void p2pk_mask_cache(struct kunit *test)
{
	struct p2pdma_client client = p2pk_client(rig.nic);
	int hops = p2pk_hops(rig.shm, rig.nic, NULL);
	struct p2pdma_verdict v;

	KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), -1);
	KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_DMA_MASK);
	KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), -1);
	KUNIT_ASSERT_EQ(test, p2pk_set_mask(rig.nic, DMA_BIT_MASK(64)), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), hops);
	KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_OK);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, &client, 1), hops);

	KUNIT_ASSERT_EQ(test, p2pk_set_mask(rig.nic, DMA_BIT_MASK(24)), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), -1);
	KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_DMA_MASK);
	KUNIT_EXPECT_EQ(test, p2pdma_distance(rig.shm, &client, 1), -1);

	/* A driver bound afresh with a wide mask is seen too. */
	device_release_driver(&rig.nic->dev);
	WRITE_ONCE(p2pk_dma_bits, 64);
	KUNIT_ASSERT_EQ(test, device_attach(&rig.nic->dev), 1);
	KUNIT_EXPECT_EQ(test, p2pdma_judge(rig.shm, &client, &v), hops);
}

/* An I/O BAR and the NIC's small memory BARs cannot be registered. */
static void p2pk_add_nic_bars(struct kunit *test)
{
	unsigned long align = memremap_compat_align();
	int bar, io = 0;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		unsigned long flags = pci_resource_flags(rig.nic, bar);

		if (flags & IORESOURCE_IO)
			io++;
		else if (!(flags & IORESOURCE_MEM) ||
			 pci_resource_len(rig.nic, bar) >= align)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, p2pdma_add_resource(rig.nic, bar, 0, 0),
				    -EINVAL, "BAR %d", bar);
	}
	KUNIT_EXPECT_GT_MSG(test, io, 0, "the e1000e has no I/O BAR");
	KUNIT_EXPECT_FALSE(test, p2pk_has_p2pmem(rig.nic));
}

static int p2pk_mask_suite_init(struct kunit_suite *suite)
{
	if (!rig.nic || !rig.shm || !rig.sysfs)
		return -ENODEV;
	return p2pk_take(&p2pk_nic_binding, rig.nic);
}

static void p2pk_mask_suite_exit(struct kunit_suite *suite)
{
	WRITE_ONCE(p2pk_dma_bits, 64);
	p2pk_give_back(&p2pk_nic_binding);
}

/* Each case binds the NIC afresh with a 24-bit mask: a clean cache. */
static int p2pk_mask_init(struct kunit *test)
{
	p2pk_need_shm_provider(test);
	WRITE_ONCE(p2pk_dma_bits, 24);
	return p2pk_bind_ours(test, rig.nic);
}

static struct kunit_case p2pk_mask_cases[] = {
	KUNIT_CASE(p2pk_mask_refused),
	KUNIT_CASE(p2pk_mask_boundary),
	KUNIT_CASE(p2pk_mask_cache),
	KUNIT_CASE(p2pk_add_nic_bars),
	{}
};

static struct kunit_suite p2pk_mask_suite = {
	.name = "p2pdma_dma_mask",
	.suite_init = p2pk_mask_suite_init,
	.suite_exit = p2pk_mask_suite_exit,
	.init = p2pk_mask_init,
	.test_cases = p2pk_mask_cases,
};

/* ---- input parsing of the writable attributes ---- */

/* A write and what it must do: @err 0 takes it; then the value reads @on. */
struct p2pk_input {
	const char *in;
	int err;
	bool on;
};

static const struct p2pk_input p2pk_bool_inputs[] = {
	{ "1\n", 0, true }, { "0\n", 0, false }, { "y", 0, true },
	{ "N", 0, false }, { "on", 0, true }, { "off\n", 0, false },
	{ "true", 0, true }, { "false", 0, false }, { "Yes", 0, true },
	{ "2", -EINVAL }, { "maybe", -EINVAL }, { "-1", -EINVAL },
	{ "o", -EINVAL }, { " 1", -EINVAL }, { "\n", -EINVAL },
};

/* A writable boolean and how it reads back. */
struct p2pk_bool_attr {
	const char *name;
	bool param;
	const char *on;
	const char *off;
};

static const struct p2pk_bool_attr p2pk_bool_attrs[] = {
	{ "allow_user_dma", false, "1", "0" },
	{ "allow_host_bridge", true, "Y", "N" },
	{ "soft_rdma", true, "Y", "N" },
};

KUNIT_ARRAY_PARAM_DESC(p2pk_bool_attrs, p2pk_bool_attrs, name);

/* Valid words set the value; invalid ones fail and change nothing. */
static void p2pk_bool_input(struct kunit *test)
{
	const struct p2pk_bool_attr *attr = test->param_value;
	char path[P2PK_PATH_MAX], before[32], after[32];
	int i, start;

	if (attr->param)
		p2pk_param_path(path, attr->name);
	else
		p2pk_p2pmem_path(path, rig.shm, attr->name);
	p2pk_keep(test, path);

	/* Every refusal is tried with the value off and with it on. */
	for (start = 0; start < 2; start++) {
		KUNIT_ASSERT_GT(test, p2pk_write(path, start ? "1" : "0"), 0);
		for (i = 0; i < ARRAY_SIZE(p2pk_bool_inputs); i++) {
			const struct p2pk_input *in = &p2pk_bool_inputs[i];
			ssize_t ret;

			KUNIT_ASSERT_GT(test, p2pk_read(path, before, sizeof(before)), 0);
			ret = p2pk_write(path, in->in);
			KUNIT_ASSERT_GT(test, p2pk_read(path, after, sizeof(after)), 0);
			if (in->err) {
				KUNIT_EXPECT_EQ_MSG(test, ret, (ssize_t)in->err,
						    "%s: \"%s\"", attr->name, in->in);
				KUNIT_EXPECT_STREQ_MSG(test, after, before,
						       "%s: \"%s\"", attr->name, in->in);
			} else {
				KUNIT_EXPECT_EQ_MSG(test, ret, (ssize_t)strlen(in->in),
						    "%s: \"%s\"", attr->name, in->in);
				KUNIT_EXPECT_STREQ_MSG(test, after,
						       in->on ? attr->on : attr->off,
						       "%s: \"%s\"", attr->name, in->in);
			}
		}
	}
}

/* Read-only files refuse writers at open and keep their value. */
static void p2pk_read_only(struct kunit *test)
{
	static const char * const params[] = { "generic_bar" };
	static const char * const stats[] = {
		"size", "available", "published", "in_use", "peak_in_use",
		"cached", "mapped", "allocations", "frees",
		"failed_allocations", "users",
	};
	char path[P2PK_PATH_MAX], before[32], after[32];
	int i;

	for (i = 0; i < ARRAY_SIZE(params) + ARRAY_SIZE(stats); i++) {
		if (i < ARRAY_SIZE(params))
			p2pk_param_path(path, params[i]);
		else
			p2pk_p2pmem_path(path, rig.shm, stats[i - ARRAY_SIZE(params)]);
		KUNIT_ASSERT_GE_MSG(test, p2pk_read(path, before, sizeof(before)), 0,
				    "%s", path);
		KUNIT_EXPECT_EQ_MSG(test, p2pk_write(path, "1"), -EACCES, "%s", path);
		KUNIT_ASSERT_GE(test, p2pk_read(path, after, sizeof(after)), 0);
		KUNIT_EXPECT_STREQ_MSG(test, after, before, "%s", path);
	}
}

/* allow_user_dma starts off for every new provider. */
static void p2pk_allow_user_dma_default(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "allow_user_dma"), 0);
	KUNIT_EXPECT_EQ(test, p2pk_stat(test, rig.shm, "mapped"), 0);
}

static struct kunit_case p2pk_attr_cases[] = {
	KUNIT_CASE(p2pk_allow_user_dma_default),
	KUNIT_CASE_PARAM(p2pk_bool_input, p2pk_bool_attrs_gen_params),
	KUNIT_CASE(p2pk_read_only),
	{}
};

static struct kunit_suite p2pk_attr_suite = {
	.name = "p2pdma_attrs",
	.init = p2pk_need_shm_provider,
	.test_cases = p2pk_attr_cases,
};

kunit_test_suites(&p2pk_alloc_suite, &p2pk_remove_suite, &p2pk_register_suite,
		  &p2pk_topology_suite, &p2pk_mask_suite, &p2pk_attr_suite);

/* The rig's devices, found by ID and by where they sit. */
static void p2pk_find_rig(void)
{
	struct pci_dev *pdev = NULL, *switch_port;

	rig.shm = pci_get_device(P2PK_IVSHMEM_VENDOR, P2PK_IVSHMEM_DEVICE, NULL);
	rig.nic = pci_get_device(P2PK_E1000E_VENDOR, P2PK_E1000E_DEVICE, NULL);
	switch_port = rig.shm ? pci_upstream_bridge(pci_upstream_bridge(rig.shm)) : NULL;
	while ((pdev = pci_get_device(P2PK_NVME_VENDOR, P2PK_NVME_DEVICE, pdev))) {
		if (switch_port &&
		    pci_upstream_bridge(pci_upstream_bridge(pdev)) == switch_port) {
			if (rig.nr_drives < ARRAY_SIZE(rig.drive))
				rig.drive[rig.nr_drives++] = pci_dev_get(pdev);
		} else if (!rig.outside) {
			rig.outside = pci_dev_get(pdev);
		}
	}
}

static void p2pk_put_rig(void)
{
	int i;

	for (i = 0; i < rig.nr_drives; i++)
		pci_dev_put(rig.drive[i]);
	pci_dev_put(rig.outside);
	pci_dev_put(rig.nic);
	pci_dev_put(rig.shm);
	if (rig.sysfs)
		mntput(rig.sysfs);
}

/* The suites run once this returns (KUnit's module notifier). */
static int __init p2pk_init(void)
{
	struct file_system_type *sysfs = get_fs_type("sysfs");
	int err;

	if (sysfs) {
		rig.sysfs = vfs_kern_mount(sysfs, 0, "sysfs", NULL);
		/* put_filesystem(), which is not exported. */
		module_put(sysfs->owner);
		if (IS_ERR(rig.sysfs)) {
			pr_err("p2pdma_kunit: cannot mount sysfs: %ld\n",
			       PTR_ERR(rig.sysfs));
			rig.sysfs = NULL;
		}
	}
	p2pk_find_rig();
	err = pci_register_driver(&p2pk_driver);
	if (err)
		p2pk_put_rig();
	return err;
}
module_init(p2pk_init);

static void __exit p2pk_exit(void)
{
	pci_unregister_driver(&p2pk_driver);
	p2pk_put_rig();
}
module_exit(p2pk_exit);

MODULE_DESCRIPTION("KUnit tests of the p2pdma core's exported API on the test rig");
MODULE_LICENSE("GPL");
