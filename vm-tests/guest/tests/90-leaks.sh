#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Leak and kernel-health checks.  What is actually checkable:
#
# * vmstat -m lists only malloc types that are registered, i.e. the
#   'kqdafs' type exists only while the module is loaded.  So:
#   - while loaded, InUse of 'kqdafs' must return to its post-load baseline
#     after 50 open/close cycles of /dev/kqdafs and sysctl reads;
#   - after unload the type must be gone from vmstat -m;
#   - at unload malloc_uninit() (sys/kern/kern_malloc.c) prints
#     "Warning: memory type kqdafs leaked memory on destroy (N allocations,
#     M bytes leaked)" when anything was still allocated: no new such line
#     may appear (the host watcher also flags it live on the console).
# * dmesg must not mention kqdafs together with witness / lock order
#   reversal / WARNING / KASSERT / panic.
# Also reports which kernel ran the suite and whether it has INVARIANTS and
# WITNESS (a stock GENERIC release kernel has neither; the LOR/KASSERT
# checks are only strong on a debug kernel).
. "$(dirname "$0")/../lib.sh"

diag "kernel ident: $(uname -i)"
diag "kernel version: $(uname -v)"
if sysctl -n debug.witness.watch >/dev/null 2>&1; then
	diag "WITNESS: yes (debug.witness.watch=$(sysctl -n debug.witness.watch))"
else
	diag "WITNESS: no (debug.witness.watch absent)"
fi
if sysctl -n kern.conftxt 2>/dev/null | grep -q '^options[[:space:]]*INVARIANTS$'; then
	diag "INVARIANTS: yes"
elif sysctl -n kern.conftxt >/dev/null 2>&1; then
	diag "INVARIANTS: no"
else
	diag "INVARIANTS: unknown (kern.conftxt unavailable)"
fi

leakmsg="memory type $MODNAME leaked memory on destroy"
ensure_unloaded
leaks_before=$(dmesg_count "$leakmsg")

load_kqdafs
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT
base=$(malloc_inuse "$MODNAME")
if [ -z "$base" ]; then
	diag "note - no '$MODNAME' malloc type in vmstat -m while loaded (module uses no private malloc type?)"
else
	diag "malloc type $MODNAME InUse after load = $base"
	i=0
	while [ "$i" -lt 50 ]; do
		: <"$DEVNODE" || fail "open/close of $DEVNODE failed"
		sysctl -n kern.kqdafs.knotes >/dev/null
		i=$((i + 1))
	done
	now=$(malloc_inuse "$MODNAME")
	diag "malloc type $MODNAME InUse after 50 open/close = $now"
	[ "$now" = "$base" ] ||
	    fail "InUse of $MODNAME grew from $base to $now over 50 open/close cycles"
fi
trap - EXIT
unload_kqdafs

gone=$(malloc_inuse "$MODNAME")
[ -z "$gone" ] || fail "malloc type $MODNAME still listed by vmstat -m after unload (InUse $gone)"
leaks_after=$(dmesg_count "$leakmsg")
[ "$leaks_after" -eq "$leaks_before" ] ||
    fail "kernel reported leaked $MODNAME memory at unload"

bad=$(dmesg | grep -i "$MODNAME" |
    grep -i -E 'witness|lock order|WARNING|KASSERT|panic' | head -n 20)
if [ -n "$bad" ]; then
	n=$(printf '%s\n' "$bad" | wc -l | tr -d ' ')
	fail "dmesg has $n suspicious line(s) mentioning $MODNAME (see the dmesg.txt report)"
fi
diag "dmesg clean for $MODNAME; no leaks detected"
exit 0
