#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""P2PMEM_IOC_RW on a /dev/p2pmem<N> mapping, for guest tests.

  write NODE DEVICE OFFSET FILE [PROT [DELTA]]
        map FILE's size (read and write), fill it with FILE, then (with PROT
        "r", "w", "rw" or "none" applied by mprotect) write it to DEVICE at
        OFFSET from the mapping's address plus DELTA
  read NODE DEVICE OFFSET LEN [PROT [DELTA]]
        map LEN bytes and read DEVICE at OFFSET into them; with the default
        PROT (rw) and DELTA (0), also print the bytes' md5
  fresh NODE LEN
        map LEN bytes, fill them with 0xa5, unmap; map LEN bytes again and
        print "zero" if they are all zero, else "stale"

Prints "ok" or the errno's name for each ioctl.
"""

import ctypes
import errno
import fcntl
import hashlib
import mmap
import os
import struct
import sys

PAGE = 4096
P2PMEM_RW_WRITE = 1
# _IOW(0xB9, 1, struct p2pmem_rw): 32 bytes.
P2PMEM_IOC_RW = (1 << 30) | (32 << 16) | (0xB9 << 8) | 1
PROTS = {"r": mmap.PROT_READ, "w": mmap.PROT_WRITE,
         "rw": mmap.PROT_READ | mmap.PROT_WRITE, "none": 0}

libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def mapped(node, length):
    fd = os.open(node, os.O_RDWR)
    try:
        return mmap.mmap(fd, length, mmap.MAP_SHARED,
                         mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)


def address(m):
    return ctypes.addressof(ctypes.c_char.from_buffer(m))


def protect(addr, length, prot):
    if libc.mprotect(addr, length, PROTS[prot]):
        sys.exit(f"mprotect: {os.strerror(ctypes.get_errno())}")


def transfer(node, device, flags, offset, addr, length):
    with open(node, "rb") as mem, open(device, "r+b" if flags else "rb") as dev:
        arg = struct.pack("<iIQQQ", dev.fileno(), flags, offset, addr, length)
        try:
            fcntl.ioctl(mem.fileno(), P2PMEM_IOC_RW, arg)
        except OSError as e:
            return errno.errorcode[e.errno]
    return "ok"


def main(argv):
    cmd = argv[1]
    if cmd == "fresh":
        length = int(argv[3])
        m = mapped(argv[2], length)
        m[:] = b"\xa5" * length
        m.close()
        m = mapped(argv[2], length)
        print("zero" if m[:] == bytes(length) else "stale")
        return 0
    node, device, offset = argv[2], argv[3], int(argv[4], 0)
    prot = argv[6] if len(argv) > 6 else "rw"
    delta = int(argv[7], 0) if len(argv) > 7 else 0
    if cmd == "write":
        with open(argv[5], "rb") as f:
            data = f.read()
        length = len(data)
    else:
        length = int(argv[5], 0)
    # A page more, so that DELTA can shift the range inside the mapping.
    m = mapped(node, length + PAGE)
    addr = address(m)
    if cmd == "write":
        m[:length] = data
    protect(addr, length + PAGE, prot)
    flags = P2PMEM_RW_WRITE if cmd == "write" else 0
    print(transfer(node, device, flags, offset, addr + delta, length))
    if cmd == "read" and prot == "rw" and delta == 0:
        print(hashlib.md5(m[:length]).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
