#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Stress (bin/kaio_stress -k): KQDAFS_STRESS_PROCS processes (default 8)
# for KQDAFS_STRESS_SECS seconds (default 40) each keeping hundreds of
# reads/writes/fsyncs in flight, checking every event, cancelling some,
# closing kqueues mid-flight, killed with SIGKILL at random and respawned;
# on UFS (buffer cache) and tmpfs (workers).  Then everything must be
# freed and the module must unload cleanly.
. "$(dirname "$0")/../lib.sh"

procs=${KQDAFS_STRESS_PROCS:-8}
secs=${KQDAFS_STRESS_SECS:-40}
kaio_load
trap 'kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
mount_ufs "$KAIO_ROOT/ufs" 256m
mount_tmpfs "$KAIO_ROOT/tmpfs"
rc=0
run_prog kaio_stress -k -p "$procs" -t "$secs" "$KAIO_ROOT/ufs" || rc=1
run_prog kaio_stress -k -p "$procs" -t "$secs" "$KAIO_ROOT/tmpfs" || rc=1
kaio_teardown "$rc" kaio_stress
kaio_finish
exit 0
