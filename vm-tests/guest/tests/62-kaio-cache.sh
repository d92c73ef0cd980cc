#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Buffer cache vs worker path, seen through the counters (bin/kaio_cache):
# on UFS, after a remount (cache dropped) a full read misses, the next one
# hits, all counted as buffer-cache requests; on tmpfs every read is a
# worker request and the buffer-cache counters stay still.
. "$(dirname "$0")/../lib.sh"

kaio_load
trap 'kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
ufs="$KAIO_ROOT/ufs"
tmp="$KAIO_ROOT/tmpfs"
mount_ufs "$ufs" 256m
dev=$KAIO_DEV
mount_tmpfs "$tmp"
"$BIN/kaio_cache" create "$ufs/cache.dat" 32 || fail "cannot create $ufs/cache.dat"
"$BIN/kaio_cache" create "$tmp/cache.dat" 32 || fail "cannot create $tmp/cache.dat"
rc=0
remount "$dev" "$ufs"
run_prog kaio_cache cold "$ufs/cache.dat" || rc=1
run_prog kaio_cache warm "$ufs/cache.dat" || rc=1
remount "$dev" "$ufs"
run_prog kaio_cache cold "$ufs/cache.dat" || rc=1
run_prog kaio_cache worker "$tmp/cache.dat" || rc=1
kaio_teardown "$rc" kaio_cache
kaio_finish
exit 0
