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
DEVNODE=/dev/kqdafs

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
	for _m in "$MODNAME" "$HOGNAME"; do
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
