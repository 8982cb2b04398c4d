//! From observed system calls to a policy in the language: what `sandbox learn` records, how
//! it merges runs, and how it picks groups and writes rules (the rules are in `learn --help`).

use sandbox_policy::resolve::{
    refusal_where_unenforced, refused_arguments, truncate, CheckedCond, CheckedPolicy,
};
use sandbox_policy::tables::{self, SyscallSpec};
use sandbox_policy::{compile_text, describe, Action, Arch, NoIncludes};
use sandbox_runtime::Observation;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The arguments recorded besides the ones a group's condition reads: (syscall, argument).
const RECORDED: &[(&str, &str)] = &[
    ("open", "flags"),
    ("openat", "flags"),
    ("mmap", "prot"),
    ("mprotect", "prot"),
    ("pkey_mprotect", "prot"),
    ("socket", "domain"),
    ("socket", "type"),
    ("socketpair", "domain"),
    ("socketpair", "type"),
    ("ioctl", "request"),
    ("clone", "flags"),
    ("unshare", "flags"),
    ("setns", "nstype"),
    ("fcntl", "cmd"),
    ("prctl", "option"),
    ("futex", "futex_op"),
    ("getrandom", "flags"),
    ("seccomp", "operation"),
    ("personality", "persona"),
];

/// Namespace flags of `clone`, as the `threads` group names them.
const CLONE_NS: &str =
    "CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET";

/// At most this many distinct values of an enumerated argument are listed in a rule; beyond
/// that the rule is unconditional.
const MAX_LISTED: usize = 12;

/// At most this many distinct calls of one syscall are kept; the calls beyond are counted
/// only (see [`Learned::wide`]), and the syscall is then allowed whatever its arguments. Far
/// above what a rule lists, and it bounds what a program making endless distinct calls (a new
/// `ioctl` request each time) costs the host's memory and the sidecar.
const MAX_KEPT: usize = 256;

/// At most this many syscall numbers unknown to the tables are named in the policy's comments.
const MAX_UNKNOWN_NAMED: usize = 16;

/// At most this many syscall numbers unknown to the tables are kept (they only ever stay
/// killed, and are named in a comment); calls of further ones are counted only
/// ([`Learned::unknown_not_kept`]), so that a program calling endless distinct numbers cannot
/// take the host's memory.
const MAX_UNKNOWN_KEPT: usize = 64;

/// One distinct call: a syscall and the recorded arguments (every other argument is zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    /// The syscall's number.
    pub nr: u32,
    /// The recorded arguments, cut to their width; zero elsewhere.
    pub args: [u64; 6],
}

impl Call {
    /// The distinct call an observation is an instance of: its key arguments, and what a
    /// refusal of every policy reads ([`refused_arguments`]), so that the refusal is written
    /// from the record as it was made.
    pub fn from_observation(o: &Observation) -> Call {
        let mut args = [0u64; 6];
        if let Some(spec) = tables::syscall_by_nr(o.arch, o.nr) {
            for i in key_args(o.arch, o.nr) {
                let bits = spec.args.get(i).map_or(64, |a| a.ty.bits());
                args[i] = truncate(i128::from(o.args[i]), bits);
            }
        }
        if let Some(read) = refused_arguments(o.arch, o.nr, &o.args) {
            for (kept, read) in args.iter_mut().zip(read) {
                *kept |= read;
            }
        }
        Call { nr: o.nr, args }
    }
}

/// One `sandbox learn` run that contributed.
#[derive(Clone, Debug)]
pub struct Run {
    /// Its command line.
    pub command: Vec<String>,
    /// The UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// How the program ended.
    pub outcome: String,
}

/// Everything learnt so far, as kept in the sidecar file.
#[derive(Clone, Debug)]
pub struct Learned {
    /// The architecture the calls were made on.
    pub arch: Arch,
    /// The runs, oldest first.
    pub runs: Vec<Run>,
    /// Each distinct call and how often it was seen.
    pub calls: BTreeMap<Call, u64>,
    /// Syscalls with more distinct calls than [`MAX_KEPT`], and how many calls were not kept.
    pub wide: BTreeMap<u32, u64>,
    /// Calls of syscall numbers unknown to the tables beyond the first [`MAX_UNKNOWN_KEPT`]
    /// numbers, counted only.
    pub unknown_not_kept: u64,
    /// How many numbers unknown to the tables `calls` holds.
    unknown_kept: usize,
}

impl Learned {
    /// Nothing learnt yet.
    pub fn new(arch: Arch) -> Learned {
        Learned {
            arch,
            runs: Vec::new(),
            calls: BTreeMap::new(),
            wide: BTreeMap::new(),
            unknown_not_kept: 0,
            unknown_kept: 0,
        }
    }

    /// Counts one call.
    pub fn record(&mut self, call: &Call) {
        self.count(*call, 1);
    }

    /// Adds `n` to `call`'s count, stopping at the largest count (a sidecar's count can be
    /// anything).
    fn count(&mut self, call: Call, n: u64) {
        let new = !self.calls.contains_key(&call);
        if new && tables::syscall_by_nr(self.arch, call.nr).is_none() {
            // Unknown numbers are recorded without arguments: a new call is a new number.
            if self.unknown_kept >= MAX_UNKNOWN_KEPT {
                self.unknown_not_kept = self.unknown_not_kept.saturating_add(n);
                return;
            }
            self.unknown_kept += 1;
        }
        // Once a syscall is wide its kept calls are at the limit: no need to count them again.
        let full = new && (self.wide.contains_key(&call.nr) || self.kept(call.nr) >= MAX_KEPT);
        let c = if full {
            self.wide.entry(call.nr).or_default()
        } else {
            self.calls.entry(call).or_default()
        };
        *c = c.saturating_add(n);
    }

