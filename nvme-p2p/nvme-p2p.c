// SPDX-License-Identifier: GPL-2.0
/*
 * nvme-p2p: our glue, linked into the kernel's own NVMe PCI driver
 * (nvme.ko) when it is rebuilt from the target kernel's source
 * (scripts/stage-nvme). The patch series in patches/<series>/ keeps its
 * hooks in pci.c small and calls in here.
 *
 * The driver that owns a controller owns its CMB, as upstream's does: at
 * the controller's first enable the CMB is located, switched on (a
 * 1.4-style one through CMBMSC, base address first) and registered with
 * p2pdma; every later enable (reset, resume, error recovery) switches it
 * on again before any queue exists, so nothing of the driver's ever turns
 * it off under memory that is handed out. Removing the controller, or
 * resetting its PCI function (which turns the CMB off and resets its
 * registers), first takes the CMB back and waits for all of its memory
 * while the controller still decodes the CMB; the enable after a function
 * reset registers it again.
 *
 * Debian's DMA layer cannot tell our pages from RAM, so each request is
 * judged here instead: data in p2p memory this controller may not reach
 * fails the request with BLK_STS_TARGET (EREMOTEIO), as upstream's DMA
 * mapping does.
 */

#define dev_fmt(fmt) "p2p: " fmt

#include <linux/blk-integrity.h>
#include <linux/blk-mq.h>
#include <linux/io-64-nonatomic-hi-lo.h>
#include <linux/memremap.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/nvme.h>
#include <linux/pci.h>
#include <p2pdma/p2pdma.h>

#include "nvme-p2p.h"
#include "nvme-p2p-kunit.h"

static bool nvme_p2p_cmb_param = true;
module_param_named(cmb, nvme_p2p_cmb_param, bool, 0444);
MODULE_PARM_DESC(cmb, "Register the controller memory buffer as peer-to-peer memory with p2pdma (default: Y)");

/* Not in linux/nvme.h of 6.1 or 6.12. */
#define NVME_P2P_REG_CMBSTS	0x58
#define NVME_P2P_CMBSTS_CBAI	BIT(0)
/* CMBSZ.SZU: 4 KiB, 64 KiB, 1 MiB, 16 MiB, 256 MiB, 4 GiB, 64 GiB. */
#define NVME_P2P_SZU_MAX	6

/*
 * Where the CMB that CMBSZ and CMBLOC describe lies in a BAR of @bar_len
 * bytes at CPU address @bar_start (@bar_len 0: not a memory BAR), and
 * the part of it that starts and ends on @align. 0, -EOPNOTSUPP if it
 * cannot hold data both ways, or -EINVAL with nothing usable.
 */
VISIBLE_IF_KUNIT int nvme_p2p_cmb_locate(u32 cmbsz, u32 cmbloc, u64 bar_start,
					 u64 bar_len, u64 align,
					 struct nvme_p2p_cmb_loc *loc)
{
	u32 szu = (cmbsz >> NVME_CMBSZ_SZU_SHIFT) & NVME_CMBSZ_SZU_MASK;
	u32 sz = (cmbsz >> NVME_CMBSZ_SZ_SHIFT) & NVME_CMBSZ_SZ_MASK;
	u64 unit, size, start, end;

