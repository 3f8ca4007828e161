#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""O_DIRECT I/O of a block device into and out of RAM pages at chosen
physical addresses, for guest tests of what a device's DMA reaches.

    phys_io.py DEVICE OFFSET PATTERN LO HI

Touches anonymous memory (up to what the kernel says is available, less
256 MiB) until it holds, as /proc/self/pagemap tells, as many pages with
physical addresses in [LO, HI) as PATTERN has 4 KiB blocks (up to 1024);
it writes PATTERN to DEVICE at OFFSET from those pages, then fills
them with a marker and reads DEVICE back into them. Prints what it did; exits 0 if every page read back its block of
PATTERN, 1 if not, 2 if too few pages lie in the range.
"""

import ctypes
import mmap
import os
import struct
import sys

PAGE = 4096
SPARE = 256 << 20


def available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def phys_of(pagemap, addr):
    entry = struct.unpack("<Q", os.pread(pagemap, 8, addr // PAGE * 8))[0]
    if not entry >> 63:
        return None
    return (entry & ((1 << 55) - 1)) * PAGE


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    device, offset = argv[1], int(argv[2], 0)
    lo, hi = int(argv[4], 0), int(argv[5], 0)
    with open(argv[3], "rb") as f:
        pattern = f.read()
    blocks = min(len(pattern) // PAGE, 1024)

    size = max(available() - SPARE, PAGE) // PAGE * PAGE
    pool = mmap.mmap(-1, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    view = memoryview(pool)
    start = ctypes.addressof(ctypes.c_char.from_buffer(pool))
    pagemap = os.open("/proc/self/pagemap", os.O_RDONLY)
    chosen = []
    for off in range(0, size, PAGE):
        pool[off] = 1  # fault it in
        phys = phys_of(pagemap, start + off)
        if phys is not None and lo <= phys < hi:
            chosen.append((off, phys))
            if len(chosen) == blocks:
                break
    os.close(pagemap)
    print(f"{len(chosen)} pages of up to {size >> 20} MiB of memory lie in "
          f"[{lo:#x}, {hi:#x}), {blocks} wanted; first at {chosen[0][1]:#x}"
          if chosen else f"no page lies in [{lo:#x}, {hi:#x})")
    if len(chosen) < blocks:
        return 2

    pages = [view[off:off + PAGE] for off, _ in chosen]
    fd = os.open(device, os.O_RDWR | os.O_DIRECT)
    try:
        for i, page in enumerate(pages):
            page[:] = pattern[i * PAGE:(i + 1) * PAGE]
        written = os.pwritev(fd, pages, offset)
        for page in pages:
            page[:] = b"\xa5" * PAGE
        read = os.preadv(fd, pages, offset)
    finally:
        os.close(fd)
    bad = [i for i, page in enumerate(pages)
           if page != pattern[i * PAGE:(i + 1) * PAGE]]
    print(f"wrote {written} and read {read} bytes through those pages; "
          f"{len(bad)} pages did not read back their block"
          + (f" (first at {chosen[bad[0]][1]:#x})" if bad else ""))
    return 0 if not bad and written == read == blocks * PAGE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
