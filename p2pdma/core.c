// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma: PCI peer-to-peer DMA memory for kernels built without
 * CONFIG_PCI_P2PDMA. This file holds the module's entry points; providers,
 * topology, mapping, sysfs and the char device each live in their own file.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/printk.h>

#include <p2pdma/p2pdma.h>
#include "provider.h"

static int __init p2pdma_init(void)
{
	int err;

	err = p2pdma_topology_start();
	if (err)
		return err;
	err = p2pdma_cdev_start();
	if (err)
		goto topology;
	err = p2pdma_bar_driver_register();
	if (err)
		goto cdev;
	p2pdma_debugfs_start();
	pr_info("version %s loaded\n", P2PDMA_VERSION);
	return 0;

cdev:
	p2pdma_cdev_stop();
topology:
	p2pdma_topology_stop();
	return err;
}
module_init(p2pdma_init);

static void __exit p2pdma_exit(void)
{
	p2pdma_debugfs_stop();
	p2pdma_bar_driver_unregister();
	p2pdma_cdev_stop();
	p2pdma_topology_stop();
	pr_info("unloaded\n");
}
module_exit(p2pdma_exit);

MODULE_DESCRIPTION("PCI peer-to-peer DMA memory for kernels without CONFIG_PCI_P2PDMA");
MODULE_AUTHOR("p2pdma-dkms developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(P2PDMA_VERSION);
