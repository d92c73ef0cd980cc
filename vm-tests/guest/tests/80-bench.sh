#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# bin/kqdafs-bench --json FILE: benchmarks; the JSON document goes to
# $KQDAFS_RESULTS/bench/kqdafs-bench.json, which runner.sh prints between
# the KQDAFS-BENCH-JSON markers and the host harness saves as
# build/vm-tests/bench.json with a comparison table in summary.txt and
# bench.txt.  A payload without kqdafs-bench (make payload always ships
# it) fails.
. "$(dirname "$0")/../lib.sh"

BENCH="$BIN/kqdafs-bench"
[ -x "$BENCH" ] || fail "bin/kqdafs-bench is missing from the payload (make payload always ships it)"
out="${KQDAFS_RESULTS:-/tmp}/bench/kqdafs-bench.json"
tmp="$out.tmp"
mkdir -p "$(dirname "$out")"
kaio_load
trap 'rm -f "$tmp"; kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
mount_ufs "$KAIO_ROOT/ufs" 512m
# --tokio: also KAIO through kqdafs-tokio against spawn_blocking pread.
# Uncached cells start cold: the bench closes its file and runs this
# between cells (a remount drops the file system's buffers and pages).
# The bench's own cwd must not be on the mount, or umount is refused.
cd / || fail "cd /"
data="$KAIO_ROOT/ufs/kqdafs-bench.data"
"$BENCH" --file "$data" --create 128M --json "$tmp" --tokio \
    --drop-cache-cmd "umount $KAIO_ROOT/ufs && mount $KAIO_DEV $KAIO_ROOT/ufs" ||
    fail "kqdafs-bench failed (exit $?)"
rm -f "$data"
[ -s "$tmp" ] || fail "kqdafs-bench wrote no JSON"
# Only a complete document reaches the runner's bench directory.
mv "$tmp" "$out" || fail "mv $tmp $out"
diag "bench JSON: $(wc -c <"$out" | tr -d ' ') bytes"
kaio_cleanup
trap - EXIT
kaio_finish
exit 0
