#!/usr/bin/env python3
"""What an fdatasync costs after an append and after an overwrite of preallocated
blocks, on the file system holding DIR (default: the current directory).

    python3 tools/bench/fsync-cost.py [DIR]

Writes 3,000 records of 2,560 bytes, each followed by fdatasync, into a new file
(every write extends it: the new size goes through the journal) and into a file
first filled with zeros and fsynced (the writer's preallocation); three runs each.
"""
import os
import sys
import time

RECORDS, RECORD_BYTES = 3000, 2560


def per_sync_us(path, preallocate):
    if os.path.exists(path):
        os.remove(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        if preallocate:
            os.pwrite(fd, b"\0" * (RECORDS * RECORD_BYTES + 4096), 0)
            os.fsync(fd)
        record = b"x" * RECORD_BYTES
        start = time.perf_counter()
        for i in range(RECORDS):
            os.pwrite(fd, record, i * RECORD_BYTES)
            os.fdatasync(fd)
        return (time.perf_counter() - start) / RECORDS * 1e6
    finally:
        os.close(fd)
        os.remove(path)


def main():
    path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "fsync-cost.tmp")
    for _ in range(3):
        append = per_sync_us(path, False)
        overwrite = per_sync_us(path, True)
        print(f"append {append:.0f} us   overwrite {overwrite:.0f} us per fdatasync")


if __name__ == "__main__":
    main()
