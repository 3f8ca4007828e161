/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nvme-p2p's internals that its KUnit suite (nvme-p2p-kunit.c) calls:
 * static without KUnit, exported to the suite's namespace with it.
 */
#ifndef _NVME_P2P_KUNIT_H
#define _NVME_P2P_KUNIT_H

#include <kunit/visibility.h>
#include <linux/types.h>

/**
 * struct nvme_p2p_cmb_loc - where a CMB lies, and what of it p2pdma takes
 * @bar: its BAR (CMBLOC.BIR)
 * @base: its offset in the BAR (CMBLOC.OFST, in CMBSZ.SZU units): CMBMSC
 *	gets the BAR's bus address plus @base
 * @offset: offset in the BAR of the range registered with p2pdma: @base
 *	rounded up to the alignment p2pdma registers at
 * @size: bytes of that range: the CMB cut to its BAR, then to the
 *	alignment
 */
struct nvme_p2p_cmb_loc {
	int bar;
	u64 base;
	u64 offset;
	u64 size;
};

#if IS_ENABLED(CONFIG_KUNIT)
int nvme_p2p_cmb_locate(u32 cmbsz, u32 cmbloc, u64 bar_start, u64 bar_len,
			u64 align, struct nvme_p2p_cmb_loc *loc);
#endif

#endif /* _NVME_P2P_KUNIT_H */
