#!/bin/bash
# A device cookie is never handed out again once its device is
# unregistered: register, unregister, register gives a new cookie, and a
# mapping that still names the old one (as a stale BPF map entry would) is
# refused by the dev_unknown rule instead of reaching the new device.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 8
mnt=$T_TMP/mnt
CRAFT_WANT=$T_TMP/want
head -c $((1 << 20)) /dev/urandom > "$CRAFT_WANT"
dd if="$CRAFT_WANT" of="$dev" bs=1M conv=fsync status=none

craft_try stale_cookie dev_unknown read --reregister "$dev" --read "mapped,0,1048576,0,old"
read -r _ _ old _ _ new < <(grep '^old cookie' "$T_TMP/stale_cookie.out") ||
	fail "the server printed no cookies: $(tail -n1 "$T_TMP/stale_cookie.out")"
[ "$old" != "$new" ] || fail "the cookie $old was handed out again after its device was unregistered"
log "cookies: $old, then $new"
# The new cookie works: it was the cookie that was refused, not the device.
craft_try new_cookie none read --reregister "$dev" --read "mapped,0,1048576,0,reg"
