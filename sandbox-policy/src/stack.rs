//! One program that decides exactly as two stacked filters do.
//!
//! The kernel runs every filter a thread has, newest first, and keeps the return value whose
//! action comes first in its order (kill process, kill thread, trap, errno, user notification,
//! trace, log, allow: the signed compare of `SECCOMP_RET_ACTION_FULL` bits in
//! `seccomp_run_filters`), the newest filter's among equal actions. Every filter costs its own
//! call and its own run, and every filter is one more to install. A runtime that installs two
//! filters it knows at once can install [`merged`] instead: the newer program, whose returns
//! jump on to the older one wherever the older could still change the result.
//!
//! Each edge of the newer program into a return `R` (a jump to it, or a fall-through) leads, if
//! the older program can change `R` for the calls that take the edge, to a copy of the older
//! program in which every return `G` is replaced by whichever of `G` and `R` the kernel would
//! keep. Which calls take an edge is known from the newer program's jumps on `nr` and `arch`
//! ([`crate::paths`]): a guard with rules for a few calls then costs nothing on the paths of
//! the others, where the newer program's dispatch tells them apart. A return no edge needs the
//! copy from stays as it is; one every edge needs it from becomes a jump to the copy; one
//! reached both ways is followed by such a jump, which the edges that need it take instead.
//! One copy is laid out per distinct `R` that needs one, after the newer program.
//!
//! The older program must not depend on the machine state it starts with (the kernel starts a
//! filter with `A`, `X` and the scratch memory clear): its first instruction loads `A` (or
//! returns). Neither program may use `X` or the scratch memory (the newer one could return
//! without a `ret` by dividing by a zero `X`, and the kernel checks memory differently on the
//! merged program); both must return only constants and pass the kernel's checks alone
//! ([`crate::verify`]). Programs outside these bounds, or a result longer than the kernel
//! takes, give `None`: stack them instead. The compiler's programs are within them.
//!
//! Jumps on `nr` and `arch` alone stay jumps on `nr` and `arch` alone, so a call the kernel's
//! constant-action cache serves under both stacked filters is served under the merged one
//! ([`crate::cache`]).

use crate::bpf::{
    SockFilter, BPF_ABS, BPF_IMM, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_MAXINSNS,
    BPF_MEM, BPF_MISC, BPF_RET, BPF_ST, BPF_STX, BPF_W, BPF_X,
};
use crate::paths;
use crate::verify::verify;
use std::collections::HashSet;

/// Where the kernel ranks a return value among others: lower is kept (`ACTION_ONLY`).
fn rank(ret: u32) -> i32 {
    (ret & crate::bpf::ret::ACTION_FULL) as i32
}

/// What the kernel returns when the newer filter returned `newer` and the older `older`.
pub fn kept(newer: u32, older: u32) -> u32 {
    if rank(older) < rank(newer) {
        older
    } else {
        newer
    }
}

