#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The kqdafs-tokio examples (user-tokio/examples/, shipped as
# bin/tokio-*): KAIO on tokio against the real module.
#  - tokio-copy_file copies a file of an odd size with batched reads and
#    writes; the copy must be byte-identical;
#  - tokio-read_file reads it with 8 tasks and must count its size;
#  - tokio-serve_static serves the directory over HTTP/1.0; fetch(1) must
#    get the file byte-identical, and a 404 for a missing one.
# A payload without them (make payload always ships them) fails.
. "$(dirname "$0")/../lib.sh"

for _t in tokio-copy_file tokio-read_file tokio-serve_static; do
	[ -x "$BIN/$_t" ] || fail "bin/$_t is missing from the payload (make payload always ships it)"
done
kaio_load
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; kaio_cleanup; kldunload "$MODNAME" 2>/dev/null' EXIT
mount_ufs "$KAIO_ROOT/ufs" 128m
dir="$KAIO_ROOT/ufs"
# 3 MiB + 12345 bytes: several batches, a short last chunk.
dd if=/dev/random of="$dir/src" bs=1m count=3 2>/dev/null || fail "dd"
dd if=/dev/random bs=12345 count=1 2>/dev/null >>"$dir/src" || fail "dd"
size=$(stat -f %z "$dir/src")

"$BIN/tokio-copy_file" "$dir/src" "$dir/dst" || fail "tokio-copy_file failed (exit $?)"
cmp -s "$dir/src" "$dir/dst" || fail "tokio-copy_file: the copy differs"
diag "tokio-copy_file: $size bytes copied, identical"

out=$("$BIN/tokio-read_file" "$dir/src") || fail "tokio-read_file failed (exit $?)"
case "$out" in
*": $size bytes;"*) diag "tokio-read_file: $out" ;;
*) fail "tokio-read_file did not count $size bytes: $out" ;;
esac

port=18080
"$BIN/tokio-serve_static" "127.0.0.1:$port" "$dir" &
srv=$!
_n=0
until fetch -q -o "$KAIO_ROOT/got" "http://127.0.0.1:$port/src" 2>/dev/null; do
	_n=$((_n + 1))
	[ "$_n" -le 50 ] || fail "tokio-serve_static did not serve within 5s"
	sleep 0.1
done
cmp -s "$dir/src" "$KAIO_ROOT/got" || fail "tokio-serve_static: the file served differs"
if fetch -q -o /dev/null "http://127.0.0.1:$port/missing" 2>/dev/null; then
	fail "tokio-serve_static: a missing file was served"
fi
if fetch -q -o /dev/null "http://127.0.0.1:$port/../etc/passwd" 2>/dev/null; then
	fail "tokio-serve_static: a path outside its directory was served"
fi
kill "$srv" && wait "$srv" 2>/dev/null
srv=""
rm -f "$KAIO_ROOT/got"
diag "tokio-serve_static: $size bytes served, identical; 404 for a missing file"
kaio_cleanup
trap - EXIT
kaio_finish
exit 0
