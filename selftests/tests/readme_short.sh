#!/bin/bash
# README.md is short, a front page: at most 250 lines, and every link in
# it to a file of the repository (doc/...) resolves, anchor included
# (GitHub's: the heading, lower case, punctuation dropped, spaces as
# hyphens).  The links between the doc/ files resolve too.
# WHERE: host
# TIMEOUT: 10
. "$REPO/selftests/lib/common.sh"

n=$(wc -l < "$REPO/README.md")
[ "$n" -le 250 ] || fail "README.md has $n lines, more than 250"
python3 - "$REPO" > "$T_TMP/out" 2>&1 <<'PY' || fail "$(head -n3 "$T_TMP/out" | tr '\n' ' ')"
import glob, os, re, sys
repo = sys.argv[1]
def slug(t):
    return re.sub(r"[^\w\- ]", "", t.lower()).replace(" ", "-")
def anchors(path):
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.*)$", open(path).read(), re.M)}
bad, n = [], 0
for src in ["README.md"] + sorted(glob.glob(os.path.join(repo, "doc", "*.md"))):
    path = os.path.join(repo, src)
    for target in re.findall(r"\]\(([^)\s]+)\)", open(path).read()):
        if re.match(r"[a-z]+:", target):
            continue
        n += 1
        f, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), f)) if f else path
        if not os.path.exists(dest):
            bad.append("%s: %s (no such file)" % (os.path.relpath(path, repo), target))
        elif anchor and anchor not in anchors(dest):
            bad.append("%s: %s (no such heading)" % (os.path.relpath(path, repo), target))
if not re.search(r"\]\(doc/", open(os.path.join(repo, "README.md")).read()):
    bad.append("README.md links to nothing in doc/")
if bad:
    sys.exit("; ".join(bad[:5]))
print(n, "links resolve")
PY
log "README.md: $n lines; $(cat "$T_TMP/out")"
