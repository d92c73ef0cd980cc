#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bin/kqdafs-serve --selftest (the example event-driven server from user/):
# serves files and sockets from one kqueue and checks itself.  A payload
# without kqdafs-serve (make payload always ships it) fails.
. "$(dirname "$0")/../lib.sh"

SERVE="$BIN/kqdafs-serve"
[ -x "$SERVE" ] || fail "bin/kqdafs-serve is missing from the payload (make payload always ships it)"
kaio_load
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT
"$SERVE" --selftest || fail "kqdafs-serve --selftest failed (exit $?)"
trap - EXIT
kaio_finish
exit 0
