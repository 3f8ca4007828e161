// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_test: a client of p2pdma.ko for the test rig. It holds peer-to-peer
 * allocations on command, so tests can drive allocation patterns, see the
 * memory from the host side, and remove a provider while memory is out. It
 * is also a PCI driver with no ID table ("p2pdma_test", bound through
 * driver_override) that registers BAR ranges on command, so tests can call
 * the provider API with arguments of their choosing, and that gives the
 * devices it binds the DMA mask of its dma_bits parameter.
 *
 * /sys/kernel/debug/p2pdma_test/control takes one command per write:
 *   alloc <bdf> <bytes>   allocate and hold
 *   write <bdf> <text>    copy text to the start of <bdf>'s newest buffer
 *   free <bdf>            free every buffer held from <bdf>
 *   register <bdf> <bar> <bytes> <offset>
 *                         p2pdma_add_resource() on a device bound to us
 *   find <bdf> [<bdf>...] p2pdma_find() for these clients ("virt:<bdf>" for
 *                         a software RDMA one); logs "find <clients>:
 *                         <provider or none>"
 *   bench <bdf> <bytes> <cpus> <ms>
 *                         allocate and free <bytes> from <bdf> in a loop on
 *                         CPUs 0..<cpus>-1 for <ms> ms, then the same with a
 *                         plain genalloc pool of the same size and page
 *                         granularity; one line per run in the kernel log
 * and lists the held buffers when read: bdf, bytes, bus address, and the
 * first 16 bytes of the buffer.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/genalloc.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <p2pdma/p2pdma.h>

struct p2pdma_test_buf {
	struct list_head node;
	struct pci_dev *pdev;
	void *addr;
	size_t size;
};

static LIST_HEAD(p2pdma_test_bufs);
static DEFINE_MUTEX(p2pdma_test_lock);
static struct dentry *p2pdma_test_dir;

static struct pci_dev *p2pdma_test_pdev(const char *bdf)
{
	unsigned int domain, bus, dev, fn;
	char end;

	if (sscanf(bdf, "%x:%x:%x.%x%c", &domain, &bus, &dev, &fn, &end) != 4 ||
	    bus > 0xff || dev > 0x1f || fn > 7)
		return NULL;
	return pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(dev, fn));
}

static void p2pdma_test_free(struct p2pdma_test_buf *buf)
{
	list_del(&buf->node);
	p2pdma_free(buf->pdev, buf->addr, buf->size);
	pci_dev_put(buf->pdev);
	kfree(buf);
}

/* One benchmark thread: alloc+free pairs until the deadline. */
struct p2pdma_test_bench {
	struct pci_dev *pdev;
	struct gen_pool *pool;
	size_t size;
	unsigned long deadline;
	u64 pairs;
	u64 failed;
	struct completion done;
};

static int p2pdma_test_bench_thread(void *data)
{
	struct p2pdma_test_bench *b = data;
	int i;

	while (time_before(jiffies, b->deadline)) {
		for (i = 0; i < 256; i++) {
			if (b->pool) {
				unsigned long addr = gen_pool_alloc(b->pool, b->size);

				if (addr)
					gen_pool_free(b->pool, addr, b->size);
				else
					b->failed++;
			} else {
				void *addr = p2pdma_alloc(b->pdev, b->size);

				if (addr)
					p2pdma_free(b->pdev, addr, b->size);
				else
					b->failed++;
			}
		}
		b->pairs += i;
		cond_resched();
	}
	complete(&b->done);
	return 0;
}

