//! The guards a runtime adds to a sandbox's filter for what the sandbox reaches on the host,
//! and only where it reaches it, so that a sandbox reaching neither runs its policy's program
//! as compiled (every unconditional allow left to the kernel's cache):
//!
//! - the set-id guard ([`crate::set_id`]), where the sandbox reaches host files it may own;
//! - the terminal guard ([`crate::resolve::with_terminal_guard`]), where it reaches a host
//!   terminal: requests and flags on a terminal that reach the host's processes or outlive the
//!   sandbox (`TIOCSTI`, `TIOCSWINSZ`, `O_ASYNC` and the rest), refused with `EPERM`.
//!
//! The compiler lays the terminal guard into a second program of every policy
//! ([`crate::ArchProgram::terminal_guarded`]), which a runtime installs for such a sandbox. The
//! programs here are the rest: a runtime lays them into the policy's program where the two fit
//! ([`crate::stack`]), else installs them as a filter of their own, under the policy's (and
//! alone where there is no policy): either way a call the policy refuses keeps the policy's
//! answer (a kill outranks the guards' errno, and an errno of the policy's is the newer
//! filter's). The guards are generated like any policy, default `allow`, without the prelude
//! (which is the policy's).

use crate::action::{Action, Tag};
use crate::arch::Arch;
use crate::bpf::{ret, SockFilter, BPF_K, BPF_RET};
use crate::codegen::{self, CodegenError};
use crate::compiled::RuleMeta;
use crate::lower;
use crate::resolve::{self, CheckedArch, CheckedPolicy};
use crate::set_id;
use crate::Verdict;

/// Which guards a sandbox gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Guards {
    /// The set-id guard: the sandbox reaches host files it may own.
    pub set_id: bool,
    /// The terminal guard: the sandbox reaches a host terminal.
    pub terminal: bool,
}

impl Guards {
    /// No guard.
    pub const NONE: Guards = Guards {
        set_id: false,
        terminal: false,
    };
    /// The set-id guard alone.
    pub const SET_ID: Guards = Guards {
        set_id: true,
        terminal: false,
    };
    /// The terminal guard alone.
    pub const TERMINAL: Guards = Guards {
        set_id: false,
        terminal: true,
    };
    /// Both guards.
    pub const BOTH: Guards = Guards {
        set_id: true,
        terminal: true,
    };
    /// Every set of guards that is not empty, in the order of [`Guards::index`].
    pub const SOME: [Guards; 3] = [Guards::SET_ID, Guards::TERMINAL, Guards::BOTH];

    /// Whether there is no guard.
    pub fn is_empty(self) -> bool {
        self == Guards::NONE
    }

    /// Where these guards are in [`Guards::SOME`]; `None` for no guard.
    pub fn index(self) -> Option<usize> {
        Guards::SOME.iter().position(|&g| g == self)
    }

    /// The guards as one byte (bit 0 set-id, bit 1 terminal), for a wire format.
    pub fn bits(self) -> u8 {
        u8::from(self.set_id) | u8::from(self.terminal) << 1
    }

    /// The guards of [`Guards::bits`]; `None` for a byte with other bits set.
    pub fn from_bits(bits: u8) -> Option<Guards> {
        (bits & !0b11 == 0).then_some(Guards {
            set_id: bits & 1 != 0,
            terminal: bits & 2 != 0,
        })
    }
}

/// What the guards do with a call of another architecture or ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignCalls {
    /// Allows it: the policy, whose program the guard is laid into or stacked under, kills it.
    LeftToPolicy,
    /// Kills it: there is no policy's filter to.
    Killed,
}

/// The rules of `guards`, one line each, in the order of their tags.
pub fn rules(guards: Guards) -> Vec<String> {
    checked(guards)
        .rules
        .into_iter()
        .map(|r| r.text.into_owned())
        .collect()
}

/// The program of `guards` for `arch`, doing with other architectures' and ABIs' calls what
/// `foreign` says.
pub fn program(
    arch: Arch,
    guards: Guards,
    foreign: ForeignCalls,
) -> Result<Vec<SockFilter>, CodegenError> {
    let policy = checked(guards);
    let ir = lower::lower(&policy)
        .into_iter()
        .find(|ir| ir.arch == arch)
        .ok_or_else(|| CodegenError::Internal {
            arch,
            detail: "no architecture entry for the host guards".into(),
        })?;
    let mut filter = codegen::compile_arch(&ir)?;
    if foreign == ForeignCalls::LeftToPolicy {
        let kills = [Tag::ARCH, Tag::X32].map(|t| Verdict::new(Action::Kill, t).ret_value());
        for insn in &mut filter {
            if insn.code == BPF_RET | BPF_K && kills.contains(&insn.k) {
                insn.k = ret::ALLOW;
            }
        }
    }
    Ok(filter)
}

