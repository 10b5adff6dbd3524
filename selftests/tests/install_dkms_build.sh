#!/bin/bash
# make install-dkms registers the module's sources with DKMS in /usr/src;
# dkms build for the pinned kernel (headers from the KHEADERS the build
# uses) makes a fuse_iomap.ko whose modinfo is ours, not the stock fuse's;
# a guest loads that very file and passes kmod_load_unload with it; and
# dkms build for any other kernel release is refused with our message.
# Runs on the host as root, on the real /usr/src and /var/lib/dkms (CI's
# own machine); removes all of it afterwards, whatever the outcome.
# WHERE: host
# TIMEOUT: 1500
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/dkms.sh"

VERSION=$(cat "$REPO/VERSION")
name=fuse-iomap
src=/usr/src/$name-$VERSION
tree=/var/lib/dkms/$name/$VERSION
top=$BUILD/selftests/$T_NAME
# A release DKMS must refuse.
other=6.1.0-99-amd64

[ "$(id -u)" = 0 ] || fail "not root: dkms needs root (make check runs host tests as root)"
command -v dkms > /dev/null || fail "dkms is not installed: run 'make deps'"
# Never take over a real installation.
[ ! -e "$src" ] || fail "$src exists already (make uninstall-dkms removes it)"
[ -z "$(dkms status -m $name -v "$VERSION" 2>/dev/null)" ] ||
	fail "$name $VERSION is registered with DKMS already (make uninstall-dkms removes it)"

# $top keeps the guest's console and logs (selftests/run starts afresh).
rm -rf "$top" && mkdir -p "$top"
defer "rm -f '$top'/fuse_iomap.ko*"
# dkms makes a signing key on its first build; keep the machine as it was.
for k in /var/lib/dkms/mok.key /var/lib/dkms/mok.pub; do
	[ -e $k ] || defer "rm -f $k"
done
defer "make -C '$REPO' -s uninstall-dkms > '$T_TMP/uninstall-dkms.log' 2>&1"

log "make install-dkms"
make -C "$REPO" -s install-dkms DKMS_INSTALL=no > "$T_TMP/install-dkms.log" 2>&1 ||
	fail "make install-dkms failed: $(tail -n1 "$T_TMP/install-dkms.log")"
for f in dkms.conf VERSION kmod/prepare-src kmod/Kbuild kmod/iomap.c include/fuse_iomap_bpf.h \
	$(cd "$REPO" && ls kmod/patches/*/*.patch); do
	[ -f "$src/$f" ] || fail "make install-dkms did not copy $f to $src"
done
dkms status -m $name -v "$VERSION" | grep -q ': added' ||
	fail "not registered with DKMS: $(dkms status -m $name -v "$VERSION")"

khdr=$(make -C "$REPO" -s print-KHEADERS)
[ -f "$khdr/Makefile" ] || fail "no kernel headers at $khdr (KHEADERS): run 'make deps'"
log "dkms build for $KREL with headers $khdr"
dkms build -m $name -v "$VERSION" -k "$KREL" --kernelsourcedir "$khdr" > "$T_TMP/build.log" 2>&1 ||
	fail "dkms build failed: $(tail -n1 "$T_TMP/build.log"); $(tail -n3 "$tree/build/make.log" 2>/dev/null | xargs)"
ko=$(ls "$tree/$KREL/$(uname -m)/module/"fuse_iomap.ko* 2>/dev/null | head -n1)
[ -n "$ko" ] || fail "dkms build left no fuse_iomap.ko in $tree/$KREL/$(uname -m)/module"
dkms status -m $name -v "$VERSION" -k "$KREL" | grep -q ': built' ||
	fail "DKMS does not list the module as built: $(dkms status -m $name -v "$VERSION" -k "$KREL")"

expect_eq "modinfo name" "$(modinfo -F name "$ko")" fuse_iomap
expect_eq "modinfo version" "$(modinfo -F version "$ko")" "$VERSION"
desc=$(modinfo -F description "$ko")
case $desc in
fuse-iomap-bpf:*) ;;
*) fail "modinfo description is not ours: '$desc'" ;;
esac
vermagic=$(modinfo -F vermagic "$ko")
[ "${vermagic%% *}" = "$KREL" ] || fail "modinfo vermagic is '$vermagic', not for $KREL"

# Any other kernel: refused, with the reason.
log "dkms build for $other (must be refused)"
rc=0
dkms build -m $name -v "$VERSION" -k "$other" --kernelsourcedir "$khdr" > "$T_TMP/other.log" 2>&1 || rc=$?
dkms_refused "$other" "$T_TMP/other.log" $rc
[ ! -e "$tree/$other" ] || fail "dkms built something for $other"

# The guest sees the repository, not the host's /var/lib/dkms once we
# clean up: it loads a copy of DKMS's file, name and all.
cp "$ko" "$top/"
gko=$top/${ko##*/}
log "booting a guest for kmod_load_unload with FI_KMOD=$gko"
rc=0
selftests_out=build/selftests/$T_NAME/guest
(cd "$REPO" && selftests/vm/boot --silent --timeout 900 --console "$top/console.log" --env "FI_KMOD=$gko" \
	-- selftests/lib/run-tests guest "$selftests_out" kmod_load_unload) > "$T_TMP/boot.log" 2>&1 || rc=$?
res=$REPO/$selftests_out/results.raw
[ -f "$res" ] || fail "the guest recorded no result (boot exit $rc: $(tail -n1 "$T_TMP/boot.log"))"
line=$(awk -F'\t' '$2 == "kmod_load_unload"' "$res")
case $line in
PASS*) ;;
*) fail "kmod_load_unload with the DKMS module: $(cut -f1,4 <<<"$line" | tr '\t' ' ')" ;;
esac
grep -qxF "# module: $gko" "$REPO/$selftests_out/logs/kmod_load_unload.log" ||
	fail "kmod_load_unload did not load $gko (FI_KMOD not passed?)"
[ $rc = 0 ] || fail "the guest's boot ended with status $rc"
