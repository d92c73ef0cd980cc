#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Kernel consumers (kqdafs_kapi(9)) through the test module
# kqdafs_consumer_test.ko, which MODULE_DEPENDs on kqdafs: each delivery
# mode (direct, delayed, poll) reading a pattern file and writing one with
# data checks, fsync, EAGAIN at depth, bad arguments, the upcall counters
# (bin/upcall_modes); cancel -> -ECANCELED and destroy with requests in
# flight (bin/upcall_cancel) -- on an uncached UFS behind a slow gnop(8)
# provider (buffer-cache path, strict) and on tmpfs (worker path); RDMA
# over kernel regions and loopback pairs in each mode, cancel, errnos,
# destroy with RECVs waiting, and over the test module's fake NIC
# provider (kqdafs_rdma_provider(9)) (bin/upcall_rdma).  Then:
# kldunload kqdafs (and kldunload -f) is refused while the consumer module
# is loaded and kqdafs keeps serving; the consumer module unloads, kqdafs
# stays until its own unload, the kqdafs malloc type is back to its
# baseline, no leak report.
. "$(dirname "$0")/../lib.sh"

require_file "$CTEST"
kaio_load
trap 'kldunload "$CTNAME" 2>/dev/null; kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
kldload "$CTEST" || fail "kldload $CTEST failed"
mod_loaded "$CTNAME" || fail "module $CTNAME not in kldstat after kldload"
ufs="$KAIO_ROOT/ufs"
tmp="$KAIO_ROOT/tmpfs"
mount_slow_ufs "$ufs" 256m "$ufs/upcall.dat" 64 300
mount_tmpfs "$tmp"
"$BIN/kaio_cache" create "$tmp/upcall.dat" 64 || fail "cannot create tmpfs file"
rc=0
# Cancel first: its regions (from 8 MiB on) must still be uncached.
run_prog upcall_cancel "$ufs/upcall.dat" $SLOW || rc=1
run_prog upcall_modes "$ufs/upcall.dat" || rc=1
run_prog upcall_cancel "$tmp/upcall.dat" || rc=1
run_prog upcall_modes "$tmp/upcall.dat" || rc=1
run_prog upcall_rdma || rc=1
[ "$(sysctl_get kern.kqdafs.consumers)" = 0 ] ||
    fail "kern.kqdafs.consumers is $(sysctl_get kern.kqdafs.consumers) after the runs"
[ "$(sysctl_get kern.kqdafs.rdma_providers)" = 0 ] ||
    fail "kern.kqdafs.rdma_providers is $(sysctl_get kern.kqdafs.rdma_providers) after the runs"
# The kernel refuses to unload a file another one depends on, forced or
# not (kern_kldunload, sys/kern/kern_linker.c: lf->refs > 1 is EBUSY),
# and sends it no module event: kqdafs stays and serves.
for f in "" -f; do
	if out=$(kldunload $f "$MODNAME" 2>&1); then
		fail "kldunload $f $MODNAME succeeded while $CTNAME depends on it"
	fi
	case "$out" in
	*"Device busy"*) diag "kldunload $f $MODNAME refused - $out" ;;
	*) fail "kldunload $f $MODNAME: expected EBUSY (Device busy), got '$out'" ;;
	esac
	kqdafs_loaded || fail "$MODNAME gone after a refused kldunload $f"
	[ -c "$DEVNODE" ] || fail "$DEVNODE gone after a refused kldunload $f"
	[ -n "$(sysctl_get kern.kqdafs.version)" ] ||
	    fail "kern.kqdafs.version empty after a refused kldunload $f"
done
kldunload "$CTNAME" || fail "kldunload $CTNAME failed"
mod_loaded "$CTNAME" && fail "$CTNAME still loaded after kldunload"
# The dependant's reference is gone; kqdafs keeps the user's.
kqdafs_loaded || fail "$MODNAME unloaded with $CTNAME"
kaio_teardown "$rc" "upcall_modes/upcall_cancel/upcall_rdma"
kaio_finish
exit 0
