// SPDX-License-Identifier: BSD-2-Clause
//! One test per rule: build a small object that breaks exactly that rule
//! (or none) and assert exactly which rules fire, through the library API.

mod common;

use common::*;
use kqdafs_verify::{verify_bytes, Config, KpiMode, Rule};

#[test]
fn good_module_passes_every_rule() {
    let ko = good_module_with("good", &[]);
    let report = verify(&ko, &config_with_kpi(Some("good")));
    assert!(report.is_ok(), "good module rejected:\n{report}");
    assert_eq!(report.modules, ["good"]);
    assert!(report.relocations > 0);
    assert!(report.instructions > 0);
    // printf and module_register_init; the linker-set bounds are resolved by
    // the kernel linker itself and are not imports.
    assert!(report.undefined_symbols >= 2, "{report:?}");
    assert!(report.summary_line().contains(": OK ("));
}

#[test]
fn good_module_without_kpi_list_is_a_problem() {
    let ko = good_module_with("nokpi", &[]);
    let report = verify(&ko, &Config::default());
    assert_rules(&report, &[Rule::Symbols]);
    assert_message(&report, Rule::Symbols, "no KPI list given");
}

#[test]
fn wrong_module_name_is_caught() {
    let ko = good_module_with("wrongname", &[]);
    let report = verify(&ko, &config_with_kpi(Some("kqdafs")));
    assert_rules(&report, &[Rule::Metadata]);
    assert_message(&report, Rule::Metadata, "no MDT_MODULE named \"kqdafs\"");
}

