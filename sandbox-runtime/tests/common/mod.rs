//! Helpers shared by the integration tests: hand-built policies and a command with the host's
//! program directories bound read-only.

#![allow(dead_code)]

use sandbox_policy::arch::{Arch, AUDIT_ARCH_X86_64};
use sandbox_policy::bpf::{self, data, ret, SockFilter};
use sandbox_policy::{Action, ArchProgram, CompiledPolicy, RuleMeta, Tag};
use sandbox_runtime::{Policy, SandboxCommand};
use std::borrow::Cow;

const LD: u16 = bpf::BPF_LD | bpf::BPF_W | bpf::BPF_ABS;
const JEQ: u16 = bpf::BPF_JMP | bpf::BPF_JEQ | bpf::BPF_K;
const RET: u16 = bpf::BPF_RET | bpf::BPF_K;

/// A policy that allows everything except the listed syscalls (x86-64 numbers), each killed by
/// its own rule (tag = index + 1); foreign architectures are killed with the ARCH tag.
pub fn kill_only(syscalls: &[(&'static str, u32)]) -> Policy {
    let n = syscalls.len();
    let mut f = vec![
        SockFilter::stmt(LD, data::ARCH),
        SockFilter::jump(JEQ, AUDIT_ARCH_X86_64, 1, 0),
        SockFilter::stmt(RET, ret::KILL_PROCESS | u32::from(Tag::ARCH.0)),
        SockFilter::stmt(LD, data::NR),
    ];
    // jeq nr_i → ret kill|tag_i, laid out as: n jumps, then ret allow, then n kill returns.
    for (i, (_, nr)) in syscalls.iter().enumerate() {
        let to_kill = (n - i - 1) + 1 + i;
        f.push(SockFilter::jump(JEQ, *nr, to_kill as u8, 0));
    }
    f.push(SockFilter::stmt(RET, ret::ALLOW));
    for i in 0..n {
        f.push(SockFilter::stmt(RET, ret::KILL_PROCESS | (i as u32 + 1)));
    }
    let rules = syscalls
        .iter()
        .enumerate()
        .map(|(i, (name, _))| RuleMeta {
            location: Cow::Owned(format!("test.policy:{}:1", i + 1)),
            text: Cow::Owned(format!("kill {name}")),
        })
        .collect::<Vec<_>>();
    CompiledPolicy {
        origin: Cow::Borrowed("tests/common"),
        default: Action::Allow,
        programs: Cow::Owned(vec![ArchProgram {
            arch: Arch::X86_64,
            filter: Cow::Owned(f),
        }]),
        rules: Cow::Owned(rules),
    }
}

/// Allows everything on x86-64 (foreign architectures killed).
pub fn permissive() -> Policy {
    kill_only(&[])
}

/// A command for `program` with /bin, /usr, /lib, /lib64 (and /etc/alternatives when present)
/// bound read-only.
pub fn command(program: &str) -> SandboxCommand {
    let mut c = SandboxCommand::new(program);
    for d in ["/bin", "/usr", "/lib", "/lib64", "/sbin"] {
        if std::path::Path::new(d).exists() {
            c.mount_ro(d, d);
        }
    }
    c
}