    /// How many distinct calls of syscall `nr` are kept (at most [`MAX_KEPT`] to count).
    fn kept(&self, nr: u32) -> usize {
        let first = Call { nr, args: [0; 6] };
        let last = Call {
            nr,
            args: [u64::MAX; 6],
        };
        self.calls.range(first..=last).take(MAX_KEPT).count()
    }

    /// The sidecar's JSON text.
    pub fn to_json(&self) -> String {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|r| json!({"command": r.command, "date": r.date, "outcome": r.outcome}))
            .collect();
        let calls: Vec<Value> = self
            .calls
            .iter()
            .map(|(c, n)| {
                let spec = tables::syscall_by_nr(self.arch, c.nr);
                let mut args = serde_json::Map::new();
                for i in key_args(self.arch, c.nr) {
                    args.insert(arg_name(spec, i), json!(c.args[i]));
                }
                json!({
                    "syscall": spec.map_or("unknown", |s| s.name),
                    "nr": c.nr,
                    "args": args,
                    "count": n,
                })
            })
            .collect();
        let wide: Vec<Value> = self
            .wide
            .iter()
            .map(|(nr, n)| {
                let spec = tables::syscall_by_nr(self.arch, *nr);
                json!({"syscall": spec.map_or("unknown", |s| s.name), "nr": nr, "count": n})
            })
            .collect();
        let v = json!({
            "format": "sandbox-learn 1",
            "arch": self.arch.name(),
            "runs": runs,
            "calls": calls,
            "wide": wide,
            "unknown_not_kept": self.unknown_not_kept,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    /// Reads a sidecar written by [`Self::to_json`].
    pub fn from_json(text: &str) -> Result<Learned, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if v["format"] != "sandbox-learn 1" {
            return Err("not a `sandbox learn` file (format `sandbox-learn 1`)".into());
        }
        let arch = v["arch"]
            .as_str()
            .and_then(Arch::from_name)
            .ok_or("unknown arch")?;
        let mut learned = Learned::new(arch);
        for r in v["runs"].as_array().ok_or("no runs")? {
            learned.runs.push(Run {
                command: r["command"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                date: r["date"].as_str().unwrap_or("").to_string(),
                outcome: r["outcome"].as_str().unwrap_or("").to_string(),
            });
        }
        for c in v["calls"].as_array().ok_or("no calls")? {
            let nr = call_number(arch, c)?;
            let spec = tables::syscall_by_nr(arch, nr);
            let mut args = [0u64; 6];
            for (name, value) in c["args"].as_object().into_iter().flatten() {
                let i = arg_index(spec, name).ok_or_else(|| format!("unknown argument {name}"))?;
                args[i] = value.as_u64().ok_or("argument values are integers")?;
            }
            learned.count(Call { nr, args }, call_count(c)?);
        }
        // Syscalls with calls not kept (absent from sidecars written before there were any).
        for w in v["wide"].as_array().into_iter().flatten() {
            let nr = call_number(arch, w)?;
            let n = learned.wide.entry(nr).or_default();
            *n = n.saturating_add(call_count(w)?);
        }
        let not_kept = v["unknown_not_kept"].as_u64().unwrap_or(0);
        learned.unknown_not_kept = learned.unknown_not_kept.saturating_add(not_kept);
        Ok(learned)
    }
}

/// The number of the call an entry of a sidecar names: by its `syscall` name, which must be
/// one of `arch`'s (or `unknown`, as [`Learned::to_json`] writes a number it has no name for),
/// and its `nr`, which must agree with the name; at least one of the two.
fn call_number(arch: Arch, entry: &Value) -> Result<u32, String> {
    let name = match &entry["syscall"] {
        Value::Null => None,
        Value::String(n) if n == "unknown" => None,
        Value::String(n) => Some(
            tables::syscall_by_name(arch, n)
                .ok_or_else(|| format!("`{}` is not a syscall on {arch}", n.escape_debug()))?
                .nr,
        ),
        other => return Err(format!("a syscall name is text, not {other}")),
    };
    let number = match &entry["nr"] {
        Value::Null => None,
        other => Some(
            other
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    format!("a syscall number is a 32-bit unsigned integer, not {other}")
                })?,
        ),
    };
    match (name, number) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "an entry names syscall {a} and number {b}: {entry}"
        )),
        (Some(n), _) | (None, Some(n)) => Ok(n),
        (None, None) => Err(format!("an entry without a syscall: {entry}")),
    }
}

/// How many times an entry of a sidecar was seen: its `count`, a positive integer (1 where
/// absent).
fn call_count(entry: &Value) -> Result<u64, String> {
    match &entry["count"] {
        Value::Null => Ok(1),
        other => other
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("a count is a positive integer, not {other}")),
    }
}

fn arg_name(spec: Option<&SyscallSpec>, i: usize) -> String {
    spec.and_then(|s| s.args.get(i))
        .map_or_else(|| format!("arg{i}"), |a| a.name.to_string())
}

