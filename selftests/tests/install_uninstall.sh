#!/bin/bash
# make install into a DESTDIR under build/ puts every expected file there
# and nothing else (binaries, library and its links, headers, the .pc with
# the right prefix, libbpf.a, BPF objects, mount helpers in /sbin that know
# their version and their servers' directory, the man pages with their
# version filled in); make uninstall then leaves
# the directory exactly as it was, pre-existing directories and a foreign
# file included.  Once with the default PREFIX, once with PREFIX=/opt/fi.
# WHERE: host
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"

VERSION=$(cat "$REPO/VERSION")
top=$BUILD/selftests/$T_NAME
rm -rf "$top"
defer "rm -rf '$top'"

listing() { (cd "$1" && find . -printf '%y %m %p -> %l\n' | sort); }

# expected PREFIX: the paths install must create, relative to DESTDIR.
expected() {
	local p=${1#/} f
	for f in fuse-iomap-ext4 fuse-iomap-blockfs fuse-iomap-memfs fuse-iomap-bpf; do
		echo "$p/bin/$f"
	done
	echo "$p/lib/libfuse-iomap.a"
	echo "$p/lib/libfuse-iomap.so.$VERSION"
	echo "$p/lib/libfuse-iomap.so.0"
	echo "$p/lib/libfuse-iomap.so"
	for f in "$REPO"/include/*.h; do
		echo "$p/include/${f##*/}"
	done
	echo "$p/lib/pkgconfig/fuse-iomap.pc"
	echo "$p/lib/fuse-iomap/libbpf.a"
	for f in "$REPO"/bpf/*.bpf.c; do
		f=${f##*/}
		echo "$p/lib/fuse-iomap/bpf/${f%.c}.o"
	done
	echo "sbin/mount.fuseiomap.ext4"
	echo "sbin/mount.fuseiomap.blockfs"
	for f in "$REPO"/doc/man/*.[378]; do
		f=${f##*/}
		echo "$p/share/man/man${f##*.}/$f"
	done
	echo "$p/share/man/man8/mount.fuseiomap.ext4.8"
	echo "$p/share/man/man8/mount.fuseiomap.blockfs.8"
}

