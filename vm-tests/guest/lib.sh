# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for guest/tests/*.sh (sourced; POSIX sh).
#
# Tests print diagnostics with diag() ('# ' prefix) and end with exit 0 (ok),
# skip "reason" (exit 77) or fail "reason" (exit 1).  They must never print
# the phrases the host watcher treats as kernel trouble ("panic:",
# "Fatal trap", "lock order reversal", "leaked memory on destroy", ...).

set -u

: "${KQDAFS_PAYLOAD:=/tmp/kqdafs}"
KO="$KQDAFS_PAYLOAD/kqdafs.ko"
SLOTHOG="$KQDAFS_PAYLOAD/kqdafs_slothog.ko"
MODNAME=kqdafs
HOGNAME=kqdafs_slothog
CTEST="$KQDAFS_PAYLOAD/kqdafs_consumer_test.ko"
CTNAME=kqdafs_consumer_test
# (KQDAFS_DEVNODE: for host runs of the scripts with stand-in commands)
DEVNODE=${KQDAFS_DEVNODE:-/dev/kqdafs}

diag() { printf '# %s\n' "$*"; }
fail() { diag "FAIL - $*"; exit 1; }
skip() {
	diag "skip - $*"
	if [ -n "${KQDAFS_SKIP_FILE:-}" ]; then
		printf '%s\n' "$*" >"$KQDAFS_SKIP_FILE"
	fi
	exit 77
}

require_file() {
	[ -f "$1" ] || fail "missing payload file $1"
}

# kldstat -q -m NAME: exit 0 iff module NAME is present (kldstat(8)).
mod_loaded() { kldstat -q -m "$1"; }
file_loaded() { kldstat -q -n "$1"; }
kqdafs_loaded() { mod_loaded "$MODNAME"; }

# Best effort: bring the kernel back to "nothing of ours loaded" so a failed
# earlier test does not poison the next one.
ensure_unloaded() {
	for _m in "$CTNAME" "$MODNAME" "$HOGNAME"; do
		if mod_loaded "$_m" || file_loaded "$_m.ko"; then
			kldunload "$_m" 2>/dev/null ||
			    diag "note - could not unload leftover $_m"
		fi
	done
	if kqdafs_loaded; then
		fail "kqdafs is still loaded from an earlier test"
	fi
}

load_kqdafs() {
	require_file "$KO"
	kldload "$KO" || fail "kldload $KO failed"
	kqdafs_loaded || fail "kldload returned 0 but module $MODNAME not in kldstat"
}

unload_kqdafs() {
	kldunload "$MODNAME" || fail "kldunload $MODNAME failed"
	if kqdafs_loaded; then
		fail "module $MODNAME still present after kldunload"
	fi
}

# sysctl value or fail
sysctl_get() {
	_v=$(sysctl -n "$1" 2>/dev/null) || fail "sysctl $1 is missing"
	printf '%s\n' "$_v"
}

sysctl_exists() { sysctl -N "$1" >/dev/null 2>&1; }

# is_int STRING: optional '-' then digits only
is_int() {
	case "$1" in
	''|-|*[!0-9-]*|?*-*) return 1 ;;
	*) return 0 ;;
	esac
}

# count of dmesg lines containing a fixed string
dmesg_count() { dmesg | grep -F -c -- "$1"; }

# InUse column of the 'kqdafs' malloc type in vmstat -m ('' when absent)
malloc_inuse() {
	vmstat -m | awk -v t="$1" '$1 == t { print $2; exit }'
}

# ---- KAIO tests (6x-kaio-*.sh) ----------------------------------------
#
# Counter names still being finalized live here (and in
# tests/guest/lib/kqt.h, KQT_SYSCTL_*): a rename is a one-line change.
KAIO_INFLIGHT=kern.kqdafs.requests_inflight
KAIO_INFLIGHT_OLD=kern.kqdafs.requests_inflight
KAIO_MAX_REQS=kern.kqdafs.max_requests_per_proc
KAIO_MAX_PINNED=kern.kqdafs.max_pinned_per_proc
BIN="$KQDAFS_PAYLOAD/bin"
KAIO_ROOT="${KQDAFS_RESULTS:-/tmp}/kaio-mnt"
KAIO_MDS=""
KAIO_MOUNTS=""
KAIO_NOPS=""
KAIO_MD=""
KAIO_DEV=""
KAIO_BASE=0

