#!/bin/sh
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
# All are read-only: writing must fail and leave the value unchanged.
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

for oid in kern.kqdafs.version kern.kqdafs.filter_kaio kern.kqdafs.filter_rdma \
    kern.kqdafs.slot_mode kern.kqdafs.knotes kern.kqdafs.requests_inflight; do
	before=$(sysctl_get "$oid")
	if sysctl "$oid=7" >/dev/null 2>&1; then
		fail "writing $oid succeeded; it must be read-only"
	fi
	after=$(sysctl_get "$oid")
	[ "$before" = "$after" ] || fail "$oid changed from '$before' to '$after'"
done
diag "all kern.kqdafs sysctls are read-only"

[ -c "$DEVNODE" ] || fail "$DEVNODE missing (or not a character device) while loaded"

trap - EXIT
unload_kqdafs
[ ! -e "$DEVNODE" ] || fail "$DEVNODE still exists after unload"
if sysctl_exists kern.kqdafs.version; then
	fail "kern.kqdafs.version still exists after unload"
fi
diag "$DEVNODE and kern.kqdafs gone after unload"
exit 0
