#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# kqdafs in-guest test runner (POSIX sh; FreeBSD base has no bash/python).
#
# Runs every tests/NN-name.sh in order, each in its own sh with timeout(1),
# and prints TAP 13 framed by markers the host harness looks for:
#
#   === KQDAFS-TAP-BEGIN ===
#   TAP version 13
#   1..N
#   # test-start 1 10-load-unload        (lets the host enforce a timeout)
#   # ...diagnostics streamed live...
#   ok 1 - 10-load-unload
#   === KQDAFS-TAP-END ===
#   === KQDAFS-RESULTS-BEGIN ===          the results again, one short line
#   kqdafs-result 1 ok 10-load-unload     each, printed after the tests so
#   kqdafs-result 2 skip 20-sysctl why    that no kernel message can split
#   kqdafs-results 2                      them (the harness parses this block
#   === KQDAFS-RESULTS-END ===            first; a split TAP line is lost)
#   === KQDAFS-DMESG-BEGIN === / END, === KQDAFS-VMSTAT-BEGIN === / END,
#   === KQDAFS-BENCH-JSON-BEGIN === / END  (only when a test wrote JSON)
#
# Test protocol: exit 0 = ok, 77 = skip (reason via skip() in lib.sh),
# anything else = not ok.  Output lines not starting with '#' get a '# '
# prefix so they stay TAP diagnostics.
#
# Settings (from /vmtest.conf on the payload ISO, or the environment):
#   KQDAFS_TEST_TIMEOUT  seconds per test (default 300)
#   KQDAFS_TESTS         space-separated test names to run (default: all)
#   KQDAFS_PAYLOAD       payload root (default: parent of this directory)
#   KQDAFS_GUEST_TOOLS   commands the tests need; a missing one is a
#                        "Bail out!" before any test runs (an image built
#                        from base packages may lack some)

set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${KQDAFS_PAYLOAD:=$(cd "$here/.." && pwd)}"
if [ -f "$KQDAFS_PAYLOAD/vmtest.conf" ]; then
	. "$KQDAFS_PAYLOAD/vmtest.conf"
fi
: "${KQDAFS_TEST_TIMEOUT:=300}"
: "${KQDAFS_TESTS:=}"
: "${KQDAFS_RESULTS:=/tmp/kqdafs-results}"
: "${KQDAFS_GUEST_TOOLS:=kldload kldunload kldstat sysctl dmesg vmstat timeout
    mdconfig newfs mount umount sync kill sleep awk sed grep head tail wc sort
    tr date uname cat rm mkdir chmod tar poweroff}"
export KQDAFS_PAYLOAD KQDAFS_TEST_TIMEOUT KQDAFS_RESULTS
rm -rf "$KQDAFS_RESULTS"
mkdir -p "$KQDAFS_RESULTS/bench"

# Collect tests (NN-name.sh, sorted).
tests=""
for t in "$here"/tests/[0-9][0-9]-*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ -n "$KQDAFS_TESTS" ]; then
		case " $KQDAFS_TESTS " in
		*" $name "*) ;;
		*) continue ;;
		esac
	fi
	tests="$tests $t"
done
n=0
for t in $tests; do n=$((n + 1)); done

# Prefix non-'#' lines with '# '; remember a skip reason.
prefix() {
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
		'#'*) printf '%s\n' "$line" ;;
		*) printf '# %s\n' "$line" ;;
		esac
	done
}

# Prints the compact result block (see above) from $KQDAFS_RESULTS/summary.
results_block() {
	echo "=== KQDAFS-RESULTS-BEGIN ==="
	cat "$KQDAFS_RESULTS/summary" 2>/dev/null
	echo "kqdafs-results $1"
	echo "=== KQDAFS-RESULTS-END ==="
}

echo "=== KQDAFS-TAP-BEGIN ==="
echo "TAP version 13"
missing=""
for tool in $KQDAFS_GUEST_TOOLS; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "Bail out! guest tools missing:$missing"
	echo "=== KQDAFS-TAP-END ==="
	results_block 0
	exit 1
fi
echo "1..$n"
echo "# kernel: $(uname -v 2>/dev/null)"
echo "# ident: $(uname -i 2>/dev/null)  test timeout: ${KQDAFS_TEST_TIMEOUT}s"
i=0
failed=0
for t in $tests; do
	i=$((i + 1))
	name=$(basename "$t" .sh)
	rcf="$KQDAFS_RESULTS/$name.rc"
	skipf="$KQDAFS_RESULTS/$name.skip"
	rm -f "$rcf" "$skipf"
	echo "# test-start $i $name"
	start=$(date +%s)
	{
		( cd "$KQDAFS_PAYLOAD" && KQDAFS_SKIP_FILE="$skipf" \
		    KQDAFS_TEST_NAME="$name" \
		    timeout -k 10 "$KQDAFS_TEST_TIMEOUT" sh "$t" </dev/null 2>&1 )
		echo $? >"$rcf"
	} | prefix
	rc=$(cat "$rcf" 2>/dev/null || echo 255)
	secs=$(( $(date +%s) - start ))
	case "$rc" in
	0)
		echo "ok $i - $name"
		status=ok
		;;
	77)
		reason=$(cat "$skipf" 2>/dev/null | head -n 1)
		echo "ok $i - $name # SKIP ${reason:-no reason given}"
		status="skip $name ${reason:-no reason given}"
		;;
	124)
		echo "not ok $i - $name # timed out after ${KQDAFS_TEST_TIMEOUT}s"
		failed=$((failed + 1))
		status=not-ok
		;;
	*)
		echo "not ok $i - $name # exit status $rc after ${secs}s"
		failed=$((failed + 1))
		status=not-ok
		;;
	esac
	case "$status" in
	skip*) echo "kqdafs-result $i $status" ;;
	*) echo "kqdafs-result $i $status $name" ;;
	esac >>"$KQDAFS_RESULTS/summary"
done
echo "=== KQDAFS-TAP-END ==="
results_block "$n"

echo "=== KQDAFS-DMESG-BEGIN ==="
dmesg 2>&1
echo "=== KQDAFS-DMESG-END ==="
echo "=== KQDAFS-VMSTAT-BEGIN ==="
vmstat -m 2>&1
echo "=== KQDAFS-VMSTAT-END ==="

# Benchmarks write one JSON document each to $KQDAFS_RESULTS/bench/NAME.json;
# they are emitted as one object {"NAME": <document>, ...}.
set -- "$KQDAFS_RESULTS"/bench/*.json
if [ -f "$1" ]; then
	echo "=== KQDAFS-BENCH-JSON-BEGIN ==="
	echo "{"
	sep=""
	for f in "$@"; do
		printf '%s"%s": ' "$sep" "$(basename "$f" .json)"
		cat "$f"
		echo
		sep=","
	done
	echo "}"
	echo "=== KQDAFS-BENCH-JSON-END ==="
fi
[ "$failed" -eq 0 ]
