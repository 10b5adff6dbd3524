#!/bin/bash
# The Layout section (doc/design.md, where the README points for it)
# matches the tree: every path it lists exists
# (an indented entry is inside the directory above it), and every
# top-level directory of the repository is listed.
# WHERE: host
# TIMEOUT: 10
. "$REPO/selftests/lib/common.sh"

python3 - "$REPO" > "$T_TMP/out" 2>&1 <<'PY' || fail "$(head -n3 "$T_TMP/out" | tr '\n' ' ')"
import os, re, subprocess, sys
repo = sys.argv[1]
text = open(os.path.join(repo, "doc/design.md")).read()
m = re.search(r"^## Layout\n(.*?)^## ", text, re.S | re.M)
if not m:
    sys.exit("doc/design.md has no '## Layout' section")
entries, stack, bad = [], [], []
for line in m.group(1).splitlines():
    if not line.startswith("    ") or not line.strip():
        continue
    indent = len(line) - len(line.lstrip())
    names = re.split(r"\s{2,}", line.strip())[0]
    # A description wrapped onto its own line is not an entry.
    if names.startswith(("(", "#")) or " " in names.replace(", ", ","):
        continue
    while stack and stack[-1][0] >= indent:
        stack.pop()
    parent = stack[-1][1] if stack else ""
    for name in [n.strip() for n in names.split(",")]:
        path = os.path.join(parent, name)
        entries.append(path)
        if not os.path.lexists(os.path.join(repo, path.rstrip("/"))):
            bad.append(path)
        if name.endswith("/"):
            stack.append((indent, path))
if not entries:
    sys.exit("the Layout section lists nothing")
if bad:
    sys.exit("listed but missing: " + " ".join(bad))
top = {e.split("/")[0] for e in entries}
tracked = subprocess.run(["git", "-C", repo, "ls-files"], capture_output=True, text=True).stdout.split()
dirs = sorted({p.split("/")[0] for p in tracked if "/" in p and not p.startswith(".")})
missing = [d for d in dirs if d not in top]
if missing:
    sys.exit("top-level directories the Layout section does not list: " + " ".join(missing))
print(len(entries), "entries")
PY
log "$(cat "$T_TMP/out")"
