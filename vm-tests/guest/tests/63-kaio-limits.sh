#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Per-process limits (bin/kaio_limits): max_requests_per_proc and
# max_pinned_per_proc set small -> EAGAIN; a read longer than
# max_pinned -> EINVAL; limits are per process; slots come back after
# completion; values restored.  Reads come from an uncached UFS on a
# gnop(8) provider that delays every read, so they really are in flight
# (without gnop the EAGAIN checks are only reported).
. "$(dirname "$0")/../lib.sh"

kaio_load
reqs0=$(sysctl_get "$KAIO_MAX_REQS")
pinned0=$(sysctl_get "$KAIO_MAX_PINNED")
trap 'sysctl "$KAIO_MAX_REQS=$reqs0" "$KAIO_MAX_PINNED=$pinned0" >/dev/null 2>&1; kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
ufs="$KAIO_ROOT/ufs"
mount_slow_ufs "$ufs" 256m "$ufs/limits.dat" 64 400
rc=0
run_prog kaio_limits "$ufs/limits.dat" $SLOW || rc=1
[ "$(sysctl_get "$KAIO_MAX_REQS")" = "$reqs0" ] || { diag "$KAIO_MAX_REQS not restored"; rc=1; }
[ "$(sysctl_get "$KAIO_MAX_PINNED")" = "$pinned0" ] || { diag "$KAIO_MAX_PINNED not restored"; rc=1; }
kaio_teardown "$rc" kaio_limits
kaio_finish
exit 0
