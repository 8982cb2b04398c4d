//! A readable, stable listing of a seccomp program: one line per instruction with absolute jump
//! targets and comments naming what is loaded, which syscall or architecture a constant is,
//! and what a `ret` does (down to the rule, when the compiled policy is at hand).
//!
//! ```text
//! ; x86_64: 43 instructions
//!    0: ld    [4]                             ; arch
//!    1: jeq   #0xc000003e      jt 2    jf 42  ; arch == x86_64
//!    2: ld    [0]                             ; nr
//!    3: jge   #59              jt 13   jf 4   ; nr >= 59 (execve)
//! ```

use crate::action::{Action, Tag, Verdict};
use crate::arch::Arch;
use crate::bpf::{self, SockFilter};
use crate::compiled::CompiledPolicy;
use crate::tables;
use std::fmt::Write as _;

/// What the accumulator is known to hold before an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Acc {
    /// Nothing useful is known.
    Unknown,
    /// The word at this `seccomp_data` offset, masked.
    Word { offset: u32, mask: u32 },
}

/// Merges what two paths know.
fn meet(a: Option<Acc>, b: Option<Acc>) -> Option<Acc> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        _ => Some(Acc::Unknown),
    }
}

/// Names a `seccomp_data` word.
fn field_name(offset: u32) -> String {
    match offset {
        bpf::data::NR => "nr".to_string(),
        bpf::data::ARCH => "arch".to_string(),
        bpf::data::IP_LO => "ip low".to_string(),
        bpf::data::IP_HI => "ip high".to_string(),
        o if (16..bpf::data::SIZE).contains(&o) && o & 3 == 0 => {
            let half = if (o - 16) % 8 == 0 { "low" } else { "high" };
            format!("args[{}] {half}", (o - 16) / 8)
        }
        o => format!("[{o}]"),
    }
}

/// A constant as an operand: small numbers in decimal, others in hex.
fn imm(k: u32) -> String {
    if k < 0x1000 {
        format!("#{k}")
    } else {
        format!("#{k:#x}")
    }
}

/// Describes a return value, using the policy's rule list when there is one.
fn describe_ret(value: u32, policy: Option<&CompiledPolicy>) -> String {
    let Some(verdict) = Verdict::from_ret_value(value) else {
        return match value & bpf::ret::ACTION_FULL {
            bpf::ret::TRACE => format!("trace (data {})", value & bpf::ret::DATA),
            bpf::ret::USER_NOTIF => "user_notif".to_string(),
            _ => "unknown action (behaves as kill)".to_string(),
        };
    };
    match verdict.action {
        Action::Allow | Action::Errno(_) => verdict.action.to_string(),
        action => {
            let what = match (policy, verdict.tag.rule_index()) {
                (Some(p), Some(index)) => match p.rule(verdict.tag) {
                    Some(rule) => {
                        format!("rule {}: `{}` at {}", index + 1, rule.text, rule.location)
                    }
                    None => p.describe_tag(verdict.tag),
                },
                (Some(p), None) => p.describe_tag(verdict.tag),
                (None, Some(index)) => format!("rule {}", index + 1),
                (None, None) => match verdict.tag {
                    Tag::ARCH => "the architecture check".to_string(),
                    Tag::X32 => "the x32 check".to_string(),
                    Tag::RUNTIME_EXEC => "the runtime's exec check".to_string(),
                    Tag::DEFAULT => "the default".to_string(),
                    t => format!("tag {}", t.0),
                },
            };
            format!("{action} — {what}")
        }
    }
}

