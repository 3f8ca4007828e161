// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/p2pdma/: the operator's view of the topology verdicts.
 *
 * explain: write a list of PCI devices ("0000:03:00.0", or
 *	"virt:0000:06:00.0" for a software RDMA client over that device),
 *	then read, on the same open file, every verdict between the
 *	providers among them and each of them, the providers each of them
 *	can use, and the closest providers for all of them together.
 *	p2pdma-explain resolves names (nvme0, eth0, rxe0) to these.
 * host_bridge_allowlist: read the allowlist; test rigs write
 *	"<vendor>:<device>" to add a host bridge, "clear" to drop the added.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_buf.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"

#define P2PDMA_EXPLAIN_DEVICES 16
#define P2PDMA_EXPLAIN_BYTES (16 * 1024)

static struct dentry *p2pdma_debugfs;
/* One explain file's report: written, read and freed under it. */
static DEFINE_MUTEX(p2pdma_explain_lock);

struct p2pdma_explain_dev {
	struct pci_dev *pdev;
	struct p2pdma_client client;
};

static const char *p2pdma_virt_prefix(const struct p2pdma_client *c)
{
	return c->virt_dma ? "virt:" : "";
}

/* One line per pairing of a provider among @devs with each of @devs. */
static void p2pdma_explain_pairs(struct seq_buf *s,
				 struct p2pdma_explain_dev *devs, int nr)
{
	char line[384];
	int i, j;

	for (i = 0; i < nr; i++) {
		if (devs[i].client.virt_dma || !p2pdma_is_provider(devs[i].pdev))
			continue;
		for (j = 0; j < nr; j++) {
			p2pdma_explain(devs[i].pdev, &devs[j].client, line,
				       sizeof(line));
			seq_buf_printf(s, "%s -> %s%s: %s\n",
				       pci_name(devs[i].pdev),
				       p2pdma_virt_prefix(&devs[j].client),
				       pci_name(devs[j].pdev), line);
		}
	}
}

/* Published providers with free memory that @clients can all use. */
static void p2pdma_explain_usable(struct seq_buf *s,
				  const struct p2pdma_client *clients, int nr)
{
	unsigned long index = 0;
	struct pci_dev *pdev;
	bool any = false;
	int dist;

	while ((pdev = p2pdma_next_candidate(&index))) {
		dist = p2pdma_distance(pdev, clients, nr);
		if (dist >= 0) {
			seq_buf_printf(s, " %s (distance %d)", pci_name(pdev),
				       dist);
			any = true;
		}
		pci_dev_put(pdev);
	}
	seq_buf_printf(s, "%s", any ? "\n" : " none\n");
}

static void p2pdma_explain_all(struct seq_buf *s,
			       struct p2pdma_explain_dev *devs, int nr)
{
	struct p2pdma_client clients[P2PDMA_EXPLAIN_DEVICES];
	int i;

	/* Re-read everything: an explanation is never a stale verdict. */
	p2pdma_topology_changed();
	p2pdma_explain_pairs(s, devs, nr);
	for (i = 0; i < nr; i++) {
		seq_buf_printf(s, "%s%s can use:",
			       p2pdma_virt_prefix(&devs[i].client),
			       pci_name(devs[i].pdev));
		p2pdma_explain_usable(s, &devs[i].client, 1);
		clients[i] = devs[i].client;
	}
	if (nr > 1) {
		seq_buf_printf(s, "all of them can use:");
		p2pdma_explain_usable(s, clients, nr);
	}
}

