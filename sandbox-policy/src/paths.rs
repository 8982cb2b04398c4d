//! What a program's paths know of a call's `nr` and `arch`: for every edge of a program (a
//! jump or a fall-through from one instruction to the next), the sets of values each can hold
//! on the calls that take it, from the jumps on them that led there. A sound
//! over-approximation: a call that takes an edge has its values in the edge's sets (jumps on
//! anything else, and `jset`, narrow nothing).
//!
//! [`crate::stack`] uses it to lay a guard's program only behind the edges where the guard can
//! change the result: a guard with rules for a few calls then costs the others nothing.

use crate::bpf::{
    SockFilter, BPF_ABS, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W,
};

/// A set of 32-bit values, as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueSet(Vec<(u32, u32)>);

impl ValueSet {
    /// Every value.
    pub fn all() -> ValueSet {
        ValueSet(vec![(0, u32::MAX)])
    }

    /// No value.
    pub fn none() -> ValueSet {
        ValueSet(Vec::new())
    }

    /// Whether the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values of the set within `lo..=hi`.
    fn within(&self, lo: u32, hi: u32) -> ValueSet {
        ValueSet(
            self.0
                .iter()
                .filter_map(|&(a, b)| {
                    let (a, b) = (a.max(lo), b.min(hi));
                    (a <= b).then_some((a, b))
                })
                .collect(),
        )
    }

    /// The values of the set outside `lo..=hi`.
    fn outside(&self, lo: u32, hi: u32) -> ValueSet {
        let mut out = ValueSet::none();
        if lo > 0 {
            out = out.union(&self.within(0, lo - 1));
        }
        if hi < u32::MAX {
            out = out.union(&self.within(hi + 1, u32::MAX));
        }
        out
    }

    /// Every value of either set.
    pub fn union(&self, other: &ValueSet) -> ValueSet {
        let mut all: Vec<(u32, u32)> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        ValueSet(out)
    }

    /// The values for which a jump of `op` (`jeq`, `jge`, `jgt`) against `k` goes `taken`.
    fn narrowed(&self, op: u16, k: u32, taken: bool) -> ValueSet {
        let (lo, hi) = match op {
            BPF_JEQ => (k, k),
            BPF_JGE => (k, u32::MAX),
            BPF_JGT if k == u32::MAX => {
                return if taken {
                    ValueSet::none()
                } else {
                    self.clone()
                }
            }
            BPF_JGT => (k + 1, u32::MAX),
            // `jset` and anything else narrows nothing.
            _ => return self.clone(),
        };
        if taken {
            self.within(lo, hi)
        } else {
            self.outside(lo, hi)
        }
    }
}

/// What the accumulator holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Nr,
    Arch,
    Other,
}

/// What the calls on one edge can have: their `nr` and `arch` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// The values `nr` can hold.
    pub nr: ValueSet,
    /// The values `arch` can hold.
    pub arch: ValueSet,
    held: Held,
}

impl Facts {
    /// Nothing known: what a program starts with.
    pub fn unknown() -> Facts {
        Facts {
            nr: ValueSet::all(),
            arch: ValueSet::all(),
            held: Held::Other,
        }
    }

    /// Whether no call has these facts (an edge no call takes).
    pub fn is_empty(&self) -> bool {
        self.nr.is_empty() || self.arch.is_empty()
    }

    /// The facts of calls on either of two edges.
    fn join(&self, other: &Facts) -> Facts {
        Facts {
            nr: self.nr.union(&other.nr),
            arch: self.arch.union(&other.arch),
            held: if self.held == other.held {
                self.held
            } else {
                Held::Other
            },
        }
    }

    /// The facts after a jump on the accumulator goes `taken`.
    fn narrowed(&self, op: u16, k: u32, taken: bool) -> Facts {
        let mut f = self.clone();
        match self.held {
            Held::Nr => f.nr = self.nr.narrowed(op, k, taken),
            Held::Arch => f.arch = self.arch.narrowed(op, k, taken),
            Held::Other => {}
        }
        f
    }
}

/// One edge: from instruction `from` to instruction `to`, with what its calls can have.
#[derive(Clone, Debug)]
pub struct Edge {
    /// The instruction the edge leaves.
    pub from: usize,
    /// The instruction it leads to.
    pub to: usize,
    /// Whether it is `from`'s true branch (a conditional jump's `jt`).
    pub taken: bool,
    /// What the calls on it can have.
    pub facts: Facts,
}

/// Every edge of `prog` that calls starting with `start` can take, in order of `from`; `None`
/// where a jump leaves the program (which the kernel's checks refuse). Loads of `seccomp_data`
/// words other than `nr` and `arch`, arithmetic and anything else leave the accumulator
/// unknown; only `jeq`, `jge` and `jgt` on a constant narrow.
pub fn edges(prog: &[SockFilter], start: Facts) -> Option<Vec<Edge>> {
    let mut entry: Vec<Option<Facts>> = vec![None; prog.len()];
    *entry.first_mut()? = Some(start);
    let mut out = Vec::new();
    for (at, insn) in prog.iter().enumerate() {
        let Some(facts) = entry[at].take() else {
            continue;
        };
        let mut after = facts.clone();
        let class = insn.code & 0x07;
        let mut push = |to: usize, taken: bool, facts: Facts| -> Option<()> {
            let slot = entry.get_mut(to)?;
            if !facts.is_empty() {
                *slot = Some(match slot.take() {
                    Some(f) => f.join(&facts),
                    None => facts.clone(),
                });
            }
            out.push(Edge {
                from: at,
                to,
                taken,
                facts,
            });
            Some(())
        };
        match class {
            BPF_RET => continue,
            BPF_JMP if insn.code == BPF_JMP | BPF_JA => {
                let to = at.checked_add(1)?.checked_add(insn.k as usize)?;
                push(to, true, after)?;
                continue;
            }
            BPF_JMP => {
                let op = insn.code & 0xf0;
                let constant = insn.code & 0x08 == BPF_K;
                let narrow = |taken| {
                    if constant {
                        facts.narrowed(op, insn.k, taken)
                    } else {
                        facts.clone()
                    }
                };
                push(at + 1 + usize::from(insn.jt), true, narrow(true))?;
                push(at + 1 + usize::from(insn.jf), false, narrow(false))?;
                continue;
            }
            BPF_LD if insn.code == BPF_LD | BPF_W | BPF_ABS => {
                after.held = match insn.k {
                    crate::bpf::data::NR => Held::Nr,
                    crate::bpf::data::ARCH => Held::Arch,
                    _ => Held::Other,
                };
            }
            _ => after.held = Held::Other,
        }
        push(at + 1, false, after)?;
    }
    Some(out)
}

/// The returns of `prog` that calls with `start`'s facts can reach (as their `k`), whatever
/// their other words hold; `None` where a jump leaves the program or it returns `A`.
pub fn reachable_returns(prog: &[SockFilter], start: Facts) -> Option<Vec<u32>> {
    let first_reached = !start.is_empty();
    let edges = edges(prog, start)?;
    let mut reached = vec![false; prog.len()];
    if let Some(first) = reached.first_mut() {
        *first = first_reached;
    }
    for e in &edges {
        if !e.facts.is_empty() {
            reached[e.to] = true;
        }
    }
    let mut out = Vec::new();
    for (insn, _) in prog.iter().zip(&reached).filter(|(_, &r)| r) {
        if insn.code & 0x07 == BPF_RET {
            if insn.code != BPF_RET | BPF_K {
                return None;
            }
            if !out.contains(&insn.k) {
                out.push(insn.k);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::bpf::ret;
    use crate::host_guard::{self, ForeignCalls, Guards};
    use crate::tables;

    #[test]
    fn sets_narrow_as_the_jumps_say() {
        let all = ValueSet::all();
        let ge = all.narrowed(BPF_JGE, 10, true);
        assert_eq!(ge, ValueSet(vec![(10, u32::MAX)]));
        let lt = all.narrowed(BPF_JGE, 10, false);
        assert_eq!(lt, ValueSet(vec![(0, 9)]));
        assert_eq!(
            lt.narrowed(BPF_JEQ, 4, false),
            ValueSet(vec![(0, 3), (5, 9)])
        );
        assert_eq!(lt.narrowed(BPF_JEQ, 4, true), ValueSet(vec![(4, 4)]));
        assert_eq!(lt.narrowed(BPF_JGT, 9, true), ValueSet::none());
        assert_eq!(all.narrowed(BPF_JGT, u32::MAX, true), ValueSet::none());
        assert_eq!(all.narrowed(BPF_JGE, 0, false), ValueSet::none());
        assert_eq!(all.narrowed(crate::bpf::BPF_JSET, 1, true), all);
        let parts = ValueSet(vec![(0, 3)]).union(&ValueSet(vec![(4, 9), (20, 30)]));
        assert_eq!(parts, ValueSet(vec![(0, 9), (20, 30)]));
    }

    /// The terminal guard changes nothing for a call other than `ioctl` and `fcntl`, on the
    /// native architecture, and can refuse those two.
    #[test]
    fn a_guard_reaches_its_refusals_only_from_its_calls() {
        let arch = Arch::X86_64;
        let guard =
            host_guard::program(arch, Guards::TERMINAL, ForeignCalls::LeftToPolicy).unwrap();
        let on = |nr: ValueSet| {
            let facts = Facts {
                nr,
                arch: ValueSet(vec![(arch.audit_arch(), arch.audit_arch())]),
                held: Held::Other,
            };
            reachable_returns(&guard, facts).unwrap()
        };
        let nr = |name| tables::syscall_by_name(arch, name).unwrap().nr;
        let (ioctl, fcntl) = (nr("ioctl"), nr("fcntl"));
        assert_eq!(on(ValueSet(vec![(0, ioctl - 1)])), [ret::ALLOW]);
        assert_eq!(on(ValueSet(vec![(ioctl + 1, fcntl - 1)])), [ret::ALLOW]);
        assert!(on(ValueSet(vec![(ioctl, ioctl)])).contains(&(ret::ERRNO | 1)));
        assert!(on(ValueSet(vec![(fcntl, fcntl)])).contains(&(ret::ERRNO | 1)));
        assert!(on(ValueSet::all()).contains(&(ret::ERRNO | 1)));
        // Any architecture: the foreign ones are left to the policy (allowed here).
        let any = reachable_returns(&guard, Facts::unknown()).unwrap();
        assert!(any.contains(&ret::ALLOW) && any.contains(&(ret::ERRNO | 1)));
    }
}
