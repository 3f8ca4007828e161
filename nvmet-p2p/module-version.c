// SPDX-License-Identifier: GPL-2.0
/*
 * Linked into every module of the rebuilt nvmet family (scripts/stage-nvme).
 *
 * The version tells our modules apart from the in-tree ones, which have
 * none: modinfo shows it and a srcversion, and DKMS's version check accepts
 * ours as newer, so "dkms install" and "dkms autoinstall" replace the whole
 * family and never leave an in-tree transport beside our nvmet.
 */

#include <linux/module.h>

MODULE_VERSION(P2PDMA_VERSION);
