// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of nvme-p2p's CMB arithmetic: where CMBSZ and CMBLOC put a
 * CMB in its BAR, and what of it p2pdma can register. Built only for a
 * kernel with KUnit (the debug test kernel); needs no device.
 */

#include <kunit/test.h>
#include <linux/nvme.h>
#include <linux/sizes.h>

#include "nvme-p2p-kunit.h"

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

#define RW (NVME_CMBSZ_RDS | NVME_CMBSZ_WDS)
/* A BAR far larger than any CMB here, at an address aligned for all. */
#define BIG_BAR_START	BIT_ULL(42)
#define BIG_BAR_LEN	BIT_ULL(40)

static u32 cmbsz(u32 szu, u32 sz)
{
	return RW | szu << NVME_CMBSZ_SZU_SHIFT | sz << NVME_CMBSZ_SZ_SHIFT;
}

static u32 cmbloc(u32 bir, u32 ofst)
{
	return bir | ofst << 12;
}

/* Every defined size unit gives 4 KiB << 4 * SZU, in 64 bits. */
static void nvme_p2p_kunit_size_units(struct kunit *test)
{
	struct nvme_p2p_cmb_loc loc;
	u32 szu;

	for (szu = 0; szu <= 6; szu++) {
		u64 unit = SZ_4K * (1ULL << (4 * szu));

		KUNIT_ASSERT_EQ_MSG(test, 0,
				    nvme_p2p_cmb_locate(cmbsz(szu, 1), cmbloc(2, 0),
							BIG_BAR_START, BIG_BAR_LEN,
							SZ_4K, &loc),
				    "SZU %u", szu);
		KUNIT_EXPECT_EQ_MSG(test, loc.size, unit, "SZU %u", szu);
		KUNIT_EXPECT_EQ(test, loc.bar, 2);
		KUNIT_EXPECT_EQ(test, loc.base, 0ULL);
		KUNIT_EXPECT_EQ(test, loc.offset, 0ULL);
	}
	/* 7 to 15 are reserved. */
	for (szu = 7; szu <= 15; szu++)
		KUNIT_EXPECT_EQ_MSG(test, -EINVAL,
				    nvme_p2p_cmb_locate(cmbsz(szu, 1), cmbloc(2, 0),
							BIG_BAR_START, BIG_BAR_LEN,
							SZ_4K, &loc),
				    "SZU %u", szu);
}

/* 4 GiB and 64 GiB units, and their multiples and offsets, never wrap. */
static void nvme_p2p_kunit_large_units(struct kunit *test)
{
	struct nvme_p2p_cmb_loc loc;

	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(5, 3), cmbloc(4, 1),
						     BIG_BAR_START, BIG_BAR_LEN,
						     SZ_2M, &loc));
	KUNIT_EXPECT_EQ(test, loc.size, 3 * SZ_4G);
	KUNIT_EXPECT_EQ(test, loc.base, SZ_4G);
	KUNIT_EXPECT_EQ(test, loc.offset, SZ_4G);
	KUNIT_EXPECT_EQ(test, loc.bar, 4);

	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(6, 2), cmbloc(5, 3),
						     BIG_BAR_START, BIG_BAR_LEN,
						     SZ_2M, &loc));
	KUNIT_EXPECT_EQ(test, loc.size, 2 * (SZ_4G << 4));
	KUNIT_EXPECT_EQ(test, loc.base, 3 * (SZ_4G << 4));

	/* The largest count of the largest unit, cut to the BAR. */
	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(6, 0xfffff), cmbloc(2, 0),
						     BIG_BAR_START, BIG_BAR_LEN,
						     SZ_2M, &loc));
	KUNIT_EXPECT_EQ(test, loc.size, BIG_BAR_LEN);

	/* The largest offset of the largest unit lies past any BAR. */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(6, 1), cmbloc(2, 0xfffff),
					    BIG_BAR_START, BIG_BAR_LEN, SZ_2M, &loc));
}