/// The guards as a checked policy (default `allow`), every architecture's rules: the set-id
/// guard's, then the terminal guard's, laid in as the compiler lays it into any policy.
fn checked(guards: Guards) -> CheckedPolicy {
    let mut policy = CheckedPolicy {
        default: Action::Allow,
        rules: Vec::new(),
        arches: CheckedArch::none_named(),
    };
    if guards.set_id {
        let mut next = 0;
        let mut tag = || {
            next += 1;
            Tag::rule(next - 1).unwrap_or(Tag::DEFAULT)
        };
        set_id::add_branches(&mut policy.arches, &mut tag);
        policy.rules = set_id::rules()
            .into_iter()
            .map(|text| RuleMeta {
                location: "set-id guard".into(),
                text: text.into(),
            })
            .collect();
    }
    if guards.terminal {
        policy = resolve::with_terminal_guard(&policy);
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{self, SeccompData};
    use crate::tables;

    const REFUSED: u32 = ret::ERRNO | 1;

    fn verdict(guards: Guards, arch: Arch, call: &str, args: [u64; 6]) -> u32 {
        let program = program(arch, guards, ForeignCalls::LeftToPolicy).unwrap();
        let nr = tables::syscall_by_name(arch, call).unwrap().nr;
        let data = SeccompData::new(arch.audit_arch(), nr, args);
        eval::run(&program, &data).unwrap().ret
    }

    #[test]
    fn each_guard_refuses_its_own_calls_and_only_those() {
        let set_id_call = ("fchmod", [0, 0o4755, 0, 0, 0, 0]);
        let terminal_calls = [
            ("ioctl", [0, 0x5412, 0, 0, 0, 0]),
            ("ioctl", [0, 0x5414 | 1 << 32, 0, 0, 0, 0]),
            ("fcntl", [0, 4, 0x2000, 0, 0, 0]),
        ];
        let untouched = [
            ("ioctl", [0, 0x5401, 0, 0, 0, 0]),
            ("fcntl", [0, 4, 0x800, 0, 0, 0]),
            ("fchmod", [0, 0o755, 0, 0, 0, 0]),
            ("read", [0; 6]),
        ];
        for arch in Arch::ALL {
            for guards in Guards::SOME {
                let want = |on: bool| if on { REFUSED } else { ret::ALLOW };
                let (call, args) = set_id_call;
                let got = verdict(guards, arch, call, args);
                assert_eq!(got, want(guards.set_id), "{arch} {guards:?} {call}");
                for (call, args) in terminal_calls {
                    let got = verdict(guards, arch, call, args);
                    assert_eq!(
                        got,
                        want(guards.terminal),
                        "{arch} {guards:?} {call} {args:x?}"
                    );
                }
                for (call, args) in untouched {
                    let got = verdict(guards, arch, call, args);
                    assert_eq!(got, ret::ALLOW, "{arch} {guards:?} {call} {args:x?}");
                }
            }
        }
    }

    #[test]
    fn rules_are_listed_in_the_order_of_their_tags() {
        let both = rules(Guards::BOTH);
        assert_eq!(both.len(), checked(Guards::BOTH).rules.len());
        let (set_id, terminal) = both.split_at(set_id::rules().len());
        assert_eq!(set_id, set_id::rules());
        assert_eq!(rules(Guards::TERMINAL), terminal);
        assert_eq!(terminal.len(), 9);
        assert_eq!(terminal[0], "errno(EPERM) ioctl if request == TIOCSTI");
        assert!(rules(Guards::NONE).is_empty());
    }

    #[test]
    fn bits_go_and_come_back() {
        for guards in Guards::SOME.into_iter().chain([Guards::NONE]) {
            assert_eq!(Guards::from_bits(guards.bits()), Some(guards));
        }
        assert_eq!(Guards::from_bits(4), None);
        assert_eq!(Guards::NONE.index(), None);
        assert_eq!(Guards::BOTH.index(), Some(2));
    }
}
