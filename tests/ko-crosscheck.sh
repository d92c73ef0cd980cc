#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Independent cross-check of the verifier with binutils, on every module the
# build produced: no GOT or TLS relocation (readelf -r), no SSE/AVX/x87
# register or instruction (objdump -d), FreeBSD OSABI, relocatable object.
set -eu
status=0
for ko in "$@"; do
	relocs=$(readelf -rW "$ko" | grep -cE 'R_X86_64_[A-Z_]*(GOT|TLS|TPOFF|DTPOFF|DTPMOD)' || true)
	# Only the instruction after each address: an address such as
	# "fadd:" is hex, not an x87 mnemonic.
	simd=$(objdump -d --no-show-raw-insn "$ko" |
	    sed -nE 's/^ *[0-9a-f]+:/ /p' |
	    grep -cE '%[xyz]mm[0-9]|%st(\(|$|,)|%mm[0-9]|[[:space:]]f(ld|st|add|mul|sub|div|init|nstenv|xsave|xrstor)' || true)
	header=$(readelf -h "$ko")
	case $header in
	*"REL (Relocatable file)"*"UNIX - FreeBSD"* | *"UNIX - FreeBSD"*"REL (Relocatable file)"*) hdr=ok ;;
	*) hdr=bad ;;
	esac
	if [ "$relocs" != 0 ] || [ "$simd" != 0 ] || [ "$hdr" != ok ]; then
		echo "ko-crosscheck: $ko: $relocs GOT/TLS relocations, $simd FPU/SIMD instructions, header $hdr"
		status=1
	else
		echo "ko-crosscheck: $ko: ok"
	fi
done
exit $status
