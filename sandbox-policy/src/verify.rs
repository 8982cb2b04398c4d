//! A static checker with the kernel's rules for seccomp programs (`bpf_check_classic`,
//! `seccomp_check_filter` and `check_load_and_stores`): a program that passes loads.
//!
//! Because classic BPF only jumps forward, "the last instruction is a `ret` and every jump
//! lands inside the program" already means every path ends in a `ret`.

use crate::bpf::{self, SockFilter};
use std::fmt;

/// Why the kernel would refuse a program. Every variant but the first two names the index of
/// the offending instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// No instructions.
    Empty,
    /// More than [`bpf::BPF_MAXINSNS`] instructions.
    TooLong {
        /// The program's length.
        len: usize,
    },
    /// An opcode seccomp does not accept.
    UnsupportedOpcode {
        /// The instruction.
        at: usize,
        /// Its opcode.
        code: u16,
    },
    /// A jump leading past the last instruction.
    JumpOutOfRange {
        /// The jump.
        at: usize,
        /// Where it leads.
        target: u64,
    },
    /// A load whose offset is not a multiple of 4.
    MisalignedLoad {
        /// The load.
        at: usize,
        /// Its offset.
        offset: u32,
    },
    /// A load outside the 64 bytes of `seccomp_data`.
    LoadOutOfRange {
        /// The load.
        at: usize,
        /// Its offset.
        offset: u32,
    },
    /// A scratch slot outside `M[0]..M[15]`.
    ScratchOutOfRange {
        /// The instruction.
        at: usize,
        /// The slot.
        slot: u32,
    },
    /// A scratch slot read on some path before any write.
    ScratchReadBeforeWrite {
        /// The read.
        at: usize,
        /// The slot.
        slot: u32,
    },
    /// A division by the constant zero.
    DivisionByZero {
        /// The instruction.
        at: usize,
    },
    /// A shift by a constant of 32 or more.
    ShiftOutOfRange {
        /// The instruction.
        at: usize,
        /// The shift amount.
        amount: u32,
    },
    /// The last instruction is not a `ret`, so execution can fall off the end.
    NoFinalRet {
        /// The last instruction.
        at: usize,
    },
}

