// SPDX-License-Identifier: GPL-2.0
/*
 * The NVMe CMB provider: the Controller Memory Buffer of controllers run by
 * the kernel's own nvme driver. On kernels without CONFIG_PCI_P2PDMA that
 * driver enables the CMB, fails to register it, and turns it off again, at
 * probe and after every controller reset. So we register the CMB ourselves
 * on the nvme device and tear it down (p2pdma_remove_resources()) when nvme
 * unbinds or we unload, and a watchdog turns a 1.4-style CMB back on
 * (CMBMSC) after each reset. Legacy CMBs are always on.
 */

#include <linux/delay.h>
#include <linux/device.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/nvme.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"

static bool cmb = true;
module_param(cmb, bool, 0444);
MODULE_PARM_DESC(cmb, "Register the CMBs of NVMe controllers driven by the nvme driver (default: Y)");

/* How often a 1.4-style CMB is checked for a reset that turned it off. */
#define P2PDMA_CMB_WATCH_MS 100
/* Tries, 20 ms apart, to enable a 1.4-style CMB while the driver resets. */
#define P2PDMA_CMB_ENABLE_TRIES 25

/**
 * struct p2pdma_cmb - a CMB we registered
 * @node: entry in p2pdma_cmbs
 * @pdev: the NVMe controller
 * @regs: our own mapping of its registers
 * @cmbmsc: what CMBMSC must hold (enable bits and bus address); 0 for a
 *	legacy CMB, which needs no enabling
 * @watch: turns the CMB back on after a controller reset
 */
struct p2pdma_cmb {
	struct list_head node;
	struct pci_dev *pdev;
	void __iomem *regs;
	u64 cmbmsc;
	struct delayed_work watch;
};

static LIST_HEAD(p2pdma_cmbs);
static DEFINE_MUTEX(p2pdma_cmb_lock); /* protects p2pdma_cmbs */

static bool p2pdma_cmb_is_nvme(struct pci_dev *pdev)
{
	return pdev->dev.driver && !strcmp(pdev->dev.driver->name, "nvme");
}

static void p2pdma_cmb_watch(struct work_struct *work)
{
	struct p2pdma_cmb *c = container_of(to_delayed_work(work),
					    struct p2pdma_cmb, watch);

	if (!(lo_hi_readq(c->regs + NVME_REG_CMBMSC) & NVME_CMBMSC_CMSE)) {
		lo_hi_writeq(c->cmbmsc, c->regs + NVME_REG_CMBMSC);
		pci_info(c->pdev, "p2pdma: CMB enabled again after a controller reset\n");
	}
	schedule_delayed_work(&c->watch, msecs_to_jiffies(P2PDMA_CMB_WATCH_MS));
}

/* Size, BAR and offset of the CMB, or false if it is not one we can use. */
static bool p2pdma_cmb_locate(struct pci_dev *pdev, void __iomem *regs,
			      int *bar, u64 *offset, u64 *size)
{
	u32 cmbsz = readl(regs + NVME_REG_CMBSZ);
	u32 cmbloc = readl(regs + NVME_REG_CMBLOC);
	u64 unit, len;

	if (!cmbsz)
		return false;
	if ((cmbsz & (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS)) !=
	    (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS)) {
		pci_info(pdev, "p2pdma: CMB not used: it does not take both reads and writes (CMBSZ %#x)\n",
			 cmbsz);
		return false;
	}
	unit = SZ_4K << (4 * ((cmbsz >> NVME_CMBSZ_SZU_SHIFT) & NVME_CMBSZ_SZU_MASK));
	*size = unit * (cmbsz >> NVME_CMBSZ_SZ_SHIFT);
	*offset = unit * NVME_CMB_OFST(cmbloc);
	*bar = NVME_CMB_BIR(cmbloc);
	len = pci_resource_len(pdev, *bar);
	if (*offset >= len)
		return false;
	/* A CMB may claim more than its BAR holds (behind a bridge). */
	*size = min(*size, len - *offset);
	return true;
}

