// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/p2pmem<N>: a character device per provider (its parent is the PCI
 * device), root only by default. mmap(MAP_SHARED) at offset 0 maps that
 * many freshly allocated bytes, as upstream's allocate file does, but as
 * a PFN mapping: the pages cannot be pinned, so nothing can point an
 * unchecked device at them (plain O_DIRECT fails with EFAULT). Data moves
 * between a mapping and a block device through P2PMEM_IOC_RW, which first
 * asks the topology verdicts whether the drive may reach this memory
 * (EREMOTEIO if not, as upstream's DMA layer answers).
 *
 * Removal revokes: new opens and mmaps fail, transfers in flight finish,
 * every mapping is zapped (later accesses get SIGBUS) and the memory goes
 * back before teardown waits for it.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/cdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/genalloc.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pci.h>
#include <linux/percpu-refcount.h>
#include <linux/rwsem.h>
#include <linux/slab.h>

#include <p2pdma/p2pdma.h>
#include <p2pdma/p2pmem.h>
#include "p2pdma-kunit.h"
#include "provider.h"

#define P2PMEM_MINORS 256

/**
 * struct p2pmem_dev - a provider's character device
 * @dev: the class device, p2pmem<N>; its last reference frees this
 * @cdev: the character device
 * @provider: the provider; valid until @revoked is set
 * @lock: protects @maps, @files and @revoked
 * @maps: live &struct p2pmem_map of this device
 * @files: &struct p2pmem_file of its open files
 * @revoked: the provider is going: nothing new starts
 */
struct p2pmem_dev {
	struct device dev;
	struct cdev cdev;
	struct p2pdma_provider *provider;
	struct mutex lock; /* maps, files, revoked */
	struct list_head maps;
	struct list_head files;
	bool revoked;
};

struct p2pmem_file {
	struct p2pmem_dev *pd;
	struct file *filp;
	struct list_head node;
};

/**
 * struct p2pmem_map - the memory behind one mmap() and its VMAs
 * @kref: one per VMA (fork and splits add some), one per transfer
 * @pd: the device
 * @node: entry in @pd->maps
 * @io: held for reading while a transfer or a fault uses the memory, for
 *	writing to take it away
 * @dead: the memory is being or has been given back
 * @kaddr: kernel address of the memory, which holds a range reference
 * @len: its size
 */
struct p2pmem_map {
	struct kref kref;
	struct p2pmem_dev *pd;
	struct list_head node;
	struct rw_semaphore io;
	bool dead;
	unsigned long kaddr;
	size_t len;
};

static dev_t p2pmem_devt;
/* The KUnit suite takes all minors to see a provider's creation unwind. */
VISIBLE_IF_KUNIT struct ida p2pmem_ida = IDA_INIT(p2pmem_ida);
EXPORT_SYMBOL_IF_KUNIT(p2pmem_ida);

/*
 * Not "p2pmem": a class device gets a directory named after its class in
 * its parent's, where the provider's p2pmem/ group already is.
 */
static struct class p2pmem_class = {
	.name = "p2pdma",
};

/* Back to the pool; the map's memory must no longer be mapped anywhere. */
static void p2pmem_map_give_back(struct p2pmem_map *map)
{
	struct p2pdma_provider *p = map->pd->provider;

	p2pdma_account_mapped(p, -(s64)map->len);
	p2pdma_pool_give(p, map->kaddr, map->len);
	map->kaddr = 0;
}

static void p2pmem_map_release(struct kref *kref)
{
	struct p2pmem_map *map = container_of(kref, struct p2pmem_map, kref);
	struct p2pmem_dev *pd = map->pd;

	mutex_lock(&pd->lock);
	list_del(&map->node);
	/* Unless revocation gave it back already. */
	if (map->kaddr)
		p2pmem_map_give_back(map);
	mutex_unlock(&pd->lock);
	put_device(&pd->dev);
	kfree(map);
}

static void p2pmem_vm_open(struct vm_area_struct *vma)
{
	struct p2pmem_map *map = vma->vm_private_data;

	kref_get(&map->kref);
}

static void p2pmem_vm_close(struct vm_area_struct *vma)
{
	struct p2pmem_map *map = vma->vm_private_data;

	kref_put(&map->kref, p2pmem_map_release);
}

/* Pages are mapped on first touch, so revocation never races an mmap. */
static vm_fault_t p2pmem_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct p2pmem_map *map = vma->vm_private_data;
	unsigned long offset = vmf->address - vma->vm_start +
			       (vma->vm_pgoff << PAGE_SHIFT);
	vm_fault_t ret = VM_FAULT_SIGBUS;

	down_read(&map->io);
	if (!map->dead && offset < map->len)
		ret = vmf_insert_pfn(vma, vmf->address,
				     PHYS_PFN(virt_to_phys((void *)(map->kaddr + offset))));
	up_read(&map->io);
	return ret;
}

