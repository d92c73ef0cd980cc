#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# With kqdafs_slothog.ko holding the free kqueue filter slot (-12), loading
# kqdafs must fail cleanly: kldload fails, dmesg says
# "kqdafs: no free kqueue filter slot", nothing of kqdafs stays behind
# (no module, no file, no sysctls, no /dev/kqdafs).  After slothog is
# unloaded kqdafs loads again.
#
# Only meaningful when kqdafs uses the shared free slot; on a kernel with
# dedicated slots (kern.kqdafs.slot_mode = dedicated) the test is skipped.
. "$(dirname "$0")/../lib.sh"

msg="kqdafs: no free kqueue filter slot"

require_file "$KO"
require_file "$SLOTHOG"
ensure_unloaded

# Which slot mode does this kernel give kqdafs?
load_kqdafs
mode=$(sysctl_get kern.kqdafs.slot_mode)
unload_kqdafs
if [ "$mode" = dedicated ]; then
	skip "kernel provides dedicated filter slots; slot exhaustion not applicable"
fi

trap 'kldunload "$HOGNAME" 2>/dev/null; kldunload "$MODNAME" 2>/dev/null' EXIT
kldload "$SLOTHOG" || fail "kldload $SLOTHOG failed (is slot -12 free on this kernel?)"
mod_loaded "$HOGNAME" || fail "$HOGNAME not in kldstat after kldload"

before=$(dmesg_count "$msg")
if out=$(kldload "$KO" 2>&1); then
	fail "kldload kqdafs.ko succeeded while the slot was taken"
fi
diag "kldload failed as expected - $out"
after=$(dmesg_count "$msg")
[ "$after" -gt "$before" ] ||
    fail "dmesg has no new line containing '$msg'"
dmesg | grep -F -- "$msg" | tail -n 1 | sed 's/^/dmesg> /'

if kqdafs_loaded; then fail "module kqdafs present after failed load"; fi
if file_loaded kqdafs.ko; then fail "kqdafs.ko still linked after failed load"; fi
if sysctl_exists kern.kqdafs.version; then
	fail "kern.kqdafs sysctls left behind by the failed load"
fi
[ ! -e "$DEVNODE" ] || fail "$DEVNODE left behind by the failed load"

kldunload "$HOGNAME" || fail "kldunload $HOGNAME failed"
load_kqdafs
diag "kqdafs loads after slothog is gone (slot $(sysctl -n kern.kqdafs.filter_kaio))"
unload_kqdafs
trap - EXIT
exit 0
