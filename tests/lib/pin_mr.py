#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pin p2p memory long-term, as an RDMA application does, for guest tests.

    pin_mr.py ALLOCATE LEN IBDEV GO

Maps LEN bytes of a p2pmem/allocate file, registers them as a memory
region on RDMA device IBDEV (a long-term pin: ibv_reg_mr, local read
access), prints "registered", waits until file GO exists, then
deregisters and exits. Exits 1 if the registration fails.
"""

import ctypes
import mmap
import os
import sys
import time

verbs = ctypes.CDLL("libibverbs.so.1", use_errno=True)
verbs.ibv_get_device_list.restype = ctypes.POINTER(ctypes.c_void_p)
verbs.ibv_get_device_list.argtypes = [ctypes.POINTER(ctypes.c_int)]
verbs.ibv_get_device_name.restype = ctypes.c_char_p
verbs.ibv_get_device_name.argtypes = [ctypes.c_void_p]
for name in ("ibv_open_device", "ibv_alloc_pd"):
    getattr(verbs, name).restype = ctypes.c_void_p
    getattr(verbs, name).argtypes = [ctypes.c_void_p]
verbs.ibv_reg_mr.restype = ctypes.c_void_p
verbs.ibv_reg_mr.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                             ctypes.c_int]
for name in ("ibv_dereg_mr", "ibv_dealloc_pd", "ibv_close_device"):
    getattr(verbs, name).argtypes = [ctypes.c_void_p]


def open_device(wanted):
    count = ctypes.c_int()
    devices = verbs.ibv_get_device_list(ctypes.byref(count))
    for i in range(count.value):
        if verbs.ibv_get_device_name(devices[i]).decode() == wanted:
            return verbs.ibv_open_device(devices[i])
    sys.exit(f"no RDMA device {wanted}")


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    path, length, ibdev, go = argv[1], int(argv[2]), argv[3], argv[4]
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    ctx = open_device(ibdev)
    pd = verbs.ibv_alloc_pd(ctx)
    mr = verbs.ibv_reg_mr(pd, addr, length, 0)
    if not mr:
        print(f"ibv_reg_mr: {os.strerror(ctypes.get_errno())}", flush=True)
        return 1
    print("registered", flush=True)
    while not os.path.exists(go):
        time.sleep(0.1)
    verbs.ibv_dereg_mr(mr)
    verbs.ibv_dealloc_pd(pd)
    verbs.ibv_close_device(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
