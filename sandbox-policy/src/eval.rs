//! A classic-BPF interpreter for seccomp programs: the reference the generated code is tested
//! against, and the instrument that counts how many instructions a call executes.
//!
//! It accepts exactly the instructions the kernel's seccomp checker accepts and reports, as an
//! error rather than a guess, everything the kernel would refuse or that has no defined result
//! (jumps past the end, unaligned or out-of-range loads, reading scratch memory nobody wrote,
//! division by zero, shifts of 32 or more).

use crate::arch::Arch;
use crate::bpf::{self, SockFilter};
use std::fmt;

/// The input of a seccomp filter, `struct seccomp_data`, with the kernel's field types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeccompData {
    /// The syscall number (`int nr`).
    pub nr: i32,
    /// The `AUDIT_ARCH_*` value of the calling convention.
    pub arch: u32,
    /// Where the call was made from.
    pub instruction_pointer: u64,
    /// The six argument registers, unmodified.
    pub args: [u64; 6],
}

impl SeccompData {
    /// A call of `nr` through the calling convention `audit_arch`, at instruction pointer 0.
    pub fn new(audit_arch: u32, nr: u32, args: [u64; 6]) -> Self {
        SeccompData {
            nr: i32::from_ne_bytes(nr.to_ne_bytes()),
            arch: audit_arch,
            instruction_pointer: 0,
            args,
        }
    }

    /// A native call of `nr` on `arch`.
    pub fn native(arch: Arch, nr: u32, args: [u64; 6]) -> Self {
        Self::new(arch.audit_arch(), nr, args)
    }

    /// The 32-bit word a `ld [offset]` reads, in the little-endian layout (the low half of a
    /// 64-bit field first). `None` when the offset is unaligned or outside the 64 bytes.
    pub fn word(&self, offset: u32) -> Option<u32> {
        if offset & 3 != 0 || offset >= bpf::data::SIZE {
            return None;
        }
        let half = |v: u64, high: bool| -> u32 {
            let shifted = if high { v >> 32 } else { v };
            (shifted & 0xffff_ffff) as u32
        };
        Some(match offset {
            0 => u32::from_ne_bytes(self.nr.to_ne_bytes()),
            4 => self.arch,
            8 => half(self.instruction_pointer, false),
            12 => half(self.instruction_pointer, true),
            _ => {
                let rel = offset - 16;
                let index = (rel / 8) as usize;
                let value = self.args.get(index).copied().unwrap_or(0);
                half(value, rel % 8 == 4)
            }
        })
    }
}

/// The result of running a filter to completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The value the filter returned (`SECCOMP_RET_*` action and data).
    pub ret: u32,
    /// How many instructions were executed, the final `ret` included.
    pub executed: usize,
}

/// Why a filter could not be run to a return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// The program has no instructions.
    Empty,
    /// Execution continued past the last instruction.
    FellOffEnd {
        /// The index of the last instruction, which was not a jump or return.
        at: usize,
    },
    /// A jump leads outside the program.
    JumpOutOfRange {
        /// The jump instruction.
        at: usize,
        /// The index it leads to.
        target: u64,
    },
    /// A load of an unaligned word or one outside `seccomp_data`.
    LoadOutOfRange {
        /// The load instruction.
        at: usize,
        /// The byte offset it reads.
        offset: u32,
    },
    /// An opcode seccomp does not accept.
    UnsupportedOpcode {
        /// The instruction.
        at: usize,
        /// Its opcode.
        code: u16,
    },
    /// A division by zero.
    DivisionByZero {
        /// The instruction.
        at: usize,
    },
    /// A shift by 32 bits or more (undefined in classic BPF).
    ShiftOutOfRange {
        /// The instruction.
        at: usize,
        /// The shift amount.
        amount: u32,
    },
    /// A scratch-memory slot outside `M[0]..M[15]`.
    ScratchOutOfRange {
        /// The instruction.
        at: usize,
        /// The slot.
        slot: u32,
    },
    /// A read of a scratch-memory slot nothing has written.
    UninitialisedScratch {
        /// The instruction.
        at: usize,
        /// The slot.
        slot: u32,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EvalError::Empty => f.write_str("the program is empty"),
            EvalError::FellOffEnd { at } => {
                write!(f, "execution fell off the end after instruction {at}")
            }
            EvalError::JumpOutOfRange { at, target } => {
                write!(f, "instruction {at} jumps to {target}, outside the program")
            }
            EvalError::LoadOutOfRange { at, offset } => write!(
                f,
                "instruction {at} loads offset {offset}, not an aligned word of seccomp_data"
            ),
            EvalError::UnsupportedOpcode { at, code } => {
                write!(
                    f,
                    "instruction {at} has opcode {code:#06x}, which seccomp rejects"
                )
            }
            EvalError::DivisionByZero { at } => write!(f, "instruction {at} divides by zero"),
            EvalError::ShiftOutOfRange { at, amount } => {
                write!(f, "instruction {at} shifts by {amount} bits")
            }
            EvalError::ScratchOutOfRange { at, slot } => {
                write!(
                    f,
                    "instruction {at} uses scratch slot M[{slot}], which does not exist"
                )
            }
            EvalError::UninitialisedScratch { at, slot } => {
                write!(
                    f,
                    "instruction {at} reads scratch slot M[{slot}] before any write"
                )
            }
        }
    }
}

impl std::error::Error for EvalError {}

/// The number of scratch-memory words (`BPF_MEMWORDS`).
const MEMWORDS: usize = 16;

/// The machine state while a filter runs.
struct Machine {
    a: u32,
    x: u32,
    mem: [u32; MEMWORDS],
    written: u16,
}

impl Machine {
    fn slot(at: usize, k: u32) -> Result<usize, EvalError> {
        let slot = k as usize;
        if slot < MEMWORDS {
            Ok(slot)
        } else {
            Err(EvalError::ScratchOutOfRange { at, slot: k })
        }
    }

    fn read(&self, at: usize, k: u32) -> Result<u32, EvalError> {
        let slot = Self::slot(at, k)?;
        if self.written & (1 << slot) == 0 {
            return Err(EvalError::UninitialisedScratch { at, slot: k });
        }
        Ok(self.mem[slot])
    }

    fn write(&mut self, at: usize, k: u32, value: u32) -> Result<(), EvalError> {
        let slot = Self::slot(at, k)?;
        self.mem[slot] = value;
        self.written |= 1 << slot;
        Ok(())
    }

    fn alu(&mut self, at: usize, op: u16, operand: u32) -> Result<(), EvalError> {
        let a = self.a;
        self.a = match op {
            bpf::BPF_ADD => a.wrapping_add(operand),
            bpf::BPF_SUB => a.wrapping_sub(operand),
            bpf::BPF_MUL => a.wrapping_mul(operand),
            bpf::BPF_DIV => a
                .checked_div(operand)
                .ok_or(EvalError::DivisionByZero { at })?,
            bpf::BPF_OR => a | operand,
            bpf::BPF_AND => a & operand,
            bpf::BPF_XOR => a ^ operand,
            bpf::BPF_LSH | bpf::BPF_RSH => {
                if operand >= 32 {
                    return Err(EvalError::ShiftOutOfRange {
                        at,
                        amount: operand,
                    });
                }
                if op == bpf::BPF_LSH {
                    a << operand
                } else {
                    a >> operand
                }
            }
            bpf::BPF_NEG => a.wrapping_neg(),
            _ => return Err(EvalError::UnsupportedOpcode { at, code: op }),
        };
        Ok(())
    }
}

/// The index `pc + 1 + offset`, checked against the program length.
fn jump_target(at: usize, offset: u32, len: usize) -> Result<usize, EvalError> {
    let target = at as u64 + 1 + u64::from(offset);
    if target < len as u64 {
        Ok(target as usize)
    } else {
        Err(EvalError::JumpOutOfRange { at, target })
    }
}

