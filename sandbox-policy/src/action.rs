//! What a rule does to a matching syscall, and how that becomes a filter's return value.

use crate::bpf::ret;
use std::fmt;

/// The action of a rule or of the policy's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Let the call run.
    Allow,
    /// Let the call run and log it to the kernel audit log.
    Log,
    /// Fail the call with this errno (1..=4095).
    Errno(u16),
    /// Send SIGSYS to the calling thread.
    Trap,
    /// Kill the whole process (the sandbox monitor reports it as a violation).
    Kill,
    /// Kill only the calling thread.
    KillThread,
}

/// Identifies what decided a call, carried in the data bits of `kill`, `kill_thread`, `trap` and
/// `log` return values so the monitor can name the rule without a compiler at run time. The kernel
/// ignores these bits for those actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u16);

impl Tag {
    /// The policy's `default` action decided.
    pub const DEFAULT: Tag = Tag(0);
    /// The call came from a foreign architecture (e.g. i386 through `int 0x80`).
    pub const ARCH: Tag = Tag(0xffff);
    /// The call used an x32-ABI number on x86-64.
    pub const X32: Tag = Tag(0xfffe);
    /// A sandbox runtime's own exec (see [`crate::resolve::RUNTIME_EXEC_MAGIC`]).
    pub const RUNTIME_EXEC: Tag = Tag(0xfffd);
    /// The highest tag a rule can have.
    pub const MAX_RULE: u16 = 0xfff0;

    /// The tag of the rule at `index` in the policy's rule list.
    pub fn rule(index: usize) -> Option<Tag> {
        u16::try_from(index + 1)
            .ok()
            .filter(|t| *t <= Self::MAX_RULE)
            .map(Tag)
    }

    /// The rule index this tag names, if it names a rule.
    pub fn rule_index(self) -> Option<usize> {
        (self.0 >= 1 && self.0 <= Self::MAX_RULE).then(|| usize::from(self.0 - 1))
    }
}

/// An action together with the tag naming what decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Verdict {
    /// What happens to the call.
    pub action: Action,
    /// Which rule (or prelude check, or the default) decided.
    pub tag: Tag,
}

impl Verdict {
    /// A verdict with the given action and tag.
    pub const fn new(action: Action, tag: Tag) -> Self {
        Verdict { action, tag }
    }

    /// The 32-bit value the filter returns for this verdict. `allow` is always exactly
    /// `SECCOMP_RET_ALLOW` (the kernel's constant-action cache requires it); `errno` carries
    /// the errno; the others carry the tag.
    pub const fn ret_value(self) -> u32 {
        match self.action {
            Action::Allow => ret::ALLOW,
            Action::Errno(e) => ret::ERRNO | e as u32,
            Action::Log => ret::LOG | self.tag.0 as u32,
            Action::Trap => ret::TRAP | self.tag.0 as u32,
            Action::Kill => ret::KILL_PROCESS | self.tag.0 as u32,
            Action::KillThread => ret::KILL_THREAD | self.tag.0 as u32,
        }
    }

    /// Decodes a filter return value produced by [`Verdict::ret_value`]. Values no action of
    /// this language produces (TRACE, USER_NOTIF, unknown) yield `None`.
    pub fn from_ret_value(value: u32) -> Option<Verdict> {
        let data = (value & ret::DATA) as u16;
        let action = match value & ret::ACTION_FULL {
            ret::ALLOW => return Some(Verdict::new(Action::Allow, Tag::DEFAULT)),
            ret::ERRNO => return Some(Verdict::new(Action::Errno(data), Tag::DEFAULT)),
            ret::LOG => Action::Log,
            ret::TRAP => Action::Trap,
            ret::KILL_PROCESS => Action::Kill,
            ret::KILL_THREAD => Action::KillThread,
            _ => return None,
        };
        Some(Verdict::new(action, Tag(data)))
    }
}

impl Action {
    /// The keyword that spells this action in the language (`errno` without its argument).
    pub const fn keyword(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Log => "log",
            Action::Errno(_) => "errno",
            Action::Trap => "trap",
            Action::Kill => "kill",
            Action::KillThread => "kill_thread",
        }
    }

    /// Whether the call goes ahead under this action.
    pub const fn permits(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Errno(e) => match crate::tables::errno_name(*e) {
                Some(name) => write!(f, "errno({name})"),
                None => write!(f, "errno({e})"),
            },
            other => f.write_str(other.keyword()),
        }
    }
}
