#!/bin/bash
# Every man page in doc/man renders with man -l without a warning
# (--warnings=all), and says what the program's --help says: each option
# (-x, --long) in a program's --help appears in its page, and so do the
# loader's commands and the mount helpers' -o words; libfuse-iomap(3)
# names every function of include/fuse_iomap_server.h.
# WHERE: host
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"

command -v man > /dev/null || fail "man is not installed: run 'make deps'"
pages=$(ls "$REPO"/doc/man/*.[378])
[ -n "$pages" ] || fail "no man pages in doc/man"
for page in $pages; do
	name=${page##*/}
	# Wide: no line breaks inside an option for the checks below.
	LC_ALL=C MANWIDTH=400 man --warnings=all -l "$page" > "$T_TMP/$name.txt" 2> "$T_TMP/$name.warn" ||
		fail "man -l $name failed: $(head -n1 "$T_TMP/$name.warn")"
	[ ! -s "$T_TMP/$name.warn" ] || fail "man -l $name warns: $(head -n2 "$T_TMP/$name.warn" | xargs)"
	[ -s "$T_TMP/$name.txt" ] || fail "man -l $name renders nothing"
done

# help NAME: the --help of the program page NAME documents.
help() {
	case $1 in
	fuse-iomap-ext4.8|fuse-iomap-blockfs.8|fuse-iomap-memfs.8) "$BUILD/server/${1%.8}" --help ;;
	fuse-iomap-bpf.8) "$BUILD/loader/fuse-iomap-bpf" --help ;;
	mount.fuseiomap.8) bash "$REPO/mount/mount.fuseiomap" --help ;;
	esac
}

for page in "$REPO"/doc/man/*.8; do
	name=${page##*/}
	help "$name" > "$T_TMP/$name.help" 2>&1 || fail "$name: its program's --help failed"
	[ -s "$T_TMP/$name.help" ] || fail "$name: no program's --help to compare with"
	python3 - "$T_TMP/$name.help" "$T_TMP/$name.txt" > "$T_TMP/$name.missing" <<'PY' ||
import re, sys
help = open(sys.argv[1]).read()
page = open(sys.argv[2]).read()
want = set(re.findall(r"(?<![\w/.-])--?[A-Za-z][A-Za-z0-9-]*", help))
# The loader's commands, the mount helpers' option words.
want |= set(re.findall(r"^(?:usage:|\s+)\s*fuse-iomap-bpf ([a-z]+)", help, re.M))
want |= set(re.findall(r"^  ([a-z_]+)(?:=[A-Z]+)?\s", help, re.M)) - {"defaults"}
missing = sorted(w for w in want if not re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", page))
print(" ".join(missing))
sys.exit(1 if missing else 0)
PY
		fail "$name does not document what --help lists: $(cat "$T_TMP/$name.missing")"
done

missing=''
for f in $(sed -n 's/.*\<\(fi_[a-z_]*\)(.*/\1/p' "$REPO/include/fuse_iomap_server.h" | sort -u); do
	grep -q "\<$f\>" "$T_TMP/libfuse-iomap.3.txt" || missing+=" $f"
done
[ -z "$missing" ] || fail "libfuse-iomap(3) does not name:$missing"
log "$(wc -w <<<"$pages") pages render without warnings and match --help"
