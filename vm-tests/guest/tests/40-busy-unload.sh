#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# kldunload (and kldunload -f) must answer EBUSY ("Device busy") while
# /dev/kqdafs is open,
# leave the module fully working (kldstat, sysctls, device node), and
# succeed once the holder has gone.
. "$(dirname "$0")/../lib.sh"

ensure_unloaded
load_kqdafs

ready="${KQDAFS_RESULTS:-/tmp}/40-holder.ready"
rm -f "$ready"
# The holder opens /dev/kqdafs read-only on fd 3 and execs sleep, which
# inherits the descriptor.  Its output goes nowhere so the runner's pipe is
# not kept open by it.
sh -c 'exec 3<"$1" || exit 1; : >"$2"; exec sleep 30' holder \
    "$DEVNODE" "$ready" </dev/null >/dev/null 2>&1 &
holder=$!
trap 'kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; kldunload "$MODNAME" 2>/dev/null' EXIT

wait_ready "$ready" "$holder" "holder (opening $DEVNODE)"
diag "holder pid $holder has $DEVNODE open"

if out=$(kldunload "$MODNAME" 2>&1); then
	fail "kldunload succeeded while $DEVNODE was open"
fi
diag "kldunload refused - $out"
case "$out" in
*"Device busy"*) ;;
*) fail "expected EBUSY (Device busy), got '$out'" ;;
esac
kqdafs_loaded || fail "module gone after refused unload"
# kldunload -f: the kernel ignores MOD_QUIESCE's refusal, but MOD_UNLOAD
# refuses as well (linker_file_unload, sys/kern/kern_linker.c).
if out=$(kldunload -f "$MODNAME" 2>&1); then
	fail "kldunload -f succeeded while $DEVNODE was open"
fi
diag "kldunload -f refused - $out"
case "$out" in
*"Device busy"*) ;;
*) fail "kldunload -f: expected EBUSY (Device busy), got '$out'" ;;
esac
kqdafs_loaded || fail "module gone after refused kldunload -f"
v=$(sysctl_get kern.kqdafs.version)
[ -n "$v" ] || fail "kern.kqdafs.version empty after refused unload"
[ -c "$DEVNODE" ] || fail "$DEVNODE gone after refused unload"

kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT
unload_kqdafs
[ ! -e "$DEVNODE" ] || fail "$DEVNODE still exists after unload"
trap - EXIT
diag "unload succeeded after the holder exited"
exit 0
