# SPDX-License-Identifier: BSD-2-Clause
# kqdafs — top-level build on a Linux host (cross) or any host with the
# toolchain from tools/bootstrap.sh.  On a FreeBSD host the native module
# build is `make -C kmod` (bsd.kmod.mk); see README.md.
#
#   make          build/kqdafs.ko (verified), the test helper module, the
#                 userland tools for FreeBSD, and the VM payload
#   make test     every test (see `test:` below); CI runs exactly this
#   make vm-test  boot FreeBSD 15 in QEMU and run the in-guest suite
#                 (needs FREEBSD_IMAGE=path or a cached image)

SHELL :=	/bin/sh
export PATH := $(HOME)/.cargo/bin:$(PATH)

TOP :=		$(CURDIR)
BUILD :=	$(TOP)/build
CARGO ?=	cargo
# The kernel crate (and the simulation's build of it) needs the nightly
# pinned in rust-toolchain.toml, named explicitly so that no other nightly
# is picked up; `make NIGHTLY=` for a cargo that is not rustup's proxy.
# Every other cargo run here (host tools and tests, the FreeBSD userland
# cross-build, whose std the pinned nightly does not ship for FreeBSD) uses
# stable: RUSTUP_TOOLCHAIN overrides rust-toolchain.toml, `+toolchain`
# overrides both.
RUST_NIGHTLY :=	$(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' $(TOP)/rust-toolchain.toml)
NIGHTLY ?=	+$(RUST_NIGHTLY)
export RUSTUP_TOOLCHAIN ?= stable
KTARGET :=	$(TOP)/targets/x86_64-kqdafs-kernel.json
# kern.mk builds the kernel's C with -fstack-protector-strong (MK_SSP); the
# Rust code gets the same canaries.  __stack_chk_guard and __stack_chk_fail
# come from the kernel (sys/kern/stack_protector.c).
KRUSTFLAGS :=	-Z stack-protector=strong
KCARGO :=	RUSTFLAGS="$(KRUSTFLAGS)" $(CARGO) $(NIGHTLY) build -p kqdafs --release \
		    -Z build-std=core,alloc -Z json-target-spec --target $(KTARGET)
KLIB :=		$(TOP)/target/x86_64-kqdafs-kernel/release/libkqdafs.a
UTARGET :=	x86_64-unknown-freebsd
UBIN :=		$(TOP)/target/$(UTARGET)/release
USER_TOOLS :=	kqdafsctl kqdafs-serve kqdafs-bench
# kqdafs-tokio's examples, shipped to the guest as bin/tokio-NAME.
TOKIO_EXAMPLES := read_file copy_file serve_static
ZINC :=		$(TOP)/.toolchain/zig/lib/libc/include
FREEBSD_VERSION := 1500001

# The kernel C flags (design notes, "Toolchain recipe"; sys/conf/kmod.mk:
# frame pointers in leaf functions too); build.rs uses the same for the glue
# it compiles.  Not kern.mk's -fstack-protector-strong: Debian's clang 14
# reaches __stack_chk_guard through the GOT for FreeBSD targets
# (R_X86_64_REX_GOTPCRELX, which the kernel linker does not apply and the
# verifier rejects), where a newer clang (zig's 22.1 here) and rustc's
# canaries use R_X86_64_PC32.
KCPPFLAGS :=	-target x86_64-unknown-freebsd15.0 -D_KERNEL -DKLD_MODULE \
		-D__FreeBSD_version=$(FREEBSD_VERSION) -nostdinc \
		-I$(ZINC)/x86_64-freebsd-none -I$(ZINC)/generic-freebsd \
		-I$(TOP)/bindings/include -include opt_global.h
KCFLAGS :=	$(KCPPFLAGS) -mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse \
		-msoft-float -fno-asynchronous-unwind-tables -ffreestanding \
		-fwrapv -fno-common -fno-omit-frame-pointer \
		-mno-omit-leaf-frame-pointer -fstack-protector \
		-fno-pic -O2 -Wall -Werror
# Every .ko is linked with the module linker script (targets/kmod.ld, the
# equivalent of the ldscript.kmod.amd64 a native build uses): one .text and
# one .rodata, each padded to a page, for link_elf_protect().
KLDSCRIPT :=	$(TOP)/targets/kmod.ld
KLDFLAGS :=	-m elf_x86_64_fbsd -r --build-id=sha1 -T $(KLDSCRIPT)

VERIFY :=	$(TOP)/target/release/kqdafs-verify
KPI :=		$(BUILD)/kpi-symbols.txt
OBJCOPY ?=	llvm-objcopy

# The API other modules link against (kqdafs_kapi(9), kqdafs_rdma_provider(9)).
# kmod/kqdafs.exports is generated from these headers (`make exports`) and
# used by both builds; `make verify` checks kqdafs.ko against a list derived
# from the headers afresh, and the verifier's tests check the checked-in one.
API_HEADERS :=	kmod/kqdafs_kapi.h kmod/kqdafs_rdma_provider.h
KEXPORTS :=	$(TOP)/kmod/kqdafs.exports
EXPORTS :=	$(BUILD)/kqdafs-exports.txt

.PHONY: all bootstrap kmod user guest-tests payload verify exports test test-steps test-host \
	sim-modules sim sim-test sim-free sim-costs sim-mutants sim-asan-modules sim-asan sim-tsan-modules sim-tsan \
	test-loom test-verify test-lint test-man test-examples test-vm-harness vm-test clean

all: verify user payload

bootstrap:
	@$(TOP)/tools/bootstrap.sh

# ---- kernel module ------------------------------------------------------

kmod: $(BUILD)/kqdafs.ko $(BUILD)/kqdafs_slothog.ko $(BUILD)/kqdafs_consumer_test.ko

# Cargo decides what to rebuild; build.rs leaves the compiled C glue in
# build/obj/kqdafs (and recompiles it whenever that folder was removed).
# The kernel linker ignores ELF visibility, so every defined global would be
# linkable by other modules: as bsd.kmod.mk does with EXPORT_SYMS
# (kmod_syms.awk, objcopy -L), every defined global but the API is made
# local.  The module's own relocations and its linker sets (found by
# section name) do not need global symbols.
$(BUILD)/kqdafs.ko: bootstrap FORCE
	@mkdir -p $(BUILD)/obj/kqdafs
	KQDAFS_GLUE_OUT=$(BUILD)/obj/kqdafs $(KCARGO)
	ld.lld $(KLDFLAGS) -o $@ $(BUILD)/obj/kqdafs/*.o $(KLIB)
	$(OBJCOPY) --keep-global-symbols=$(KEXPORTS) $@

$(BUILD)/kqdafs_slothog.ko: tests/slothog/kqdafs_slothog.c $(KLDSCRIPT) bootstrap
	@mkdir -p $(BUILD)/obj/slothog
	clang $(KCFLAGS) -c -o $(BUILD)/obj/slothog/kqdafs_slothog.o $<
	ld.lld $(KLDFLAGS) -o $@ $(BUILD)/obj/slothog/kqdafs_slothog.o

# A test-only kernel consumer of the kqdafs_kapi(9) API (MODULE_DEPENDs
# on kqdafs), which also registers a fake kqdafs_rdma_provider(9) NIC.
$(BUILD)/kqdafs_consumer_test.ko: tests/consumer/kqdafs_consumer_test.c \
    tests/consumer/kqdafs_ctest.h kmod/kqdafs_kapi.h kmod/kqdafs_rdma_provider.h \
    $(KLDSCRIPT) bootstrap
	@mkdir -p $(BUILD)/obj/consumer
	clang $(KCFLAGS) -I$(TOP)/kmod -c -o $(BUILD)/obj/consumer/kqdafs_consumer_test.o $<
	ld.lld $(KLDFLAGS) -o $@ $(BUILD)/obj/consumer/kqdafs_consumer_test.o

# ---- kernel simulation (sim/, docs/kernsim.md) ---------------------------

# The module's own code built for the host-side kernel simulation: the
# same crate and glue, with the small code model and PIC
# (targets/x86_64-kqdafs-kernsim.json), combined as the .ko is
# (sim/link/mkmodule), then linked with the models into kqdafs-sim.
STARGET :=	$(TOP)/targets/x86_64-kqdafs-kernsim.json
SIMDIR :=	$(BUILD)/sim
SIMLIB :=	$(TOP)/target/kernsim/x86_64-kqdafs-kernsim/release/libkqdafs.a
SIM_SEEDS ?=	8

sim-modules: bootstrap FORCE
	@mkdir -p $(BUILD)/obj/kernsim $(BUILD)/obj/kernsim-consumer $(SIMDIR)
	KQDAFS_GLUE_OUT=$(BUILD)/obj/kernsim CARGO_TARGET_DIR=$(TOP)/target/kernsim \
	    $(CARGO) $(NIGHTLY) build -p kqdafs --release \
	    -Z build-std=core,alloc -Z json-target-spec --target $(STARGET)
	$(TOP)/sim/link/mkmodule kqdafs $(SIMDIR)/kqdafs.o --exports $(KEXPORTS) \
	    $(BUILD)/obj/kernsim/*.o $(SIMLIB)
	clang $(KCPPFLAGS) -mcmodel=small -fPIE -mno-red-zone -ffreestanding \
	    -fwrapv -fno-common -fno-omit-frame-pointer -O2 -Wall -Werror \
	    -I$(TOP)/kmod -c -o $(BUILD)/obj/kernsim-consumer/kqdafs_consumer_test.o \
	    tests/consumer/kqdafs_consumer_test.c
	$(TOP)/sim/link/mkmodule kqdafs_consumer_test \
	    $(SIMDIR)/kqdafs_consumer_test.o --provider $(SIMDIR)/kqdafs.o \
	    $(BUILD)/obj/kernsim-consumer/kqdafs_consumer_test.o

# The simulation keeps frame pointers (it walks them to see which
# module's code is on a thread's stack), in a target directory of its own.
SIMBIN :=	$(TOP)/target/sim/release/kqdafs-sim

sim: sim-modules
	KQDAFS_SIM_MODULES=$(SIMDIR)/kqdafs.o:$(SIMDIR)/kqdafs_consumer_test.o \
	    RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=$(TOP)/target/sim \
	    $(CARGO) build -p kqdafs-sim --release

# Every scenario over SIM_SEEDS seeds; ends with `sim-test: N passed, N failed`.
sim-test: sim
	SIM_SEEDS=$(SIM_SEEDS) $(SIMBIN)

# KPI calls per request, beside FreeBSD's own AIO path (docs/kernsim.md).
# The release-call mutation matrix (sim/src/mutants.rs): every release
# call skipped once in turn; each mutant must make some scenario fail.
sim-mutants: sim
	$(SIMBIN) --mutants

sim-costs: sim
	$(SIMBIN) --costs

# ---- the simulation under AddressSanitizer (docs/kernsim.md, "Sanitizers")

# Everything instrumented with AddressSanitizer: the module's crate and
# glue and the test consumer module (as `make sim-modules` builds them,
# plus the flags below), the C models (sim/build.rs adds
# -fsanitize=address when cargo reports the target's `sanitize` cfg) and
# the Rust engine.  -Z sanitizer needs a nightly: the pinned one, as for
# the kernel crate.  Each in a directory of its own.
#
# The module is compiled for the FreeBSD triple (llvm-target of
# targets/x86_64-kqdafs-kernsim.json, -target for the C), for which LLVM
# places ASan's shadow at 1 << 46 (FreeBSD's mapping); the runtime is
# Linux's, whose shadow starts at 0x7fff8000 (compiler-rt asan_mapping.h):
# -asan-mapping-offset says so.  -asan-globals=0: the module's statics
# live in <module>_state, which the simulated linker restores with one
# memcpy at every kldload (sim/c/kern_linker.c, a fresh image); with the
# statics registered, their redzones inside that section would make that
# copy an error, so overflows of the module's statics are not checked
# (its heap and stack are).  -asan-with-comdat=0: rustc puts the module's
# ASan constructor in a COMDAT group, whose code sim/link/module.ld
# gathers into <module>_text while its relocations stay in the group, and
# lld cannot link that ("multiple relocation sections to one section").
SIM_ASAN_KRUSTFLAGS := -Z sanitizer=address -C llvm-args=-asan-mapping-offset=0x7fff8000 \
		-C llvm-args=-asan-globals=0 -C llvm-args=-asan-with-comdat=0
SIM_ASAN_KCFLAGS := -fsanitize=address -mllvm -asan-mapping-offset=0x7fff8000 \
		-mllvm -asan-globals=0
SIMASANDIR :=	$(BUILD)/sim-asan

# The module's crate and glue and the test consumer module, instrumented
# with sanitizer $(1) (asan, tsan): the crate with RUSTFLAGS $(2) (with
# its core and alloc, -Z build-std), the glue by build.rs (from the
# `sanitize` cfg cargo reports), the consumer with C flags $(3); each
# combined by sim/link/mkmodule as `make sim-modules` does.
define SIM_SAN_MODULES
	@mkdir -p $(BUILD)/obj/kernsim-$(1) $(BUILD)/obj/kernsim-$(1)-consumer $(BUILD)/sim-$(1)
	KQDAFS_GLUE_OUT=$(BUILD)/obj/kernsim-$(1) CARGO_TARGET_DIR=$(TOP)/target/kernsim-$(1) \
	    RUSTFLAGS="$(2)" $(CARGO) $(NIGHTLY) build -p kqdafs --release \
	    -Z build-std=core,alloc -Z json-target-spec --target $(STARGET)
	$(TOP)/sim/link/mkmodule kqdafs $(BUILD)/sim-$(1)/kqdafs.o --exports $(KEXPORTS) \
	    $(BUILD)/obj/kernsim-$(1)/*.o \
	    $(TOP)/target/kernsim-$(1)/x86_64-kqdafs-kernsim/release/libkqdafs.a
	clang $(KCPPFLAGS) -mcmodel=small -fPIE -mno-red-zone -ffreestanding \
	    -fwrapv -fno-common -fno-omit-frame-pointer -O2 -Wall -Werror \
	    $(3) -I$(TOP)/kmod \
	    -c -o $(BUILD)/obj/kernsim-$(1)-consumer/kqdafs_consumer_test.o \
	    tests/consumer/kqdafs_consumer_test.c
	$(TOP)/sim/link/mkmodule kqdafs_consumer_test \
	    $(BUILD)/sim-$(1)/kqdafs_consumer_test.o --provider $(BUILD)/sim-$(1)/kqdafs.o \
	    $(BUILD)/obj/kernsim-$(1)-consumer/kqdafs_consumer_test.o
endef

sim-asan-modules: bootstrap FORCE
	$(call SIM_SAN_MODULES,asan,$(SIM_ASAN_KRUSTFLAGS),$(SIM_ASAN_KCFLAGS))

# The engine for the host target, named so that build scripts stay
# uninstrumented (the unstable book's advice for -Z sanitizer).  The ASan
# runtime ships in that target's rust-std, which tools/bootstrap.sh's
# minimal profile installs; std itself is the prebuilt one (its
# allocations are ASan's, malloc being intercepted; its code is not
# instrumented).
HOST_TARGET :=	x86_64-unknown-linux-gnu
SIMASANBIN :=	$(TOP)/target/sim-asan/$(HOST_TARGET)/release/kqdafs-sim
SIM_ASAN_SEEDS ?= 4
# ... and as many free-running runs (KQDAFS_SIM_FREE=1, "sim-free" below).
SIM_ASAN_FREE_RUNS ?= 4
# detect_leaks=0: LeakSanitizer's scan at exit reads every heap block, and
#   the device memory of a device mapping (sim/c/vm.c, ksim_umap) is
#   PROT_NONE on purpose, so that a touch through the direct map faults:
#   the scan faults on it (kaio_device_memory); and a run ends with the
#   model's memory alive by design (parked threads, the modelled RAM).
#   The leaks that matter are the kernel's, which the models check
#   (malloc_uninit, page holds, references, wiring).
# handle_segv=0, handle_sigbus=0: a fault in module code is the
#   simulation's to report (kernel.rs, install_fault_handler: a broken
#   [memory] contract naming what was touched and the seed).  That
#   handler replaces ASan's anyway (short of handle_segv=2); with these
#   ASan installs none, so the signal setup (Rust std's alternate stacks,
#   which that handler runs on) is the plain build's.
# Anything in ASAN_OPTIONS from the environment comes after, and wins.
SIM_ASAN_OPTIONS := detect_leaks=0:handle_segv=0:handle_sigbus=0

sim-asan: sim-asan-modules
	KQDAFS_SIM_MODULES=$(SIMASANDIR)/kqdafs.o:$(SIMASANDIR)/kqdafs_consumer_test.o \
	    RUSTFLAGS="-C force-frame-pointers=yes -Z sanitizer=address" \
	    CARGO_TARGET_DIR=$(TOP)/target/sim-asan \
	    $(CARGO) $(NIGHTLY) build -p kqdafs-sim --release --target $(HOST_TARGET)
	ASAN_OPTIONS="$(SIM_ASAN_OPTIONS):$$ASAN_OPTIONS" SIM_SEEDS=$(SIM_ASAN_SEEDS) $(SIMASANBIN)
	ASAN_OPTIONS="$(SIM_ASAN_OPTIONS):$$ASAN_OPTIONS" KQDAFS_SIM_FREE=1 \
	    SIM_SEEDS=$(SIM_ASAN_FREE_RUNS) $(SIMASANBIN)

# ---- free-running mode (docs/kernsim.md, "Free-running mode")

# The scenarios on real threads, all at once (KQDAFS_SIM_FREE=1,
# sim/src/sched.rs): the models serialised by one model lock, the module's
# own code in parallel between its KPI calls.  SIM_FREE_RUNS runs per
# scenario; no seed replays one.
SIM_FREE_RUNS ?= 8
sim-free: sim
	KQDAFS_SIM_FREE=1 SIM_SEEDS=$(SIM_FREE_RUNS) $(SIMBIN)

# ---- the simulation under ThreadSanitizer (docs/kernsim.md, "Sanitizers")

# ThreadSanitizer in everything the simulation executes: the module's
# crate (with its core and alloc, -Z build-std), its glue (build.rs adds
# -fsanitize=thread when cargo reports the `sanitize` cfg), the test
# consumer module, the C models (sim/build.rs)
# and the engine with std (-Z build-std, without which TSan cannot see
# std's mutexes and condvars; panic_abort too, the workspace's panic
# strategy; rust-src comes from tools/bootstrap.sh).  TSan needs no
# shadow offset of its own (its instrumentation calls the runtime), so the
# FreeBSD-triple objects need no mapping flags.
# What TSan can and cannot see there: docs/kernsim.md.
SIM_TSAN_KRUSTFLAGS := -Z sanitizer=thread
# The C of the modules as a KCSAN kernel compiles a module
# (sys/conf/kern.pre.mk, SAN_CFLAGS): atomic(9) and the copy functions
# become calls of kcsan_* interceptors (sim/c/subr_csan.c) that TSan sees;
# the glue gets the same from build.rs.
SIM_TSAN_KCFLAGS := -fsanitize=thread -DKCSAN -DSAN_NEEDS_INTERCEPTORS \
		-DSAN_INTERCEPTOR_PREFIX=kcsan -Wno-pointer-sign
SIMTSANDIR :=	$(BUILD)/sim-tsan

sim-tsan-modules: bootstrap FORCE
	$(call SIM_SAN_MODULES,tsan,$(SIM_TSAN_KRUSTFLAGS),$(SIM_TSAN_KCFLAGS))

SIMTSANBIN :=	$(TOP)/target/sim-tsan/$(HOST_TARGET)/release/kqdafs-sim
# First SIM_TSAN_SEEDS seeded runs per scenario: one simulated thread at a
# time, nothing hidden, so TSan checks the scheduler's own serialisation
# (every access of the engine, the models and the module ordered by its
# hand-off).  Then SIM_TSAN_RUNS free-running runs, the module's races.
SIM_TSAN_SEEDS ?= 2
SIM_TSAN_RUNS ?= 4
# halt_on_error=1: the first report ends the run, as every broken contract
#   does (the runner prints it).
# atexit_sleep_ms=0: TSan waits 1 s at exit for other threads to report; a
#   run ends with its other threads parked for good, so that is only time.
# report_signal_unsafe=0: the fault handler (kernel.rs) reports a broken
#   [memory] contract with eprintln! and _exit, which TSan would report
#   as a signal-unsafe call before the contract's own message.
SIM_TSAN_OPTIONS := halt_on_error=1:atexit_sleep_ms=0:report_signal_unsafe=0

sim-tsan: sim-tsan-modules
	KQDAFS_SIM_MODULES=$(SIMTSANDIR)/kqdafs.o:$(SIMTSANDIR)/kqdafs_consumer_test.o \
	    RUSTFLAGS="-C force-frame-pointers=yes -Z sanitizer=thread" \
	    CARGO_TARGET_DIR=$(TOP)/target/sim-tsan \
	    $(CARGO) $(NIGHTLY) build -Z build-std=std,panic_abort -p kqdafs-sim --release \
	    --target $(HOST_TARGET)
	TSAN_OPTIONS="$(SIM_TSAN_OPTIONS):$$TSAN_OPTIONS" SIM_SEEDS=$(SIM_TSAN_SEEDS) $(SIMTSANBIN)
	TSAN_OPTIONS="$(SIM_TSAN_OPTIONS):$$TSAN_OPTIONS" KQDAFS_SIM_FREE=1 \
	    SIM_SEEDS=$(SIM_TSAN_RUNS) $(SIMTSANBIN)

# ---- static verifier ----------------------------------------------------

$(VERIFY): bootstrap FORCE
	$(CARGO) build -p kqdafs-verify --release

# The KPI list is derived from the FreeBSD 15 headers, never typed by hand.
$(KPI): $(VERIFY) tools/verify/kpi/freebsd15-kpi.h bindings/include/vnode_if.h
	@mkdir -p $(BUILD)
	$(VERIFY) kpi-list --headers tools/verify/kpi/freebsd15-kpi.h \
	    $(foreach a,$(KCPPFLAGS),--clang-arg $(a)) -o $@

# The export list, derived from the API headers by bindgen.
$(EXPORTS): $(VERIFY) $(API_HEADERS)
	@mkdir -p $(BUILD)
	$(VERIFY) exports-list $(foreach h,$(API_HEADERS),--headers $(h)) \
	    $(foreach a,$(KCPPFLAGS),--clang-arg $(a)) -o $@

# Regenerate the checked-in list after changing the API headers.
exports: $(EXPORTS)
	cp $(EXPORTS) $(KEXPORTS)

# kqdafs.ko must export exactly the API; the two test modules export
# nothing (no other module depends on them), and the consumer module's
# imports from kqdafs must be among kqdafs.ko's exports.
verify: kmod $(KPI) $(EXPORTS)
	$(VERIFY) --kpi $(KPI) --exports $(EXPORTS) --module kqdafs $(BUILD)/kqdafs.ko
	$(VERIFY) --kpi $(KPI) --no-exports --module kqdafs_slothog $(BUILD)/kqdafs_slothog.ko
	$(VERIFY) --kpi $(KPI) --provider $(BUILD)/kqdafs.ko --no-exports \
	    --module kqdafs_consumer_test $(BUILD)/kqdafs_consumer_test.ko
	$(TOP)/tests/ko-crosscheck.sh $(BUILD)/kqdafs.ko $(BUILD)/kqdafs_slothog.ko \
	    $(BUILD)/kqdafs_consumer_test.ko

# ---- userland (cross-built for FreeBSD) ---------------------------------

# The library, the tools and the examples (user/examples/: KAIO read
# batch, RDMA loopback) in $(UBIN) and $(UBIN)/examples.
user: bootstrap
	CARGO_TARGET_X86_64_UNKNOWN_FREEBSD_LINKER=$(TOP)/tools/freebsd-cc \
	    $(CARGO) build -p kqdafs-user -p kqdafs-bench -p kqdafs-tokio --release \
	    --target $(UTARGET) --lib --bins --examples

# ---- in-guest C test programs (tests/guest/) -----------------------------

# Built with zig's clang and FreeBSD 15 libc, against abi/include/kqdafs.h
# only, into build/obj/guest-tests/ (payload wipes build/guest/ and copies
# them into build/guest/bin/).  -Wall -Wextra -Werror: `make` fails on any
# warning.
#
# The case tables shared with the simulation (tests/cases/README.md)
# become kqc_NAME.h in build/gen/guest/, by the parser the simulation
# uses (the kqdafs-cases crate): a line it refuses fails the build here.
GT_GEN :=	$(BUILD)/gen/guest
GT_HDRS :=	$(patsubst $(TOP)/tests/cases/%.cases,$(GT_GEN)/kqc_%.h,\
		    $(wildcard $(TOP)/tests/cases/*.cases))
CASES_SRC :=	$(TOP)/tests/cases/Cargo.toml $(wildcard $(TOP)/tests/cases/src/*.rs \
		    $(TOP)/tests/cases/src/bin/*.rs $(TOP)/abi/src/*.rs)
GT_SRC :=	$(wildcard $(TOP)/tests/guest/*.c)
GT_LIB :=	$(TOP)/tests/guest/lib/kqt.c $(TOP)/tests/guest/lib/kqt.h
GT_OUT :=	$(BUILD)/obj/guest-tests
GT_BINS :=	$(patsubst $(TOP)/tests/guest/%.c,$(GT_OUT)/%,$(GT_SRC))
GT_CC :=	$(TOP)/.toolchain/zig/zig cc -target x86_64-freebsd.15.0-none
GT_CFLAGS :=	-O2 -g -std=gnu11 -Wall -Wextra -Werror \
		-I$(TOP)/abi/include -I$(TOP)/tests/guest/lib -I$(GT_GEN)

# The headers are named here so that make keeps them (not intermediate).
guest-tests: bootstrap $(GT_HDRS) $(GT_BINS)

$(GT_GEN)/kqc_%.h: $(TOP)/tests/cases/%.cases $(CASES_SRC) | bootstrap
	@mkdir -p $(GT_GEN)
	$(CARGO) run -q -p kqdafs-cases --release -- c-header $< $@

$(GT_OUT)/%: $(TOP)/tests/guest/%.c $(GT_LIB) $(TOP)/abi/include/kqdafs.h \
    $(TOP)/tests/consumer/kqdafs_ctest.h $(GT_HDRS) | bootstrap
	@mkdir -p $(GT_OUT)
	$(GT_CC) $(GT_CFLAGS) -o $@ $< $(TOP)/tests/guest/lib/kqt.c -lpthread

# What the VM harness delivers to the guest.
payload: kmod user guest-tests
	@rm -rf $(BUILD)/guest && mkdir -p $(BUILD)/guest/bin
	cp $(BUILD)/kqdafs.ko $(BUILD)/kqdafs_slothog.ko $(BUILD)/kqdafs_consumer_test.ko $(BUILD)/guest/
	cp $(foreach t,$(USER_TOOLS),$(UBIN)/$(t)) $(BUILD)/guest/bin/
	for e in $(TOKIO_EXAMPLES); do cp $(UBIN)/examples/$$e $(BUILD)/guest/bin/tokio-$$e || exit 1; done
	cp $(GT_BINS) $(BUILD)/guest/bin/

# ---- tests --------------------------------------------------------------

# Every step of TEST_STEPS runs, in order, even when an earlier one failed
# (each in its own $(MAKE); a failed `all` leaves test-vm without a payload,
# which it reports as a failure with every in-guest case not run).  Each
# step is framed by `=== make test step: NAME ===` and `=== make test
# step: NAME exit N ===`; tools/test-summary sums the log into one closing
# line, naming what did not run and every step that failed without a
# failing test to show for it.  `make test` fails at the end if any step
# or the summary did.
TEST_STEPS :=	test-host test-loom test-lint test-man test-examples sim-test sim-free sim-asan sim-tsan sim-mutants all test-vm-harness test-vm

test:
	@mkdir -p $(BUILD)
	@( $(MAKE) --no-print-directory test-steps 2>&1; echo $$? >$(BUILD)/test.rc ) | tee $(BUILD)/test.log
	@python3 $(TOP)/tools/test-summary $(BUILD)/test.log; summary=$$?; \
	    rc=$$(cat $(BUILD)/test.rc); [ "$$rc" = 0 ] && [ "$$summary" = 0 ]

test-steps:
	@rc=0; for step in $(TEST_STEPS); do \
	    echo "=== make test step: $$step ==="; \
	    $(MAKE) --no-print-directory $$step; st=$$?; \
	    echo "=== make test step: $$step exit $$st ==="; \
	    [ "$$st" = 0 ] || rc=1; \
	done; exit $$rc

# The VM suite as a step of make test: without an image it counts every
# in-guest case as skipped (`make vm-test` insists on an image instead).
.PHONY: test-vm
test-vm:
	$(TOP)/vm-tests/run --payload $(BUILD)/guest --out $(BUILD)/vm-tests

# --no-fail-fast: a failing (or crashing) test binary does not keep the
# workspace's other test binaries from running.  kqdafs-sim links the
# module's own objects (make sim): it runs in sim-test.
test-host: bootstrap
	$(CARGO) test --workspace --no-fail-fast --exclude kqdafs-sim

test-loom: bootstrap
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(TOP)/target/loom \
	    $(CARGO) test -p kqdafs --release --lib loom_tests

# vm-tests/lint-guest: static checks of the guest suite's source (not
# tests, so not counted; a problem fails this step).  tools/layering.py:
# the layers of src/ (docs/architecture.md, "Layers"; its own tests are
# tools/tests/test_layering.py).
test-lint: bootstrap
	python3 $(TOP)/vm-tests/lint-guest
	python3 $(TOP)/tools/spdx --check
	python3 $(TOP)/tools/layering.py
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	KQDAFS_GLUE_OUT=$(BUILD)/obj/clippy RUSTFLAGS="$(KRUSTFLAGS)" \
	    $(CARGO) $(NIGHTLY) clippy -p kqdafs --release \
	    -Z build-std=core,alloc -Z json-target-spec --target $(KTARGET) -- -D warnings
	CARGO_TARGET_X86_64_UNKNOWN_FREEBSD_LINKER=$(TOP)/tools/freebsd-cc \
	    $(CARGO) clippy -p kqdafs-user -p kqdafs-bench -p kqdafs-tokio --release \
	    --target $(UTARGET) --lib --bins --examples -- -D warnings

test-man:
	mandoc -Tlint -Wwarning man/*.4 man/*.9

# The example programs of the man pages (kqdafs(4) EXAMPLES), pulled out of
# the page source by tools/man-examples and compiled as written with the
# guest tests' FreeBSD 15 cross compiler and warnings against kqdafs.h
# (tests/man/: also the extractor's own rules).
test-examples: bootstrap
	python3 -m unittest discover -s tests/man -t tests/man

test-vm-harness:
	python3 -m unittest discover -s vm-tests/tests -t vm-tests
	python3 -m unittest discover -s tools/tests

vm-test: all
	$(TOP)/vm-tests/run --require-image --payload $(BUILD)/guest --out $(BUILD)/vm-tests

clean:
	rm -rf $(BUILD) $(TOP)/target

FORCE:
