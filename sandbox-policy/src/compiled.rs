//! The compiler's product: one BPF program per architecture plus the rule list that names what
//! decided a call. Built from borrowed static data by `policy!` (nothing computed at run time)
//! or from owned data by the run-time compiler; both are the same type.

use crate::action::{Action, Tag};
use crate::arch::Arch;
use crate::bpf::SockFilter;
use std::borrow::Cow;

/// A compiled policy: usable from a `static`, applied without allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledPolicy {
    /// Where the policy came from (a file path, or `policy!` at a source location).
    pub origin: Cow<'static, str>,
    /// The policy's default action.
    pub default: Action,
    /// One program per architecture it was compiled for (every supported one, unless the
    /// compilation asked for fewer: [`crate::compile_text_for`]), in [`Arch::ALL`] order.
    pub programs: Cow<'static, [ArchProgram]>,
    /// Every rule, in the order their tags number them (tag = index + 1).
    pub rules: Cow<'static, [RuleMeta]>,
}

/// The filter for one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchProgram {
    /// The architecture it is for.
    pub arch: Arch,
    /// The instructions, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
    pub filter: Cow<'static, [SockFilter]>,
    /// The program with the terminal guard laid in (see [`crate::host_guard`]), which a
    /// runtime installs for a sandbox that reaches a host terminal; the same as `filter` where
    /// the policy lets none of the guard's calls run. Empty where it could not be made (longer
    /// than the kernel takes): a runtime then adds the guard to `filter` itself.
    pub terminal_guarded: Cow<'static, [SockFilter]>,
}

/// What a violation report needs to know about a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// `file:line:col`, or `group NAME (file:line:col of the use)`.
    pub location: Cow<'static, str>,
    /// The rule as written, normalised to one line (`kill ptrace`).
    pub text: Cow<'static, str>,
}

impl CompiledPolicy {
    /// A policy with no program for any architecture. `policy!` expands to it after reporting a
    /// compile error, so the user sees that error and no follow-on ones; the runtime refuses to
    /// apply it.
    pub const EMPTY: CompiledPolicy = CompiledPolicy {
        origin: Cow::Borrowed("(policy with errors)"),
        default: Action::Kill,
        programs: Cow::Borrowed(&[]),
        rules: Cow::Borrowed(&[]),
    };

    /// The program for `arch`.
    pub fn program(&self, arch: Arch) -> Option<&ArchProgram> {
        self.programs.iter().find(|p| p.arch == arch)
    }

    /// The program for the architecture this code runs on.
    pub fn native_program(&self) -> Option<&ArchProgram> {
        Arch::native().and_then(|a| self.program(a))
    }

    /// The rule a tag names, if it names one.
    pub fn rule(&self, tag: Tag) -> Option<&RuleMeta> {
        tag.rule_index().and_then(|i| self.rules.get(i))
    }

    /// Describes what a tag means in words: "rule `kill ptrace` at p.policy:3:1", "the default",
    /// "the architecture check", "the x32 check".
    pub fn describe_tag(&self, tag: Tag) -> String {
        match tag {
            Tag::DEFAULT => format!("no rule matches; default is {}", self.default),
            Tag::ARCH => "the architecture check (foreign ABI)".to_string(),
            Tag::X32 => "the x32 check".to_string(),
            Tag::RUNTIME_EXEC => "the runtime's exec check (magic execveat)".to_string(),
            t => match self.rule(t) {
                Some(r) => format!("rule `{}` at {}", r.text, r.location),
                None => format!("unknown rule tag {}", t.0),
            },
        }
    }
}
