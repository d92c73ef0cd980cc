#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Read-only sysctls published by kqdafs, and /dev/kqdafs lifetime.
#
#   kern.kqdafs.version            non-empty string
#   kern.kqdafs.filter_kaio        negative int (EVFILT_KAIO): -12 shared,
#                                  -16 dedicated (patched kernel)
#   kern.kqdafs.filter_rdma        negative int (EVFILT_RDMA): -12 / -17
#   kern.kqdafs.slot_mode          "shared" (both filters on one free slot,
#                                  -12 on a stock kernel) or "dedicated"
#                                  (two different slots)
#   kern.kqdafs.knotes             0 when idle
#   kern.kqdafs.requests_inflight  0 when idle
# Every leaf under kern.kqdafs (sysctl -N) is one of the 35 that
# publish_sysctls() and load() in src/module.rs register, and each of them
# is there.  33 are read-only: writing must fail and leave the value
# unchanged.  Two are read-write (the per-process limits,
# Access::ReadWrite): a write of value+1 reads back, and the old value is
# restored.
. "$(dirname "$0")/../lib.sh"

expect_shared=${KQDAFS_EXPECT_SHARED_SLOT:--12}

ensure_unloaded
load_kqdafs
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT

version=$(sysctl_get kern.kqdafs.version)
[ -n "$version" ] || fail "kern.kqdafs.version is empty"
diag "version = $version"

fk=$(sysctl_get kern.kqdafs.filter_kaio)
fr=$(sysctl_get kern.kqdafs.filter_rdma)
mode=$(sysctl_get kern.kqdafs.slot_mode)
diag "filter_kaio = $fk, filter_rdma = $fr, slot_mode = $mode"
for v in "$fk" "$fr"; do
	is_int "$v" || fail "filter slot '$v' is not an integer"
	if [ "$v" -lt -17 ] || [ "$v" -gt -1 ]; then
		fail "filter slot $v outside -17..-1"
	fi
done
case "$mode" in
shared)
	[ "$fk" -eq "$fr" ] ||
	    fail "slot_mode shared but filter_kaio $fk != filter_rdma $fr"
	[ "$fk" -eq "$expect_shared" ] ||
	    fail "slot_mode shared but slot is $fk, expected $expect_shared"
	;;
dedicated)
	[ "$fk" -eq -16 ] && [ "$fr" -eq -17 ] ||
	    fail "slot_mode dedicated but filters are $fk/$fr, expected -16/-17"
	;;
*)
	fail "kern.kqdafs.slot_mode is '$mode', expected shared or dedicated"
	;;
esac

for oid in kern.kqdafs.knotes kern.kqdafs.requests_inflight; do
	v=$(sysctl_get "$oid")
	[ "$v" = 0 ] || fail "$oid = $v while idle, expected 0"
done

# The leaves src/module.rs registers (publish_sysctls, and slot_mode in
# load), read-only and read-write.
ro="version filter_kaio filter_rdma slot_mode opens knotes requests_inflight
ioctl_errors attach_refused knote_renotified kaio_submitted kaio_refused
kaio_completed kaio_cancelled kaio_requests_bufcache kaio_requests_worker
kaio_bufcache_hits
kaio_bufcache_misses kaio_bufcache_punts kaio_vnlock_punts kaio_pinned_bytes rdma_posted rdma_refused rdma_completed
rdma_bytes rdma_mrs rdma_pinned_bytes rdma_endpoints rdma_providers consumers
upcalls_direct upcalls_delayed upcall_batches upcall_polled workers"
rw="max_requests_per_proc max_pinned_per_proc"

have=$(sysctl -N kern.kqdafs 2>/dev/null | sed -n 's/^kern\.kqdafs\.//p' | sort)
want=$(printf '%s\n' $ro $rw | sort)
if [ "$have" != "$want" ]; then
	listed="${KQDAFS_RESULTS:-/tmp}/20-sysctl.listed"
	printf '%s\n' "$want" >"$listed"
	printf '%s\n' "$have" | diff "$listed" - | sed 's/^/# /'
	fail "kern.kqdafs leaves differ from the list in 20-sysctl.sh (diff above: < listed, > in the kernel)"
fi
nro=0
for leaf in $ro; do
	oid=kern.kqdafs.$leaf
	before=$(sysctl_get "$oid")
	if sysctl "$oid=7" >/dev/null 2>&1; then
		fail "writing $oid succeeded; it must be read-only"
	fi
	after=$(sysctl_get "$oid")
	# counters may move on their own (another test's leftovers); the
	# idle ones and the strings must not
	case "$leaf" in
	version|filter_kaio|filter_rdma|slot_mode|knotes|requests_inflight|\
	    opens|workers|rdma_mrs|rdma_endpoints|rdma_pinned_bytes|\
	    kaio_pinned_bytes|consumers|rdma_providers)
		[ "$before" = "$after" ] ||
		    fail "$oid changed from '$before' to '$after'"
		;;
	esac
	nro=$((nro + 1))
done
for leaf in $rw; do
	oid=kern.kqdafs.$leaf
	before=$(sysctl_get "$oid")
	is_int "$before" || fail "$oid = '$before' is not an integer"
	sysctl "$oid=$((before + 1))" >/dev/null ||
	    fail "writing $oid (read-write) as root failed"
	now=$(sysctl_get "$oid")
	sysctl "$oid=$before" >/dev/null || fail "cannot restore $oid to $before"
	[ "$now" = $((before + 1)) ] ||
	    fail "$oid reads $now after writing $((before + 1))"
	[ "$(sysctl_get "$oid")" = "$before" ] || fail "$oid not restored"
done
diag "kern.kqdafs: $nro read-only leaves refuse writes; read-write: $rw"

[ -c "$DEVNODE" ] || fail "$DEVNODE missing (or not a character device) while loaded"

trap - EXIT
unload_kqdafs
[ ! -e "$DEVNODE" ] || fail "$DEVNODE still exists after unload"
if sysctl_exists kern.kqdafs.version; then
	fail "kern.kqdafs.version still exists after unload"
fi
diag "$DEVNODE and kern.kqdafs gone after unload"
exit 0