kaio_inflight() {
	sysctl -n "$KAIO_INFLIGHT" 2>/dev/null ||
	    sysctl -n "$KAIO_INFLIGHT_OLD" 2>/dev/null || echo "?"
}

# wait_inflight_zero SECS: 0 once the module has no request in flight
wait_inflight_zero() {
	_n=$(( $1 * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(kaio_inflight)" = 0 ] && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# run_prog NAME ARGS...: run a test program from the payload, TAP on stdout
run_prog() {
	_p=$1
	shift
	require_file "$BIN/$_p"
	diag "running $_p $*"
	"$BIN/$_p" "$@"
}

# new_md SIZE: attach a swap-backed md(4); its unit (md0...) in KAIO_MD.
# (These helpers set variables instead of printing: a $(...) subshell
# would lose the cleanup lists and a fail.)
new_md() {
	KAIO_MD=$(mdconfig -a -t swap -s "$1") ||
	    fail "mdconfig -a -t swap -s $1 failed"
	KAIO_MDS="$KAIO_MDS $KAIO_MD"
}

# mount_ufs DIR SIZE [slow]: newfs -U a new md(4) and mount it on DIR; the
# device mounted in KAIO_DEV.  With "slow" the file system sits on a
# gnop(8) provider (make it slow with slow_dev); returns 1 if gnop is not
# available.
mount_ufs() {
	new_md "$2"
	KAIO_DEV=/dev/$KAIO_MD
	if [ "${3:-}" = slow ]; then
		gnop create "$KAIO_DEV" >/dev/null 2>&1 || return 1
		KAIO_NOPS="$KAIO_MD.nop $KAIO_NOPS"
		KAIO_DEV=/dev/$KAIO_MD.nop
	fi
	newfs -U "$KAIO_DEV" >/dev/null || fail "newfs -U $KAIO_DEV failed"
	mkdir -p "$1"
	mount "$KAIO_DEV" "$1" || fail "mount $KAIO_DEV $1 failed"
	KAIO_MOUNTS="$1 $KAIO_MOUNTS"
	return 0
}

# mount_tmpfs DIR: a tmpfs (no buffer cache: the KAIO worker path)
mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o size=256m tmpfs "$1" || fail "mount -t tmpfs on $1 failed"
	KAIO_MOUNTS="$1 $KAIO_MOUNTS"
}

# remount DEV DIR: unmount and mount again, which drops the file system's
# cached buffers and pages (the vnodes are reclaimed)
remount() {
	umount "$2" || fail "umount $2 failed"
	mount "$1" "$2" || fail "mount $1 $2 failed"
}

# slow_dev DEV MSEC: every read of gnop provider DEV waits MSEC ms
slow_dev() {
	gnop configure -d "$2" -q 100 "${1#/dev/}" ||
	    fail "gnop configure -d $2 -q 100 $1 failed"
}

# mount_slow_ufs DIR SIZE FILE MB MSEC: a UFS of SIZE on DIR holding FILE
# (MB MiB of the test pattern, kaio_cache create), remounted so that FILE is
# not cached; where gnop(8) exists the file system sits on it and every
# read then waits MSEC ms.  Sets KAIO_DEV, and SLOW to "slow", or to "" if
# gnop(8) is not available.
mount_slow_ufs() {
	SLOW=slow
	if ! mount_ufs "$1" "$2" slow; then
		diag "note - gnop(8) unavailable; running without a slow device"
		SLOW=""
		mount_ufs "$1" "$2"
	fi
	"$BIN/kaio_cache" create "$3" "$4" || fail "cannot create test file"
	umount "$1" || fail "umount $1"
	[ -z "$SLOW" ] || slow_dev "$KAIO_DEV" "$5"
	mount "$KAIO_DEV" "$1" || fail "mount $KAIO_DEV $1"
}

# wait_ready FILE PID WHO: wait up to 10 s for process PID to create FILE;
# fail if it exits first ("WHO exited before it was ready") or is late.
wait_ready() {
	_n=0
	while [ ! -e "$1" ]; do
		kill -0 "$2" 2>/dev/null || fail "$3 exited before it was ready"
		_n=$((_n + 1))
		[ "$_n" -le 100 ] || fail "$3 not ready within 10s"
		sleep 0.1
	done
}

# kaio_cleanup: unmount, destroy gnop providers and md devices (best effort)
kaio_cleanup() {
	for _m in $KAIO_MOUNTS; do
		umount -f "$_m" 2>/dev/null
	done
	for _g in $KAIO_NOPS; do
		gnop destroy -f "$_g" 2>/dev/null
	done
	for _md in $KAIO_MDS; do
		mdconfig -d -u "$_md" 2>/dev/null
	done
	KAIO_MOUNTS=""
	KAIO_NOPS=""
	KAIO_MDS=""
}

# kaio_load: load kqdafs; KAIO_BASE = InUse of its malloc type after load
kaio_load() {
	ensure_unloaded
	load_kqdafs
	KAIO_BASE=$(malloc_inuse "$MODNAME")
	: "${KAIO_BASE:=0}"
}

# kaio_finish [BASE]: the end of every KAIO test.  No request in flight,
# InUse of the kqdafs malloc type back to BASE (what it was after load),
# unload succeeds, the type is gone from vmstat -m (or shows 0 in use) and
# the kernel reported no leaked kqdafs memory.
kaio_finish() {
	set -- "${1:-$KAIO_BASE}"
	_leakmsg="memory type $MODNAME leaked memory on destroy"
	_leaks=$(dmesg_count "$_leakmsg")
	wait_inflight_zero 30 ||
	    fail "requests still in flight 30s after the test: $(kaio_inflight)"
	_n=100
	while [ "$_n" -gt 0 ]; do
		_now=$(malloc_inuse "$MODNAME")
		[ "${_now:-0}" = "$1" ] && break
		sleep 0.1
		_n=$((_n - 1))
	done
	diag "malloc type $MODNAME InUse: $1 after load, ${_now:-0} now"
	[ "${_now:-0}" = "$1" ] ||
	    fail "InUse of $MODNAME is ${_now:-0}, was $1 after load"
	unload_kqdafs
	_gone=$(malloc_inuse "$MODNAME")
	case "${_gone:-0}" in
	0) ;;
	*) fail "malloc type $MODNAME shows InUse $_gone after unload" ;;
	esac
	[ "$(dmesg_count "$_leakmsg")" -eq "$_leaks" ] ||
	    fail "kernel reported leaked $MODNAME memory at unload"
	diag "unloaded; $MODNAME malloc type clean"
}