fn arg_index(spec: Option<&SyscallSpec>, name: &str) -> Option<usize> {
    if let Some(i) = spec.and_then(|s| s.args.iter().position(|a| a.name == name)) {
        return Some(i);
    }
    name.strip_prefix("arg")
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|i| *i < 6)
}

/// A built-in group, compiled on its own (`default kill; use NAME;`).
struct CompiledGroup {
    name: &'static str,
    checked: CheckedPolicy,
}

fn groups() -> &'static [CompiledGroup] {
    static GROUPS: OnceLock<Vec<CompiledGroup>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        sandbox_policy::groups::GROUPS
            .iter()
            .filter_map(|g| {
                let text = format!("default kill;\nuse {};\n", g.name);
                let c = compile_text(g.name, None, &text, &mut NoIncludes);
                c.result.ok().map(|c| CompiledGroup {
                    name: g.name,
                    checked: c.checked,
                })
            })
            .collect()
    })
}

fn cond_args(c: &CheckedCond, out: &mut BTreeSet<usize>) {
    match c {
        CheckedCond::Cmp(cmp) => {
            out.insert(usize::from(cmp.arg));
        }
        CheckedCond::Not(a) => cond_args(a, out),
        CheckedCond::And(a, b) | CheckedCond::Or(a, b) => {
            cond_args(a, out);
            cond_args(b, out);
        }
    }
}

/// The argument positions recorded for a syscall: [`RECORDED`] and whatever a built-in group's
/// condition on it reads, so a group's verdict on a recorded call is its verdict on the real one.
fn key_args(arch: Arch, nr: u32) -> BTreeSet<usize> {
    static KEYS: OnceLock<BTreeMap<(Arch, u32), BTreeSet<usize>>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut keys: BTreeMap<(Arch, u32), BTreeSet<usize>> = BTreeMap::new();
        for a in Arch::ALL {
            for (name, arg) in RECORDED {
                if let Some(s) = tables::syscall_by_name(a, name) {
                    if let Some(i) = s.args.iter().position(|x| x.name == *arg) {
                        keys.entry((a, s.nr)).or_default().insert(i);
                    }
                }
            }
            for g in groups() {
                for (nr, branches) in &g.checked.arch(a).syscalls {
                    for b in branches {
                        if let Some(c) = &b.cond {
                            cond_args(c, keys.entry((a, *nr)).or_default());
                        }
                    }
                }
            }
        }
        keys
    });
    keys.get(&(arch, nr)).cloned().unwrap_or_default()
}

/// What a syscall's own rule says of its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Narrowing {
    /// A condition every call of the runs met.
    Condition(String),
    /// No condition: the runs did what the writer's condition for it would forbid (why, in
    /// words for a reviewer).
    GaveUp(&'static str),
    /// No condition: the writer has none for this syscall.
    Unconditional,
}

impl Narrowing {
    /// `cond`, or else the reason the runs left no condition.
    fn or_gave_up(cond: Option<String>, reason: &'static str) -> Narrowing {
        cond.map_or(Narrowing::GaveUp(reason), Narrowing::Condition)
    }

    /// The condition, if there is one.
    fn condition(&self) -> Option<&String> {
        match self {
            Narrowing::Condition(c) => Some(c),
            _ => None,
        }
    }
}

/// Why a call listing values lost its condition.
const TOO_MANY_VALUES: &str =
    "the runs used more distinct values than a rule lists: every value is allowed";

