// SPDX-License-Identifier: GPL-2.0
/*
 * The host bridges that route peer-to-peer traffic between their root
 * ports correctly, as far as anyone has reported. Used only with
 * allow_host_bridge=1. A host bridge is named by the device at 00.0 of its
 * root bus. Test rigs may add IDs through debugfs (host_bridge_allowlist),
 * because no emulated host bridge is on the list.
 */

#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <asm/processor.h>

#include "provider.h"

struct p2pdma_host_bridge_id {
	u16 vendor;
	u16 device;
};

static const struct p2pdma_host_bridge_id p2pdma_host_bridges[] = {
	{ PCI_VENDOR_ID_INTEL, 0x3c00 },	/* Xeon E5 (Sandy Bridge-EP) */
	{ PCI_VENDOR_ID_INTEL, 0x3c01 },
	{ PCI_VENDOR_ID_INTEL, 0x2f00 },	/* Xeon E5 v3 (Haswell-EP) */
	{ PCI_VENDOR_ID_INTEL, 0x2f01 },
	{ PCI_VENDOR_ID_INTEL, 0x2020 },	/* Xeon Scalable (Skylake-SP) */
	{ PCI_VENDOR_ID_INTEL, 0x2030 },
	{ PCI_VENDOR_ID_INTEL, 0x2031 },
	{ PCI_VENDOR_ID_INTEL, 0x2032 },
	{ PCI_VENDOR_ID_INTEL, 0x2033 },
	{ PCI_VENDOR_ID_INTEL, 0x09a2 },	/* Xeon Scalable 3rd gen (Ice Lake-SP) */
};

#define P2PDMA_EXTRA_BRIDGES 4

/* vendor << 16 | device, added for tests; 0 is a free slot. */
static u32 p2pdma_extra_bridges[P2PDMA_EXTRA_BRIDGES];
static DEFINE_MUTEX(p2pdma_extra_lock);

/* Every AMD host bridge since Zen routes it. */
static bool p2pdma_amd_zen(void)
{
#ifdef CONFIG_X86
	return boot_cpu_data.x86_vendor == X86_VENDOR_AMD &&
	       boot_cpu_data.x86 >= 0x17;
#else
	return false;
#endif
}

bool p2pdma_host_bridge_allowed(struct pci_dev *root)
{
	u32 id;
	int i;

	if (!root)
		return false;
	if (p2pdma_amd_zen())
		return true;
	for (i = 0; i < ARRAY_SIZE(p2pdma_host_bridges); i++)
		if (root->vendor == p2pdma_host_bridges[i].vendor &&
		    root->device == p2pdma_host_bridges[i].device)
			return true;
	id = root->vendor << 16 | root->device;
	for (i = 0; i < P2PDMA_EXTRA_BRIDGES; i++)
		if (READ_ONCE(p2pdma_extra_bridges[i]) == id)
			return true;
	return false;
}

int p2pdma_host_bridge_list(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(p2pdma_host_bridges); i++)
		seq_printf(m, "%04x:%04x\n", p2pdma_host_bridges[i].vendor,
			   p2pdma_host_bridges[i].device);
	if (IS_ENABLED(CONFIG_X86))
		seq_puts(m, "AMD family 17h and later\n");
	mutex_lock(&p2pdma_extra_lock);
	for (i = 0; i < P2PDMA_EXTRA_BRIDGES; i++)
		if (p2pdma_extra_bridges[i])
			seq_printf(m, "%04x:%04x added\n",
				   p2pdma_extra_bridges[i] >> 16,
				   p2pdma_extra_bridges[i] & 0xffff);
	mutex_unlock(&p2pdma_extra_lock);
	return 0;
}

int p2pdma_host_bridge_add(const char *cmd)
{
	unsigned int vendor, device;
	int i, err = -ENOSPC;
	char end;

	if (sysfs_streq(cmd, "clear")) {
		mutex_lock(&p2pdma_extra_lock);
		for (i = 0; i < P2PDMA_EXTRA_BRIDGES; i++)
			WRITE_ONCE(p2pdma_extra_bridges[i], 0);
		mutex_unlock(&p2pdma_extra_lock);
		p2pdma_topology_changed();
		return 0;
	}
	/* @cmd comes stripped: anything after the device ID is an error. */
	if (sscanf(cmd, "%4x:%4x%c", &vendor, &device, &end) != 2 ||
	    !vendor || vendor == 0xffff) {
		pr_err("p2pdma: host_bridge_allowlist: write <vendor>:<device> in hex (as lspci -n shows it) or \"clear\"\n");
		return -EINVAL;
	}
	mutex_lock(&p2pdma_extra_lock);
	for (i = 0; i < P2PDMA_EXTRA_BRIDGES; i++) {
		if (p2pdma_extra_bridges[i] == (vendor << 16 | device)) {
			err = 0;
			break;
		}
		if (!p2pdma_extra_bridges[i]) {
			WRITE_ONCE(p2pdma_extra_bridges[i], vendor << 16 | device);
			err = 0;
			break;
		}
	}
	mutex_unlock(&p2pdma_extra_lock);
	if (err)
		pr_err("p2pdma: host_bridge_allowlist: full (%d added); write \"clear\" first\n",
		       P2PDMA_EXTRA_BRIDGES);
	else
		p2pdma_topology_changed();
	return err;
}