static const struct vm_operations_struct p2pmem_vm_ops = {
	.open = p2pmem_vm_open,
	.close = p2pmem_vm_close,
	.fault = p2pmem_vm_fault,
};

static void p2pmem_vma_set_flags(struct vm_area_struct *vma)
{
	/* PFN mapping: GUP refuses it, so no device can be pointed at it. */
#ifdef P2PDMA_HAVE_VM_FLAGS_SET	/* 6.3 and later: see Kbuild */
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
#else
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
#endif
}

static int p2pmem_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct p2pmem_file *pf = filp->private_data;
	struct p2pmem_dev *pd = pf->pd;
	size_t len = vma->vm_end - vma->vm_start;
	struct p2pdma_provider *p;
	struct p2pmem_map *map;
	struct percpu_ref *ref;
	int ret = 0;

	if (!(vma->vm_flags & VM_MAYSHARE)) {
		dev_info_ratelimited(&pd->dev, "%s: p2pmem maps only with MAP_SHARED\n",
				     current->comm);
		return -EINVAL;
	}
	if (vma->vm_pgoff) {
		dev_info_ratelimited(&pd->dev, "%s: p2pmem maps only at offset 0\n",
				     current->comm);
		return -EINVAL;
	}
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	kref_init(&map->kref);
	init_rwsem(&map->io);
	map->pd = pd;
	map->len = len;

	mutex_lock(&pd->lock);
	p = pd->provider;
	if (pd->revoked || READ_ONCE(p->dying)) {
		ret = -ENODEV;
		goto unlock;
	}
	rcu_read_lock();
	map->kaddr = p2pdma_pool_take(p, len, &ref);
	rcu_read_unlock();
	if (!map->kaddr) {
		dev_info_ratelimited(&pd->dev, "%s: no %zu bytes of p2p memory free for a mapping\n",
				     current->comm, len);
		ret = -ENOMEM;
		goto unlock;
	}
	/* Not what the last user, a process or an nvmet host, left there. */
	p2pdma_zero(map->kaddr, len);
	p2pdma_account_mapped(p, len);
	list_add(&map->node, &pd->maps);
	get_device(&pd->dev);
	p2pmem_vma_set_flags(vma);
	/* An MMIO alias: never cached, whatever the architecture. */
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_ops = &p2pmem_vm_ops;
	vma->vm_private_data = map;
unlock:
	mutex_unlock(&pd->lock);
	if (ret)
		kfree(map);
	return ret;
}

/*
 * The map of @pd that @addr..@addr+@len lies in, with a reference, if
 * every VMA of the range (mprotect may have split it) lets the caller
 * read the memory (@to_mem false) or write it (@to_mem true), as GUP
 * would for O_DIRECT: ERR_PTR(-EINVAL) outside this device's mappings,
 * ERR_PTR(-EFAULT) without that access.
 */
