// SPDX-License-Identifier: GPL-2.0
/*
 * The generic PCI BAR provider: a PCI driver with no ID table, bound by the
 * operator to any device through driver_override or new_id, that registers
 * one memory BAR of it as peer-to-peer memory and publishes it.
 */

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"

static int p2pdma_generic_bar = -1;

static int p2pdma_generic_bar_set(const char *val, const struct kernel_param *kp)
{
	int bar;

	if (kstrtoint(val, 0, &bar) || bar < -1 || bar >= PCI_STD_NUM_BARS) {
		pr_err("p2pdma: generic_bar=%s: give a BAR number from 0 to 5, or -1 for the device's largest memory BAR\n",
		       val);
		return -EINVAL;
	}
	*(int *)kp->arg = bar;
	return 0;
}

static const struct kernel_param_ops p2pdma_generic_bar_ops = {
	.set = p2pdma_generic_bar_set,
	.get = param_get_int,
};
module_param_cb(generic_bar, &p2pdma_generic_bar_ops, &p2pdma_generic_bar, 0444);
MODULE_PARM_DESC(generic_bar,
		 "BAR that the p2pdma_bar driver registers (0-5); -1 (default): the largest memory BAR");

static int p2pdma_largest_memory_bar(struct pci_dev *pdev)
{
	int bar, best = -1;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
			continue;
		if (best < 0 || pci_resource_len(pdev, bar) > pci_resource_len(pdev, best))
			best = bar;
	}
	return best;
}

static int p2pdma_bar_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int bar = p2pdma_generic_bar;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return err;
	if (bar < 0)
		bar = p2pdma_largest_memory_bar(pdev);
	if (bar < 0) {
		pci_err(pdev, "p2pdma: the device has no memory BAR to register\n");
		return -ENODEV;
	}
	err = p2pdma_add_resource(pdev, bar, 0, 0);
	if (err)
		return err;
	p2pdma_publish(pdev, true);
	return 0;
}

static struct pci_driver p2pdma_bar_driver = {
	.name = "p2pdma_bar",
	.probe = p2pdma_bar_probe,
};

int p2pdma_bar_driver_register(void)
{
	return pci_register_driver(&p2pdma_bar_driver);
}

void p2pdma_bar_driver_unregister(void)
{
	pci_unregister_driver(&p2pdma_bar_driver);
}
