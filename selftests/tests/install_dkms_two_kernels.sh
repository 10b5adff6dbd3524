#!/bin/bash
# On a Debian 13 machine with two supported kernels' headers installed,
# Debian 13's 6.12 (deb13) and 7.3 from trixie-backports (deb13-bpo),
# make install-dkms builds and installs fuse_iomap.ko for both, each from
# its own linux-source and patch series: each module's vermagic is its
# kernel's, its name and version are ours, and it has BTF.  dkms build for
# a third, unsupported kernel is refused by BUILD_EXCLUSIVE_KERNEL, with
# our message that lists the supported kernels.
# The Debian 13 machine is the trixie root (make deps KTARGET=deb13 and
# KTARGET=deb13-bpo make it and the kernels' packages, which this test
# runs first); a kernel's headers are "installed" as a package installs
# them, /lib/modules/RELEASE/build, here a link to the unpacked headers.
# Everything it adds to the root is removed afterwards.
# Run by make check-kernels (selftests/run runs a "RUN: named" test only
# when it is named).
# WHERE: machine
# RUN: named
# TIMEOUT: 2400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/dkms.sh"

[ "$(id -u)" = 0 ] || fail "not root: the root's chroot and dkms need root"
targets="deb13 deb13-bpo"
other=6.1.0-99-amd64
for t in $targets; do
	log "make deps KTARGET=$t"
	(cd "$REPO" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s deps KTARGET=$t) \
		> "$T_TMP/deps-$t.log" 2>&1 ||
		fail "make deps KTARGET=$t failed: $(tail -n1 "$T_TMP/deps-$t.log")"
done
root=$("$REPO/scripts/target" --var ROOT deb13)
[ "$root" = "$("$REPO/scripts/target" --var ROOT deb13-bpo)" ] ||
	fail "deb13 and deb13-bpo have different roots"

# in_root CMD...: CMD on the Debian 13 machine (this one, if it runs
# Debian 13), from the repository.
in_root() {
	if [ -n "$root" ]; then
		(cd "$REPO" && scripts/in-root "$root" "$@")
	else
		(cd "$REPO" && "$@")
	fi
}

VERSION=$(cat "$REPO/VERSION")
name=fuse-iomap
in_root test ! -e "/usr/src/$name-$VERSION" ||
	fail "/usr/src/$name-$VERSION exists already in the Debian 13 root"

added=
for t in $targets; do
	krel=$("$REPO/scripts/target" --var KREL $t)
	hdr=$REPO/$("$REPO/scripts/target" --var BUILD $t)/kernel/usr/src/linux-headers-$krel
	[ -f "$hdr/Makefile" ] || fail "no headers for $t at $hdr"
	if ! in_root test -e "/lib/modules/$krel/build"; then
		in_root mkdir -p "/lib/modules/$krel"
		in_root ln -s "$hdr" "/lib/modules/$krel/build"
		added+=" $krel"
	fi
done
defer "for r in $added; do in_root rm -rf \"/lib/modules/\$r\"; done"
defer "in_root env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s uninstall-dkms KTARGET=deb13 > '$T_TMP/uninstall-dkms.log' 2>&1"
for k in /var/lib/dkms/mok.key /var/lib/dkms/mok.pub; do
	in_root test -e $k || defer "in_root rm -f $k"
done

log "make install-dkms KTARGET=deb13 in $root"
in_root env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install-dkms KTARGET=deb13 \
	> "$T_TMP/install-dkms.log" 2>&1 ||
	fail "make install-dkms failed: $(grep -m1 -iE 'error|refus' "$T_TMP/install-dkms.log" || tail -n1 "$T_TMP/install-dkms.log")"

for t in $targets; do
	krel=$("$REPO/scripts/target" --var KREL $t)
	ko=$(in_root bash -c "ls /lib/modules/$krel/updates/dkms/fuse_iomap.ko* 2>/dev/null" | head -n1)
	[ -n "$ko" ] || fail "$t: no fuse_iomap.ko installed in /lib/modules/$krel/updates/dkms"
	in_root dkms status -m $name -v "$VERSION" -k "$krel" | grep -q ': installed' ||
		fail "$t: DKMS does not list the module as installed for $krel"
	f=$T_TMP/$t-${ko##*/}
	in_root cat "$ko" > "$f"
	case $f in
	*.xz) xz -dkf "$f" && f=${f%.xz} ;;
	*.zst) zstd -qdf "$f" && f=${f%.zst} ;;
	esac
	expect_eq "$t modinfo name" "$(modinfo -F name "$f")" fuse_iomap
	expect_eq "$t modinfo version" "$(modinfo -F version "$f")" "$VERSION"
	vermagic=$(modinfo -F vermagic "$f")
	[ "${vermagic%% *}" = "$krel" ] || fail "$t: vermagic is '$vermagic', not for $krel"
	readelf -S "$f" | grep -q '\.BTF ' || fail "$t: the module DKMS built has no BTF"
	log "$t: $krel: ${ko##*/} installed, vermagic ${vermagic%% *}, BTF"
done

log "dkms build for $other (must be refused)"
rc=0
in_root dkms build -m $name -v "$VERSION" -k "$other" \
	--kernelsourcedir "/lib/modules/$("$REPO/scripts/target" --var KREL deb13)/build" \
	> "$T_TMP/other.log" 2>&1 || rc=$?
dkms_refused "$other" "$T_TMP/other.log" $rc