	if ((cmbsz & (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS)) !=
	    (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS))
		return -EOPNOTSUPP;
	/* BIR 1, 6 and 7 are reserved. */
	loc->bar = NVME_CMB_BIR(cmbloc);
	if (!sz || szu > NVME_P2P_SZU_MAX || loc->bar == 1 ||
	    loc->bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	/* 64 bits throughout: a 4 GiB unit times a 20-bit count. */
	unit = 1ULL << (12 + 4 * szu);
	loc->base = unit * NVME_CMB_OFST(cmbloc);
	if (loc->base >= bar_len)
		return -EINVAL;
	/* A CMB may claim more than its BAR holds (behind a bridge). */
	size = min(unit * sz, bar_len - loc->base);
	start = round_up(bar_start + loc->base, align);
	end = round_down(bar_start + loc->base + size, align);
	if (end <= start)
		return -EINVAL;
	loc->offset = start - bar_start;
	loc->size = end - start;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nvme_p2p_cmb_locate);

/*
 * Switch a 1.4-style CMB on. The base goes in first: controllers take it
 * when the low dword, which holds CMSE, is written.
 */
static bool nvme_p2p_cmb_on(struct pci_dev *pdev, void __iomem *regs,
			    u64 cmbmsc)
{
	hi_lo_writeq(cmbmsc, regs + NVME_REG_CMBMSC);
	if (!(readl(regs + NVME_P2P_REG_CMBSTS) & NVME_P2P_CMBSTS_CBAI))
		return true;
	pci_err(pdev, "the controller refuses CMB base address %#llx (CMBSTS.CBAI): CMB not used\n",
		cmbmsc & PAGE_MASK);
	hi_lo_writeq(0, regs + NVME_REG_CMBMSC);
	return false;
}

/**
 * nvme_p2p_map_cmb() - register a controller's CMB, or switch it on again
 * @cmb: the controller's CMB state
 * @pdev: the controller
 * @regs: its registers
 * @cap: its CAP register
 * @cmbsz: set to CMBSZ at the first enable (for the driver's sysfs files)
 * @cmbloc: set to CMBLOC at the first enable
 *
 * Called at every enable of the controller (probe, reset, resume, error
 * recovery) before any of its queues is set up. Context: process.
 *
 * Return: true if @cmbsz and @cmbloc were read (the driver's CMB files
 * show them).
 */
bool nvme_p2p_map_cmb(struct nvme_p2p_cmb *cmb, struct pci_dev *pdev,
		      void __iomem *regs, u64 cap, u32 *cmbsz, u32 *cmbloc)
{
	int state = atomic_read_acquire(&cmb->state);
	struct nvme_p2p_cmb_loc loc;
	u64 bar_start = 0, bar_len = 0, cmbmsc = 0;
	int bar, err;

	if (state != NVME_P2P_CMB_NONE) {
		/*
		 * A reset may have turned it off: on again before any I/O,
		 * also while it is being taken back, for the I/O that holds
		 * its memory. Withdrawn while the controller refuses it.
		 */
		if (cmb->cmbmsc) {
			bool on = nvme_p2p_cmb_on(pdev, regs, cmb->cmbmsc);

			if (state == NVME_P2P_CMB_REGISTERED)
				p2pdma_publish(pdev, on);
		}
		return false;
	}
	if (!nvme_p2p_cmb_param)
		return false;
	/* A 1.4-style CMB shows its size and place only with CRE set. */
	if (NVME_CAP_CMBS(cap))
		writel(NVME_CMBMSC_CRE, regs + NVME_REG_CMBMSC);
	*cmbsz = readl(regs + NVME_REG_CMBSZ);
	if (!*cmbsz)
		return false;
	*cmbloc = readl(regs + NVME_REG_CMBLOC);

	bar = NVME_CMB_BIR(*cmbloc);
	if (bar < PCI_STD_NUM_BARS &&
	    (pci_resource_flags(pdev, bar) & IORESOURCE_MEM)) {
		bar_start = pci_resource_start(pdev, bar);
		bar_len = pci_resource_len(pdev, bar);
	}
	err = nvme_p2p_cmb_locate(*cmbsz, *cmbloc, bar_start, bar_len,
				  memremap_compat_align(), &loc);
	if (err) {
		pci_info(pdev, "CMB not used: %s (CMBSZ %#x, CMBLOC %#x)\n",
			 err == -EOPNOTSUPP ? "it does not take both reads and writes" :
			 "no part of it in a memory BAR is aligned for p2p memory",
			 *cmbsz, *cmbloc);
		goto off;
	}
	if (NVME_CAP_CMBS(cap)) {
		cmbmsc = NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE |
			 (pci_bus_address(pdev, loc.bar) + loc.base);
		if (!nvme_p2p_cmb_on(pdev, regs, cmbmsc))
			return true;
	}
	err = p2pdma_add_resource(pdev, loc.bar, loc.size, loc.offset);
	if (err) {
		pci_warn(pdev, "CMB not registered as p2p memory (%d): the controller runs without it\n",
			 err);
		goto off;
	}
	cmb->cmbmsc = cmbmsc;
	atomic_set_release(&cmb->state, NVME_P2P_CMB_REGISTERED);
	p2pdma_publish(pdev, true);
	return true;

off:
	if (NVME_CAP_CMBS(cap))
		hi_lo_writeq(0, regs + NVME_REG_CMBMSC);
	return true;
}

/**
 * nvme_p2p_unmap_cmb() - take a controller's CMB back
 * @cmb: the controller's CMB state
 * @pdev: the controller
 * @regs: its registers, still mapped
 *
 * Called as the controller is removed (once its namespaces are gone, and
 * before it is disabled), before its PCI function is reset (while it is
 * still live, so that a command that hangs is still timed out), and when
 * a reset leaves it dead: withdraws the CMB, waits until every allocation
 * from it has been freed, then switches it off. The next enable registers
 * it again. Context: process, sleeps.
 */
void nvme_p2p_unmap_cmb(struct nvme_p2p_cmb *cmb, struct pci_dev *pdev,
			void __iomem *regs)
{
	if (atomic_cmpxchg(&cmb->state, NVME_P2P_CMB_REGISTERED,
			   NVME_P2P_CMB_WITHDRAWING) != NVME_P2P_CMB_REGISTERED)
		return;
	p2pdma_remove_resources(pdev);
	if (cmb->cmbmsc)
		hi_lo_writeq(0, regs + NVME_REG_CMBMSC);
	cmb->cmbmsc = 0;
	atomic_set_release(&cmb->state, NVME_P2P_CMB_NONE);
}

/* Whether @pdev may DMA to or from @page; a page not of p2pdma is fine. */
static bool nvme_p2p_reaches(struct pci_dev *pdev, struct page *page,
			     struct pci_dev **provider)
{
	struct p2pdma_client client = { .dev = &pdev->dev };
	struct p2pdma_verdict verdict;