/// A program that returns for every call what `newer` stacked on `older` return together, or
/// `None` if the two cannot be merged (see the module's documentation).
pub fn merged(newer: &[SockFilter], older: &[SockFilter]) -> Option<Vec<SockFilter>> {
    // Each as the kernel takes it alone (above all: it ends with a return and jumps only
    // within itself, so merged no path runs on into what follows it).
    let plain = |p: &[SockFilter]| {
        verify(p).is_ok() && returns_constants(p) && !p.iter().any(uses_x_or_memory)
    };
    if !plain(newer) || !plain(older) || !starts_afresh(older) {
        return None;
    }
    let plan = Plan::new(newer, older)?;
    let len = newer
        .len()
        .checked_add(plan.inserted.iter().filter(|&&i| i).count())?
        .checked_add(plan.copies.len().checked_mul(older.len())?)?;
    if len > BPF_MAXINSNS {
        return None;
    }
    // Where each instruction of `newer` lands: after the `ja` put behind each return that
    // some edges reach unchanged and others through the older program.
    let mut new_at = Vec::with_capacity(newer.len());
    let mut shift = 0;
    for (at, &inserted) in plan.inserted.iter().enumerate() {
        new_at.push(at + shift);
        shift += usize::from(inserted);
    }
    let copy_at = |r: u32| -> Option<usize> {
        let copy = plan.copies.iter().position(|&c| c == r)?;
        Some(newer.len() + shift + copy * older.len())
    };
    // The new place of the target of the edge leaving `from` (its `taken` branch) for `to`.
    let target = |from: usize, to: usize, taken: bool| -> usize {
        let through_older = plan.needs.contains(&(from, taken));
        if through_older && plan.inserted[to] {
            new_at[to] + 1
        } else {
            new_at[to]
        }
    };
    let mut out = Vec::with_capacity(len);
    for (at, insn) in newer.iter().enumerate() {
        let here = new_at[at];
        let offset = |to: usize| to.checked_sub(here + 1);
        if is_ret_k(insn) && plan.replaced[at] {
            let skip = u32::try_from(offset(copy_at(insn.k)?)?).ok()?;
            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, skip));
        } else if insn.code == BPF_JMP | BPF_JA {
            let to = at + 1 + insn.k as usize;
            let skip = u32::try_from(offset(target(at, to, true))?).ok()?;
            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, skip));
        } else if insn.code & 0x07 == BPF_JMP {
            let jt = offset(target(at, at + 1 + usize::from(insn.jt), true))?;
            let jf = offset(target(at, at + 1 + usize::from(insn.jf), false))?;
            out.push(SockFilter::jump(
                insn.code,
                insn.k,
                u8::try_from(jt).ok()?,
                u8::try_from(jf).ok()?,
            ));
        } else {
            out.push(*insn);
        }
        if plan.inserted[at] {
            let skip = u32::try_from(copy_at(insn.k)?.checked_sub(here + 2)?).ok()?;
            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, skip));
        }
    }
    for &r in &plan.copies {
        out.extend(older.iter().map(|&insn| {
            if is_ret_k(&insn) {
                SockFilter::stmt(BPF_RET | BPF_K, kept(r, insn.k))
            } else {
                insn
            }
        }));
    }
    Some(out)
}

/// Which returns of the newer program lead on to a copy of the older one, and from which
/// edges.
struct Plan {
    /// The edges (instruction, `jt` or not) whose calls the older program can change.
    needs: HashSet<(usize, bool)>,
    /// Returns replaced by a jump to their copy: every edge reaching them needs it, or one
    /// that cannot be moved (a fall-through, or the program's start).
    replaced: Vec<bool>,
    /// Returns followed by a jump to their copy, which the edges that need it take instead.
    inserted: Vec<bool>,
    /// The return values that get a copy of the older program, in order.
    copies: Vec<u32>,
}

impl Plan {
    fn new(newer: &[SockFilter], older: &[SockFilter]) -> Option<Plan> {
        let older_returns: Vec<u32> = older.iter().filter(|i| is_ret_k(i)).map(|i| i.k).collect();
        let changed = |r: u32| older_returns.iter().any(|&g| kept(r, g) != r);
        let edges = paths::edges(newer, paths::Facts::unknown())?;
        let mut plan = Plan {
            needs: HashSet::new(),
            replaced: vec![false; newer.len()],
            inserted: vec![false; newer.len()],
            copies: Vec::new(),
        };
        // Per return: (edges reaching it, of which need the older program, any immovable).
        let mut reach = vec![(0usize, 0usize, false); newer.len()];
        for e in &edges {
            let to = newer.get(e.to)?;
            if !is_ret_k(to) || e.facts.is_empty() || !changed(to.k) {
                continue;
            }
            let older_can = paths::reachable_returns(older, e.facts.clone())?;
            let needs = older_can.iter().any(|&g| kept(to.k, g) != to.k);
            let jumps = newer[e.from].code & 0x07 == BPF_JMP;
            let r = &mut reach[e.to];
            r.0 += 1;
            if needs {
                r.1 += 1;
                r.2 |= !jumps;
                plan.needs.insert((e.from, e.taken));
            }
        }
        if is_ret_k(&newer[0]) && changed(newer[0].k) {
            reach[0] = (1, 1, true);
        }
        for (at, &(all, needing, immovable)) in reach.iter().enumerate() {
            if needing == 0 {
                continue;
            }
            if immovable || needing == all {
                plan.replaced[at] = true;
            } else {
                plan.inserted[at] = true;
            }
            if !plan.copies.contains(&newer[at].k) {
                plan.copies.push(newer[at].k);
            }
        }
        Some(plan)
    }
}

fn is_ret_k(insn: &SockFilter) -> bool {
    insn.code == BPF_RET | BPF_K
}

/// Every return of `prog` is a constant (no `ret A`).
fn returns_constants(prog: &[SockFilter]) -> bool {
    prog.iter()
        .all(|i| i.code & 0x07 != BPF_RET || i.code == BPF_RET | BPF_K)
}

/// `insn` reads or writes `X` or the scratch memory. Neither program may: the older one must
/// not depend on what they hold when it starts, and the newer one must not divide by `X`,
/// which returns 0 (`KILL_THREAD`) where `X` is 0, a return no jump can pass on to the older
/// program, nor store to memory, whose checks the kernel makes differently on the merged
/// program (which it could then take where it refuses the newer one alone).
fn uses_x_or_memory(insn: &SockFilter) -> bool {
    let class = insn.code & 0x07;
    matches!(class, BPF_LDX | BPF_ST | BPF_STX | BPF_MISC)
        || (class == BPF_LD && insn.code & 0xe0 == BPF_MEM)
        || (matches!(class, crate::bpf::BPF_ALU | BPF_JMP) && insn.code & BPF_X != 0)
}

/// `prog` gives the same results whatever `A` holds when it starts: its first instruction sets
/// `A` from nothing else, or returns (`X` and memory it does not use: [`uses_x_or_memory`]).
fn starts_afresh(prog: &[SockFilter]) -> bool {
    let sets_a = [
        BPF_LD | BPF_W | BPF_ABS,
        BPF_LD | BPF_W | BPF_LEN,
        BPF_LD | BPF_IMM,
    ];
    prog.first()
        .is_some_and(|first| sets_a.contains(&first.code) || is_ret_k(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::bpf::ret;
    use crate::eval::{self, SeccompData};
    use crate::host_guard::{self, ForeignCalls, Guards};
    use crate::set_id;
    use crate::{cache, compile_text, tables};

    fn program(text: &str, arch: Arch) -> Vec<SockFilter> {
        let compiled = compile_text("test.policy", None, text, &mut crate::NoIncludes)
            .result
            .expect("compiles");
        compiled
            .policy
            .programs
            .iter()
            .find(|p| p.arch == arch)
            .expect("arch")
            .filter
            .to_vec()
    }

    /// Calls to try: every number of the first 600 on both ABIs and a foreign architecture,
    /// with arguments that do and do not carry the set-id bits or create a file.
    fn calls(arch: Arch) -> Vec<SeccompData> {
        let argses = [
            [0; 6],
            [0, 0o4755, 0o4755, 0o4755, 0, 0],
            [0, 0o100, 0o100, 0o2755, 0, 0],
            [u64::MAX; 6],
            // ioctl(TIOCSTI), fcntl(F_SETFL, O_ASYNC)
            [0, 0x5412, 0, 0, 0, 0],
            [0, 4, 0x2000, 0, 0, 0],
        ];
        let mut out = Vec::new();
        for nr in (0..600).chain((0..600).map(|n| n | 0x4000_0000)) {
            for args in argses {
                out.push(SeccompData::new(arch.audit_arch(), nr, args));
                out.push(SeccompData::new(0x4000_0003, nr, args));
            }
        }
        out
    }

    const POLICIES: [&str; 8] = [
        "default kill; use dynamic_startup, malloc, files_read, threads, unix_sockets, signals; \
         allow socket if domain == AF_UNIX && type & 0xf == SOCK_STREAM; \
         allow ioctl if request == TCGETS || request == FIONREAD;",
        "default kill; allow read, write, exit_group, fchmod, openat, chmod, mknodat;",
        "default allow;",
        "default errno(EACCES); kill fchmod; trap openat if flags & O_CREAT != 0; allow read;",
        "default kill; log fchmod; log chmod; errno(EROFS) openat; allow write;",
        "default errno(ENOSYS); allow fchmod if fd == 3; kill_thread chmod; log read;",
        "default kill; errno(EACCES) ioctl if request == TIOCSTI; allow ioctl, fcntl, read, write;",
        "default allow; kill fcntl if cmd == F_SETFL && fd == 0; log ioctl if fd == 1;",
    ];

    #[test]
    fn a_merged_program_decides_as_the_two_stacked() {
        for arch in Arch::ALL {
            for (foreign, guards) in [ForeignCalls::LeftToPolicy, ForeignCalls::Killed]
                .into_iter()
                .flat_map(|f| Guards::SOME.map(|g| (f, g)))
            {
                let guard = host_guard::program(arch, guards, foreign).unwrap();
                for text in POLICIES {
                    let policy = program(text, arch);
                    let merged = merged(&policy, &guard).expect("merges");
                    for data in calls(arch) {
                        let newer = eval::run(&policy, &data).unwrap();
                        let older = eval::run(&guard, &data).unwrap();
                        let got = eval::run(&merged, &data).unwrap();
                        assert_eq!(
                            got.ret,
                            kept(newer.ret, older.ret),
                            "{arch} {guards:?} {text} {data:?}"
                        );
                        assert!(got.executed <= newer.executed + older.executed);
                    }
                }
            }
        }
    }

    #[test]
    fn a_call_cached_under_both_is_cached_merged() {
        for arch in Arch::ALL {
            let guard = set_id::program(arch, ForeignCalls::LeftToPolicy).unwrap();
            for text in POLICIES {
                let policy = program(text, arch);
                let merged = merged(&policy, &guard).unwrap();
                for nr in 0..600 {
                    let both = cache::is_cached_allow(&policy, arch, nr)
                        && cache::is_cached_allow(&guard, arch, nr);
                    assert_eq!(
                        cache::is_cached_allow(&merged, arch, nr),
                        both,
                        "{arch} {nr}"
                    );
                }
            }
        }
    }

    /// A call the older program has no rule for runs the newer program's instructions alone,
    /// where the newer one's jumps on the number tell it apart from the calls the older one has
    /// rules for: the terminal guard then costs calls other than `ioctl` and `fcntl` nothing.
    #[test]
    fn a_guard_costs_nothing_on_calls_it_has_no_rule_for() {
        for arch in Arch::ALL {
            let guard =
                host_guard::program(arch, Guards::TERMINAL, ForeignCalls::LeftToPolicy).unwrap();
            let nr = |name| tables::syscall_by_name(arch, name).unwrap().nr;
            let guarded = [nr("ioctl"), nr("fcntl")];
            // Policies whose allows of `ioctl` and `fcntl` share no range with another call's.
            for text in [
                POLICIES[1],
                POLICIES[6],
                "default kill; allow ioctl; allow fcntl;",
            ] {
                let policy = program(text, arch);
                let merged = merged(&policy, &guard).unwrap();
                for data in calls(arch) {
                    if data.arch == arch.audit_arch() && guarded.contains(&(data.nr as u32)) {
                        continue;
                    }
                    let alone = eval::run(&policy, &data).unwrap();
                    let got = eval::run(&merged, &data).unwrap();
                    assert_eq!(got.executed, alone.executed, "{arch} {text} {data:?}");
                }
            }
        }
    }

    #[test]
    fn the_kernel_order_of_actions_is_kept() {
        let errno = ret::ERRNO | 1;
        assert_eq!(kept(ret::ALLOW, errno), errno);
        assert_eq!(kept(ret::USER_NOTIF, errno), errno);
        assert_eq!(kept(ret::LOG | 7, ret::ALLOW), ret::LOG | 7);
        assert_eq!(kept(ret::KILL_PROCESS | 3, errno), ret::KILL_PROCESS | 3);
        assert_eq!(kept(ret::KILL_THREAD, errno), ret::KILL_THREAD);
        assert_eq!(kept(ret::KILL_THREAD, ret::KILL_PROCESS), ret::KILL_PROCESS);
        // Among equal actions the newer filter's value stays.
        assert_eq!(kept(ret::ERRNO | 13, errno), ret::ERRNO | 13);
    }

    #[test]
    fn returns_no_older_return_can_change_are_left_alone() {
        let allow_all = [SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW)];
        let kill_all = [SockFilter::stmt(BPF_RET | BPF_K, ret::KILL_PROCESS)];
        let guard = set_id::program(Arch::X86_64, ForeignCalls::LeftToPolicy).unwrap();
        assert_eq!(merged(&kill_all, &guard).unwrap(), kill_all);
        assert_eq!(merged(&guard, &allow_all).unwrap(), guard);
        // An allow the older program may refuse jumps to one copy of it.
        let both = merged(&allow_all, &guard).unwrap();
        assert_eq!(both.len(), 1 + guard.len());
    }

    #[test]
    fn programs_that_depend_on_their_start_or_return_a_are_refused() {
        let ld_nr = SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0);
        let allow = SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW);
        let errno = SockFilter::stmt(BPF_RET | BPF_K, ret::ERRNO | 1);
        let ret_a = SockFilter::stmt(BPF_RET | crate::bpf::BPF_A, 0);
        let tax = SockFilter::stmt(BPF_MISC | crate::bpf::BPF_TAX, 0);
        let st = SockFilter::stmt(BPF_ST, 0);
        let ok = [ld_nr, errno];
        assert!(merged(&[allow], &ok).is_some());
        assert!(merged(&[ret_a], &ok).is_none(), "ret A in the newer");
        assert!(
            merged(&[allow], &[ld_nr, ret_a]).is_none(),
            "ret A in the older"
        );
        let jeq = SockFilter::jump(BPF_JMP | crate::bpf::BPF_JEQ | BPF_K, 0, 0, 0);
        assert!(merged(&[allow], &[jeq, errno]).is_none(), "reads A first");
        assert!(merged(&[allow], &[errno]).is_some(), "only returns");
        assert!(merged(&[allow], &[ld_nr, tax, errno]).is_none(), "uses X");
        assert!(
            merged(&[allow], &[ld_nr, st, errno]).is_none(),
            "uses memory"
        );
        // A newer program dividing by X returns KILL_THREAD where X is 0, past any jump.
        let ldx = SockFilter::stmt(BPF_LDX | BPF_IMM, 0);
        let div_x = SockFilter::stmt(crate::bpf::BPF_ALU | crate::bpf::BPF_DIV | BPF_X, 0);
        assert!(
            merged(&[ld_nr, ldx, div_x, allow], &ok).is_none(),
            "divides by X"
        );
        assert!(
            merged(&[ld_nr, st, allow], &ok).is_none(),
            "newer uses memory"
        );
        assert!(merged(&[], &ok).is_none());
        assert!(merged(&[allow], &[]).is_none());
    }

    #[test]
    fn programs_that_run_past_their_end_are_refused() {
        let ld_nr = SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0);
        let allow = SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW);
        let errno = SockFilter::stmt(BPF_RET | BPF_K, ret::ERRNO | 1);
        let jeq = |jt, jf| SockFilter::jump(BPF_JMP | crate::bpf::BPF_JEQ | BPF_K, 0, jt, jf);
        let ok = [ld_nr, jeq(0, 1), errno, allow];
        assert!(merged(&ok, &ok).is_some());
        // No return at the end: the run would go on into the next copy.
        assert!(merged(&[allow], &[ld_nr, jeq(0, 0)]).is_none());
        assert!(merged(&[ld_nr, jeq(0, 0)], &ok).is_none());
        // Jumps past the end, taken or not, and `ja` past it.
        assert!(merged(&[allow], &[ld_nr, jeq(2, 0), errno]).is_none());
        assert!(merged(&[ld_nr, jeq(0, 2), allow], &ok).is_none());
        let ja = SockFilter::stmt(BPF_JMP | BPF_JA, 1);
        assert!(merged(&[allow], &[ld_nr, ja, errno]).is_none());
        assert!(merged(&[ja, allow, allow], &ok).is_some());
    }

    #[test]
    fn a_result_longer_than_the_kernel_takes_is_refused() {
        let allow = SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW);
        let older = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ERRNO | 1),
        ];
        let fits = vec![allow; BPF_MAXINSNS - older.len()];
        assert_eq!(merged(&fits, &older).map(|p| p.len()), Some(BPF_MAXINSNS));
        let over = vec![allow; BPF_MAXINSNS - older.len() + 1];
        assert!(merged(&over, &older).is_none());
    }
}