static void p2pdma_cmb_attach(struct pci_dev *pdev)
{
	struct p2pdma_cmb *c;
	u64 cap, offset, size;
	int bar, err, tries;

	list_for_each_entry(c, &p2pdma_cmbs, node)
		if (c->pdev == pdev)
			return;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return;
	c->pdev = pdev;
	INIT_DELAYED_WORK(&c->watch, p2pdma_cmb_watch);
	c->regs = pci_iomap(pdev, 0, NVME_REG_CMBMSC + sizeof(u64));
	if (!c->regs)
		goto free;

	/*
	 * A 1.4-style CMB shows its size only while CMBMSC.CRE is set, and
	 * the nvme driver's own (asynchronous) reset may clear it meanwhile:
	 * try again for up to P2PDMA_CMB_ENABLE_TRIES * 20 ms.
	 */
	cap = lo_hi_readq(c->regs + NVME_REG_CAP);
	for (tries = 0; tries < P2PDMA_CMB_ENABLE_TRIES; tries++) {
		if (NVME_CAP_CMBS(cap))
			writel(NVME_CMBMSC_CRE, c->regs + NVME_REG_CMBMSC);
		if (readl(c->regs + NVME_REG_CMBSZ) || !NVME_CAP_CMBS(cap))
			break;
		msleep(20);
	}
	if (NVME_CAP_CMBS(cap) && tries == P2PDMA_CMB_ENABLE_TRIES)
		pci_info(pdev, "p2pdma: CMB not used: it stayed off while the controller reset; rebind the nvme driver to try again\n");
	if (!p2pdma_cmb_locate(pdev, c->regs, &bar, &offset, &size))
		goto unmap;
	if (NVME_CAP_CMBS(cap)) {
		c->cmbmsc = NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE |
			    (pci_bus_address(pdev, bar) + offset);
		lo_hi_writeq(c->cmbmsc, c->regs + NVME_REG_CMBMSC);
	}

	err = p2pdma_add_resource(pdev, bar, size, offset);
	if (err) {
		p2pdma_remove_resources(pdev);
		goto disable;
	}
	p2pdma_publish(pdev, true);
	if (c->cmbmsc)
		schedule_delayed_work(&c->watch, msecs_to_jiffies(P2PDMA_CMB_WATCH_MS));
	list_add_tail(&c->node, &p2pdma_cmbs);
	return;

disable:
	if (NVME_CAP_CMBS(cap))
		lo_hi_writeq(0, c->regs + NVME_REG_CMBMSC);
unmap:
	pci_iounmap(pdev, c->regs);
free:
	kfree(c);
}

/* Waits until every allocation from the CMB has been freed. */
static void p2pdma_cmb_detach(struct p2pdma_cmb *c)
{
	cancel_delayed_work_sync(&c->watch);
	p2pdma_remove_resources(c->pdev);
	pci_iounmap(c->pdev, c->regs);
	list_del(&c->node);
	kfree(c);
}

static int p2pdma_cmb_notify(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct device *dev = data;
	struct pci_dev *pdev;
	struct p2pdma_cmb *c;

	if (!dev_is_pci(dev))
		return NOTIFY_DONE;
	pdev = to_pci_dev(dev);

	mutex_lock(&p2pdma_cmb_lock);
	if (action == BUS_NOTIFY_BOUND_DRIVER && p2pdma_cmb_is_nvme(pdev)) {
		p2pdma_cmb_attach(pdev);
	} else if (action == BUS_NOTIFY_UNBIND_DRIVER) {
		list_for_each_entry(c, &p2pdma_cmbs, node) {
			if (c->pdev == pdev) {
				p2pdma_cmb_detach(c);
				break;
			}
		}
	}
	mutex_unlock(&p2pdma_cmb_lock);
	return NOTIFY_DONE;
}

static struct notifier_block p2pdma_cmb_nb = {
	.notifier_call = p2pdma_cmb_notify,
};

int p2pdma_cmb_provider_start(void)
{
	struct pci_dev *pdev = NULL;
	int err;

	if (!cmb)
		return 0;
	err = bus_register_notifier(&pci_bus_type, &p2pdma_cmb_nb);
	if (err)
		return err;
	/* Controllers the nvme driver already runs. */
	for_each_pci_dev(pdev) {
		device_lock(&pdev->dev);
		mutex_lock(&p2pdma_cmb_lock);
		if (p2pdma_cmb_is_nvme(pdev))
			p2pdma_cmb_attach(pdev);
		mutex_unlock(&p2pdma_cmb_lock);
		device_unlock(&pdev->dev);
	}
	return 0;
}

void p2pdma_cmb_provider_stop(void)
{
	struct p2pdma_cmb *c, *tmp;
	struct pci_dev *pdev;

	if (!cmb)
		return;
	bus_unregister_notifier(&pci_bus_type, &p2pdma_cmb_nb);
	list_for_each_entry_safe(c, tmp, &p2pdma_cmbs, node) {
		/* The detach frees c: unlock through our own pointer. */
		pdev = c->pdev;
		device_lock(&pdev->dev);
		mutex_lock(&p2pdma_cmb_lock);
		p2pdma_cmb_detach(c);
		mutex_unlock(&p2pdma_cmb_lock);
		device_unlock(&pdev->dev);
	}
}