static struct p2pmem_map *p2pmem_map_find(struct p2pmem_dev *pd, u64 addr,
					  u64 len, bool to_mem,
					  unsigned long *offset_out)
{
	unsigned long need = to_mem ? VM_WRITE : VM_READ;
	struct p2pmem_map *map = ERR_PTR(-EINVAL);
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct p2pmem_map *found;
	u64 offset, at;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || vma->vm_ops != &p2pmem_vm_ops)
		goto unlock;
	found = vma->vm_private_data;
	offset = addr - vma->vm_start + (vma->vm_pgoff << PAGE_SHIFT);
	if (found->pd != pd || offset >= found->len || len > found->len - offset)
		goto unlock;
	for (at = addr; at < addr + len; at = vma->vm_end) {
		vma = vma_lookup(mm, at);
		if (!vma || vma->vm_private_data != found)
			goto unlock;
		if (!(vma->vm_flags & need)) {
			map = ERR_PTR(-EFAULT);
			goto unlock;
		}
	}
	map = found;
	kref_get(&map->kref);
	*offset_out = offset;
unlock:
	mmap_read_unlock(mm);
	return map;
}

/* @len bytes at @kaddr to or from @bdev at @sector, in bios of our pages. */
static int p2pmem_bdev_io(struct block_device *bdev, sector_t sector,
			  unsigned long kaddr, size_t len, bool write)
{
	blk_opf_t opf = (write ? REQ_OP_WRITE : REQ_OP_READ) | REQ_SYNC |
			REQ_NOMERGE;
	struct bio *bio;
	size_t chunk;
	int ret = 0;

	while (len && !ret) {
		bio = bio_alloc(bdev, BIO_MAX_VECS, opf, GFP_KERNEL);
		bio->bi_iter.bi_sector = sector;
		while (len) {
			chunk = min_t(size_t, len, PAGE_SIZE - offset_in_page(kaddr));
			if (bio_add_page(bio, virt_to_page((void *)kaddr), chunk,
					 offset_in_page(kaddr)) != chunk)
				break;
			kaddr += chunk;
			len -= chunk;
		}
		sector += bio_sectors(bio);
		ret = submit_bio_wait(bio);
		bio_put(bio);
	}
	return ret;
}

/*
 * What O_DIRECT on a block device checks, with its errnos: a read-only
 * device or one in use as swap is not written (EPERM, ETXTBSY), offset
 * and length are in logical blocks and the memory at the queue's DMA
 * alignment (EINVAL), nothing is written at or past the end (ENOSPC),
 * and a transfer that runs past the end is cut there (@rw->len).
 */
static long p2pmem_rw_allowed(struct p2pmem_dev *pd, struct file *f,
			      struct p2pmem_rw *rw)
{
	struct block_device *bdev = I_BDEV(f->f_mapping->host);
	const char *name = bdev->bd_disk->disk_name;

	if (rw->flags & P2PMEM_RW_WRITE) {
		if (bdev_read_only(bdev)) {
			dev_info_ratelimited(&pd->dev, "%s: %s is read-only: not written (blockdev --setrw makes it writable)\n",
					     current->comm, name);
			return -EPERM;
		}
		if (IS_SWAPFILE(f->f_mapping->host)) {
			dev_info_ratelimited(&pd->dev, "%s: %s is in use as swap: not written (swapoff first)\n",
					     current->comm, name);
			return -ETXTBSY;
		}
	}
	if (!IS_ALIGNED(rw->offset | rw->len, bdev_logical_block_size(bdev)) ||
	    rw->addr & bdev_dma_alignment(bdev) ||
	    rw->offset + rw->len < rw->offset) {
		dev_info_ratelimited(&pd->dev, "%s: %s: offset and length must be whole logical blocks (%u bytes) inside the device, the address aligned to %u bytes\n",
				     current->comm, name,
				     bdev_logical_block_size(bdev),
				     bdev_dma_alignment(bdev) + 1);
		return -EINVAL;
	}
	if (rw->offset >= bdev_nr_bytes(bdev))
		return rw->flags & P2PMEM_RW_WRITE ? -ENOSPC : 0;
	rw->len = min(rw->len, bdev_nr_bytes(bdev) - rw->offset);
	return 0;
}

/*
 * As O_DIRECT does, keep the device's page cache coherent with what we
 * move behind it: dirty pages go to the device before it is read or
 * written, and cached pages of a written range are dropped before and
 * after. Returns -EBUSY if some cannot be dropped (mapped by a process).
 */
