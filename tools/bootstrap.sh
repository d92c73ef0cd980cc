#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Install or locate everything the kqdafs build and tests need on a Debian-based
# Linux host.  Idempotent: each step is skipped when its result is already there.
#   - Debian packages: clang, lld, libclang-dev (bindgen), llvm (llvm-objcopy,
#     llvm-nm, llvm-ar: the exported-symbol step of the .ko link and the
#     kernel simulation's link), xorriso (VM seed
#     images), qemu-utils (qemu-img: VM disk overlays, and the harness's
#     end-to-end tests), mandoc (man page lint), bmake (the tests that
#     evaluate kmod/Makefile and the port skeleton as BSD make does)
#   - rustup (installed from https://sh.rustup.rs when missing, without
#     questions): the nightly pinned in rust-toolchain.toml + rust-src
#     (kernel build-std), clippy/rustfmt; stable with clippy/rustfmt and the
#     x86_64-unknown-freebsd std for the userland tools
#   - the pinned PyPI ziglang package: FreeBSD 15 headers and a FreeBSD libc
#     for linking userland binaries, into .toolchain/ (project-local)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
ZIGLANG_VERSION=0.17.0
tooldir="$top/.toolchain"

say() { printf 'bootstrap: %s\n' "$*"; }

need_pkgs=""
command -v clang >/dev/null 2>&1 || need_pkgs="$need_pkgs clang"
command -v ld.lld >/dev/null 2>&1 || need_pkgs="$need_pkgs lld"
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need_pkgs="$need_pkgs libclang-dev"
command -v llvm-objcopy >/dev/null 2>&1 || need_pkgs="$need_pkgs llvm"
command -v xorriso >/dev/null 2>&1 || need_pkgs="$need_pkgs xorriso"
command -v qemu-img >/dev/null 2>&1 || need_pkgs="$need_pkgs qemu-utils"
command -v mandoc >/dev/null 2>&1 || need_pkgs="$need_pkgs mandoc"
command -v bmake >/dev/null 2>&1 || need_pkgs="$need_pkgs bmake"
if [ -n "$need_pkgs" ]; then
	if [ "$(id -u)" != 0 ]; then
		say "missing Debian packages:$need_pkgs (run as root or install them)"
		exit 1
	fi
	say "installing Debian packages:$need_pkgs"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $need_pkgs >/dev/null
fi

# rustup, installed non-interactively when missing: rustup-init from
# https://sh.rustup.rs, as rustup.rs documents it, with -y (no questions),
# the minimal profile and stable as the default toolchain (the userland
# tools; nightly is added below).  Downloaded to a file first, so a failed
# download is not taken for an empty script that succeeded.  rustup-init
# leaves the PATH to us (--no-modify-path): the Makefile puts
# $HOME/.cargo/bin first.
install_rustup() {
	command -v curl >/dev/null 2>&1 || return 1
	_init=$(mktemp) || return 1
	if curl --proto '=https' --tlsv1.2 -sSf -o "$_init" https://sh.rustup.rs &&
	    sh "$_init" -y --profile minimal --default-toolchain stable --no-modify-path; then
		rm -f "$_init"
		return 0
	fi
	rm -f "$_init"
	return 1
}

if ! command -v rustup >/dev/null 2>&1; then
	if [ ! -x "$HOME/.cargo/bin/rustup" ]; then
		say "rustup not found; installing it (https://sh.rustup.rs, -y --profile minimal)"
		if ! install_rustup || [ ! -x "$HOME/.cargo/bin/rustup" ]; then
			say "could not install rustup: it is a prerequisite; install it with"
			say "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal"
			say "and run make again"
			exit 1
		fi
	fi
	PATH="$HOME/.cargo/bin:$PATH"
fi

# The kernel build's nightly: exactly the one rust-toolchain.toml pins (the
# Makefile names it with `+`).  Everything else builds with stable; the
# toolchain is named each time, since rust-toolchain.toml would otherwise
# choose the pinned nightly inside the tree.
nightly=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$top/rust-toolchain.toml")
[ -n "$nightly" ] || { say "no channel in rust-toolchain.toml"; exit 1; }
if ! rustup toolchain list | grep -q "^$nightly-"; then
	say "installing the pinned $nightly (rust-toolchain.toml)"
	rustup toolchain install "$nightly" --profile minimal
fi
for c in rust-src clippy rustfmt; do
	rustup component list --toolchain "$nightly" --installed | grep -q "^$c" ||
	    rustup component add "$c" --toolchain "$nightly"
done
if ! rustup toolchain list | grep -q '^stable-'; then
	say "installing stable (host tools, tests, FreeBSD userland)"
	rustup toolchain install stable --profile minimal
fi
for c in clippy rustfmt; do
	rustup component list --toolchain stable --installed | grep -q "^$c" ||
	    rustup component add "$c" --toolchain stable
done
if ! rustup target list --toolchain stable --installed | grep -q '^x86_64-unknown-freebsd$'; then
	say "adding the x86_64-unknown-freebsd target (userland tools)"
	rustup target add x86_64-unknown-freebsd --toolchain stable
fi

if [ ! -f "$tooldir/zig-$ZIGLANG_VERSION/ziglang/lib/libc/include/generic-freebsd/sys/event.h" ]; then
	say "installing ziglang==$ZIGLANG_VERSION into .toolchain/"
	rm -rf "$tooldir/zig-$ZIGLANG_VERSION"
	mkdir -p "$tooldir"
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
	    --target "$tooldir/zig-$ZIGLANG_VERSION" "ziglang==$ZIGLANG_VERSION"
fi
ln -sfn "zig-$ZIGLANG_VERSION/ziglang" "$tooldir/zig"
say "ready"
