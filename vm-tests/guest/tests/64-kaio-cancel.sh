#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
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
mount_slow_ufs "$ufs" 256m "$ufs/cancel.dat" 96 300
mount_tmpfs "$tmp"
"$BIN/kaio_cache" create "$tmp/cancel.dat" 96 || fail "cannot create tmpfs file"
rc=0
run_prog kaio_cancel "$ufs/cancel.dat" $SLOW || rc=1
run_prog kaio_cancel "$tmp/cancel.dat" || rc=1
kaio_teardown "$rc" kaio_cancel
kaio_finish
exit 0