static int p2pmem_rw_sync_cache(struct p2pmem_dev *pd, struct file *f,
				const struct p2pmem_rw *rw, bool after)
{
	struct address_space *mapping = f->f_mapping;
	loff_t end = rw->offset + rw->len - 1;
	int ret = 0;

	if (!after)
		ret = filemap_write_and_wait_range(mapping, rw->offset, end);
	if (!ret && rw->flags & P2PMEM_RW_WRITE)
		ret = invalidate_inode_pages2_range(mapping,
						    rw->offset >> PAGE_SHIFT,
						    end >> PAGE_SHIFT);
	if (ret == -EBUSY)
		dev_info_ratelimited(&pd->dev, "%s: cached pages of %s in this range are in use: refused (unmap them, or drop caches)\n",
				     current->comm,
				     I_BDEV(mapping->host)->bd_disk->disk_name);
	return ret;
}

static long p2pmem_rw(struct p2pmem_dev *pd, struct p2pmem_rw __user *uarg)
{
	struct p2pdma_client client = { };
	struct p2pdma_verdict verdict;
	struct block_device *bdev;
	struct p2pmem_map *map;
	unsigned long offset = 0;
	struct p2pmem_rw rw;
	struct file *f;
	bool to_bdev;
	long ret;

	if (copy_from_user(&rw, uarg, sizeof(rw)))
		return -EFAULT;
	if (rw.flags & ~P2PMEM_RW_WRITE || !rw.len)
		return -EINVAL;
	to_bdev = rw.flags & P2PMEM_RW_WRITE;
	f = fget(rw.fd);
	if (!f)
		return -EBADF;
	ret = -ENOTBLK;
	if (!S_ISBLK(file_inode(f)->i_mode))
		goto put_file;
	ret = -EBADF;
	if (!(f->f_mode & (to_bdev ? FMODE_WRITE : FMODE_READ)))
		goto put_file;
	bdev = I_BDEV(f->f_mapping->host);
	ret = p2pmem_rw_allowed(pd, f, &rw);
	/* A read at the end of the device reads nothing, as read(2) does. */
	if (ret || !rw.len)
		goto put_file;
	map = p2pmem_map_find(pd, rw.addr, rw.len, !to_bdev, &offset);
	if (IS_ERR(map)) {
		ret = PTR_ERR(map);
		goto put_file;
	}

	down_read(&map->io);
	ret = -ENODEV;
	if (map->dead)
		goto unlock;
	client.dev = disk_to_dev(bdev->bd_disk);
	if (p2pdma_judge(pd->provider->pdev, &client, &verdict) < 0) {
		dev_info_ratelimited(&pd->dev, "%s: %s may not reach this p2p memory: refused (p2pdma-explain %s %s tells why)\n",
				     current->comm, bdev->bd_disk->disk_name,
				     pci_name(pd->provider->pdev),
				     bdev->bd_disk->disk_name);
		ret = -EREMOTEIO;
		goto unlock;
	}
	ret = p2pmem_rw_sync_cache(pd, f, &rw, false);
	if (ret)
		goto unlock;
	ret = p2pmem_bdev_io(bdev, rw.offset >> SECTOR_SHIFT,
			     map->kaddr + offset, rw.len, to_bdev);
	/* Pages a reader faulted in meanwhile hold the old data. */
	if (to_bdev)
		p2pmem_rw_sync_cache(pd, f, &rw, true);
	if (!ret)
		ret = rw.len;
unlock:
	up_read(&map->io);
	kref_put(&map->kref, p2pmem_map_release);
put_file:
	fput(f);
	return ret;
}