/// The mnemonic and operand of an instruction.
fn mnemonic(insn: &SockFilter, at: usize) -> (String, String) {
    use crate::bpf::*;
    let k = insn.k;
    let code = insn.code;
    let target = |off: u64| (at as u64 + 1 + off).to_string();
    let s = |m: &str, o: String| (m.to_string(), o);
    match code {
        c if c == BPF_LD | BPF_W | BPF_ABS => s("ld", format!("[{k}]")),
        c if c == BPF_LD | BPF_W | BPF_LEN => s("ld", "len".into()),
        c if c == BPF_LDX | BPF_W | BPF_LEN => s("ldx", "len".into()),
        c if c == BPF_LD | BPF_IMM => s("ld", imm(k)),
        c if c == BPF_LDX | BPF_IMM => s("ldx", imm(k)),
        c if c == BPF_LD | BPF_MEM => s("ld", format!("M[{k}]")),
        c if c == BPF_LDX | BPF_MEM => s("ldx", format!("M[{k}]")),
        BPF_ST => s("st", format!("M[{k}]")),
        BPF_STX => s("stx", format!("M[{k}]")),
        c if c == BPF_MISC | BPF_TAX => s("tax", String::new()),
        c if c == BPF_MISC | BPF_TXA => s("txa", String::new()),
        c if c == BPF_RET | BPF_K => s("ret", format!("#{k:#x}")),
        c if c == BPF_RET | BPF_A => s("ret", "a".into()),
        c if c == BPF_JMP | BPF_JA => s("ja", target(u64::from(k))),
        c if c & 0x07 == BPF_ALU && c & !0xff == 0 => {
            let name = match c & 0xf0 {
                BPF_ADD => "add",
                BPF_SUB => "sub",
                BPF_MUL => "mul",
                BPF_DIV => "div",
                BPF_OR => "or",
                BPF_AND => "and",
                BPF_LSH => "lsh",
                BPF_RSH => "rsh",
                BPF_NEG => "neg",
                BPF_MOD => "mod",
                BPF_XOR => "xor",
                _ => "alu?",
            };
            let operand = if c & 0xf0 == BPF_NEG {
                String::new()
            } else if c & BPF_X != 0 {
                "x".into()
            } else if c & 0xf0 == BPF_AND || c & 0xf0 == BPF_OR || c & 0xf0 == BPF_XOR {
                format!("#{k:#x}")
            } else {
                imm(k)
            };
            s(name, operand)
        }
        c if c & 0x07 == BPF_JMP && c & !0xff == 0 => {
            let name = match c & 0xf0 {
                BPF_JEQ => "jeq",
                BPF_JGT => "jgt",
                BPF_JGE => "jge",
                BPF_JSET => "jset",
                _ => "jmp?",
            };
            let operand = if c & BPF_X != 0 { "x".into() } else { imm(k) };
            s(name, operand)
        }
        c => s(".word", format!("{c:#06x} {k:#x}")),
    }
}

/// Whether the instruction is a conditional jump (with `jt`/`jf`).
fn is_cond_jump(code: u16) -> bool {
    code & 0x07 == bpf::BPF_JMP && code & 0xf0 != bpf::BPF_JA && code & !0xff == 0
}

/// The comment for a conditional jump on a constant, given what the accumulator holds.
fn jump_comment(insn: &SockFilter, acc: Acc, arch: Arch) -> String {
    use crate::bpf::*;
    if insn.code & BPF_X != 0 {
        return String::new();
    }
    let Acc::Word { offset, mask } = acc else {
        return String::new();
    };
    let k = insn.k;
    let mut lhs = field_name(offset);
    if mask != u32::MAX {
        lhs = format!("({lhs} & {mask:#x})");
    }
    let op = match insn.code & 0xf0 {
        BPF_JEQ => "==",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        _ => "&",
    };
    let rhs = match offset {
        bpf::data::NR if op != "&" => match tables::syscall_by_nr(arch, k) {
            Some(spec) => format!("{k} ({})", spec.name),
            None if k < 0x1000 => k.to_string(),
            None => format!("{k:#x}"),
        },
        bpf::data::ARCH if op == "==" => match Arch::audit_arch_name(k) {
            "unknown" => format!("{k:#x}"),
            name => name.to_string(),
        },
        _ if k < 0x1000 && op != "&" => k.to_string(),
        _ => format!("{k:#x}"),
    };
    format!("{lhs} {op} {rhs}")
}

