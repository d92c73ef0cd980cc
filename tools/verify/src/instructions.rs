// SPDX-License-Identifier: BSD-2-Clause
//! Rule 5: no FPU/SIMD/x87/MMX instructions in module code.
//!
//! Kernel code runs with the user's FPU/SIMD state live (the kernel does not
//! save it on entry), so module code must never touch x87, MMX, SSE, AVX,
//! AVX-512, AMX or mask registers, nor MXCSR or the XSAVE area.
//!
//! Method: every `SHF_EXECINSTR` section is decoded sequentially from its
//! start with iced-x86 in 64-bit mode (kernel code sections hold only code;
//! clang emits jump tables into `.rodata` and pads with `int3`/multi-byte
//! `nop`, which decode as ordinary instructions). An instruction is flagged
//! when
//!   * its CPUID features include an FPU/SIMD extension ([`is_fp_simd_feature`]),
//!     except for the few SSE/SSE2-era instructions that do not touch FPU/SIMD
//!     state (`lfence`, `mfence`, `sfence`, `pause`, `movnti`, `prefetch*`,
//!     `clflush*`, `clwb`; see [`is_state_free`]), or
//!   * it reads or writes (explicitly or implicitly) an XMM/YMM/ZMM, MM, ST,
//!     K or TMM register.
//!
//! `fxsave`/`fxrstor` (FXSR), `xsave*`/`xrstor*` (XSAVE*), `ldmxcsr`/`stmxcsr`
//! (SSE), `emms` (MMX) and `fninit`/`fnsave`/... (FPU) are caught by the
//! CPUID test. Bytes that do not decode are reported once per section and the
//! rest of that section is not decoded (the instruction stream has lost
//! synchronisation, so anything after it would be noise).

use crate::elf::{ElfObject, Section};
use crate::report::{Problem, Rule};
use iced_x86::{
    CpuidFeature, Decoder, DecoderOptions, Formatter, GasFormatter, Instruction, InstructionInfoFactory, Mnemonic,
    Register,
};

/// CPUID features that mean "uses FPU, MMX, SSE, AVX, AVX-512, AMX or the
/// FPU/SIMD save area".
pub fn is_fp_simd_feature(f: CpuidFeature) -> bool {
    use CpuidFeature as C;
    matches!(
        f,
        C::FPU
            | C::FPU287
            | C::FPU287XL_ONLY
            | C::FPU387
            | C::FPU387SL_ONLY
            | C::CYRIX_FPU
            | C::MMX
            | C::CYRIX_EMMI
            | C::D3NOW
            | C::D3NOWEXT
            | C::CYRIX_D3NOW
            | C::SSE
            | C::SSE2
            | C::SSE3
            | C::SSSE3
            | C::SSE4_1
            | C::SSE4_2
            | C::SSE4A
            | C::AVX
            | C::AVX2
            | C::AVX_VNNI
            | C::AVX_IFMA
            | C::AVX_NE_CONVERT
            | C::AVX_VNNI_INT8
            | C::AVX_VNNI_INT16
            | C::AVX512_4FMAPS
            | C::AVX512_4VNNIW
            | C::AVX512_BF16
            | C::AVX512_BITALG
            | C::AVX512_IFMA
            | C::AVX512_VBMI
            | C::AVX512_VBMI2
            | C::AVX512_VNNI
            | C::AVX512_VP2INTERSECT
            | C::AVX512_VPOPCNTDQ
            | C::AVX512_FP16
            | C::AVX512BW
            | C::AVX512CD
            | C::AVX512DQ
            | C::AVX512ER
            | C::AVX512F
            | C::AVX512PF
            | C::AVX512VL
            | C::KNC
            | C::F16C
            | C::FMA
            | C::FMA4
            | C::XOP
            | C::AES
            | C::VAES
            | C::PCLMULQDQ
            | C::VPCLMULQDQ
            | C::GFNI
            | C::SHA
            | C::SHA512
            | C::SM3
            | C::SM4
            | C::KL
            | C::AESKLE
            | C::WIDE_KL
            | C::AMX_BF16
            | C::AMX_TILE
            | C::AMX_INT8
            | C::AMX_FP16
            | C::AMX_COMPLEX
            | C::FXSR
            | C::XSAVE
            | C::XSAVEC
            | C::XSAVEOPT
            | C::XSAVES
    )
}

/// Instructions whose CPUID bit is SSE/SSE2 (or similar) but which touch no
/// FPU/SIMD state; the kernel itself uses them (e.g. `rmb()` is `lfence`).
pub fn is_state_free(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Lfence
            | M::Mfence
            | M::Sfence
            | M::Pause
            | M::Movnti
            | M::Prefetchnta
            | M::Prefetcht0
            | M::Prefetcht1
            | M::Prefetcht2
            | M::Prefetchw
            | M::Clflush
            | M::Clflushopt
            | M::Clwb
    )
}

/// True for x87 ST, MMX, XMM/YMM/ZMM, AVX-512 mask and AMX tile registers.
pub fn is_fp_simd_register(r: Register) -> bool {
    r.is_st() || r.is_mm() || r.is_vector_register() || r.is_k() || r.is_tmm()
}

/// Why `instr` is forbidden, or `None` if it is fine.
pub fn forbidden_reason(instr: &Instruction, info: &mut InstructionInfoFactory) -> Option<String> {
    if !is_state_free(instr.mnemonic()) {
        if let Some(f) = instr.cpuid_features().iter().copied().find(|&f| is_fp_simd_feature(f)) {
            return Some(format!("{f:?} instruction"));
        }
    }
    let mut registers: Vec<Register> = (0..instr.op_count())
        .map(|i| instr.op_register(i))
        .chain([instr.memory_base(), instr.memory_index()])
        .collect();
    registers.extend(info.info(instr).used_registers().iter().map(|u| u.register()));
    registers.into_iter().find(|&r| is_fp_simd_register(r)).map(|r| format!("uses FPU/SIMD register {r:?}"))
}

/// Outcome of checking all executable sections.
#[derive(Debug, Default)]
pub struct InstructionCheck {
    pub problems: Vec<Problem>,
    /// Instructions decoded.
    pub decoded: usize,
}

fn check_section(section: &Section<'_>, out: &mut InstructionCheck) {
    let mut decoder = Decoder::with_ip(64, section.data, 0, DecoderOptions::NONE);
    let mut formatter = GasFormatter::new();
    let mut info = InstructionInfoFactory::new();
    let mut instr = Instruction::default();
    let mut text = String::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut instr);
        let offset = instr.ip();
        if instr.is_invalid() {
            let start = offset as usize;
            let bytes: Vec<String> = section.data[start..].iter().take(8).map(|b| format!("{b:02x}")).collect();
            out.problems.push(Problem::new(
                Rule::Instructions,
                format!(
                    "{}+{offset:#x}: undecodable bytes [{}]; rest of section not checked",
                    section.name,
                    bytes.join(" ")
                ),
            ));
            return;
        }
        out.decoded += 1;
        if let Some(reason) = forbidden_reason(&instr, &mut info) {
            text.clear();
            formatter.format(&instr, &mut text);
            out.problems.push(Problem::new(
                Rule::Instructions,
                format!(
                    "{}+{offset:#x}: `{text}`: {reason}; FPU/SIMD/x87/MMX instructions are forbidden in kernel code",
                    section.name
                ),
            ));
        }
    }
}

pub fn check(obj: &ElfObject<'_>) -> InstructionCheck {
    let mut out = InstructionCheck::default();
    for section in obj.sections.iter().filter(|s| s.is_exec()) {
        check_section(section, &mut out);
    }
    out
}