/// The condition of a syscall's own rule, or why it has none.
fn own_condition(arch: Arch, spec: &SyscallSpec, calls: &[[u64; 6]]) -> Narrowing {
    let arg = |name: &str| spec.args.iter().position(|a| a.name == name);
    let values = |i: usize| -> BTreeSet<u64> { calls.iter().map(|a| a[i]).collect() };
    let c = |name: &str| tables::constant(arch, name).unwrap_or(0) as u64;
    let values_listed = |name, mask, prefixes| {
        Narrowing::or_gave_up(
            listed(arch, spec, name, mask, prefixes, calls),
            TOO_MANY_VALUES,
        )
    };
    match spec.name {
        // Opening for writing is what most programs do: no reviewer's look for it.
        "open" | "openat" => {
            let mask = c("O_ACCMODE") | c("O_CREAT") | c("O_TRUNC");
            let read_only =
                arg("flags").is_some_and(|i| values(i).iter().all(|v| v & mask == c("O_RDONLY")));
            if read_only {
                Narrowing::Condition("flags & (O_ACCMODE | O_CREAT | O_TRUNC) == O_RDONLY".into())
            } else {
                Narrowing::Unconditional
            }
        }
        "mmap" | "mprotect" | "pkey_mprotect" => {
            let vs = arg("prot").map(values).unwrap_or_default();
            let (w, x) = (c("PROT_WRITE"), c("PROT_EXEC"));
            let cond = if arg("prot").is_none() {
                None
            } else if vs.iter().all(|v| v & x == 0) {
                Some("prot & PROT_EXEC == 0".into())
            } else if vs.iter().all(|v| v & (w | x) != (w | x)) {
                Some("prot & PROT_WRITE == 0 || prot & PROT_EXEC == 0".into())
            } else {
                None
            };
            Narrowing::or_gave_up(
                cond,
                "the runs made memory both writable and executable: every protection is allowed",
            )
        }
        // No new namespace unless one was seen made: a namespace of its own is the way out
        // of much of what the sandbox holds (the groups' own list of what they leave out).
        "clone" | "unshare" => {
            // For clone the low byte is the exit signal, where unshare has CLONE_NEWTIME.
            let (flags, gave_up) = match spec.name {
                "clone" => (
                    CLONE_NS.to_string(),
                    "the runs made new namespaces: every clone is allowed",
                ),
                _ => (
                    format!("{CLONE_NS} | CLONE_NEWTIME"),
                    "the runs made new namespaces: every unshare is allowed",
                ),
            };
            let ns = flags.split(" | ").map(c).fold(0, |acc, v| acc | v);
            let none_made = arg("flags").is_some_and(|i| values(i).iter().all(|v| v & ns == 0));
            Narrowing::or_gave_up(
                none_made.then(|| format!("flags & ({flags}) == 0")),
                gave_up,
            )
        }
        // Which kinds of namespace it joined (0: whatever the descriptor is).
        "setns" => values_listed("nstype", None, &["CLONE_NEW"]),
        "socket" | "socketpair" => values_listed("domain", None, &["AF_"]),
        "ioctl" => values_listed("request", None, describe::IOCTL_REQUEST_PREFIXES),
        "fcntl" => values_listed("cmd", None, &["F_"]),
        "prctl" => values_listed("option", None, &["PR_"]),
        "futex" => values_listed("futex_op", Some(0x7f), &["FUTEX_"]),
        "getrandom" => values_listed("flags", None, &["GRND_"]),
        // Only the operations seen: a filter of the program's own (SECCOMP_SET_MODE_FILTER)
        // is what the prelude's guard is there to stop unless it was used.
        "seccomp" => values_listed("operation", None, &["SECCOMP_SET_", "SECCOMP_GET_"]),
        // A query (0xffffffff) or the personalities seen: READ_IMPLIES_EXEC, for one, would
        // make every readable mapping executable.
        "personality" => values_listed("persona", None, &["PER_"]),
        _ => Narrowing::Unconditional,
    }
}

/// Why the rule for `name` needs a reviewer's look, if it does: a call that no built-in group
/// allows, allowed outright; any `setns`; or a condition the program's own use did not let the
/// writer keep.
fn review(name: &str, own: &Narrowing) -> Option<&'static str> {
    let never = sandbox_policy::groups::NEVER_IN_A_GROUP.contains(&name);
    match own {
        Narrowing::Condition(_) if name == "setns" => {
            Some("it joins namespaces, of the types listed")
        }
        Narrowing::Condition(_) => None,
        _ if never => {
            Some("no built-in group allows this call: it reaches past what the sandbox holds")
        }
        Narrowing::GaveUp(reason) => Some(reason),
        Narrowing::Unconditional if !some_group_allows(name) => {
            Some("no built-in group allows this call: check what it lets the program do")
        }
        Narrowing::Unconditional => None,
    }
}

/// Whether a built-in group lets `name` run, under some arguments, on some architecture.
fn some_group_allows(name: &str) -> bool {
    groups().iter().any(|g| {
        g.checked.arches.iter().any(|c| {
            tables::syscall_by_name(c.arch, name)
                .and_then(|s| c.syscalls.get(&s.nr))
                .is_some_and(|branches| branches.iter().any(|b| b.action.permits()))
        })
    })
}

/// `ARG == A || ARG == B ...` (with `& MASK` when given) over the values seen.
fn listed(
    arch: Arch,
    spec: &SyscallSpec,
    name: &str,
    mask: Option<u64>,
    prefixes: &[&str],
    calls: &[[u64; 6]],
) -> Option<String> {
    let i = spec.args.iter().position(|a| a.name == name)?;
    let bits = spec.args[i].ty.bits();
    let vs: BTreeSet<u64> = calls
        .iter()
        .map(|a| a[i] & mask.unwrap_or(u64::MAX))
        .collect();
    if vs.len() > MAX_LISTED {
        return None;
    }
    let lhs = match mask {
        Some(m) => format!("{name} & {m:#x}"),
        None => name.to_string(),
    };
    let terms: Vec<String> = vs
        .iter()
        .map(
            |v| match describe::constant_name(arch, prefixes, bits, *v) {
                Some(n) => format!("{lhs} == {n}"),
                None if *v < 10 => format!("{lhs} == {v}"),
                None => format!("{lhs} == {v:#x}"),
            },
        )
        .collect();
    Some(terms.join(" || "))
}

/// A policy written from what was learnt.
pub struct Written {
    /// The policy text.
    pub text: String,
    /// How many rules the compiled policy has (groups' rules included).
    pub rules: usize,
    /// The groups used.
    pub groups: Vec<&'static str>,
    /// How many rules of its own the policy has.
    pub own_rules: usize,
    /// How many distinct syscalls the program made.
    pub syscalls: usize,
}