# kaio_teardown RC PROG: tear the file systems of a KAIO test script down
# and fail if RC (PROG's runs) is not 0; the script then ends with
# kaio_finish.
kaio_teardown() {
	kaio_cleanup
	[ "$1" = 0 ] || fail "$2 reported failures (see 'not ok' above)"
	trap - EXIT
}

# ---- RDMA tests (67-rdma.sh, 69-rdma-stress.sh) -----------------------
#
# Counter names kept equal to tests/guest/lib/kqt.h (KQT_SYSCTL_RDMA_*).
RDMA_MRS=kern.kqdafs.rdma_mrs
RDMA_EPS=kern.kqdafs.rdma_endpoints
RDMA_PINNED=kern.kqdafs.rdma_pinned_bytes

# rdma_counters: the three RDMA table counters on one line
rdma_counters() {
	printf 'rdma_mrs=%s rdma_endpoints=%s rdma_pinned_bytes=%s\n' \
	    "$(sysctl -n "$RDMA_MRS" 2>/dev/null || echo '?')" \
	    "$(sysctl -n "$RDMA_EPS" 2>/dev/null || echo '?')" \
	    "$(sysctl -n "$RDMA_PINNED" 2>/dev/null || echo '?')"
}

# rdma_finish [BASE]: the end of every RDMA test.  No memory region,
# endpoint or pinned byte left (within 30 s), then kaio_finish: nothing in
# flight, kqdafs malloc InUse back to BASE, unload, no leak reported.
rdma_finish() {
	for _c in "$RDMA_MRS" "$RDMA_EPS" "$RDMA_PINNED"; do
		_n=300
		while [ "$(sysctl -n "$_c" 2>/dev/null)" != 0 ]; do
			_n=$((_n - 1))
			[ "$_n" -gt 0 ] ||
			    fail "$_c still not 0 30s after the test: $(rdma_counters)"
			sleep 0.1
		done
	done
	diag "RDMA tables empty: $(rdma_counters)"
	kaio_finish "$@"
}