/// Runs `filter` on `data` as the kernel would and returns what it returns.
pub fn run(filter: &[SockFilter], data: &SeccompData) -> Result<Outcome, EvalError> {
    use crate::bpf::*;
    if filter.is_empty() {
        return Err(EvalError::Empty);
    }
    let mut m = Machine {
        a: 0,
        x: 0,
        mem: [0; MEMWORDS],
        written: 0,
    };
    let mut pc = 0usize;
    let mut executed = 0usize;
    loop {
        let Some(insn) = filter.get(pc) else {
            return Err(EvalError::FellOffEnd {
                at: pc.saturating_sub(1),
            });
        };
        executed += 1;
        let at = pc;
        let k = insn.k;
        pc += 1;
        match insn.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                m.a = data
                    .word(k)
                    .ok_or(EvalError::LoadOutOfRange { at, offset: k })?;
            }
            c if c == BPF_LD | BPF_W | BPF_LEN => m.a = bpf::data::SIZE,
            c if c == BPF_LDX | BPF_W | BPF_LEN => m.x = bpf::data::SIZE,
            c if c == BPF_LD | BPF_IMM => m.a = k,
            c if c == BPF_LDX | BPF_IMM => m.x = k,
            c if c == BPF_LD | BPF_MEM => m.a = m.read(at, k)?,
            c if c == BPF_LDX | BPF_MEM => m.x = m.read(at, k)?,
            BPF_ST => m.write(at, k, m.a)?,
            BPF_STX => m.write(at, k, m.x)?,
            c if c == BPF_MISC | BPF_TAX => m.x = m.a,
            c if c == BPF_MISC | BPF_TXA => m.a = m.x,
            c if c == BPF_RET | BPF_K => return Ok(Outcome { ret: k, executed }),
            c if c == BPF_RET | BPF_A => return Ok(Outcome { ret: m.a, executed }),
            c if c == BPF_JMP | BPF_JA => pc = jump_target(at, k, filter.len())?,
            c if c & 0x07 == BPF_ALU => {
                let op = c & 0xf0;
                let from_x = c & BPF_X != 0;
                let valid_op = matches!(
                    op,
                    BPF_ADD
                        | BPF_SUB
                        | BPF_MUL
                        | BPF_DIV
                        | BPF_OR
                        | BPF_AND
                        | BPF_LSH
                        | BPF_RSH
                        | BPF_XOR
                ) || (op == BPF_NEG && !from_x);
                if !valid_op || c & !0xf8 != BPF_ALU {
                    return Err(EvalError::UnsupportedOpcode { at, code: c });
                }
                m.alu(at, op, if from_x { m.x } else { k })?;
            }
            c if c & 0x07 == BPF_JMP && c & !0xf8 == BPF_JMP => {
                let operand = if c & BPF_X != 0 { m.x } else { k };
                let taken = match c & 0xf0 {
                    BPF_JEQ => m.a == operand,
                    BPF_JGT => m.a > operand,
                    BPF_JGE => m.a >= operand,
                    BPF_JSET => m.a & operand != 0,
                    _ => return Err(EvalError::UnsupportedOpcode { at, code: c }),
                };
                let offset = if taken { insn.jt } else { insn.jf };
                pc = jump_target(at, u32::from(offset), filter.len())?;
            }
            c => return Err(EvalError::UnsupportedOpcode { at, code: c }),
        }
    }
}

/// How many instructions a filter executes over a set of syscalls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathStats {
    /// The program's length in instructions.
    pub len: usize,
    /// How many numbers were run successfully.
    pub samples: usize,
    /// The fewest instructions executed.
    pub min: usize,
    /// The mean number of instructions executed.
    pub mean: f64,
    /// The most instructions executed.
    pub max: usize,
    /// How many numbers made the interpreter fail (not counted in the other figures).
    pub errors: usize,
}

