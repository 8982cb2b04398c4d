//! seccompiler 0.5: one match action (allow) and one mismatch action (the policy's default).

use super::rules::{PeerCmp, PeerOp, PeerPolicy};
use sandbox_policy::{Action, SockFilter};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// seccompiler's program for `policy` on x86_64, and notes on what it had to leave out.
pub fn program(policy: &PeerPolicy) -> Result<(Vec<SockFilter>, Vec<String>), String> {
    if policy.default == Action::Allow {
        return Err("a deny-list needs one action per rule; it has one match action".into());
    }
    let mismatch = action(policy.default)?;
    let mut notes = Vec::new();
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (&nr, per_action) in &policy.syscalls {
        for r in per_action {
            if r.action != Action::Allow {
                notes.push(format!(
                    "nr {nr}: `{}` left to the default (one match action)",
                    r.action
                ));
                continue;
            }
            rules.insert(i64::from(nr), seccompiler_rules(&r.conjs)?);
        }
    }
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, TargetArch::x86_64)
        .map_err(|e| e.to_string())?;
    let bpf: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let program = bpf
        .into_iter()
        .map(|i| SockFilter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    Ok((program, notes))
}

/// The rules for one syscall: an empty list matches unconditionally.
fn seccompiler_rules(conjs: &[Vec<PeerCmp>]) -> Result<Vec<SeccompRule>, String> {
    if conjs.iter().any(Vec::is_empty) {
        return Ok(vec![]);
    }
    conjs
        .iter()
        .map(|conj| {
            let conds = conj.iter().map(condition).collect::<Result<_, _>>()?;
            SeccompRule::new(conds).map_err(|e| e.to_string())
        })
        .collect()
}

/// One comparison: `Dword` compares the low 32 bits only, as the kernel's `int` does.
fn condition(c: &PeerCmp) -> Result<SeccompCondition, String> {
    let len = if c.wide {
        SeccompCmpArgLen::Qword
    } else {
        SeccompCmpArgLen::Dword
    };
    let op = match c.op {
        PeerOp::Eq => SeccompCmpOp::Eq,
        PeerOp::Ne => SeccompCmpOp::Ne,
        PeerOp::Lt => SeccompCmpOp::Lt,
        PeerOp::Le => SeccompCmpOp::Le,
        PeerOp::Gt => SeccompCmpOp::Gt,
        PeerOp::Ge => SeccompCmpOp::Ge,
        PeerOp::MaskedEq(m) => SeccompCmpOp::MaskedEq(m),
    };
    SeccompCondition::new(c.arg, len, op, c.value).map_err(|e| e.to_string())
}

/// The policy's action as seccompiler's.
fn action(a: Action) -> Result<SeccompAction, String> {
    Ok(match a {
        Action::Allow => SeccompAction::Allow,
        Action::Log => SeccompAction::Log,
        Action::Errno(e) => SeccompAction::Errno(u32::from(e)),
        Action::Trap => SeccompAction::Trap,
        Action::Kill => SeccompAction::KillProcess,
        Action::KillThread => SeccompAction::KillThread,
    })
}
