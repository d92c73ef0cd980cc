#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# KAIO data path (bin/kaio_rw) on a UFS on md(4) (buffer-cache path) and on
# tmpfs (worker path): reads at many offsets/lengths incl. unaligned,
# block-spanning and 0-length, EOF (at/past -> 0, across -> short), write
# then read back, holes, fsync, a batch of 256, malformed batches (count
# 0/257, flags, NULL/unmapped/read-only arrays -> EINVAL/EFAULT, nothing
# submitted), a mixed batch.  Then unload with nothing leaked.
. "$(dirname "$0")/../lib.sh"

kaio_load
trap 'kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
mount_ufs "$KAIO_ROOT/ufs" 256m
mount_tmpfs "$KAIO_ROOT/tmpfs"
rc=0
run_prog kaio_rw "$KAIO_ROOT/ufs" || { diag "kaio_rw on UFS failed"; rc=1; }
run_prog kaio_rw "$KAIO_ROOT/tmpfs" || { diag "kaio_rw on tmpfs failed"; rc=1; }
kaio_teardown "$rc" kaio_rw
kaio_finish
exit 0