/// Runs `filter` once for each number in `nrs` (native calls of `arch`, every argument 0) and
/// summarises the executed path lengths. Programs that depend on arguments are measured with
/// all-zero arguments.
pub fn path_stats(filter: &[SockFilter], arch: Arch, nrs: &[u32]) -> PathStats {
    let mut stats = PathStats {
        len: filter.len(),
        samples: 0,
        min: 0,
        mean: 0.0,
        max: 0,
        errors: 0,
    };
    let mut total = 0usize;
    for &nr in nrs {
        match run(filter, &SeccompData::native(arch, nr, [0; 6])) {
            Ok(outcome) => {
                let n = outcome.executed;
                stats.min = if stats.samples == 0 {
                    n
                } else {
                    stats.min.min(n)
                };
                stats.max = stats.max.max(n);
                stats.samples += 1;
                total += n;
            }
            Err(_) => stats.errors += 1,
        }
    }
    if stats.samples > 0 {
        stats.mean = total as f64 / stats.samples as f64;
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::*;

    fn data() -> SeccompData {
        SeccompData {
            nr: -1,
            arch: 0xc000_003e,
            instruction_pointer: 0x1122_3344_5566_7788,
            args: [0x0000_0001_ffff_ff9c, 2, 3, 4, 5, 0xaaaa_bbbb_cccc_dddd],
        }
    }

    #[test]
    fn words_follow_the_little_endian_layout() {
        let d = data();
        assert_eq!(d.word(0), Some(0xffff_ffff));
        assert_eq!(d.word(4), Some(0xc000_003e));
        assert_eq!(d.word(8), Some(0x5566_7788));
        assert_eq!(d.word(12), Some(0x1122_3344));
        assert_eq!(d.word(16), Some(0xffff_ff9c));
        assert_eq!(d.word(20), Some(1));
        assert_eq!(d.word(56), Some(0xcccc_dddd));
        assert_eq!(d.word(60), Some(0xaaaa_bbbb));
        assert_eq!(d.word(64), None);
        assert_eq!(d.word(2), None);
    }

    #[test]
    fn arithmetic_scratch_and_jumps() {
        let prog = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 20), // A = 1
            SockFilter::stmt(BPF_ALU | BPF_ADD | BPF_K, 4), // 5
            SockFilter::stmt(BPF_ST, 3),
            SockFilter::stmt(BPF_LDX | BPF_IMM, 3),
            SockFilter::stmt(BPF_ALU | BPF_MUL | BPF_X, 0), // 15
            SockFilter::stmt(BPF_ALU | BPF_XOR | BPF_K, 1), // 14
            SockFilter::stmt(BPF_ALU | BPF_DIV | BPF_K, 7), // 2
            SockFilter::stmt(BPF_LDX | BPF_MEM, 3),         // X = 5
            SockFilter::stmt(BPF_ALU | BPF_LSH | BPF_X, 0), // 64
            SockFilter::stmt(BPF_LDX | BPF_W | BPF_LEN, 0), // X = 64
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_X, 0, 1, 0),
            SockFilter::stmt(BPF_RET | BPF_K, 0),
            SockFilter::stmt(BPF_MISC | BPF_TAX, 0),
            SockFilter::stmt(BPF_ALU | BPF_NEG, 0),
            SockFilter::stmt(BPF_RET | BPF_A, 0),
        ];
        let out = run(&prog, &data()).unwrap();
        assert_eq!(out.ret, 64u32.wrapping_neg());
        assert_eq!(out.executed, 14);
    }

    #[test]
    fn errors_are_reported() {
        let d = data();
        let r = |p: &[SockFilter]| run(p, &d);
        assert_eq!(r(&[]), Err(EvalError::Empty));
        assert_eq!(
            r(&[SockFilter::stmt(BPF_LD | BPF_IMM, 1)]),
            Err(EvalError::FellOffEnd { at: 0 })
        );
        assert_eq!(
            r(&[SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 6)]),
            Err(EvalError::LoadOutOfRange { at: 0, offset: 6 })
        );
        assert_eq!(
            r(&[SockFilter::stmt(BPF_LD | BPF_MEM, 0)]),
            Err(EvalError::UninitialisedScratch { at: 0, slot: 0 })
        );
        assert_eq!(
            r(&[SockFilter::stmt(BPF_ALU | BPF_DIV | BPF_X, 0)]),
            Err(EvalError::DivisionByZero { at: 0 })
        );
        assert_eq!(
            r(&[SockFilter::stmt(BPF_ALU | BPF_MOD | BPF_K, 3)]),
            Err(EvalError::UnsupportedOpcode { at: 0, code: 0x94 })
        );
        assert_eq!(
            r(&[SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 5)]),
            Err(EvalError::JumpOutOfRange { at: 0, target: 6 })
        );
        assert_eq!(
            r(&[SockFilter::stmt(BPF_LD | BPF_B | BPF_ABS, 0)]),
            Err(EvalError::UnsupportedOpcode { at: 0, code: 0x30 })
        );
    }

    #[test]
    fn path_stats_summarise() {
        let prog = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW),
            SockFilter::stmt(BPF_RET | BPF_K, ret::KILL_PROCESS),
        ];
        let s = path_stats(&prog, Arch::X86_64, &[1, 2, 3]);
        assert_eq!((s.len, s.samples, s.min, s.max, s.errors), (6, 3, 3, 4, 0));
        assert!((s.mean - 11.0 / 3.0).abs() < 1e-9);
    }
}
