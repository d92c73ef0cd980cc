#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Every per-request errno of KQDAFS_IOC_KAIO_SUBMIT (bin/kaio_errno): bad
# op/flags/reserved, fsync arguments, negative offset, offset+len
# overflow, len > 16 MiB (EINVAL); fd/kq negative or not open, read on
# O_WRONLY, write on O_RDONLY, kq not a kqueue (EBADF); Capsicum without
# CAP_PREAD/CAP_PWRITE/CAP_FSYNC/CAP_KQUEUE_CHANGE (ENOTCAPABLE);
# pipe/socket/FIFO (ESPIPE); directory, /dev/null, kqueue (EINVAL); NULL,
# wrapping, kernel-space, unmapped, PROT_READ buffers (EFAULT); the order
# of faults.  On UFS and tmpfs.
. "$(dirname "$0")/../lib.sh"

kaio_load
trap 'kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
mount_ufs "$KAIO_ROOT/ufs" 64m
mount_tmpfs "$KAIO_ROOT/tmpfs"
rc=0
run_prog kaio_errno "$KAIO_ROOT/ufs" || rc=1
run_prog kaio_errno "$KAIO_ROOT/tmpfs" || rc=1
kaio_teardown "$rc" kaio_errno
kaio_finish
exit 0