static int p2pdma_explain_parse(char *cmd, struct p2pdma_explain_dev *devs)
{
	unsigned int domain, bus, slot, fn;
	char *word, end;
	int nr = 0;
	bool virt;

	while ((word = strsep(&cmd, " \t\n"))) {
		if (!*word)
			continue;
		virt = strstarts(word, "virt:");
		if (virt)
			word += strlen("virt:");
		if (nr == P2PDMA_EXPLAIN_DEVICES) {
			pr_err("explain: at most %d devices at once\n",
			       P2PDMA_EXPLAIN_DEVICES);
			return -E2BIG;
		}
		if (sscanf(word, "%x:%x:%x.%x%c", &domain, &bus, &slot, &fn,
			   &end) != 4 || bus > 0xff || slot > 0x1f || fn > 7) {
			pr_err("explain: %s: give PCI devices as domain:bus:device.function, virt: before a software RDMA client's\n",
			       word);
			return -EINVAL;
		}
		devs[nr].pdev = pci_get_domain_bus_and_slot(domain, bus,
							    PCI_DEVFN(slot, fn));
		if (!devs[nr].pdev) {
			pr_err("explain: no PCI device %s\n", word);
			return -ENODEV;
		}
		devs[nr].client.dev = &devs[nr].pdev->dev;
		devs[nr].client.virt_dma = virt;
		nr++;
	}
	if (!nr) {
		pr_err("explain: give one or more PCI devices\n");
		return -EINVAL;
	}
	return nr;
}

static ssize_t p2pdma_explain_write(struct file *file, const char __user *ubuf,
				    size_t len, loff_t *ppos)
{
	struct p2pdma_explain_dev devs[P2PDMA_EXPLAIN_DEVICES] = {};
	struct seq_buf *s;
	char *cmd;
	int i, nr;

	if (len > 1024)
		return -EINVAL;
	cmd = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	nr = p2pdma_explain_parse(cmd, devs);
	kfree(cmd);
	if (nr > 0) {
		s = kzalloc(sizeof(*s) + P2PDMA_EXPLAIN_BYTES, GFP_KERNEL);
		if (s) {
			seq_buf_init(s, (char *)(s + 1), P2PDMA_EXPLAIN_BYTES);
			p2pdma_explain_all(s, devs, nr);
			/* Two writers or a reader on one open file: one at a time. */
			mutex_lock(&p2pdma_explain_lock);
			kfree(file->private_data);
			file->private_data = s;
			/* The next read starts at the new report. */
			*ppos = 0;
			mutex_unlock(&p2pdma_explain_lock);
		} else {
			nr = -ENOMEM;
		}
	}
	for (i = 0; i < P2PDMA_EXPLAIN_DEVICES; i++)
		pci_dev_put(devs[i].pdev);
	return nr < 0 ? nr : len;
}

static ssize_t p2pdma_explain_read(struct file *file, char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct seq_buf *s;
	ssize_t ret = 0;

	mutex_lock(&p2pdma_explain_lock);
	s = file->private_data;
	if (s)
		ret = simple_read_from_buffer(ubuf, len, ppos, s->buffer,
					      seq_buf_used(s));
	mutex_unlock(&p2pdma_explain_lock);
	return ret;
}

static int p2pdma_explain_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct file_operations p2pdma_explain_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = p2pdma_explain_write,
	.read = p2pdma_explain_read,
	.release = p2pdma_explain_release,
	.llseek = default_llseek,
};

static int p2pdma_allowlist_open(struct inode *inode, struct file *file)
{
	return single_open(file, p2pdma_host_bridge_list, NULL);
}

static ssize_t p2pdma_allowlist_write(struct file *file,
				      const char __user *ubuf, size_t len,
				      loff_t *ppos)
{
	char *cmd;
	int err;

	if (len > 32)
		return -EINVAL;
	cmd = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	err = p2pdma_host_bridge_add(strim(cmd));
	kfree(cmd);
	return err ? err : len;
}

static const struct file_operations p2pdma_allowlist_fops = {
	.owner = THIS_MODULE,
	.open = p2pdma_allowlist_open,
	.read = seq_read,
	.write = p2pdma_allowlist_write,
	.llseek = seq_lseek,
	.release = single_release,
};

void p2pdma_debugfs_start(void)
{
	p2pdma_debugfs = debugfs_create_dir("p2pdma", NULL);
	debugfs_create_file("explain", 0600, p2pdma_debugfs, NULL,
			    &p2pdma_explain_fops);
	debugfs_create_file("host_bridge_allowlist", 0600, p2pdma_debugfs,
			    NULL, &p2pdma_allowlist_fops);
}

void p2pdma_debugfs_stop(void)
{
	debugfs_remove_recursive(p2pdma_debugfs);
}
