#!/usr/bin/python3
"""Writes a list file of N path,label rows that repeat an image folder's photos (root/<class>/*.jpg, sorted), for
measuring streamed training on sets larger than memory without that many photos:

    python3 tools/repeat_list.py ../shared/data/flowers12/train 50000 /tmp/list50000.csv
"""
import glob
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    root, count, out = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rows = [(path, os.path.basename(os.path.dirname(path))) for path in sorted(glob.glob(os.path.join(root, "*", "*.jpg")))]
    if not rows:
        sys.exit(f"no root/<class>/*.jpg under {root}")
    with open(out, "w") as f:
        f.write("path,label\n")
        for i in range(count):
            path, label = rows[i % len(rows)]
            f.write(f"{path},{label}\n")


if __name__ == "__main__":
    main()