	*provider = p2pdma_page_provider(page);
	return !*provider || p2pdma_judge(*provider, &client, &verdict) >= 0;
}

/**
 * nvme_p2p_check_rq() - judge the p2p memory a request's data is in
 * @pdev: the controller
 * @req: the request, before its data is mapped
 *
 * Context: the driver's queue_rq; does not sleep.
 *
 * Return: BLK_STS_OK, or BLK_STS_TARGET (EREMOTEIO to the submitter) if
 * a page of its data or metadata is p2p memory @pdev may not reach.
 */
blk_status_t nvme_p2p_check_rq(struct pci_dev *pdev, struct request *req)
{
	struct pci_dev *provider;
	struct bvec_iter iter;
	struct bio_vec bv;
	struct bio *bio;

	/* Discards and write zeroes carry no pages (bi_io_vec is NULL). */
	__rq_for_each_bio(bio, req) {
		if (!bio_has_data(bio))
			continue;
		bio_for_each_bvec(bv, bio, iter)
			if (!nvme_p2p_reaches(pdev, bv.bv_page, &provider))
				goto refused;
	}
#ifdef CONFIG_BLK_DEV_INTEGRITY
	if (blk_integrity_rq(req)) {
		struct bio_integrity_payload *bip;
		int i;

		__rq_for_each_bio(bio, req) {
			bip = bio_integrity(bio);
			for (i = 0; bip && i < bip->bip_vcnt; i++)
				if (!nvme_p2p_reaches(pdev, bip->bip_vec[i].bv_page,
						      &provider))
					goto refused;
		}
	}
#endif
	return BLK_STS_OK;

refused:
	pci_info_ratelimited(pdev, "I/O refused: its data is in p2p memory of %s, which this controller may not reach (p2pdma-explain %s %s tells why)\n",
			     pci_name(provider), pci_name(provider), pci_name(pdev));
	return BLK_STS_TARGET;
}