/* Pairs per second over @cpus threads, with @pool or with p2pdma. */
static int p2pdma_test_bench_run(struct pci_dev *pdev, struct gen_pool *pool,
				 size_t size, unsigned int cpus,
				 unsigned int ms, u64 *rate)
{
	struct p2pdma_test_bench *b;
	u64 pairs = 0, failed = 0;
	unsigned int cpu;

	b = kcalloc(cpus, sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	for (cpu = 0; cpu < cpus; cpu++) {
		struct task_struct *t;

		b[cpu] = (struct p2pdma_test_bench) {
			.pdev = pdev, .pool = pool, .size = size,
			.deadline = jiffies + msecs_to_jiffies(ms),
		};
		init_completion(&b[cpu].done);
		t = kthread_create(p2pdma_test_bench_thread, &b[cpu],
				   "p2pdma_bench/%u", cpu);
		if (IS_ERR(t)) {
			complete(&b[cpu].done);
			continue;
		}
		kthread_bind(t, cpu);
		wake_up_process(t);
	}
	for (cpu = 0; cpu < cpus; cpu++) {
		wait_for_completion(&b[cpu].done);
		pairs += b[cpu].pairs;
		failed += b[cpu].failed;
	}
	kfree(b);
	*rate = div_u64(pairs * 1000, ms);
	return failed ? -ENOSPC : 0;
}

static int p2pdma_test_bench(struct pci_dev *pdev, char *args)
{
	unsigned int cpus, ms;
	struct gen_pool *pool;
	u64 ours, plain;
	size_t size;
	int err;

	if (sscanf(args, "%zu %u %u", &size, &cpus, &ms) != 3 || !size ||
	    !cpus || cpus > num_online_cpus() || !ms || ms > 60000) {
		pr_err("bench: give <bytes> <cpus (1-%u)> <ms (1-60000)>\n",
		       num_online_cpus());
		return -EINVAL;
	}
	/* Same size and granularity as a provider; genalloc never touches it. */
	pool = gen_pool_create(PAGE_SHIFT, -1);
	if (!pool)
		return -ENOMEM;
	err = gen_pool_add(pool, PAGE_OFFSET, SZ_64M, -1);
	if (!err)
		err = p2pdma_test_bench_run(pdev, NULL, size, cpus, ms, &ours);
	if (!err)
		err = p2pdma_test_bench_run(pdev, pool, size, cpus, ms, &plain);
	gen_pool_destroy(pool);
	if (err)
		return err;
	pr_info("bench %s bytes=%zu cpus=%u p2pdma=%llu gen_pool=%llu pairs/s\n",
		pci_name(pdev), size, cpus, ours, plain);
	return 0;
}

static unsigned int p2pdma_test_dma_bits = 64;
module_param_named(dma_bits, p2pdma_test_dma_bits, uint, 0644);
MODULE_PARM_DESC(dma_bits, "DMA mask (in bits, 24-64) of devices bound to p2pdma_test");

static int p2pdma_test_probe(struct pci_dev *pdev,
			     const struct pci_device_id *id)
{
	unsigned int bits = p2pdma_test_dma_bits;
	int err;

	if (bits < 24 || bits > 64) {
		pci_err(pdev, "dma_bits=%u: give 24 to 64\n", bits);
		return -EINVAL;
	}
	err = pcim_enable_device(pdev);
	if (!err)
		err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(bits));
	return err;
}

static struct pci_driver p2pdma_test_driver = {
	.name = KBUILD_MODNAME,
	.probe = p2pdma_test_probe,
};

static int p2pdma_test_register(struct pci_dev *pdev, char *args)
{
	unsigned long long size, offset;
	int bar, err;

	if (sscanf(args, "%d %llu %llu", &bar, &size, &offset) != 3) {
		pr_err("register: give <bar> <bytes> <offset>\n");
		return -EINVAL;
	}
	device_lock(&pdev->dev);
	if (pdev->dev.driver != &p2pdma_test_driver.driver) {
		pr_err("register: bind %s to %s first\n", pci_name(pdev),
		       KBUILD_MODNAME);
		err = -EINVAL;
	} else {
		err = p2pdma_add_resource(pdev, bar, size, offset);
		if (!err)
			p2pdma_publish(pdev, true);
	}
	device_unlock(&pdev->dev);
	return err;
}

#define P2PDMA_TEST_CLIENTS 8

/* find: @first and the clients in @rest, as p2pdma_find() sees them. */
static int p2pdma_test_find(char *first, char *rest)
{
	struct pci_dev *pdevs[P2PDMA_TEST_CLIENTS] = {};
	struct p2pdma_client clients[P2PDMA_TEST_CLIENTS];
	char *word = first, names[P2PDMA_TEST_CLIENTS * 20] = "";
	struct pci_dev *found;
	int i, nr = 0, err = 0;

	while (word) {
		bool virt = strstarts(word, "virt:");

		if (*word && nr == P2PDMA_TEST_CLIENTS) {
			err = -E2BIG;
			break;
		}
		if (*word) {
			pdevs[nr] = p2pdma_test_pdev(virt ? word + 5 : word);
			if (!pdevs[nr]) {
				pr_err("find: no PCI device %s\n", word);
				err = -ENODEV;
				break;
			}
			clients[nr].dev = &pdevs[nr]->dev;
			clients[nr].virt_dma = virt;
			strlcat(names, " ", sizeof(names));
			strlcat(names, word, sizeof(names));
			nr++;
		}
		word = strsep(&rest, " ");
	}
	if (!err) {
		found = p2pdma_find(clients, nr);
		pr_info("find%s: %s\n", names, found ? pci_name(found) : "none");
		pci_dev_put(found);
	}
	for (i = 0; i < nr; i++)
		pci_dev_put(pdevs[i]);
	return err;
}

