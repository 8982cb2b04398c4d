//! Rules the compiler adds to every policy, visible in the disassembly and in `explain`.
//! (The architecture and x32 checks belong to code generation: they come before the number is
//! looked at.)

use super::{CheckedArch, CheckedBranch, CheckedCmp, CheckedCond};
use crate::action::{Action, Tag};
use crate::arch::Arch;
use crate::compiled::RuleMeta;
use crate::ir::CmpOp;
use crate::satisfiable::{can_hold, Budget};
use crate::tables::{self, ArgType, SyscallSpec};

/// Where the prelude's rules say they are, in the policy's rule list.
pub const PRELUDE_LOCATION: &str = "prelude";

/// The value a sandbox runtime puts in the sixth argument register of its own
/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`, which the kernel ignores (execveat takes
/// five arguments), so that its one exec can be recognised without the policy allowing exec.
pub const RUNTIME_EXEC_MAGIC: u64 = 0x4558_4543_5342_4f58; // "SBOXEXEC"

const ENOSYS: u16 = 38;

/// `clone3` passes its flags behind a pointer, where seccomp cannot see them: unless the policy
/// names it, it fails with ENOSYS so that libc falls back to `clone`, whose flags rules can check.
pub(super) fn add_clone3_enosys(rules: &mut Vec<RuleMeta>, arches: &mut [CheckedArch]) {
    let errno = |_: &SyscallSpec, tag| Some(unconditional(Action::Errno(ENOSYS), tag));
    add_rule(
        rules,
        arches,
        "clone3",
        "errno(ENOSYS) clone3".into(),
        Where::IfUnnamed,
        errno,
    );
}

/// The most rules the prelude adds to a policy (`clone3`'s ENOSYS, the five filter guards and
/// one per value the containment guards and the terminal guard refuse): their tags are kept
/// free, so that a policy's own rules can never use them up.
pub(super) const MOST_RULES: usize =
    1 + FILTER_GUARD_RULES + values_in(&CONTAINMENT_GUARDS) + values_in(&TERMINAL_GUARDS);

/// The most rules [`add_filter_guards`] adds: `ptrace`, `io_uring_setup`, `request_key`,
/// `seccomp` and `prctl`, one each.
const FILTER_GUARD_RULES: usize = 5;

/// How many rules [`add_guards`] adds at most for `guards`: one per refused value.
const fn values_in(guards: &[ContainmentGuard]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < guards.len() {
        n += guards[i].values.len();
        i += 1;
    }
    n
}

/// Where [`add_rule`] puts a prelude rule's branch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    /// As the only branch of a call the policy does not name; nowhere else.
    IfUnnamed,
    /// Before the policy's own branches for the call.
    First,
}

/// Adds the prelude rule `text` for call `name`: on each architecture that has the call, the
/// branch `branch` makes from its table entry and the rule's tag goes where `at` says. The
/// rule is listed only if its branch went in somewhere.
fn add_rule(
    rules: &mut Vec<RuleMeta>,
    arches: &mut [CheckedArch],
    name: &str,
    text: std::borrow::Cow<'static, str>,
    at: Where,
    branch: impl Fn(&SyscallSpec, Tag) -> Option<CheckedBranch>,
) {
    // MOST_RULES tags are kept free for the prelude; running out here would be a bug.
    let Some(tag) = Tag::rule(rules.len()) else {
        debug_assert!(false, "no tag left for prelude rule {text}");
        return;
    };
    let mut used = false;
    for checked in arches.iter_mut() {
        let Some(spec) = tables::syscall_by_name(checked.arch, name) else {
            continue;
        };
        if at == Where::IfUnnamed && checked.syscalls.contains_key(&spec.nr) {
            continue;
        }
        let Some(b) = branch(spec, tag) else {
            continue;
        };
        used = true;
        checked.syscalls.entry(spec.nr).or_default().insert(0, b);
    }
    if used {
        rules.push(RuleMeta {
            location: PRELUDE_LOCATION.into(),
            text,
        });
    }
}

/// A branch that decides every call of its syscall.
fn unconditional(action: Action, tag: Tag) -> CheckedBranch {
    CheckedBranch {
        cond: None,
        action,
        tag,
    }
}

/// Whether `action` lets the call run (`allow`, `log`).
fn lets_run(action: Action) -> bool {
    matches!(action, Action::Allow | Action::Log)
}

/// `prctl`'s option that installs a seccomp filter.
const PR_SET_SECCOMP: i128 = 22;
/// `seccomp`'s operation that installs a filter.
const SECCOMP_SET_MODE_FILTER: i128 = 1;

/// Calls that would let a program get around the policy's kills, each killed where the policy
/// would let it run without having allowed it on purpose:
/// - adding a seccomp filter (`seccomp(SECCOMP_SET_MODE_FILTER, ...)`, or
///   `prctl(PR_SET_SECCOMP, ...)`): a filter the program adds ranks its `errno` or `trap` above
///   the notification that reports a kill, so the killed call would fail and the program go on,
///   unreported. Allowed on purpose only by a rule naming `seccomp` that may let
///   `SECCOMP_SET_MODE_FILTER` run; otherwise `seccomp` is killed outright where the policy
///   leaves it to a default that lets calls run, and the filter-adding forms are killed before
///   the policy's own rules where those rules, or the default they fall through to, may let
///   them run (`allow prctl;`);
/// - `ptrace`: a tracer can resume a traced call with a signal pending, which interrupts the
///   wait for the monitor before it reads the notification;
/// - `io_uring_setup`: a ring runs operations (opening files, sockets) with no system call for
///   the filter to see;
/// - `request_key`: a key it does not find makes the kernel run the host's
///   `/sbin/request-key` as root, outside every namespace, with the caller's arguments.
///
/// These three are killed where the policy does not name them and its `default` lets calls
/// run (`allow`, `log`).
///
/// A policy that already refuses them keeps its program as it is.
pub(super) fn add_filter_guards(
    rules: &mut Vec<RuleMeta>,
    arches: &mut [CheckedArch],
    default: Action,
) {
    let default_runs = lets_run(default);
    let named = |arches: &[CheckedArch], name: &str| {
        arches.iter().any(|c| {
            tables::syscall_by_name(c.arch, name).is_some_and(|s| c.syscalls.contains_key(&s.nr))
        })
    };
    // Decided on the policy as written, before any guard goes in. Where a condition is too
    // large to tell, the filter is not allowed on purpose, and the guards go in.
    let budget = &mut Budget::new(Budget::FOR_A_POLICY);
    let [seccomp_filter, prctl_filter] = FILTER_ADDING.each_ref().map(FilterAdding::call);
    let on_purpose = may_run_with_argument(arches, seccomp_filter, false, false, budget);
    let seccomp_named = named(arches, "seccomp");
    let seccomp_may_add = may_run_with_argument(arches, seccomp_filter, default_runs, true, budget);
    let prctl_may_add = may_run_with_argument(arches, prctl_filter, default_runs, true, budget);
    if default_runs {
        for name in ["ptrace", "io_uring_setup", "request_key"] {
            if !named(arches, name) {
                add_unconditional_kill(rules, arches, name);
            }
        }
    }
    if on_purpose {
        return;
    }
    if !seccomp_named && default_runs {
        add_unconditional_kill(rules, arches, "seccomp");
    } else if seccomp_may_add {
        let text = "kill seccomp if operation == SECCOMP_SET_MODE_FILTER";
        add_argument_rule(rules, arches, seccomp_filter, Action::Kill, text);
    }
    if prctl_may_add {
        let text = "kill prctl if option == PR_SET_SECCOMP";
        add_argument_rule(rules, arches, prctl_filter, Action::Kill, text);
    }
}

/// Whether call `name` with argument `index` equal to `value` may run under the policy as
/// written on some architecture (see [`first_that_may_run`]); `undecided` is the answer where
/// a condition is too large to tell.
fn may_run_with_argument(
    arches: &[CheckedArch],
    (name, index, value): (&str, usize, i128),
    default_runs: bool,
    undecided: bool,
    budget: &mut Budget,
) -> bool {
    let call = (name, index, value);
    arches
        .iter()
        .any(|c| first_that_may_run(c, call, default_runs, undecided, budget).is_some())
}

/// On one architecture, where among its branches for `name` a call with argument `index`
/// equal to `value` may first be let run (the number of branches when only the default may
/// let it run), or `None` when it cannot run there. A branch lets such a call run where its
/// action does, some such call meets its condition, and no branch before it refuses that call
/// ([`crate::satisfiable`] decides it): `allow seccomp if flags < 1 && flags > 5;` lets no
/// call run, nor does a rule after `kill seccomp if flags == 0; kill seccomp if flags != 0;`.
/// `undecided` is the answer where that is too large to tell.
fn first_that_may_run(
    checked: &CheckedArch,
    (name, index, value): (&str, usize, i128),
    default_runs: bool,
    undecided: bool,
    budget: &mut Budget,
) -> Option<usize> {
    let spec = tables::syscall_by_name(checked.arch, name)?;
    let Some(branches) = checked.syscalls.get(&spec.nr) else {
        return default_runs.then_some(0);
    };
    // The call: its argument equal to `value`, and outside every refusing branch passed.
    let mut call = argument_equals(spec, (index, value));
    let mut can_run = |call: &Option<CheckedCond>, cond: Option<&CheckedCond>| {
        let cond = match (call.clone(), cond.cloned()) {
            (Some(call), Some(cond)) => call.and(cond),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => return true,
        };
        can_hold(&cond, budget).unwrap_or(undecided)
    };
    for (at, branch) in branches.iter().enumerate() {
        let Some(cond) = &branch.cond else {
            return (lets_run(branch.action) && can_run(&call, None)).then_some(at);
        };
        match cond.holds_given(index, value as u64) {
            Some(false) => continue,
            // Every such call that gets here meets it.
            Some(true) if !lets_run(branch.action) => return None,
            _ if lets_run(branch.action) => {
                if can_run(&call, Some(cond)) {
                    return Some(at);
                }
            }
            _ => {
                let outside = cond.clone().negated();
                call = Some(match call {
                    Some(call) => call.and(outside),
                    None => outside,
                });
            }
        }
    }
    (default_runs && can_run(&call, None)).then_some(branches.len())
}

/// Kills every call of `name` the policy does not name, as a prelude rule.
fn add_unconditional_kill(rules: &mut Vec<RuleMeta>, arches: &mut [CheckedArch], name: &str) {
    let kill = |_: &SyscallSpec, tag| Some(unconditional(Action::Kill, tag));
    add_rule(
        rules,
        arches,
        name,
        format!("kill {name}").into(),
        Where::IfUnnamed,
        kill,
    );
}

/// Gives call `name` whose argument `index` equals `value` the action `action`, before any of
/// the policy's rules for it, as the prelude rule `text`.
fn add_argument_rule(
    rules: &mut Vec<RuleMeta>,
    arches: &mut [CheckedArch],
    (name, index, value): (&str, usize, i128),
    action: Action,
    text: &'static str,
) {
    let branch = |spec: &SyscallSpec, tag| argument_branch(spec, (index, value), action, tag);
    add_rule(rules, arches, name, text.into(), Where::First, branch);
}

/// The branch that gives a call of `spec` whose argument `index` equals `value` the action
/// `action`; `None` if the call has no such argument.
fn argument_branch(
    spec: &SyscallSpec,
    (index, value): (usize, i128),
    action: Action,
    tag: Tag,
) -> Option<CheckedBranch> {
    Some(CheckedBranch {
        cond: Some(argument_equals(spec, (index, value))?),
        action,
        tag,
    })
}

/// The condition that argument `index` of a call of `spec` equals `value`; `None` if the call
/// has no such argument.
fn argument_equals(spec: &SyscallSpec, (index, value): (usize, i128)) -> Option<CheckedCond> {
    Some(CheckedCond::Cmp(CheckedCmp {
        arg: u8::try_from(index).ok()?,
        ty: spec.args.get(index)?.ty,
        mask: None,
        op: CmpOp::Eq,
        value,
    }))
}

/// `socket`'s address family of virtio sockets.
const AF_VSOCK: i128 = 40;
/// `ioctl`'s request that pushes a byte into a terminal's input queue.
const TIOCSTI: i128 = 0x5412;
/// `ioctl`'s request of the virtual console's subcommands (selection and paste among them).
const TIOCLINUX: i128 = 0x541c;
/// `ioctl`'s request that sets a terminal's window size and signals its foreground group.
const TIOCSWINSZ: i128 = 0x5414;
/// `ioctl`'s request that puts a terminal in exclusive mode (no further opens).
const TIOCEXCL: i128 = 0x540c;
/// `ioctl`'s request that sets a terminal's line discipline.
const TIOCSETD: i128 = 0x5423;
/// `ioctl`'s request that suspends or restarts a terminal's output or input.
const TCXONC: i128 = 0x540a;
/// `ioctl`'s request that sends a signal, through a pseudo-terminal's master, to the foreground
/// group of its slave.
const TIOCSIG: i128 = 0x4004_5436;
/// `ioctl`'s request that turns signal-driven I/O (`O_ASYNC`) on or off.
const FIOASYNC: i128 = 0x5452;
/// `fcntl`'s command that sets a file's status flags.
const F_SETFL: i128 = 4;
/// The status flag of signal-driven I/O.
const O_ASYNC: u64 = 0x2000;
/// The errno the containment guards answer with, as the kernel does where these are refused.
const EPERM: u16 = 1;

/// Which guards [`add_guards`] lays into a policy.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Guarding {
    /// The prelude's containment guards, in every program: calls whose reach no namespace
    /// bounds, each answered `EPERM` before the policy's own rules wherever the policy would
    /// let it run, even on purpose (a value the policy refuses keeps its answer, and a policy
    /// that refuses them all keeps its program as it is): `socket(AF_VSOCK, ...)`, whose
    /// virtio sockets reach the hypervisor and the VM's other guests and share one port space
    /// with the host, which the network namespace does not cover.
    Containment,
    /// The terminal guard ([`TERMINAL_GUARDS`]), laid in the same way, only into the program for
    /// a sandbox that reaches a host terminal (see [`crate::host_guard`]): every other sandbox's
    /// `ioctl` and `fcntl` stay unconditional where the policy allows them, which the kernel's
    /// cache then serves.
    Terminal,
}

impl Guarding {
    fn guards(self) -> &'static [ContainmentGuard] {
        match self {
            Guarding::Containment => &CONTAINMENT_GUARDS,
            Guarding::Terminal => &TERMINAL_GUARDS,
        }
    }

    /// Where the rules say they are, in the policy's rule list.
    fn location(self) -> &'static str {
        match self {
            Guarding::Containment => PRELUDE_LOCATION,
            Guarding::Terminal => TERMINAL_GUARD_LOCATION,
        }
    }
}

/// Where the terminal guard's rules say they are, in the policy's rule list.
pub const TERMINAL_GUARD_LOCATION: &str = "terminal guard";

/// Lays the guards of `which` into the policy, before the first branch that may let each
/// refused value run (see [`Guarding`]), and lists their rules.
pub(super) fn add_guards(
    rules: &mut Vec<RuleMeta>,
    arches: &mut [CheckedArch],
    default: Action,
    which: Guarding,
) {
    let default_runs = lets_run(default);
    let location = which.location();
    // Where a condition is too large to tell, the guard goes before it.
    let budget = &mut Budget::new(Budget::FOR_A_POLICY);
    for guard in which.guards() {
        let (name, index) = (guard.call, guard.index);
        // One rule per value, each a single comparison, as every generator can write it, put
        // just before the first branch that may let the value run: a branch before it that
        // refuses the value (a kill that also looks at other arguments, say) keeps its answer.
        for &(value, constant) in guard.values {
            let Some(tag) = Tag::rule(rules.len()) else {
                debug_assert!(false, "no tag left for a containment guard");
                return;
            };
            let mut used = false;
            for checked in arches.iter_mut() {
                let call = (name, index, value);
                let Some(at) = first_that_may_run(checked, call, default_runs, true, budget) else {
                    continue;
                };
                let Some((nr, branch)) = guard.branch(checked.arch, value, tag) else {
                    continue;
                };
                checked.syscalls.entry(nr).or_default().insert(at, branch);
                used = true;
            }
            if used {
                rules.push(RuleMeta {
                    location: location.into(),
                    text: guard.rule_text(constant).into(),
                });
            }
        }
    }
}

/// One containment guard: the values of one argument of one call that are refused, where
/// another argument has a flag set if `flag` says so.
struct ContainmentGuard {
    call: &'static str,
    /// The argument's position and name.
    index: usize,
    arg: &'static str,
    /// Each refused value, with its constant's name for the rule's text.
    values: &'static [(i128, &'static str)],
    /// The flag that must also be set for the value to be refused.
    flag: Option<GuardFlag>,
}

/// A bit of another argument that a [`ContainmentGuard`] refuses only where it is set.
struct GuardFlag {
    /// The argument's position and name.
    index: usize,
    arg: &'static str,
    /// The bit, and its constant's name.
    bit: u64,
    name: &'static str,
}

impl GuardFlag {
    /// `ARG & BIT != 0` for a call of `spec`; `None` if the call has no such argument.
    fn condition(&self, spec: &SyscallSpec) -> Option<CheckedCond> {
        Some(CheckedCond::Cmp(CheckedCmp {
            arg: u8::try_from(self.index).ok()?,
            ty: spec.args.get(self.index)?.ty,
            mask: Some(self.bit),
            op: CmpOp::Ne,
            value: 0,
        }))
    }

    /// Whether the bit is set in `args`, read on the low 32 bits as the kernel reads a flag
    /// word.
    fn is_set(&self, args: &[u64; 6]) -> bool {
        args[self.index] as u32 as u64 & self.bit != 0
    }
}

impl ContainmentGuard {
    /// The branch that refuses `value` (with the flag set, if the guard has one) on `arch`, and
    /// the number of the call it is for; `None` where `arch` has no such call or argument.
    fn branch(&self, arch: Arch, value: i128, tag: Tag) -> Option<(u32, CheckedBranch)> {
        let spec = tables::syscall_by_name(arch, self.call)?;
        let refuse = Action::Errno(EPERM);
        let mut branch = argument_branch(spec, (self.index, value), refuse, tag)?;
        if let Some(flag) = &self.flag {
            let set = flag.condition(spec)?;
            let equal = branch.cond.take().map(Box::new);
            branch.cond = equal.map(|equal| CheckedCond::And(equal, Box::new(set)));
        }
        Some((spec.nr, branch))
    }

    /// The guard's rule for the value named `constant`, as `explain` lists it.
    fn rule_text(&self, constant: &str) -> String {
        let flag = self.flag.as_ref().map_or(String::new(), |f| {
            format!(" && {} & {} != 0", f.arg, f.name)
        });
        format!(
            "errno(EPERM) {} if {} == {constant}{flag}",
            self.call, self.arg
        )
    }
}

/// See [`Guarding::Containment`].
const CONTAINMENT_GUARDS: [ContainmentGuard; 1] = [ContainmentGuard {
    call: "socket",
    index: 0,
    arg: "domain",
    values: &[(AF_VSOCK, "AF_VSOCK")],
    flag: None,
}];

/// The terminal guard's rules: requests and flags that reach past the sandbox through a host
/// terminal it is given, each refused with `EPERM` (see [`crate::host_guard`]):
/// - `ioctl(fd, TIOCSTI, ...)`, `ioctl(fd, TIOCLINUX, ...)`: a terminal the host passed (as
///   standard input, say) can become the sandbox's controlling terminal where the program
///   leads a session of its own (where init could not give up the host's terminal), or where a
///   child of the program starts one and the terminal belongs to no session, and
///   `TIOCSTI` then types into it what the next reader on the host runs; `TIOCLINUX` pastes a
///   console's selection the same way;
/// - `ioctl` with `TIOCSWINSZ`, `TIOCSIG`, `TIOCEXCL`, `TCXONC` or `TIOCSETD`: the kernel asks
///   nothing of a caller that does not have the terminal as its controlling terminal before
///   these, so on a terminal the host passed they reach the host's processes or outlive the
///   run: `TIOCSWINSZ` sends `SIGWINCH` to the terminal's foreground group (the host's shell
///   or the command that runs the sandbox) and `TIOCSIG` any signal, through a master, to the
///   slave's; `TIOCEXCL` keeps every later open of the terminal out (`EBUSY`), `TCXONC`
///   suspends its output, and `TIOCSETD` swaps its line discipline, after the sandbox has
///   ended; and line disciplines other than the terminal's own are kernel code few programs
///   reach, where privilege escalations have been found (`n_hdlc`, `n_gsm`);
/// - turning on signal-driven I/O, `ioctl(fd, FIOASYNC, ...)` or `fcntl(fd, F_SETFL, flags)`
///   with `O_ASYNC` in `flags`: on a terminal the kernel makes the terminal's foreground group
///   the file's owner, so each byte typed signals the host's shell (`SIGIO`, whose default is
///   to end it, or whatever `F_SETSIG` chose) while the sandbox runs, and after it where the
///   sandbox shares the host's open file of the terminal. Other status flags (`O_NONBLOCK`,
///   `O_APPEND`) are the program's to set.
const TERMINAL_GUARDS: [ContainmentGuard; 2] = [
    ContainmentGuard {
        call: "ioctl",
        index: 1,
        arg: "request",
        values: &[
            (TIOCSTI, "TIOCSTI"),
            (TIOCLINUX, "TIOCLINUX"),
            (TIOCSWINSZ, "TIOCSWINSZ"),
            (TIOCSIG, "TIOCSIG"),
            (TIOCEXCL, "TIOCEXCL"),
            (TCXONC, "TCXONC"),
            (TIOCSETD, "TIOCSETD"),
            (FIOASYNC, "FIOASYNC"),
        ],
        flag: None,
    },
    ContainmentGuard {
        call: "fcntl",
        index: 1,
        arg: "cmd",
        values: &[(F_SETFL, "F_SETFL")],
        flag: Some(GuardFlag {
            index: 2,
            arg: "arg",
            bit: O_ASYNC,
            name: "O_ASYNC",
        }),
    },
];

/// An `execveat` carrying [`RUNTIME_EXEC_MAGIC`] in its (unused) sixth register is sent to
/// the runtime with tag [`Tag::RUNTIME_EXEC`] before any of the policy's rules: the runtime's
/// monitor lets exactly its own exec through and answers any later one as the policy would.
/// No user rule can look at that register (the prototype has five arguments), so the policy's
/// meaning for every other call is unchanged, and the check costs nothing on any other
/// syscall's path. Without a runtime the branch kills, the safe direction.
pub(super) fn add_runtime_exec_check(arches: &mut [CheckedArch]) {
    for checked in arches.iter_mut() {
        let Some(spec) = tables::syscall_by_name(checked.arch, "execveat") else {
            continue;
        };
        let branch = CheckedBranch {
            cond: Some(CheckedCond::Cmp(CheckedCmp {
                arg: 5,
                ty: ArgType::U64,
                mask: None,
                op: CmpOp::Eq,
                value: i128::from(RUNTIME_EXEC_MAGIC),
            })),
            action: Action::Kill,
            tag: Tag::RUNTIME_EXEC,
        };
        checked
            .syscalls
            .entry(spec.nr)
            .or_default()
            .insert(0, branch);
    }
}

/// The rule a runtime answers a call with where nothing enforces the policy (learn and
/// log-only modes, which let the calls a policy kills run), if it must refuse the call even
/// there: a value one of the containment guards refuses (`socket` with `AF_VSOCK`, `ioctl`
/// with `TIOCSTI`, `TIOCLINUX` or another request that reaches the host through a terminal:
/// `TIOCSWINSZ`, `TIOCSIG`, `TIOCEXCL`, `TCXONC`, `TIOCSETD`, `FIOASYNC`; `fcntl` with
/// `F_SETFL` and `O_ASYNC`; each on the low 32 bits, which is all the kernel reads, and the
/// rule's text is the guard's), `request_key`, whose upcall
/// runs the host's `/sbin/request-key` as root with the caller's arguments, or
/// `io_uring_setup`, whose ring runs operations (sockets of any family among them) that no
/// filter sees, or a call that adds a seccomp filter (`seccomp(SECCOMP_SET_MODE_FILTER)`,
/// `prctl(PR_SET_SECCOMP)`: a filter the program added would rank its own answers above the
/// notifications those modes record, and a learnt rule letting it run would let the program hide
/// every kill of the policy learnt). Each is answered `EPERM`.
pub fn refusal_where_unenforced(arch: Arch, nr: u32, args: &[u64; 6]) -> Option<String> {
    let spec = tables::syscall_by_nr(arch, nr)?;
    if matches!(spec.name, "request_key" | "io_uring_setup") {
        return Some(format!("errno(EPERM) {}", spec.name));
    }
    if let Some(adding) = filter_adding(spec, args) {
        return Some(adding.refusal.to_string());
    }
    let (guard, constant) = refusing_guard(spec, args)?;
    Some(guard.rule_text(constant))
}

/// A way of adding a seccomp filter, as the filter guards name it.
struct FilterAdding {
    /// The syscall.
    call: &'static str,
    /// The argument that says so.
    index: usize,
    /// Its value that adds a filter.
    value: i128,
    /// The rule that refuses it where nothing enforces the policy.
    refusal: &'static str,
}

impl FilterAdding {
    /// The call as the guards' helpers take it: (syscall, argument, value).
    fn call(&self) -> (&'static str, usize, i128) {
        (self.call, self.index, self.value)
    }
}

/// The calls that add a seccomp filter: those [`add_filter_guards`] kills unless the policy
/// allows filters on purpose, and [`refusal_where_unenforced`] refuses.
const FILTER_ADDING: [FilterAdding; 2] = [
    FilterAdding {
        call: "seccomp",
        index: 0,
        value: SECCOMP_SET_MODE_FILTER,
        refusal: "errno(EPERM) seccomp if operation == SECCOMP_SET_MODE_FILTER",
    },
    FilterAdding {
        call: "prctl",
        index: 0,
        value: PR_SET_SECCOMP,
        refusal: "errno(EPERM) prctl if option == PR_SET_SECCOMP",
    },
];

/// The way of adding a seccomp filter a call of `spec` with `args` is, reading its argument on
/// the low 32 bits as the kernel does.
fn filter_adding(spec: &SyscallSpec, args: &[u64; 6]) -> Option<&'static FilterAdding> {
    FILTER_ADDING
        .iter()
        .find(|f| f.call == spec.name && i128::from(args[f.index] as u32) == f.value)
}

/// The containment guard that refuses a call of `spec` with `args`, and the name of the value
/// it refuses, reading each argument on its low 32 bits as the kernel does.
fn refusing_guard(
    spec: &SyscallSpec,
    args: &[u64; 6],
) -> Option<(&'static ContainmentGuard, &'static str)> {
    CONTAINMENT_GUARDS
        .iter()
        .chain(&TERMINAL_GUARDS)
        .filter(|g| g.call == spec.name)
        .find_map(|g| {
            let (_, constant) = g
                .values
                .iter()
                .find(|&&(v, _)| i128::from(args[g.index] as u32) == v)?;
            if g.flag.as_ref().is_some_and(|f| !f.is_set(args)) {
                return None;
            }
            Some((g, *constant))
        })
}

/// The arguments [`refusal_where_unenforced`] reads to refuse a call (the guarded argument and
/// the guard's flag bit, on their low 32 bits), every other one zero; `None` where it does not
/// refuse the call. A recorder that keeps only some arguments keeps these too, so that the
/// refusal can be told again from what it kept (`fcntl`'s `O_ASYNC` is in an argument no
/// policy otherwise needs recorded).
pub fn refused_arguments(arch: Arch, nr: u32, args: &[u64; 6]) -> Option<[u64; 6]> {
    refusal_where_unenforced(arch, nr, args)?;
    let mut read = [0u64; 6];
    if let Some(adding) = filter_adding(tables::syscall_by_nr(arch, nr)?, args) {
        read[adding.index] = u64::from(args[adding.index] as u32);
        return Some(read);
    }
    // A call refused whole (`request_key`) is refused whatever its arguments.
    if let Some((g, _)) = refusing_guard(tables::syscall_by_nr(arch, nr)?, args) {
        read[g.index] = u64::from(args[g.index] as u32);
        if let Some(f) = &g.flag {
            read[f.index] = u64::from(args[f.index] as u32) & f.bit;
        }
    }
    Some(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each guarded value is the constant its rule's text names, on every architecture, so
    /// that `explain` and the filter say the same thing.
    #[test]
    fn containment_guard_values_are_the_constants_they_name() {
        for arch in Arch::ALL {
            for guard in CONTAINMENT_GUARDS.iter().chain(&TERMINAL_GUARDS) {
                for &(value, name) in guard.values {
                    let table = tables::constant(arch, name).map(i128::from);
                    assert_eq!(table, Some(value), "{arch} {name}");
                }
                if let Some(flag) = &guard.flag {
                    let table = tables::constant(arch, flag.name).map(|v| v as u64);
                    assert_eq!(table, Some(flag.bit), "{arch} {}", flag.name);
                }
            }
        }
    }
}