# check DESTDIR PREFIX
check() {
	local d=$1 prefix=$2 p=${2#/} got want f pc built
	log "install, PREFIX=$prefix"
	# What is there already stays: directories (one of them where the
	# helpers go) and a file of someone else.
	mkdir -p "$d/sbin" "$d/$p/bin" "$d/$p/lib"
	echo other > "$d/$p/lib/libother.so.1"
	listing "$d" > "$top/before"

	make -C "$REPO" -s install DESTDIR="$d" PREFIX="$prefix" > "$top/install.log" 2>&1 ||
		fail "make install PREFIX=$prefix failed: $(tail -n1 "$top/install.log")"

	# Exactly the expected files and links appeared, besides the
	# directories install made and its own list of them.
	got=$(cd "$d" && find . ! -type d | sed 's|^\./||' | grep -v -e '^sbin$' -e "^$p/lib/libother.so.1\$" \
		-e "^$p/lib/fuse-iomap/installed-dirs\$" | sort)
	want=$(expected "$prefix" | sort)
	[ "$got" = "$want" ] || fail "PREFIX=$prefix: installed files differ from the list: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | head -n5 | xargs)"

	for f in fuse-iomap-ext4 fuse-iomap-blockfs fuse-iomap-memfs fuse-iomap-bpf; do
		[ -x "$d/$p/bin/$f" ] || fail "$p/bin/$f is not executable"
		case $f in
		fuse-iomap-bpf) built=$BUILD/loader/$f ;;
		*) built=$BUILD/server/$f ;;
		esac
		cmp -s "$d/$p/bin/$f" "$built" || fail "$p/bin/$f differs from ${built#$REPO/}"
	done
	expect_eq "libfuse-iomap.so.0 link" "$(readlink "$d/$p/lib/libfuse-iomap.so.0")" "libfuse-iomap.so.$VERSION"
	expect_eq "libfuse-iomap.so link" "$(readlink "$d/$p/lib/libfuse-iomap.so")" "libfuse-iomap.so.0"
	[ -e "$d/$p/lib/libfuse-iomap.so" ] || fail "libfuse-iomap.so link dangles"
	cmp -s "$d/$p/lib/fuse-iomap/libbpf.a" "$BUILD/libbpf/obj/libbpf.a" || fail "installed libbpf.a differs from build/libbpf/obj/libbpf.a"
	cmp -s "$d/$p/include/fuse_iomap_bpf.h" "$REPO/include/fuse_iomap_bpf.h" || fail "installed fuse_iomap_bpf.h differs"

	! grep -l '@[A-Z]*@' "$d/$p"/share/man/man*/* || fail "a man page keeps a placeholder"
	expect_eq "mount.fuseiomap.ext4.8 link" "$(readlink "$d/$p/share/man/man8/mount.fuseiomap.ext4.8")" \
		mount.fuseiomap.8

	pc=$d/$p/lib/pkgconfig/fuse-iomap.pc
	! grep -n '@[A-Z]*@' "$pc" || fail "fuse-iomap.pc keeps a placeholder: $(grep -m1 '@[A-Z]*@' "$pc")"
	export PKG_CONFIG_PATH=$d/$p/lib/pkgconfig
	expect_eq "pkg-config prefix" "$(pkg-config --variable=prefix fuse-iomap)" "$prefix"
	expect_eq "pkg-config libdir" "$(pkg-config --variable=libdir fuse-iomap)" "$prefix/lib"
	expect_eq "pkg-config includedir" "$(pkg-config --variable=includedir fuse-iomap)" "$prefix/include"
	expect_eq "pkg-config version" "$(pkg-config --modversion fuse-iomap)" "$VERSION"
	unset PKG_CONFIG_PATH

	for f in ext4 blockfs; do
		[ -x "$d/sbin/mount.fuseiomap.$f" ] || fail "sbin/mount.fuseiomap.$f is not executable"
		expect_eq "mount.fuseiomap.$f --version" "$("$d/sbin/mount.fuseiomap.$f" --version)" \
			"mount.fuseiomap.$f $VERSION"
	done
	# The helper looks for its server in PREFIX/bin ...
	grep -qxF "bindir='$prefix/bin'" "$d/sbin/mount.fuseiomap.ext4" ||
		fail "mount.fuseiomap.ext4 does not name $prefix/bin as its servers' directory"
	# ... and, pointed at the installed servers, runs them (-f: check
	# only; the helper wants root even for that).
	[ "$(id -u)" = 0 ] || fail "not root: make check runs host tests as root"
	got=$(FUSE_IOMAP_BINDIR=$d/$p/bin "$d/sbin/mount.fuseiomap.ext4" -f -o bpf,ro "$top/img" "$top" 2>&1) ||
		fail "mount.fuseiomap.ext4 -f failed: $got"
	expect_eq "mount.fuseiomap.ext4 -f" "$got" \
		"mount.fuseiomap.ext4: $d/$p/bin/fuse-iomap-ext4 --bpf --read-only -- $top/img $top"
	"$d/$p/bin/fuse-iomap-ext4" --help > /dev/null || fail "installed fuse-iomap-ext4 --help failed"
	"$d/$p/bin/fuse-iomap-bpf" --help > /dev/null || fail "installed fuse-iomap-bpf --help failed"

	log "uninstall, PREFIX=$prefix"
	make -C "$REPO" -s uninstall DESTDIR="$d" PREFIX="$prefix" > "$top/uninstall.log" 2>&1 ||
		fail "make uninstall PREFIX=$prefix failed: $(tail -n1 "$top/uninstall.log")"
	listing "$d" > "$top/after"
	diff -u "$top/before" "$top/after" > "$top/diff" ||
		fail "PREFIX=$prefix: make uninstall left the directory changed: $(grep '^[-+][^-+]' "$top/diff" | head -n5 | xargs)"
	# A second uninstall finds nothing to do, and fails on nothing.
	make -C "$REPO" -s uninstall DESTDIR="$d" PREFIX="$prefix" > "$top/uninstall.log" 2>&1 ||
		fail "a second make uninstall failed: $(tail -n1 "$top/uninstall.log")"
}

mkdir -p "$top"
check "$top/d1" /usr/local
check "$top/d2" /opt/fi

# install-dev: the library, headers, .pc and libbpf.a only; uninstall
# removes them too.
d=$top/d3
mkdir -p "$d"
listing "$d" > "$top/before"
make -C "$REPO" -s install-dev DESTDIR="$d" PREFIX=/usr > "$top/install.log" 2>&1 ||
	fail "make install-dev failed: $(tail -n1 "$top/install.log")"
[ -f "$d/usr/lib/pkgconfig/fuse-iomap.pc" ] || fail "install-dev installed no .pc"
[ -f "$d/usr/lib/fuse-iomap/libbpf.a" ] || fail "install-dev installed no libbpf.a"
[ ! -e "$d/usr/bin" ] || fail "install-dev installed binaries"
[ ! -e "$d/sbin" ] || fail "install-dev installed mount helpers"
make -C "$REPO" -s uninstall DESTDIR="$d" PREFIX=/usr > "$top/uninstall.log" 2>&1 ||
	fail "make uninstall after install-dev failed: $(tail -n1 "$top/uninstall.log")"
listing "$d" > "$top/after"
diff -q "$top/before" "$top/after" > /dev/null || fail "uninstall after install-dev left the directory changed"
