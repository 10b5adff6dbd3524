#!/usr/bin/python3
"""For each 64 KiB chunk of GOT, the name of the first REF file with the same
bytes there (or '?'): where a wrong read came from.

usage: chunks.py GOT REF...
"""
import os
import sys

if len(sys.argv) < 3:
    sys.exit(__doc__)
got = open(sys.argv[1], "rb").read()
refs = [(os.path.basename(p), open(p, "rb").read()) for p in sys.argv[2:]]
out = []
for off in range(0, len(got), 65536):
    c = got[off:off + 65536]
    out.append(next((n for n, r in refs if r[off:off + 65536] == c), "?"))
print("".join(out))