static long p2pmem_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct p2pmem_file *pf = filp->private_data;

	switch (cmd) {
	case P2PMEM_IOC_RW:
		return p2pmem_rw(pf->pd, (struct p2pmem_rw __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int p2pmem_open(struct inode *inode, struct file *filp)
{
	struct p2pmem_dev *pd = container_of(inode->i_cdev, struct p2pmem_dev, cdev);
	struct p2pmem_file *pf;
	int ret = 0;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		return -ENOMEM;
	pf->pd = pd;
	pf->filp = filp;
	mutex_lock(&pd->lock);
	if (pd->revoked)
		ret = -ENODEV;
	else
		list_add(&pf->node, &pd->files);
	mutex_unlock(&pd->lock);
	if (ret) {
		kfree(pf);
		return ret;
	}
	get_device(&pd->dev);
	filp->private_data = pf;
	return 0;
}

static int p2pmem_release(struct inode *inode, struct file *filp)
{
	struct p2pmem_file *pf = filp->private_data;
	struct p2pmem_dev *pd = pf->pd;

	mutex_lock(&pd->lock);
	list_del(&pf->node);
	mutex_unlock(&pd->lock);
	kfree(pf);
	put_device(&pd->dev);
	return 0;
}

static const struct file_operations p2pmem_fops = {
	.owner = THIS_MODULE,
	.open = p2pmem_open,
	.release = p2pmem_release,
	.mmap = p2pmem_mmap,
	.unlocked_ioctl = p2pmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static void p2pmem_dev_release(struct device *dev)
{
	struct p2pmem_dev *pd = container_of(dev, struct p2pmem_dev, dev);

	ida_free(&p2pmem_ida, MINOR(dev->devt));
	kfree(pd);
}

int p2pdma_cdev_add(struct p2pdma_provider *p)
{
	struct p2pmem_dev *pd;
	int minor, ret;

	minor = ida_alloc_max(&p2pmem_ida, P2PMEM_MINORS - 1, GFP_KERNEL);
	if (minor < 0)
		return minor;
	pd = kzalloc(sizeof(*pd), GFP_KERNEL);
	if (!pd) {
		ida_free(&p2pmem_ida, minor);
		return -ENOMEM;
	}
	pd->provider = p;
	mutex_init(&pd->lock);
	INIT_LIST_HEAD(&pd->maps);
	INIT_LIST_HEAD(&pd->files);
	device_initialize(&pd->dev);
	pd->dev.class = &p2pmem_class;
	pd->dev.parent = &p->pdev->dev;
	pd->dev.devt = MKDEV(MAJOR(p2pmem_devt), minor);
	pd->dev.release = p2pmem_dev_release;
	cdev_init(&pd->cdev, &p2pmem_fops);
	pd->cdev.owner = THIS_MODULE;
	ret = dev_set_name(&pd->dev, "p2pmem%d", minor);
	if (!ret)
		ret = cdev_device_add(&pd->cdev, &pd->dev);
	if (ret) {
		put_device(&pd->dev);
		return ret;
	}
	p->cdev = pd;
	return 0;
}

void p2pdma_cdev_revoke(struct p2pdma_provider *p)
{
	struct p2pmem_dev *pd = p->cdev;
	struct p2pmem_file *pf;
	struct p2pmem_map *map;

	if (!pd)
		return;
	p->cdev = NULL;
	cdev_device_del(&pd->cdev, &pd->dev);
	mutex_lock(&pd->lock);
	pd->revoked = true;
	/* Transfers in flight finish; faults from now on get SIGBUS. */
	list_for_each_entry(map, &pd->maps, node) {
		down_write(&map->io);
		map->dead = true;
		up_write(&map->io);
	}
	list_for_each_entry(pf, &pd->files, node)
		unmap_mapping_range(pf->filp->f_mapping, 0, 0, 1);
	/* Nothing maps the memory now: give it back for teardown. */
	list_for_each_entry(map, &pd->maps, node)
		p2pmem_map_give_back(map);
	mutex_unlock(&pd->lock);
	put_device(&pd->dev);
}

int p2pdma_cdev_start(void)
{
	int ret;

	ret = alloc_chrdev_region(&p2pmem_devt, 0, P2PMEM_MINORS, "p2pmem");
	if (ret)
		return ret;
	ret = class_register(&p2pmem_class);
	if (ret)
		unregister_chrdev_region(p2pmem_devt, P2PMEM_MINORS);
	return ret;
}

void p2pdma_cdev_stop(void)
{
	class_unregister(&p2pmem_class);
	unregister_chrdev_region(p2pmem_devt, P2PMEM_MINORS);
}
