#!/usr/bin/env python3
"""Prints the functions of BINARY that lie on pages of its code that process
PID has resident, in address order (bench/symbol-order.sh runs the exporter
with its binary evicted from the page cache and readahead off, so that the
resident pages are the ones its code ran on).

Usage: touched-functions.py PID BINARY
"""
import os
import struct
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def code_mapping(pid, binary):
    """(start, end, file offset) of the executable mapping of BINARY in PID."""
    real = os.path.realpath(binary)
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == real and "x" in fields[1]:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                return start, end, int(fields[2], 16)
    sys.exit(f"touched-functions: no executable mapping of {real} in process {pid}")


def resident_pages(pid, start, end):
    """Indices (from start) of the mapping's pages that are present."""
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        pagemap.seek(start // PAGE * 8)
        data = pagemap.read((end - start) // PAGE * 8)
    return [i for i, (entry,) in enumerate(struct.iter_unpack("<Q", data)) if entry >> 63]


def text_segment(binary):
    """(file offset, virtual address) of the executable LOAD segment."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"] and "E" in fields[6:-1]:
            return int(fields[1], 16), int(fields[2], 16)
    sys.exit(f"touched-functions: no executable segment in {binary}")


def functions(binary):
    """(address, size, name) of the binary's functions, by address."""
    out = subprocess.run(["nm", "-n", "-S", "--defined-only", binary],
                         capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tT":
            yield int(fields[0], 16), int(fields[1], 16), fields[3]


def main():
    pid, binary = sys.argv[1], sys.argv[2]
    start, end, offset = code_mapping(pid, binary)
    seg_offset, seg_vaddr = text_segment(binary)
    # A page of the mapping at index i holds file bytes from offset + i*PAGE,
    # which the binary's own addresses call seg_vaddr + (file offset - seg_offset).
    first_page = (seg_vaddr + offset - seg_offset) // PAGE
    pages = {first_page + i for i in resident_pages(pid, start, end)}
    for addr, size, name in functions(binary):
        first, last = addr // PAGE, (addr + max(size, 1) - 1) // PAGE
        if any(p in pages for p in range(first, last + 1)):
            print(name)


main()
