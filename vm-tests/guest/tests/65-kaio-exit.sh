#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Process death with requests in flight, and unload while requests are in
# flight.  bin/kaio_hold submits reads to a slow (gnop(8)) uncached UFS
# and sleeps:
#   - kldunload fails with EBUSY while it runs;
#   - kill -9 it; while its reads are still held by the slow device (and
#     /dev/kqdafs is already closed) kldunload still fails with EBUSY;
#   - once they are done everything is freed: in-flight 0, malloc type
#     kqdafs back to its post-load InUse, kldunload succeeds, the type is
#     gone (0 in use) and the kernel reported no leak.
. "$(dirname "$0")/../lib.sh"

ready="${KQDAFS_RESULTS:-/tmp}/65-hold.ready"
kaio_load
holder=""
trap '[ -z "$holder" ] || kill -9 "$holder" 2>/dev/null; kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
ufs="$KAIO_ROOT/ufs"
mount_slow_ufs "$ufs" 256m "$ufs/hold.dat" 128 3000
[ -n "$SLOW" ] || skip "gnop(8) not available: cannot hold reads in flight"
dev=$KAIO_DEV

for round in 1 2; do
	rm -f "$ready"
	require_file "$BIN/kaio_hold"
	"$BIN/kaio_hold" "$ufs/hold.dat" 100 "$ready" &
	holder=$!
	wait_ready "$ready" "$holder" "kaio_hold (submitting its reads)"
	diag "round $round - holder $holder has 100 reads submitted, in flight $(kaio_inflight)"
	if out=$(kldunload "$MODNAME" 2>&1); then
		fail "kldunload succeeded with requests in flight"
	fi
	case "$out" in
	*"Device busy"*) diag "kldunload refused - $out" ;;
	*) fail "expected EBUSY (Device busy), got '$out'" ;;
	esac
	kill -9 "$holder"
	wait "$holder" 2>/dev/null
	holder=""
	left=$(kaio_inflight)
	diag "holder killed; in flight right after: $left"
	if [ "$left" != 0 ] && [ "$left" != "?" ]; then
		if kldunload "$MODNAME" 2>/dev/null; then
			fail "kldunload succeeded while $left requests of a dead process were in flight"
		fi
		diag "kldunload refused while the dead process's reads are in flight"
	else
		diag "note - reads finished before the unload attempt; EBUSY-after-exit not exercised"
	fi
	wait_inflight_zero 60 || fail "requests of the killed process never released ($(kaio_inflight))"
	kqdafs_loaded || fail "module gone after refused unloads"
	# The dropped reads left the file cached: drop it for round 2.
	remount "$dev" "$ufs"
done
kaio_teardown 0 kaio_hold
kaio_finish
exit 0