/* CMBLOC offsets at the end of a 64 MiB BAR. */
static void nvme_p2p_kunit_offset_near_end(struct kunit *test)
{
	const u64 start = SZ_4G, len = SZ_64M;
	const u32 last = len / SZ_4K - 1;
	struct nvme_p2p_cmb_loc loc;

	/* The last 4 KiB page: cut to it, and usable at 4 KiB alignment. */
	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(0, 16), cmbloc(2, last),
						     start, len, SZ_4K, &loc));
	KUNIT_EXPECT_EQ(test, loc.base, len - SZ_4K);
	KUNIT_EXPECT_EQ(test, loc.offset, len - SZ_4K);
	KUNIT_EXPECT_EQ(test, loc.size, (u64)SZ_4K);

	/* ... but nothing of it is aligned to 2 MiB. */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(0, 16), cmbloc(2, last),
					    start, len, SZ_2M, &loc));

	/* The last 2 MiB, claiming 64 MiB: cut to the BAR's end. */
	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(2, 64), cmbloc(2, 62),
						     start, len, SZ_2M, &loc));
	KUNIT_EXPECT_EQ(test, loc.base, len - SZ_2M);
	KUNIT_EXPECT_EQ(test, loc.size, (u64)SZ_2M);

	/* At the end, or past it: nothing. */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(0, 1), cmbloc(2, last + 1),
					    start, len, SZ_4K, &loc));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(0, 1), cmbloc(2, last + 2),
					    start, len, SZ_4K, &loc));
	/* No memory BAR (length 0). */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(0, 1), cmbloc(2, 0), 0, 0,
					    SZ_4K, &loc));
}

/*
 * The registered range is the CMB rounded inwards to the alignment of
 * CPU addresses, while the base (CMBMSC's) stays where the CMB starts.
 */
static void nvme_p2p_kunit_alignment(struct kunit *test)
{
	struct nvme_p2p_cmb_loc loc;

	/* 8 MiB at 1 MiB into an aligned BAR: 2 MiB to 8 MiB. */
	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(2, 8), cmbloc(2, 1),
						     SZ_4G, SZ_64M, SZ_2M, &loc));
	KUNIT_EXPECT_EQ(test, loc.base, (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, loc.offset, (u64)SZ_2M);
	KUNIT_EXPECT_EQ(test, loc.size, (u64)SZ_2M * 3);

	/* A BAR at 1 MiB past a 2 MiB boundary: the offset makes up for it. */
	KUNIT_ASSERT_EQ(test, 0, nvme_p2p_cmb_locate(cmbsz(2, 8), cmbloc(2, 0),
						     SZ_4G + SZ_1M, SZ_64M, SZ_2M,
						     &loc));
	KUNIT_EXPECT_EQ(test, loc.base, 0ULL);
	KUNIT_EXPECT_EQ(test, loc.offset, (u64)SZ_1M);
	KUNIT_EXPECT_EQ(test, loc.size, (u64)SZ_2M * 3);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(SZ_4G + SZ_1M + loc.offset, SZ_2M));

	/* Smaller than the alignment once rounded: nothing. */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(2, 2), cmbloc(2, 1),
					    SZ_4G, SZ_64M, SZ_2M, &loc));
}

/* What p2pdma cannot use, and registers that are no CMB. */
static void nvme_p2p_kunit_refusals(struct kunit *test)
{
	struct nvme_p2p_cmb_loc loc;
	u32 bir;

	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			nvme_p2p_cmb_locate(cmbsz(2, 1) & ~NVME_CMBSZ_WDS, cmbloc(2, 0),
					    SZ_4G, SZ_64M, SZ_4K, &loc));
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			nvme_p2p_cmb_locate(cmbsz(2, 1) & ~NVME_CMBSZ_RDS, cmbloc(2, 0),
					    SZ_4G, SZ_64M, SZ_4K, &loc));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			nvme_p2p_cmb_locate(cmbsz(2, 0), cmbloc(2, 0),
					    SZ_4G, SZ_64M, SZ_4K, &loc));
	for (bir = 0; bir < 8; bir++) {
		bool defined = bir == 0 || (bir >= 2 && bir <= 5);

		KUNIT_EXPECT_EQ_MSG(test, defined ? 0 : -EINVAL,
				    nvme_p2p_cmb_locate(cmbsz(2, 1), cmbloc(bir, 0),
							SZ_4G, SZ_64M, SZ_4K, &loc),
				    "BIR %u", bir);
	}
}

static struct kunit_case nvme_p2p_kunit_cases[] = {
	KUNIT_CASE(nvme_p2p_kunit_size_units),
	KUNIT_CASE(nvme_p2p_kunit_large_units),
	KUNIT_CASE(nvme_p2p_kunit_offset_near_end),
	KUNIT_CASE(nvme_p2p_kunit_alignment),
	KUNIT_CASE(nvme_p2p_kunit_refusals),
	{}
};

static struct kunit_suite nvme_p2p_kunit_suite = {
	.name = "nvme_p2p_cmb",
	.test_cases = nvme_p2p_kunit_cases,
};

kunit_test_suite(nvme_p2p_kunit_suite);

MODULE_DESCRIPTION("KUnit tests of nvme-p2p's CMB arithmetic");
MODULE_LICENSE("GPL");
