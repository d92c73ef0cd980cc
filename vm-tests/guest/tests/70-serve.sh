#!/bin/sh
# bin/kqdafs-serve --selftest (the example event-driven server from user/):
# serves files and sockets from one kqueue and checks itself.  Skipped
# when the payload has no kqdafs-serve.
. "$(dirname "$0")/../lib.sh"

SERVE="$BIN/kqdafs-serve"
[ -x "$SERVE" ] || skip "no bin/kqdafs-serve in the payload"
kaio_load
trap 'kldunload "$MODNAME" 2>/dev/null' EXIT
"$SERVE" --selftest || fail "kqdafs-serve --selftest failed (exit $?)"
trap - EXIT
kaio_finish
exit 0