static int p2pdma_test_command(char *cmd)
{
	struct p2pdma_test_buf *buf, *tmp;
	char *verb, *bdf, *arg;
	struct pci_dev *pdev;
	size_t size;
	int err = 0;

	verb = strsep(&cmd, " ");
	bdf = strsep(&cmd, " ");
	arg = cmd;
	if (!verb || !bdf)
		return -EINVAL;
	if (!strcmp(verb, "find"))
		return p2pdma_test_find(bdf, arg);
	pdev = p2pdma_test_pdev(bdf);
	if (!pdev) {
		pr_err("no PCI device %s: give domain:bus:device.function\n", bdf);
		return -ENODEV;
	}

	mutex_lock(&p2pdma_test_lock);
	if (!strcmp(verb, "alloc") && arg && !kstrtoul(arg, 0, &size)) {
		buf = kzalloc(sizeof(*buf), GFP_KERNEL);
		if (!buf) {
			err = -ENOMEM;
			goto out;
		}
		buf->addr = p2pdma_alloc(pdev, size);
		if (!buf->addr) {
			kfree(buf);
			err = -ENOMEM;
			goto out;
		}
		buf->pdev = pci_dev_get(pdev);
		buf->size = size;
		list_add_tail(&buf->node, &p2pdma_test_bufs);
	} else if (!strcmp(verb, "write") && arg) {
		err = -ENOENT;
		list_for_each_entry_reverse(buf, &p2pdma_test_bufs, node) {
			if (buf->pdev != pdev)
				continue;
			memcpy(buf->addr, arg, min(strlen(arg), buf->size));
			err = 0;
			break;
		}
	} else if (!strcmp(verb, "bench") && arg) {
		err = p2pdma_test_bench(pdev, arg);
	} else if (!strcmp(verb, "register") && arg) {
		err = p2pdma_test_register(pdev, arg);
	} else if (!strcmp(verb, "free") && !arg) {
		list_for_each_entry_safe(buf, tmp, &p2pdma_test_bufs, node)
			if (buf->pdev == pdev)
				p2pdma_test_free(buf);
	} else {
		pr_err("unknown command: give alloc <bdf> <bytes>, write <bdf> <text>, free <bdf>, bench <bdf> <bytes> <cpus> <ms>, register <bdf> <bar> <bytes> <offset> or find <bdf>...\n");
		err = -EINVAL;
	}
out:
	mutex_unlock(&p2pdma_test_lock);
	pci_dev_put(pdev);
	return err;
}

static ssize_t p2pdma_test_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	char *cmd;
	int err;

	if (len > 256)
		return -EINVAL;
	cmd = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	err = p2pdma_test_command(strim(cmd));
	kfree(cmd);
	return err ? err : len;
}

static int p2pdma_test_show(struct seq_file *m, void *v)
{
	struct p2pdma_test_buf *buf;
	char head[17];
	int i;

	mutex_lock(&p2pdma_test_lock);
	list_for_each_entry(buf, &p2pdma_test_bufs, node) {
		for (i = 0; i < 16 && i < buf->size; i++) {
			char c = ((char *)buf->addr)[i];

			head[i] = isprint(c) ? c : '.';
		}
		head[i] = '\0';
		seq_printf(m, "%s %zu %#llx %s\n", pci_name(buf->pdev), buf->size,
			   p2pdma_virt_to_bus(buf->pdev, buf->addr), head);
	}
	mutex_unlock(&p2pdma_test_lock);
	return 0;
}

static int p2pdma_test_open(struct inode *inode, struct file *file)
{
	return single_open(file, p2pdma_test_show, NULL);
}

static const struct file_operations p2pdma_test_fops = {
	.owner = THIS_MODULE,
	.open = p2pdma_test_open,
	.read = seq_read,
	.write = p2pdma_test_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int __init p2pdma_test_init(void)
{
	int err;

	err = pci_register_driver(&p2pdma_test_driver);
	if (err)
		return err;
	p2pdma_test_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("control", 0600, p2pdma_test_dir, NULL,
			    &p2pdma_test_fops);
	return 0;
}
module_init(p2pdma_test_init);

static void __exit p2pdma_test_exit(void)
{
	struct p2pdma_test_buf *buf, *tmp;

	debugfs_remove_recursive(p2pdma_test_dir);
	list_for_each_entry_safe(buf, tmp, &p2pdma_test_bufs, node)
		p2pdma_test_free(buf);
	pci_unregister_driver(&p2pdma_test_driver);
}
module_exit(p2pdma_test_exit);

MODULE_DESCRIPTION("Test client of p2pdma: holds peer-to-peer allocations on command");
MODULE_LICENSE("GPL");
