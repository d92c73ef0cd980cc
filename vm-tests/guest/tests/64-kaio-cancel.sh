#!/bin/sh
# KQDAFS_IOC_KAIO_CANCEL outcomes (0 -> event data -ECANCELED, EALREADY,
# ENOENT, pad -> EINVAL, other descriptor -> ENOENT) and closing the
# kqueue with requests in flight (no event anywhere, in-flight count back,
# device still usable), bin/kaio_cancel: on an uncached UFS behind a slow
# gnop(8) provider (strict), then on tmpfs (worker path, lenient).
. "$(dirname "$0")/../lib.sh"

kaio_load
trap 'kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
ufs="$KAIO_ROOT/ufs"
tmp="$KAIO_ROOT/tmpfs"
slow=slow
if ! mount_ufs "$ufs" 256m slow; then
	diag "note - gnop(8) unavailable; running without a slow device"
	slow=""
	mount_ufs "$ufs" 256m
fi
dev=$KAIO_DEV
"$BIN/kaio_cache" create "$ufs/cancel.dat" 96 || fail "cannot create test file"
umount "$ufs" || fail "umount $ufs"
[ -z "$slow" ] || slow_dev "$dev" 300
mount "$dev" "$ufs" || fail "mount $dev $ufs"
mount_tmpfs "$tmp"
"$BIN/kaio_cache" create "$tmp/cancel.dat" 96 || fail "cannot create tmpfs file"
rc=0
run_prog kaio_cancel "$ufs/cancel.dat" $slow || rc=1
run_prog kaio_cancel "$tmp/cancel.dat" || rc=1
kaio_cleanup
[ "$rc" = 0 ] || fail "kaio_cancel reported failures (see 'not ok' above)"
trap - EXIT
kaio_finish
exit 0
