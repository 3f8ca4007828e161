#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Map a p2pmem/allocate file the way upstream tools do, for guest tests.

  try PATH LEN shared|private OFFSET  print "ok" or the errno's name
  fill PATH LEN PATTERN [WAIT]        map LEN bytes, write PATTERN into
                                      them, print "ready"; with WAIT, wait
                                      until file WAIT exists, then read the
                                      mapping and compare (a revoked
                                      mapping dies of SIGBUS here)
  fork PATH LEN PATTERN DIR           map and fill; a child inherits the
                                      mapping; the parent unmaps and
                                      writes DIR/parent-gone, the child
                                      waits for DIR/check, compares, exits
"""

import ctypes
import errno
import mmap
import os
import sys
import time

PROT = mmap.PROT_READ | mmap.PROT_WRITE


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.05)


def map_rw(path, length, flags=mmap.MAP_SHARED, offset=0):
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, length, flags=flags, prot=PROT, offset=offset)
    finally:
        os.close(fd)


def try_map(path, length, kind, offset):
    flags = mmap.MAP_SHARED if kind == 'shared' else mmap.MAP_PRIVATE
    if length == 0:
        # Python maps the whole file for 0: ask libc for 0 bytes instead.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                              ctypes.c_int, ctypes.c_int, ctypes.c_long]
        fd = os.open(path, os.O_RDWR)
        addr = libc.mmap(None, 0, PROT, flags, fd, offset)
        os.close(fd)
        if addr in (None, ctypes.c_void_p(-1).value):
            return errno.errorcode[ctypes.get_errno()]
        return 'ok'
    try:
        map_rw(path, length, flags, offset).close()
    except OSError as e:
        return errno.errorcode[e.errno]
    return 'ok'


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    length = int(sys.argv[3])
    if cmd == 'try':
        print(try_map(path, length, sys.argv[4], int(sys.argv[5])))
        return 0
    with open(sys.argv[4], 'rb') as f:
        pattern = f.read(length)
    m = map_rw(path, length)
    m[:] = pattern
    print('ready', flush=True)
    if cmd == 'fill':
        if len(sys.argv) > 5:
            wait_for(sys.argv[5])
            return 0 if m[:] == pattern else 1
        return 0
    out = sys.argv[5]
    pid = os.fork()
    if pid == 0:
        wait_for(os.path.join(out, 'check'))
        os._exit(0 if m[:] == pattern else 1)
    m.close()
    open(os.path.join(out, 'parent-gone'), 'w').close()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == '__main__':
    sys.exit(main())
