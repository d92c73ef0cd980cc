#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Device read errors on the buffer-cache path (bin/kaio_fault): a UFS on a
# gnop(8) provider, the test file uncached; with every device read failing
# each KAIO read completes with -EIO, with half failing each gets -EIO or
# all its right bytes, and once the device is healed the file reads back
# right (no failed block was cached as data).  Nothing hangs or stays in
# flight; then the usual unload and leak checks.
. "$(dirname "$0")/../lib.sh"

kaio_load
trap 'kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
ufs="$KAIO_ROOT/ufs"
mount_ufs "$ufs" 128m slow || skip "gnop(8) is not available"
"$BIN/kaio_cache" create "$ufs/fault.dat" 8 || fail "cannot create $ufs/fault.dat"
remount "$KAIO_DEV" "$ufs"
rc=0
run_prog kaio_fault "$ufs/fault.dat" "${KAIO_DEV#/dev/}" || rc=1
kaio_teardown "$rc" kaio_fault
kaio_finish
exit 0
