#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read or write bytes of a PCI BAR through its sysfs resource file (mmap).

    bar.py write BDF BAR OFFSET TEXT   write TEXT (UTF-8) at OFFSET
    bar.py read BDF BAR OFFSET LENGTH  print LENGTH bytes at OFFSET as text
    bar.py read64 BDF BAR OFFSET       print the 64-bit register at OFFSET
"""

import mmap
import os
import struct
import sys


def mapped(bdf, bar):
    path = f"/sys/bus/pci/devices/{bdf}/resource{bar}"
    fd = os.open(path, os.O_RDWR | os.O_SYNC)
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED)
    finally:
        os.close(fd)


def main(argv):
    if argv[1:2] == ["read64"] and len(argv) == 5:
        bdf, bar, offset = argv[2], int(argv[3]), int(argv[4], 0)
        with mapped(bdf, bar) as bar_map:
            # Two 32-bit reads, low half first, as registers want.
            low = struct.unpack("<I", bar_map[offset:offset + 4])[0]
            high = struct.unpack("<I", bar_map[offset + 4:offset + 8])[0]
            print(hex(high << 32 | low))
        return
    if len(argv) != 6 or argv[1] not in ("read", "write"):
        sys.exit(__doc__)
    op, bdf, bar, offset = argv[1], argv[2], int(argv[3]), int(argv[4], 0)
    with mapped(bdf, bar) as bar_map:
        if op == "write":
            data = argv[5].encode()
            bar_map[offset:offset + len(data)] = data
        else:
            print(bar_map[offset:offset + int(argv[5], 0)].decode(errors="replace"))


if __name__ == "__main__":
    main(sys.argv)