#[test]
fn got_relocation_is_caught() {
    let ko = good_module_with_asm("got", "got_reloc.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Relocations]);
    assert_message(&report, Rule::Relocations, "GOTPCREL");
    assert_message(&report, Rule::Relocations, "got_target");
}

#[test]
fn tls_relocation_and_section_are_caught() {
    let ko = good_module_with_asm("tlsreloc", "tls_reloc.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Relocations, Rule::Tls]);
    assert_message(&report, Rule::Relocations, "R_X86_64_TPOFF32");
    assert_message(&report, Rule::Relocations, "TLS");
    assert_message(&report, Rule::Tls, ".tbss");
    assert_message(&report, Rule::Tls, "tls_counter");
}

#[test]
fn tls_section_alone_is_caught() {
    let ko = good_module_with_asm("tlssect", "tls_section.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Tls]);
    assert_message(&report, Rule::Tls, "SHF_TLS");
    assert_message(&report, Rule::Tls, "STT_TLS");
}

#[test]
fn sse_instructions_are_caught() {
    let ko = good_module_with_asm("sse", "sse.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Instructions]);
    assert_message(&report, Rule::Instructions, "movaps");
    assert_message(&report, Rule::Instructions, "addsd");
    assert_eq!(report.problems.len(), 2, "{report}");
}

#[test]
fn x87_instructions_are_caught() {
    let ko = good_module_with_asm("x87", "x87.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Instructions]);
    assert_message(&report, Rule::Instructions, "fldz");
    assert_message(&report, Rule::Instructions, "fstp");
}

#[test]
fn avx_instructions_are_caught() {
    let ko = good_module_with_asm("avx", "avx.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Instructions]);
    assert_message(&report, Rule::Instructions, "vaddps");
    assert_message(&report, Rule::Instructions, "vzeroupper");
}

#[test]
fn fpu_state_instructions_are_caught() {
    let ko = good_module_with_asm("fpustate", "fpu_state.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Instructions]);
    for m in ["fxsave", "xsave", "ldmxcsr", "emms", "fninit"] {
        assert_message(&report, Rule::Instructions, m);
    }
    assert_eq!(report.problems.len(), 5, "{report}");
}

#[test]
fn fences_hints_and_padding_are_not_flagged() {
    let ko = good_module_with_asm("clean", "clean_code.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert!(report.is_ok(), "clean code rejected:\n{report}");
}

#[test]
fn unknown_undefined_symbol_is_caught_but_printf_is_not() {
    let extra = compile_c("undefined_symbol.c", "undef-extra.o", 1_500_001);
    let ko = good_module_with("undef", &[extra]);
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Symbols]);
    assert_message(&report, Rule::Symbols, "not_a_kernel_function");
    assert_eq!(report.problems.len(), 1, "printf flagged?\n{report}");
    assert!(real_kpi().contains("printf"));
}

#[test]
fn bad_kernel_version_window_is_caught() {
    let obj = compile_c("good_module.c", "badver.o", 1_500_000);
    let ko = link_ko(&[obj], "badver.ko");
    let report = verify(&ko, &config_with_kpi(Some("good")));
    assert_rules(&report, &[Rule::Metadata]);
    assert_message(&report, Rule::Metadata, "maximum 1499999");
    assert_eq!(report.problems.len(), 1, "{report}");
}

#[test]
fn good_window_is_decoded_from_relocations() {
    let ko = good_module_with("window", &[]);
    let data = std::fs::read(&ko).unwrap();
    let obj = kqdafs_verify::elf::ElfObject::parse(&data).unwrap();
    let (entries, problems) = kqdafs_verify::metadata::parse(&obj);
    assert!(problems.is_empty(), "{problems:?}");
    use kqdafs_verify::metadata::Entry;
    assert!(entries.contains(&Entry::Module { name: "good".into() }));
    assert!(entries.contains(&Entry::Version { name: "good".into(), version: 1 }));
    assert!(entries.contains(&Entry::Depend {
        name: "kernel".into(),
        minimum: 1_500_001,
        preferred: 1_500_001,
        maximum: 1_599_999
    }));
}

#[test]
fn module_without_declare_module_is_caught() {
    let obj = compile_c("no_module.c", "nomod.o", 1_500_001);
    let ko = link_ko(&[obj], "nomod.ko");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Metadata]);
    assert_message(&report, Rule::Metadata, "no set_modmetadata_set");
    assert_message(&report, Rule::Metadata, "no set_sysinit_set");
}

#[test]
fn init_array_is_caught() {
    let ko = good_module_with_asm("initarray", "init_array.s");
    let report = verify(&ko, &config_with_kpi(None));
    assert_rules(&report, &[Rule::Constructors]);
    assert_message(&report, Rule::Constructors, ".init_array");
    assert_message(&report, Rule::Constructors, "SHT_INIT_ARRAY");
}

#[test]
fn non_freebsd_osabi_is_caught() {
    let ko = good_module_with("osabi", &[]);
    let mut data = std::fs::read(&ko).unwrap();
    assert_eq!(data[7], 9, "ld.lld -m elf_x86_64_fbsd should set OSABI 9");
    data[7] = 0; // ELFOSABI_NONE (System V)
    let report = verify_bytes("osabi-patched.ko", &data, &config_with_kpi(None));
    assert_rules(&report, &[Rule::ElfHeader]);
    assert_message(&report, Rule::ElfHeader, "OS ABI is 0");
}

#[test]
fn linux_target_object_is_caught() {
    // A plain Linux-targeted object gets OSABI 0; clang's FreeBSD target
    // already sets 9 even without ld.lld.
    let out = out_dir().join("linux.o");
    let status = std::process::Command::new("clang")
        .args(["-target", "x86_64-unknown-linux-gnu", "-c"])
        .arg(fixture("plain.s"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang is required: run tools/bootstrap.sh");
    assert!(status.success());
    let report = verify(&out, &Config { kpi: KpiMode::Disabled, module: None, exports: None });
    assert!(report.has(Rule::ElfHeader), "{report}");
    assert_message(&report, Rule::ElfHeader, "OS ABI is 0");
}

#[test]
fn executable_and_shared_object_are_caught() {
    let obj = assemble("plain.s", "plain.o");
    let exe = link(std::slice::from_ref(&obj), &[], "plain.exe");
    let report = verify(&exe, &config_with_kpi(None));
    assert_rules(&report, &[Rule::ElfHeader]);
    assert_message(&report, Rule::ElfHeader, "ET_EXEC");

    let dso = link(&[obj], &["-shared"], "plain.so");
    let report = verify(&dso, &config_with_kpi(None));
    assert_rules(&report, &[Rule::ElfHeader]);
    assert_message(&report, Rule::ElfHeader, "ET_DYN");
}

#[test]
fn non_elf_and_elf32_are_caught() {
    let config = Config::default();
    let report = verify_bytes("junk", b"this is not an ELF file at all", &config);
    assert_rules(&report, &[Rule::ElfHeader]);
    let mut elf32 = vec![0u8; 64];
    elf32[..4].copy_from_slice(b"\x7fELF");
    elf32[4] = 1; // ELFCLASS32
    elf32[5] = 1;
    let report = verify_bytes("elf32", &elf32, &config);
    assert_rules(&report, &[Rule::ElfHeader]);
    assert_message(&report, Rule::ElfHeader, "ELFCLASS64");
}

#[test]
fn per_function_sections_linked_with_the_script_pass() {
    let ko = good_module_with_asm("splitok", "split_sections.s");
    let report = verify(&ko, &config_with_kpi(Some("good")));
    assert!(report.is_ok(), "module linked with targets/kmod.ld rejected:\n{report}");
}

#[test]
fn per_function_sections_left_unmerged_are_caught() {
    let good = compile_c("good_module.c", "splitbad-good.o", 1_500_001);
    let split = assemble("split_sections.s", "splitbad-asm.o");
    let ko = link_ko_without_script(&[good, split], "splitbad.ko");
    let report = verify(&ko, &config_with_kpi(Some("good")));
    assert_rules(&report, &[Rule::Layout]);
    assert_message(&report, Rule::Layout, "2 .text.* section(s) not merged into .text (first: .text.split_one)");
    // split_table, and the good module's strings (.rodata.str1.1).
    assert_message(&report, Rule::Layout, "2 .rodata.* section(s) not merged into .rodata");
    assert_message(&report, Rule::Layout, "1 .data.* section(s) not merged into .data");
    assert_message(&report, Rule::Layout, ".text is 0x");
}

#[test]
fn unpadded_text_is_caught() {
    // One .text, as C without -ffunction-sections gives, but no page
    // padding: its last page would be shared with .rodata/.data.
    let good = compile_c("good_module.c", "unpadded-good.o", 1_500_001);
    let ko = link_ko_without_script(&[good], "unpadded.ko");
    let report = verify(&ko, &config_with_kpi(Some("good")));
    assert_rules(&report, &[Rule::Layout]);
    assert_message(&report, Rule::Layout, ".text is 0x");
    assert_message(&report, Rule::Layout, "not padded to a page");
    assert!(!report.problems.iter().any(|p| p.message.contains(".text.*")), "{report}");
}
