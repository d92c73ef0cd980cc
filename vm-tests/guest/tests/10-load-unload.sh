#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# kldload/kldunload kqdafs.ko KQDAFS_LOAD_CYCLES times (default 100);
# kldstat -q -m kqdafs must agree after every step.
. "$(dirname "$0")/../lib.sh"

require_file "$KO"
ensure_unloaded
cycles=${KQDAFS_LOAD_CYCLES:-100}
i=1
while [ "$i" -le "$cycles" ]; do
	kldload "$KO" || fail "kldload failed on cycle $i"
	kqdafs_loaded || fail "not in kldstat after kldload (cycle $i)"
	kldunload "$MODNAME" || fail "kldunload failed on cycle $i"
	if kqdafs_loaded; then
		fail "still in kldstat after kldunload (cycle $i)"
	fi
	if file_loaded kqdafs.ko; then
		fail "kqdafs.ko still linked after kldunload (cycle $i)"
	fi
	i=$((i + 1))
done
diag "$cycles load/unload cycles completed"
exit 0
