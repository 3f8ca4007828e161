/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/p2pmem<N>: one character device per p2pdma provider. mmap(MAP_SHARED)
 * at offset 0 maps that many freshly allocated bytes of the provider's
 * memory; the pages cannot be pinned, so plain O_DIRECT into them fails
 * with EFAULT. P2PMEM_IOC_RW moves data between such a mapping and a
 * block device after checking that the device may reach the memory.
 */
#ifndef _UAPI_P2PDMA_P2PMEM_H
#define _UAPI_P2PDMA_P2PMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* p2pmem_rw.flags: from p2p memory to the block device (else the other way) */
#define P2PMEM_RW_WRITE		(1U << 0)

/**
 * struct p2pmem_rw - one transfer between p2p memory and a block device
 * @fd: the block device, open for reading (and for writing with
 *	%P2PMEM_RW_WRITE)
 * @flags: %P2PMEM_RW_WRITE or 0
 * @offset: byte offset in the block device, a multiple of its logical
 *	block size
 * @addr: start of the p2p memory: an address inside one mapping of the
 *	character device the ioctl is issued on
 * @len: bytes, a multiple of the logical block size, inside that mapping
 *
 * It obeys what O_DIRECT on the block device obeys: the device's page
 * cache is written back before and dropped around a write, and the same
 * errnos refuse it. The ioctl returns the bytes moved: @len, fewer when
 * the range runs past the end of the device (0 for a read that starts
 * there), or -1 with errno: EREMOTEIO if the topology verdicts refuse the
 * drive for this provider (as upstream kernels do for O_DIRECT), EPERM to
 * write a read-only device, ETXTBSY to write one in use as swap, ENOSPC to
 * write at or past its end, EINVAL for misaligned arguments (@addr must
 * meet the queue's DMA alignment) or an @addr outside this device's
 * mappings, EFAULT if the mapping does not allow the access (reading the
 * device into memory needs PROT_WRITE, writing it from memory PROT_READ),
 * EBUSY if cached pages of the range cannot be dropped (where O_DIRECT
 * would fall back to a buffered write), EBADF/ENOTBLK for @fd, ENODEV
 * once the provider is gone, EIO for an I/O error.
 */
struct p2pmem_rw {
	__s32 fd;
	__u32 flags;
	__u64 offset;
	__u64 addr;
	__u64 len;
};

#define P2PMEM_IOC_MAGIC	0xB9
#define P2PMEM_IOC_RW		_IOW(P2PMEM_IOC_MAGIC, 1, struct p2pmem_rw)

#endif /* _UAPI_P2PDMA_P2PMEM_H */
