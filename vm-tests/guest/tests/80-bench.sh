#!/bin/sh
# bin/kqdafs-bench --json FILE: benchmarks; the JSON document goes to
# $KQDAFS_RESULTS/bench/kqdafs-bench.json, which runner.sh prints between
# the KQDAFS-BENCH-JSON markers and the host harness saves as
# build/vm-tests/bench.json with a comparison table in summary.txt and
# bench.txt.  Skipped when the payload has no kqdafs-bench.
. "$(dirname "$0")/../lib.sh"

BENCH="$BIN/kqdafs-bench"
[ -x "$BENCH" ] || skip "no bin/kqdafs-bench in the payload"
out="${KQDAFS_RESULTS:-/tmp}/bench/kqdafs-bench.json"
tmp="$out.tmp"
mkdir -p "$(dirname "$out")"
kaio_load
trap 'rm -f "$tmp"; kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
mount_ufs "$KAIO_ROOT/ufs" 512m
cd "$KAIO_ROOT/ufs" || fail "cd $KAIO_ROOT/ufs"
"$BENCH" --json "$tmp" || fail "kqdafs-bench failed (exit $?)"
[ -s "$tmp" ] || fail "kqdafs-bench wrote no JSON"
# Only a complete document reaches the runner's bench directory.
mv "$tmp" "$out" || fail "mv $tmp $out"
diag "bench JSON: $(wc -c <"$out" | tr -d ' ') bytes"
cd / || true
kaio_cleanup
trap - EXIT
kaio_finish
exit 0