impl VerifyError {
    /// The index of the offending instruction, when one is to blame.
    pub fn at(&self) -> Option<usize> {
        match *self {
            VerifyError::Empty | VerifyError::TooLong { .. } => None,
            VerifyError::UnsupportedOpcode { at, .. }
            | VerifyError::JumpOutOfRange { at, .. }
            | VerifyError::MisalignedLoad { at, .. }
            | VerifyError::LoadOutOfRange { at, .. }
            | VerifyError::ScratchOutOfRange { at, .. }
            | VerifyError::ScratchReadBeforeWrite { at, .. }
            | VerifyError::DivisionByZero { at }
            | VerifyError::ShiftOutOfRange { at, .. }
            | VerifyError::NoFinalRet { at } => Some(at),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VerifyError::Empty => f.write_str("the program is empty"),
            VerifyError::TooLong { len } => write!(
                f,
                "the program has {len} instructions; the kernel accepts at most {}",
                bpf::BPF_MAXINSNS
            ),
            VerifyError::UnsupportedOpcode { at, code } => {
                write!(
                    f,
                    "instruction {at}: opcode {code:#06x} is not accepted by seccomp"
                )
            }
            VerifyError::JumpOutOfRange { at, target } => {
                write!(
                    f,
                    "instruction {at}: jump to {target} is outside the program"
                )
            }
            VerifyError::MisalignedLoad { at, offset } => {
                write!(
                    f,
                    "instruction {at}: load offset {offset} is not 4-byte aligned"
                )
            }
            VerifyError::LoadOutOfRange { at, offset } => write!(
                f,
                "instruction {at}: load offset {offset} is outside the 64-byte seccomp_data"
            ),
            VerifyError::ScratchOutOfRange { at, slot } => {
                write!(f, "instruction {at}: scratch slot M[{slot}] does not exist")
            }
            VerifyError::ScratchReadBeforeWrite { at, slot } => write!(
                f,
                "instruction {at}: scratch slot M[{slot}] may be read before it is written"
            ),
            VerifyError::DivisionByZero { at } => {
                write!(f, "instruction {at}: division by the constant zero")
            }
            VerifyError::ShiftOutOfRange { at, amount } => {
                write!(f, "instruction {at}: shift by {amount} bits")
            }
            VerifyError::NoFinalRet { at } => {
                write!(f, "instruction {at}: the last instruction must be a ret")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// Whether seccomp accepts this opcode at all (the list in `seccomp_check_filter`).
pub fn seccomp_accepts(code: u16) -> bool {
    use crate::bpf::*;
    const ALU_OPS: [u16; 9] = [
        BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH,
    ];
    const JMP_OPS: [u16; 4] = [BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET];
    let fixed = [
        BPF_LD | BPF_W | BPF_ABS,
        BPF_LD | BPF_W | BPF_LEN,
        BPF_LDX | BPF_W | BPF_LEN,
        BPF_RET | BPF_K,
        BPF_RET | BPF_A,
        BPF_ALU | BPF_NEG,
        BPF_LD | BPF_IMM,
        BPF_LDX | BPF_IMM,
        BPF_MISC | BPF_TAX,
        BPF_MISC | BPF_TXA,
        BPF_LD | BPF_MEM,
        BPF_LDX | BPF_MEM,
        BPF_ST,
        BPF_STX,
        BPF_JMP | BPF_JA,
    ];
    fixed.contains(&code)
        || [BPF_K, BPF_X].iter().any(|&src| {
            ALU_OPS.iter().any(|&op| code == BPF_ALU | op | src)
                || JMP_OPS.iter().any(|&op| code == BPF_JMP | op | src)
        })
}

/// Whether the instruction is a conditional jump.
fn is_cond_jump(code: u16) -> bool {
    code & 0x07 == bpf::BPF_JMP && code & 0xf0 != bpf::BPF_JA
}

/// Checks `filter` with the kernel's rules; `Ok` means `seccomp(2)` would accept it.
pub fn verify(filter: &[SockFilter]) -> Result<(), VerifyError> {
    use crate::bpf::*;
    let len = filter.len();
    if len == 0 {
        return Err(VerifyError::Empty);
    }
    if len > BPF_MAXINSNS {
        return Err(VerifyError::TooLong { len });
    }
    for (at, insn) in filter.iter().enumerate() {
        let (code, k) = (insn.code, insn.k);
        if !seccomp_accepts(code) {
            return Err(VerifyError::UnsupportedOpcode { at, code });
        }
        let in_range = |offset: u32| at as u64 + 1 + u64::from(offset) < len as u64;
        match code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                if k >= bpf::data::SIZE {
                    return Err(VerifyError::LoadOutOfRange { at, offset: k });
                }
                if k & 3 != 0 {
                    return Err(VerifyError::MisalignedLoad { at, offset: k });
                }
            }
            c if c == BPF_ALU | BPF_DIV | BPF_K && k == 0 => {
                return Err(VerifyError::DivisionByZero { at });
            }
            c if (c == BPF_ALU | BPF_LSH | BPF_K || c == BPF_ALU | BPF_RSH | BPF_K) && k >= 32 => {
                return Err(VerifyError::ShiftOutOfRange { at, amount: k });
            }
            c if (c == BPF_LD | BPF_MEM
                || c == BPF_LDX | BPF_MEM
                || c == BPF_ST
                || c == BPF_STX)
                && k >= 16 =>
            {
                return Err(VerifyError::ScratchOutOfRange { at, slot: k });
            }
            c if c == BPF_JMP | BPF_JA && !in_range(k) => {
                return Err(VerifyError::JumpOutOfRange {
                    at,
                    target: at as u64 + 1 + u64::from(k),
                });
            }
            c if is_cond_jump(c) => {
                for off in [insn.jt, insn.jf] {
                    if !in_range(u32::from(off)) {
                        return Err(VerifyError::JumpOutOfRange {
                            at,
                            target: at as u64 + 1 + u64::from(off),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let last = len - 1;
    let last_code = filter[last].code;
    if last_code != BPF_RET | BPF_K && last_code != BPF_RET | BPF_A {
        return Err(VerifyError::NoFinalRet { at: last });
    }
    check_scratch(filter)
}

/// The kernel's `check_load_and_stores`: one bit per scratch slot, "written on every path that
/// reaches here", propagated forward along jumps and fall-through.
fn check_scratch(filter: &[SockFilter]) -> Result<(), VerifyError> {
    use crate::bpf::*;
    let mut masks = vec![u16::MAX; filter.len()];
    let mut valid: u16 = 0;
    for (at, insn) in filter.iter().enumerate() {
        valid &= masks[at];
        let slot_bit = 1u16.checked_shl(insn.k).unwrap_or(0);
        match insn.code {
            BPF_ST | BPF_STX => valid |= slot_bit,
            c if (c == BPF_LD | BPF_MEM || c == BPF_LDX | BPF_MEM) && valid & slot_bit == 0 => {
                return Err(VerifyError::ScratchReadBeforeWrite { at, slot: insn.k });
            }
            c if c == BPF_JMP | BPF_JA => {
                if let Some(m) = masks.get_mut(at + 1 + insn.k as usize) {
                    *m &= valid;
                }
                valid = u16::MAX;
            }
            c if is_cond_jump(c) => {
                for off in [insn.jt, insn.jf] {
                    if let Some(m) = masks.get_mut(at + 1 + usize::from(off)) {
                        *m &= valid;
                    }
                }
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::*;

    fn ret() -> SockFilter {
        SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW)
    }

    #[test]
    fn accepts_a_plain_program() {
        let prog = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 4),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 0xc000_003e, 1, 0),
            SockFilter::stmt(BPF_RET | BPF_K, ret::KILL_PROCESS),
            SockFilter::stmt(BPF_ST, 0),
            SockFilter::stmt(BPF_LD | BPF_MEM, 0),
            ret(),
        ];
        assert_eq!(verify(&prog), Ok(()));
    }

    #[test]
    fn rejects_what_the_kernel_rejects() {
        let ld = |k| SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, k);
        assert_eq!(verify(&[]), Err(VerifyError::Empty));
        assert_eq!(
            verify(&vec![ret(); 4097]),
            Err(VerifyError::TooLong { len: 4097 })
        );
        assert_eq!(
            verify(&[ld(2), ret()]),
            Err(VerifyError::MisalignedLoad { at: 0, offset: 2 })
        );
        assert_eq!(
            verify(&[ld(64), ret()]),
            Err(VerifyError::LoadOutOfRange { at: 0, offset: 64 })
        );
        assert_eq!(verify(&[ld(0)]), Err(VerifyError::NoFinalRet { at: 0 }));
        assert_eq!(
            verify(&[SockFilter::jump(BPF_JMP | BPF_JGT | BPF_K, 0, 0, 1), ret()]),
            Err(VerifyError::JumpOutOfRange { at: 0, target: 2 })
        );
        assert_eq!(
            verify(&[SockFilter::stmt(BPF_JMP | BPF_JA, 1), ret()]),
            Err(VerifyError::JumpOutOfRange { at: 0, target: 2 })
        );
        assert_eq!(
            verify(&[SockFilter::stmt(BPF_ALU | BPF_MOD | BPF_K, 2), ret()]),
            Err(VerifyError::UnsupportedOpcode { at: 0, code: 0x94 })
        );
        assert_eq!(
            verify(&[SockFilter::stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret()]),
            Err(VerifyError::DivisionByZero { at: 0 })
        );
        assert_eq!(
            verify(&[SockFilter::stmt(BPF_ALU | BPF_RSH | BPF_K, 32), ret()]),
            Err(VerifyError::ShiftOutOfRange { at: 0, amount: 32 })
        );
        assert_eq!(
            verify(&[SockFilter::stmt(BPF_ST, 16), ret()]),
            Err(VerifyError::ScratchOutOfRange { at: 0, slot: 16 })
        );
    }

    #[test]
    fn scratch_must_be_written_on_every_path() {
        // M[1] is written only when the jump is not taken.
        let prog = [
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
            SockFilter::stmt(BPF_ST, 1),
            SockFilter::stmt(BPF_LDX | BPF_MEM, 1),
            ret(),
        ];
        assert_eq!(
            verify(&prog),
            Err(VerifyError::ScratchReadBeforeWrite { at: 2, slot: 1 })
        );
        let fixed = [
            SockFilter::stmt(BPF_ST, 1),
            prog[0],
            prog[1],
            prog[2],
            prog[3],
        ];
        assert_eq!(verify(&fixed), Ok(()));
    }
}