/// Picks groups, writes rules, compiles the text and checks that every recorded call is
/// allowed.
pub fn write_policy(learned: &Learned) -> Result<Written, String> {
    let arch = learned.arch;
    // Calls a sandbox refuses whatever the policy (EPERM while learning too): each gets the
    // refusing rule, first, and nothing else of the policy is made from them.
    let refusal = |c: &Call| refusal_where_unenforced(arch, c.nr, &c.args);
    let refusals: BTreeSet<String> = learned.calls.keys().filter_map(refusal).collect();
    let mut by_nr: BTreeMap<u32, Vec<[u64; 6]>> = BTreeMap::new();
    for c in learned.calls.keys().filter(|c| refusal(c).is_none()) {
        by_nr.entry(c.nr).or_default().push(c.args);
    }
    for nr in learned.wide.keys() {
        by_nr.entry(*nr).or_default();
    }
    // Calls of a wide syscall were not all kept: only a rule without condition allows them all.
    let wide = |nr: &u32| learned.wide.contains_key(nr);
    let known: BTreeMap<u32, &SyscallSpec> = by_nr
        .keys()
        .filter_map(|nr| tables::syscall_by_nr(arch, *nr).map(|s| (*nr, s)))
        .collect();
    let conditions: BTreeMap<u32, Narrowing> = known
        .iter()
        .map(|(nr, s)| match wide(nr) {
            true => (*nr, Narrowing::Unconditional),
            false => (*nr, own_condition(arch, s, &by_nr[nr])),
        })
        .collect();

    // Eligible groups, and which recorded syscalls each covers.
    // (name, recorded syscalls it covers, its size, the syscalls it allows that no run made)
    let mut candidates: Vec<(&'static str, BTreeSet<u32>, usize, Vec<u32>)> = Vec::new();
    for g in groups() {
        let mine = &g.checked.arch(arch).syscalls;
        let allows = |nr: u32, args: &[u64; 6]| {
            g.checked
                .decide(arch, arch.audit_arch(), nr, args)
                .verdict
                .action
                == Action::Allow
        };
        let eligible = mine.iter().all(|(nr, branches)| {
            let Some(calls) = by_nr.get(nr) else {
                return true;
            };
            let outright = branches
                .iter()
                .any(|b| b.cond.is_none() && b.action == Action::Allow);
            let loosens = conditions.get(nr).is_some_and(|n| n.condition().is_some()) && outright;
            !loosens && (outright || !wide(nr)) && calls.iter().all(|a| allows(*nr, a))
        });
        let covers: BTreeSet<u32> = mine
            .keys()
            .filter(|nr| known.contains_key(nr))
            .copied()
            .collect();
        if eligible && !covers.is_empty() {
            let unseen = mine.iter().filter(|(nr, branches)| {
                !by_nr.contains_key(nr) && branches.iter().any(|b| b.action == Action::Allow)
            });
            let unseen = unseen.map(|(nr, _)| *nr).collect();
            candidates.push((g.name, covers, mine.len(), unseen));
        }
    }
    let mut covered: BTreeSet<u32> = BTreeSet::new();
    let mut chosen: Vec<(&'static str, BTreeSet<u32>, &[u32])> = Vec::new();
    // Greedily: the group covering most still-uncovered syscalls (then the smaller, then by
    // name), while it covers at least two. A chosen group covers nothing new, so never wins again.
    while let Some((name, covers, _, unseen)) =
        candidates.iter().max_by_key(|(name, covers, size, _)| {
            (
                covers.difference(&covered).count(),
                std::cmp::Reverse(*size),
                std::cmp::Reverse(*name),
            )
        })
    {
        let new: BTreeSet<u32> = covers.difference(&covered).copied().collect();
        if new.len() < 2 {
            break;
        }
        covered.extend(&new);
        chosen.push((name, new, unseen));
    }

    let name = |nr: &u32| known[nr].name;
    let mut text = header(learned, by_nr.len());
    text.push_str("default kill;\n");
    if !refusals.is_empty() {
        text.push_str(&wrap_comment(
            "Refused with EPERM while learning, as a sandbox refuses them under any policy: \
             they reach past what a namespace bounds (or, io_uring, past the filter).",
        ));
        for r in &refusals {
            text.push_str(&format!("{r};\n"));
        }
    }
    for (g, new, unseen) in &chosen {
        let names: Vec<&str> = new.iter().map(name).collect();
        text.push_str(&wrap_comment(&format!("{g}: {}", names.join(", "))));
        let unseen: Vec<&str> = unseen
            .iter()
            .filter_map(|nr| tables::syscall_by_nr(arch, *nr).map(|s| s.name))
            .collect();
        if !unseen.is_empty() {
            let also = format!(
                "{g} also allows, not seen on these runs: {}",
                unseen.join(", ")
            );
            text.push_str(&wrap_comment(&also));
        }
        text.push_str(&format!("use {g};\n"));
    }
    // (name, own condition, why a reviewer should look)
    let mut own: Vec<(&str, Option<&String>, Option<&str>)> = known
        .keys()
        .filter(|nr| !covered.contains(nr))
        .map(|nr| {
            let cond = conditions[nr].condition();
            // Not all its calls were kept: that says more than what its name suggests.
            let reason = if wide(nr) {
                Some("the runs made more distinct calls than are kept: every call is allowed")
            } else {
                review(name(nr), &conditions[nr])
            };
            (name(nr), cond, reason)
        })
        .collect();
    own.sort();
    let unconditional: Vec<&str> = own
        .iter()
        .filter(|(_, c, reason)| c.is_none() && reason.is_none())
        .map(|(n, _, _)| *n)
        .collect();
    let mut own_rules = 0;
    if !own.is_empty() {
        text.push_str("// Not covered by a group:\n");
    }
    for line in wrap_names(&unconditional) {
        text.push_str(&format!("allow {line};\n"));
        own_rules += 1;
    }
    for (n, c, reason) in &own {
        if let Some(reason) = reason {
            text.push_str(&wrap_comment(&format!("REVIEW: {reason}")));
        }
        match c {
            Some(c) => text.push_str(&format!("allow {n} if {c};\n")),
            None if reason.is_some() => text.push_str(&format!("allow {n};\n")),
            None => continue,
        }
        own_rules += 1;
    }
    let unknown: Vec<&u32> = by_nr.keys().filter(|nr| !known.contains_key(nr)).collect();
    for nr in unknown.iter().take(MAX_UNKNOWN_NAMED) {
        text.push_str(&format!(
            "// syscall number {nr} is not in the tables: it stays killed\n"
        ));
    }
    if unknown.len() > MAX_UNKNOWN_NAMED {
        let more = unknown.len() - MAX_UNKNOWN_NAMED;
        text.push_str(&format!(
            "// and {more} more syscall numbers not in the tables: they stay killed\n"
        ));
    }
    if learned.unknown_not_kept > 0 {
        let calls = learned.unknown_not_kept;
        text.push_str(&format!(
            "// and {calls} calls of further numbers not in the tables, not kept: they stay killed\n"
        ));
    }

    let compilation = compile_text("learnt.policy", None, &text, &mut NoIncludes);
    let compiled = match compilation.result {
        Ok(c) => c,
        Err(_) => return Err(format!("{}\n{text}", compilation.render_errors())),
    };
    let in_tables = |c: &&Call| tables::syscall_by_nr(arch, c.nr).is_some();
    for c in learned.calls.keys().filter(in_tables) {
        let d = compiled
            .checked
            .decide(arch, arch.audit_arch(), c.nr, &c.args);
        let answer = match refusal(c) {
            Some(_) => Action::Errno(libc::EPERM as u16),
            None => Action::Allow,
        };
        if d.verdict.action != answer {
            return Err(format!(
                "{}({:#x?}) is not answered as while learning ({answer}) by the learnt \
                 policy:\n{text}",
                name(&c.nr),
                c.args
            ));
        }
    }
    Ok(Written {
        rules: compiled.policy.rules.len(),
        groups: chosen.iter().map(|(g, _, _)| *g).collect(),
        own_rules,
        syscalls: known.len(),
        text,
    })
}

fn header(learned: &Learned, syscalls: usize) -> String {
    let mut h = String::from("// Learnt with `sandbox learn` from these runs (UTC dates):\n");
    for r in &learned.runs {
        let cmd: Vec<String> = r.command.iter().map(|a| shell_quote(a)).collect();
        // The date comes from the sidecar too, which anyone may have edited.
        h.push_str(&wrap_comment(&format!(
            "{}: {}",
            sanitize(&r.date),
            cmd.join(" ")
        )));
        if !r.outcome.is_empty() {
            h.push_str(&format!("//     {}\n", sanitize(&r.outcome)));
        }
    }
    h.push_str(&format!(
        "// {} distinct calls of {syscalls} syscalls were recorded with the filter not enforced.\n\
         // Anything not allowed below is killed. The groups used also allow the calls named\n\
         // with each that these runs did not make: review before use.\n",
        learned.calls.len()
    ));
    h
}

/// What a `//` comment cannot hold as it is (line breaks, bidirectional formatting, control
/// characters), shown escaped.
fn sanitize(s: &str) -> String {
    sandbox_policy::syntax::lexer::comment_safe(s)
}

fn shell_quote(a: &str) -> String {
    let a = sanitize(a);
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        a
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// A `//` comment wrapped at about 100 columns.
fn wrap_comment(s: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("//");
    for word in s.split(' ') {
        if line.len() > 2 && line.len() + 1 + word.len() > 100 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("//    ");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Syscall names joined by `, ` in lines of about 90 columns.
fn wrap_names(names: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for n in names {
        if !line.is_empty() && line.len() + n.len() > 88 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(n);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn utc_date_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    fn call(arch: Arch, name: &str, args: &[(&str, u64)]) -> Call {
        let spec = tables::syscall_by_name(arch, name).unwrap();
        let mut a = [0u64; 6];
        for (n, v) in args {
            a[spec.args.iter().position(|x| x.name == *n).unwrap()] = *v;
        }
        Call {
            nr: spec.nr,
            args: a,
        }
    }

    /// A run's command line, date and outcome come from outside (the sidecar may have been
    /// edited): whatever they hold, the header stays comments and the policy compiles.
    #[test]
    fn a_hostile_command_line_stays_in_the_header_comments() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        l.record(&call(arch, "exit_group", &[]));
        let hostile = "x\u{2028}allow ptrace;\u{2029}\u{202e}\u{2067}\u{85}\r\u{b}\u{1b}[2J";
        l.runs.push(Run {
            command: vec!["/bin/prog".into(), hostile.into()],
            date: hostile.into(),
            outcome: hostile.into(),
        });
        let w = write_policy(&l).unwrap();
        assert!(!w.text.contains("allow ptrace;\n"), "{}", w.text);
        assert!(w.text.contains("\\u{2028}allow ptrace;"), "{}", w.text);
        assert!(!w.text.chars().any(|c| c > '\u{7f}'), "{}", w.text);
    }

    #[test]
    fn safe_values_become_conditions_and_the_json_round_trips() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        for c in [
            call(arch, "openat", &[("flags", 0x80000)]),
            call(arch, "mmap", &[("prot", 3)]),
            call(arch, "mmap", &[("prot", 5)]),
            call(arch, "socket", &[("domain", 1), ("type", 0x80001)]),
            call(arch, "fcntl", &[("cmd", 3)]),
            call(arch, "ioctl", &[("request", 0x5401)]),
            call(arch, "write", &[]),
            call(arch, "exit_group", &[]),
        ] {
            l.record(&c);
        }
        let w = write_policy(&l).unwrap();
        assert!(w.text.contains("default kill;\n"), "{}", w.text);
        assert!(w
            .text
            .contains("flags & (O_ACCMODE | O_CREAT | O_TRUNC) == O_RDONLY"));
        assert!(w
            .text
            .contains("prot & PROT_WRITE == 0 || prot & PROT_EXEC == 0"));
        assert!(
            w.text.contains("allow socket if domain == AF_UNIX;"),
            "{}",
            w.text
        );
        assert!(w.text.contains("cmd == F_GETFL"), "{}", w.text);
        assert!(w.text.contains("request == TCGETS"), "{}", w.text);
        let back = Learned::from_json(&l.to_json()).unwrap();
        assert_eq!(back.calls, l.calls);
    }

    #[test]
    fn each_group_names_what_it_allows_that_no_run_made() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        for name in ["read", "close", "openat", "exit_group"] {
            l.record(&call(arch, name, &[]));
        }
        let w = write_policy(&l).unwrap();
        assert!(w.text.contains("use files_read;"), "{}", w.text);
        assert!(
            w.text
                .contains("// files_read also allows, not seen on these runs: open, stat,"),
            "{}",
            w.text
        );
        // What a group mentions but does not allow (the runtime's exec check) is not named.
        assert!(!w.text.contains("execveat"), "{}", w.text);
        assert!(
            !w.text.contains("did not do on these runs is killed"),
            "{}",
            w.text
        );
    }

    #[test]
    fn what_the_runs_did_not_let_the_writer_narrow_is_marked_for_review() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        l.record(&call(arch, "ptrace", &[]));
        l.record(&call(arch, "mmap", &[("prot", 7)])); // read, write and execute
                                                       // Terminal requests from TIOCGETD on, past every one the prelude refuses.
        for request in 0..=MAX_LISTED as u64 {
            l.record(&call(arch, "ioctl", &[("request", 0x5424 + request)]));
        }
        let newuser = tables::constant(arch, "CLONE_NEWUSER").unwrap() as u64;
        l.record(&call(arch, "clone", &[("flags", newuser)]));
        l.record(&call(arch, "unshare", &[("flags", newuser)]));
        l.record(&call(arch, "exit_group", &[]));
        let w = write_policy(&l).unwrap();
        for (rule, why) in [
            ("allow ptrace;", "no built-in group allows this call"),
            ("allow mmap;", "both writable and executable"),
            ("allow ioctl;", "more distinct values than a rule lists"),
            ("allow clone;", "made new namespaces"),
            ("allow unshare;", "no built-in group allows this call"),
        ] {
            let at = w
                .text
                .find(rule)
                .unwrap_or_else(|| panic!("{rule}\n{}", w.text));
            let before = w.text[..at].lines().last().unwrap_or("");
            assert!(
                before.contains("REVIEW:") && before.contains(why),
                "{}",
                w.text
            );
        }
        assert!(w.text.contains("allow exit_group;"), "{}", w.text);
    }

    /// A call no built-in group allows, allowed outright, is marked whatever it is; seccomp and
    /// personality keep the operations and personalities the runs used.
    #[test]
    fn calls_no_group_allows_are_marked_and_seccomp_and_personality_narrowed() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        l.record(&call(arch, "chroot", &[]));
        l.record(&call(arch, "seccomp", &[("operation", 2)])); // SECCOMP_GET_ACTION_AVAIL
        l.record(&call(arch, "personality", &[("persona", 0xffff_ffff)]));
        l.record(&call(arch, "exit_group", &[]));
        let w = write_policy(&l).unwrap();
        let at = w
            .text
            .find("allow chroot;")
            .unwrap_or_else(|| panic!("{}", w.text));
        let before = w.text[..at].lines().last().unwrap_or("");
        assert!(
            before.contains("REVIEW: no built-in group allows this call"),
            "{}",
            w.text
        );
        assert!(
            w.text
                .contains("allow seccomp if operation == SECCOMP_GET_ACTION_AVAIL;"),
            "{}",
            w.text
        );
        assert!(
            w.text
                .contains("allow personality if persona == 0xffffffff;"),
            "{}",
            w.text
        );
        // Allowed by a group: no review.
        assert!(!w
            .text
            .contains("REVIEW: no built-in group allows this call\nallow exit_group"));
    }

    #[test]
    fn endless_distinct_calls_are_counted_not_kept() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        let extra = 50;
        for request in 0..(MAX_KEPT + extra) as u64 {
            l.record(&call(arch, "ioctl", &[("request", 0x1_0000 + request)]));
        }
        for nr in 0..100u32 {
            l.record(&Call {
                nr: 100_000 + nr,
                args: [0; 6],
            });
        }
        l.record(&call(arch, "exit_group", &[]));
        let ioctl = tables::syscall_by_name(arch, "ioctl").unwrap().nr;
        let kept = l.calls.keys().filter(|c| c.nr == ioctl).count();
        assert_eq!(kept, MAX_KEPT);
        assert_eq!(l.wide.get(&ioctl), Some(&(extra as u64)));
        // The sidecar keeps what was not kept, and the policy allows every ioctl, for review.
        let back = Learned::from_json(&l.to_json()).unwrap();
        assert_eq!(back.wide, l.wide);
        let w = write_policy(&back).unwrap();
        let at = w.text.find("allow ioctl;").expect("ioctl allowed outright");
        let before = w.text[..at].lines().last().unwrap_or("");
        assert!(before.contains("REVIEW:"), "{}", w.text);
        let unknown = w
            .text
            .lines()
            .filter(|l| l.contains("not in the tables"))
            .count();
        assert_eq!(unknown, MAX_UNKNOWN_NAMED + 2, "{}", w.text);
        // Only the first unknown numbers are kept; the calls of the rest are counted, and the
        // count survives the sidecar.
        let kept_unknown = l.calls.keys().filter(|c| c.nr >= 100_000).count();
        assert_eq!(kept_unknown, MAX_UNKNOWN_KEPT);
        assert_eq!(l.unknown_not_kept, 100 - MAX_UNKNOWN_KEPT as u64);
        assert_eq!(back.unknown_not_kept, l.unknown_not_kept);
        assert!(
            w.text.contains("and 36 calls of further numbers"),
            "{}",
            w.text
        );
    }

    #[test]
    fn a_sidecars_counts_add_up_without_overflowing() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        l.record(&call(arch, "exit_group", &[]));
        let mut v: Value = serde_json::from_str(&l.to_json()).unwrap();
        let calls = v["calls"].as_array_mut().unwrap();
        calls[0]["count"] = json!(u64::MAX);
        calls.push(calls[0].clone());
        let back = Learned::from_json(&v.to_string()).expect("read back");
        assert_eq!(back.calls.values().copied().collect::<Vec<_>>(), [u64::MAX]);
    }

    /// A sidecar is read back only as written: an entry naming no syscall of the machine, a
    /// name and a number that disagree, a negative or zero count, or a number that is not one
    /// is an error, not an entry taken by whichever field happens to parse.
    #[test]
    fn a_sidecar_entry_that_does_not_read_back_is_an_error() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        l.record(&call(arch, "exit_group", &[]));
        let written: Value = serde_json::from_str(&l.to_json()).unwrap();
        let with = |field: &str, value: Value| {
            let mut v = written.clone();
            v["calls"][0][field] = value;
            Learned::from_json(&v.to_string())
        };
        assert!(with("count", json!(3)).is_ok());
        for (field, value) in [
            ("syscall", json!("exit_group\nallow ptrace;")),
            ("syscall", json!("no_such_call")),
            ("syscall", json!(7)),
            ("syscall", json!("read")),
            ("nr", json!(-5)),
            ("nr", json!(1u64 << 40)),
            ("count", json!(-1)),
            ("count", json!(0)),
            ("count", json!("many")),
        ] {
            let back = with(field, value.clone());
            assert!(back.is_err(), "{field} = {value} was read back");
        }
        // A number without a name, as a sidecar names a call the tables do not know.
        let mut v = written.clone();
        v["calls"][0]["syscall"] = json!("unknown");
        v["calls"][0]["nr"] = json!(100_000);
        assert!(Learned::from_json(&v.to_string()).is_ok());
    }

    #[test]
    fn unshare_and_setns_learn_only_the_namespaces_seen() {
        let arch = Arch::X86_64;
        let mut l = Learned::new(arch);
        for c in [
            call(arch, "unshare", &[("flags", 0x400)]), // CLONE_FILES
            call(arch, "setns", &[("fd", 3), ("nstype", 0x4000_0000)]), // CLONE_NEWNET
            call(arch, "exit_group", &[]),
        ] {
            l.record(&c);
        }
        let w = write_policy(&l).unwrap();
        assert!(
            w.text.contains(
                "allow unshare if flags & (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
                 CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME) == 0;"
            ),
            "{}",
            w.text
        );
        assert!(
            w.text.contains("allow setns if nstype == CLONE_NEWNET;"),
            "{}",
            w.text
        );
        // And the policy it wrote keeps a new user namespace out.
        let compiled = compile_text("learned", None, &w.text, &mut NoIncludes)
            .result
            .expect("the learned policy compiles");
        let prog = compiled.policy.program(arch).unwrap();
        let unshare = tables::syscall_by_name(arch, "unshare").unwrap().nr;
        let data = |flags: u64| sandbox_policy::eval::SeccompData {
            nr: unshare as i32,
            arch: arch.audit_arch(),
            instruction_pointer: 0,
            args: [flags, 0, 0, 0, 0, 0],
        };
        let verdict = |flags| {
            sandbox_policy::eval::run(&prog.filter, &data(flags))
                .unwrap()
                .ret
        };
        assert_eq!(verdict(0x400), sandbox_policy::bpf::ret::ALLOW);
        assert_ne!(verdict(0x1000_0000), sandbox_policy::bpf::ret::ALLOW); // CLONE_NEWUSER
    }
}