/// Lists `filter` one instruction a line, with a header naming the architecture and length.
/// With `policy`, `ret` lines name the rule behind their tag.
pub fn disassemble(filter: &[SockFilter], arch: Arch, policy: Option<&CompiledPolicy>) -> String {
    use crate::bpf::*;
    let mut out = String::new();
    let _ = writeln!(out, "; {arch}: {} instructions", filter.len());
    // What the accumulator holds on entry to each instruction (forward data flow).
    let mut incoming: Vec<Option<Acc>> = vec![None; filter.len() + 1];
    if let Some(first) = incoming.first_mut() {
        *first = Some(Acc::Unknown);
    }
    for (at, insn) in filter.iter().enumerate() {
        let acc = incoming[at].unwrap_or(Acc::Unknown);
        let code = insn.code;
        let (name, operand) = mnemonic(insn, at);
        let mut jumps = String::new();
        let mut comment = String::new();
        let mut after = Some(Acc::Unknown);
        let flow_to = |incoming: &mut Vec<Option<Acc>>, off: u64, state: Acc| {
            let target = at as u64 + 1 + off;
            if let Some(slot) = usize::try_from(target)
                .ok()
                .and_then(|t| incoming.get_mut(t))
            {
                *slot = meet(*slot, Some(state));
            }
        };
        match code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                comment = field_name(insn.k);
                after = Some(Acc::Word {
                    offset: insn.k,
                    mask: u32::MAX,
                });
            }
            c if c == BPF_LD | BPF_W | BPF_LEN => comment = "len = 64".into(),
            c if c == BPF_ALU | BPF_AND | BPF_K => {
                after = Some(match acc {
                    Acc::Word { offset, mask } => Acc::Word {
                        offset,
                        mask: mask & insn.k,
                    },
                    Acc::Unknown => Acc::Unknown,
                });
            }
            c if c == BPF_RET | BPF_K => {
                comment = describe_ret(insn.k, policy);
                after = None;
            }
            c if c == BPF_RET | BPF_A => {
                comment = "return A".into();
                after = None;
            }
            c if c == BPF_JMP | BPF_JA => {
                flow_to(&mut incoming, u64::from(insn.k), acc);
                after = None;
            }
            c if is_cond_jump(c) => {
                let (t, f) = (u64::from(insn.jt), u64::from(insn.jf));
                jumps = format!("jt {:<4} jf {}", at as u64 + 1 + t, at as u64 + 1 + f);
                comment = jump_comment(insn, acc, arch);
                flow_to(&mut incoming, t, acc);
                flow_to(&mut incoming, f, acc);
                after = None;
            }
            c if c == BPF_LDX | BPF_IMM
                || c == BPF_LDX | BPF_MEM
                || c == BPF_LDX | BPF_W | BPF_LEN
                || c == BPF_ST
                || c == BPF_STX
                || c == BPF_MISC | BPF_TAX =>
            {
                after = Some(acc);
            }
            _ => {}
        }
        if let Some(next) = incoming.get_mut(at + 1) {
            *next = meet(*next, after);
        }
        let mut line = format!("{at:>4}: {name:<5} {operand:<16} {jumps:<15}");
        if !comment.is_empty() {
            let _ = write!(line, " ; {comment}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Lists every program of a compiled policy, one after the other.
pub fn disassemble_policy(policy: &CompiledPolicy) -> String {
    let mut out = format!("; policy from {}\n", policy.origin);
    for program in policy.programs.iter() {
        out.push_str(&disassemble(&program.filter, program.arch, Some(policy)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::*;
    use crate::compiled::{ArchProgram, RuleMeta};
    use std::borrow::Cow;

    #[test]
    fn annotates_loads_jumps_and_returns() {
        let filter = vec![
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, data::ARCH),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, Arch::X86_64.audit_arch(), 0, 6),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, data::NR),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, data::arg_lo(0)),
            SockFilter::jump(BPF_JMP | BPF_JSET | BPF_K, 0x10, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, ret::KILL_PROCESS | 1),
            SockFilter::stmt(BPF_RET | BPF_K, ret::KILL_PROCESS | 0xffff),
        ];
        let policy = CompiledPolicy {
            origin: Cow::Borrowed("p.policy"),
            default: Action::Errno(1),
            programs: Cow::Owned(vec![ArchProgram {
                arch: Arch::X86_64,
                filter: Cow::Owned(filter.clone()),
                terminal_guarded: Cow::Owned(filter.clone()),
            }]),
            rules: Cow::Owned(vec![RuleMeta {
                location: Cow::Borrowed("p.policy:9:1"),
                text: Cow::Borrowed("kill write if fd & 0x10"),
            }]),
        };
        let text = disassemble(&filter, Arch::X86_64, Some(&policy));
        let expected = "\
; x86_64: 9 instructions
   0: ld    [4]                              ; arch
   1: jeq   #0xc000003e      jt 2    jf 8    ; arch == x86_64
   2: ld    [0]                              ; nr
   3: jeq   #1               jt 5    jf 4    ; nr == 1 (write)
   4: ret   #0x7fff0000                      ; allow
   5: ld    [16]                             ; args[0] low
   6: jset  #16              jt 7    jf 8    ; args[0] low & 0x10
   7: ret   #0x80000001                      ; kill — rule 1: `kill write if fd & 0x10` at p.policy:9:1
   8: ret   #0x8000ffff                      ; kill — the architecture check (foreign ABI)
";
        assert_eq!(text, expected);
        let bare = disassemble(&filter, Arch::X86_64, None);
        assert!(bare.contains("; kill — rule 1\n"), "{bare}");
        assert!(disassemble_policy(&policy).starts_with("; policy from p.policy\n"));
    }
}
