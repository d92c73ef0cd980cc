#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The /dev/kqdafs ioctl ABI from a real FreeBSD program (bin/kqdafsctl,
# cross-built from user/):
#   - KQDAFS_IOC_INFO answers, agrees with kern.kqdafs.*, reserved fields 0;
#   - malformed commands (unknown number, other group, wrong size, wrong
#     direction) fail with ENOTTY and leave the caller's buffer untouched;
#   - a kevent(EV_ADD) on the module's filter from user space is refused
#     (counted in kern.kqdafs.attach_refused);
#   - every failed ioctl is counted in kern.kqdafs.ioctl_errors;
#   - kqdafsctl hold keeps the module busy exactly while it runs.
. "$(dirname "$0")/../lib.sh"

CTL="$KQDAFS_PAYLOAD/bin/kqdafsctl"
require_file "$CTL"

ensure_unloaded
load_kqdafs
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT

out=$("$CTL" info 2>&1) || fail "kqdafsctl info failed: $out"
printf '%s\n' "$out" | while IFS= read -r line; do diag "$line"; done
printf '%s\n' "$out" | grep -qx "filter_kaio=$(sysctl_get kern.kqdafs.filter_kaio)" ||
    fail "info filter_kaio disagrees with sysctl"

errs_before=$(sysctl_get kern.kqdafs.ioctl_errors)
out=$("$CTL" badioctl 2>&1) || fail "kqdafsctl badioctl: $out"
printf '%s\n' "$out" | while IFS= read -r line; do diag "$line"; done
errs_after=$(sysctl_get kern.kqdafs.ioctl_errors)
[ "$errs_after" -ge $((errs_before + 4)) ] ||
    fail "ioctl_errors went $errs_before -> $errs_after, expected +4"

refused_before=$(sysctl_get kern.kqdafs.attach_refused)
out=$("$CTL" useradd 2>&1) || fail "kqdafsctl useradd: $out"
diag "$out"
refused_after=$(sysctl_get kern.kqdafs.attach_refused)
[ "$refused_after" -gt "$refused_before" ] ||
    fail "attach_refused did not move ($refused_before -> $refused_after)"
[ "$(sysctl_get kern.kqdafs.knotes)" = 0 ] || fail "a knote was left behind"

"$CTL" hold 5 >/dev/null 2>&1 &
holder=$!
sleep 1
[ "$(sysctl_get kern.kqdafs.opens)" = 1 ] || fail "opens is not 1 while held"
if kldunload "$MODNAME" 2>/dev/null; then
	fail "kldunload succeeded while kqdafsctl held the device"
fi
wait "$holder" || fail "kqdafsctl hold failed"
[ "$(sysctl_get kern.kqdafs.opens)" = 0 ] || fail "opens is not 0 after close"
unload_kqdafs
trap - EXIT
exit 0
