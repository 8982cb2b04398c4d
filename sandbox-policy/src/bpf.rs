//! Classic BPF as seccomp uses it: the instruction type, opcodes, the `seccomp_data` layout and
//! the return values of each action.

/// One classic BPF instruction, laid out exactly as the kernel's `struct sock_filter`
/// (8 bytes, native byte order), so a `&[SockFilter]` can be handed to `seccomp(2)` as is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SockFilter {
    /// Opcode: class | size | mode, or class | op | source.
    pub code: u16,
    /// Jump offset when the condition holds (conditional jumps only).
    pub jt: u8,
    /// Jump offset when the condition does not hold.
    pub jf: u8,
    /// The constant operand.
    pub k: u32,
}

impl SockFilter {
    /// A non-jump instruction.
    pub const fn stmt(code: u16, k: u32) -> Self {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump instruction.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        SockFilter { code, jt, jf, k }
    }

    /// The instruction as the 8 bytes the kernel reads, in native byte order.
    pub fn to_ne_bytes(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[0..2].copy_from_slice(&self.code.to_ne_bytes());
        out[2] = self.jt;
        out[3] = self.jf;
        out[4..8].copy_from_slice(&self.k.to_ne_bytes());
        out
    }
}

// Instruction classes.
/// Load into the accumulator.
pub const BPF_LD: u16 = 0x00;
/// Load into the index register.
pub const BPF_LDX: u16 = 0x01;
/// Store the accumulator to scratch memory.
pub const BPF_ST: u16 = 0x02;
/// Store the index register to scratch memory.
pub const BPF_STX: u16 = 0x03;
/// Arithmetic and logic on the accumulator.
pub const BPF_ALU: u16 = 0x04;
/// Jumps.
pub const BPF_JMP: u16 = 0x05;
/// Return.
pub const BPF_RET: u16 = 0x06;
/// Register moves.
pub const BPF_MISC: u16 = 0x07;

// Load sizes and modes.
/// 32-bit word.
pub const BPF_W: u16 = 0x00;
/// 16-bit half word.
pub const BPF_H: u16 = 0x08;
/// Byte.
pub const BPF_B: u16 = 0x10;
/// Immediate operand.
pub const BPF_IMM: u16 = 0x00;
/// Absolute offset into `seccomp_data`.
pub const BPF_ABS: u16 = 0x20;
/// Offset relative to the index register.
pub const BPF_IND: u16 = 0x40;
/// Scratch memory.
pub const BPF_MEM: u16 = 0x60;
/// Packet length (the size of `seccomp_data` under seccomp).
pub const BPF_LEN: u16 = 0x80;

// ALU and jump operations.
/// Add.
pub const BPF_ADD: u16 = 0x00;
/// Subtract.
pub const BPF_SUB: u16 = 0x10;
/// Multiply.
pub const BPF_MUL: u16 = 0x20;
/// Divide.
pub const BPF_DIV: u16 = 0x30;
/// Bitwise or.
pub const BPF_OR: u16 = 0x40;
/// Bitwise and.
pub const BPF_AND: u16 = 0x50;
/// Shift left.
pub const BPF_LSH: u16 = 0x60;
/// Shift right.
pub const BPF_RSH: u16 = 0x70;
/// Negate.
pub const BPF_NEG: u16 = 0x80;
/// Modulo.
pub const BPF_MOD: u16 = 0x90;
/// Exclusive or.
pub const BPF_XOR: u16 = 0xa0;
/// Unconditional jump.
pub const BPF_JA: u16 = 0x00;
/// Jump if equal.
pub const BPF_JEQ: u16 = 0x10;
/// Jump if greater (unsigned).
pub const BPF_JGT: u16 = 0x20;
/// Jump if greater or equal (unsigned).
pub const BPF_JGE: u16 = 0x30;
/// Jump if any bit of the operand is set.
pub const BPF_JSET: u16 = 0x40;
/// Constant operand.
pub const BPF_K: u16 = 0x00;
/// Index-register operand.
pub const BPF_X: u16 = 0x08;
/// Return the accumulator.
pub const BPF_A: u16 = 0x10;
/// Move A to X.
pub const BPF_TAX: u16 = 0x00;
/// Move X to A.
pub const BPF_TXA: u16 = 0x80;

/// The most instructions one filter may hold (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;
/// The longest forward hop of a conditional jump.
pub const MAX_COND_JUMP: usize = 255;

/// Offsets inside `struct seccomp_data` (64 bytes).
pub mod data {
    /// `int nr`.
    pub const NR: u32 = 0;
    /// `u32 arch`.
    pub const ARCH: u32 = 4;
    /// Low word of `u64 instruction_pointer`.
    pub const IP_LO: u32 = 8;
    /// High word of `u64 instruction_pointer`.
    pub const IP_HI: u32 = 12;
    /// The size of `struct seccomp_data`.
    pub const SIZE: u32 = 64;

    /// Offset of the low 32 bits of argument `i` (little-endian targets).
    pub const fn arg_lo(i: u8) -> u32 {
        16 + 8 * i as u32
    }

    /// Offset of the high 32 bits of argument `i` (little-endian targets).
    pub const fn arg_hi(i: u8) -> u32 {
        20 + 8 * i as u32
    }
}

/// `SECCOMP_RET_*` values: what a filter returns.
pub mod ret {
    /// Kill the whole process.
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    /// Kill the calling thread.
    pub const KILL_THREAD: u32 = 0x0000_0000;
    /// Send SIGSYS to the thread.
    pub const TRAP: u32 = 0x0003_0000;
    /// Fail the call with the errno in the data bits.
    pub const ERRNO: u32 = 0x0005_0000;
    /// Ask the user-space supervisor on the listener fd.
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    /// Hand the call to a ptrace tracer.
    pub const TRACE: u32 = 0x7ff0_0000;
    /// Allow and log.
    pub const LOG: u32 = 0x7ffc_0000;
    /// Allow.
    pub const ALLOW: u32 = 0x7fff_0000;
    /// The action bits (including the sign bit of KILL_PROCESS).
    pub const ACTION_FULL: u32 = 0xffff_0000;
    /// The data bits.
    pub const DATA: u32 = 0x0000_ffff;
}
