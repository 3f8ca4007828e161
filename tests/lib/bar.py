#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read or write bytes of a PCI BAR through its sysfs resource file (mmap).

    bar.py write BDF BAR OFFSET TEXT   write TEXT (UTF-8) at OFFSET
    bar.py read BDF BAR OFFSET LENGTH  print LENGTH bytes at OFFSET as text
    bar.py read64 BDF BAR OFFSET       print the 64-bit register at OFFSET
    bar.py watch BDF BAR OFFSET BIT FLAG STOP
                                       read the 64-bit register at OFFSET and
                                       the sysfs file FLAG ("0" or "1", or
                                       gone) before and after it, over and over
                                       until file STOP exists; print how
                                       often each (value, flag) pair was
                                       seen, and fail if BIT of the
                                       register was ever clear while FLAG
                                       read 1 on both sides of the read
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


def read64(bar_map, offset):
    # Two 32-bit reads, low half first, as registers want.
    low = struct.unpack("<I", bar_map[offset:offset + 4])[0]
    high = struct.unpack("<I", bar_map[offset + 4:offset + 8])[0]
    return high << 32 | low


def flag_of(path):
    try:
        with open(path, "rb") as f:
            return f.read(8).strip().decode()
    except OSError:
        return "gone"


def watch(bar_map, offset, bit, flag_path, stop):
    seen = {}
    bad = 0
    while not os.path.exists(stop):
        before = flag_of(flag_path)
        value = read64(bar_map, offset)
        after = flag_of(flag_path)
        flag = after if before == after else "changing"
        seen[(value, flag)] = seen.get((value, flag), 0) + 1
        if flag == "1" and not value >> bit & 1:
            bad += 1
    for (value, flag), count in sorted(seen.items(), key=str):
        print(f"{hex(value)} with {os.path.basename(flag_path)} {flag}: {count} samples")
    print(f"{sum(seen.values())} samples, {bad} with bit {bit} clear while the flag was 1")
    return bad == 0


def main(argv):
    if argv[1:2] == ["read64"] and len(argv) == 5:
        bdf, bar, offset = argv[2], int(argv[3]), int(argv[4], 0)
        with mapped(bdf, bar) as bar_map:
            print(hex(read64(bar_map, offset)))
        return
    if argv[1:2] == ["watch"] and len(argv) == 8:
        bdf, bar, offset = argv[2], int(argv[3]), int(argv[4], 0)
        with mapped(bdf, bar) as bar_map:
            sys.exit(0 if watch(bar_map, offset, int(argv[5]), argv[6], argv[7]) else 1)
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
