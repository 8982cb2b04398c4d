//! Differential tests: the generated program, run by the evaluator, must give the same verdict
//! as the policy's meaning (the checked policy's interpreter) on every probe; and, for policies
//! seccompiler 0.5 can express, the same action as seccompiler's program for the same rules.
//! Probes include every boundary where width and sign mistakes hide.

mod common;

use common::Rng;

use sandbox_policy::arch::{AUDIT_ARCH_I386, X32_SYSCALL_BIT};
use sandbox_policy::bpf::{ret, SockFilter};
use sandbox_policy::eval::{self, SeccompData};
use sandbox_policy::host_guard::{self, ForeignCalls, Guards};
use sandbox_policy::tables::{self, ArgType};
use sandbox_policy::{cache, compile_text, groups, stack, Arch, Compiled, NoIncludes};
use std::collections::BTreeMap;
use std::fmt::Write;

const BOUNDARIES: [u64; 16] = [
    0,
    1,
    2,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    1 << 32,
    (1 << 32) | 1,
    0x7fff_ffff_ffff_ffff,
    1 << 63,
    u64::MAX,
    0xffff_ffff_ffff_ff9c, // AT_FDCWD sign-extended
    0x0000_0000_ffff_ff9c, // AT_FDCWD zero-extended
    0xffff_ffff_8000_0000,
    0x0000_0001_0000_0000,
];

fn compile(text: &str) -> Compiled {
    let c = compile_text("random.policy", None, text, &mut NoIncludes);
    match c.result {
        Ok(compiled) => compiled,
        Err(_) => panic!("policy failed to compile:\n{text}\n{}", c.render_errors()),
    }
}

/// A random constant that fits an argument of this type, near interesting values.
fn constant_for(rng: &mut Rng, ty: ArgType) -> i128 {
    let bits = ty.bits();
    let candidates: [i128; 9] = [
        0,
        1,
        -1,
        -100,
        (1i128 << (bits - 1)) - 1,
        -(1i128 << (bits - 1)),
        (1i128 << bits) - 1,
        (rng.next() % 4096) as i128,
        (rng.next() as i128) & ((1i128 << bits) - 1),
    ];
    *rng.pick_ref(&candidates)
}

fn literal(v: i128) -> String {
    if v < 0 {
        format!("-{}", -v)
    } else {
        format!("{v:#x}")
    }
}

fn random_cond(
    rng: &mut Rng,
    spec: &tables::SyscallSpec,
    depth: u32,
    used: &mut Vec<u64>,
) -> String {
    if depth > 0 && rng.chance(40) {
        let a = random_cond(rng, spec, depth - 1, used);
        let b = random_cond(rng, spec, depth - 1, used);
        return match rng.index(3) {
            0 => format!("({a} && {b})"),
            1 => format!("({a} || {b})"),
            _ => format!("!({a})"),
        };
    }
    let i = rng.index(spec.args.len());
    let arg = spec.args[i];
    let name = if rng.chance(20) {
        format!("arg{i}")
    } else {
        arg.name.to_string()
    };
    let op = *rng.pick_ref(&["==", "!=", "<", "<=", ">", ">="]);
    let mask = rng
        .chance(30)
        .then(|| (rng.next() as i128) & ((1i128 << arg.ty.bits()) - 1));
    let value = as_checker_accepts(arg.ty, op, mask, constant_for(rng, arg.ty));
    used.push(value as u64);
    used.push((value as u64).wrapping_add(1));
    used.push((value as u64).wrapping_sub(1));
    match mask {
        Some(mask) => {
            used.push(mask as u64);
            format!("{name} & {mask:#x} {op} {}", literal(value))
        }
        None => format!("{name} {op} {}", literal(value)),
    }
}

/// `value` written as the checker accepts it in `arg OP value` (with `mask`), meaning what the
/// compiler reads it as: an ordering takes the number the argument's type reads (a signed
/// argument's 0xffffffff is -1, an unsigned one's -1 all ones; a masked value is unsigned), and a
/// masked equality keeps only the mask's bits (any other would fix its outcome, which the
/// checker refuses).
fn as_checker_accepts(ty: ArgType, op: &str, mask: Option<i128>, value: i128) -> i128 {
    let bits = ty.bits();
    let pattern = value.rem_euclid(1i128 << bits);
    match mask {
        Some(m) if op == "==" || op == "!=" => pattern & m,
        Some(_) => pattern,
        None if op == "==" || op == "!=" => value,
        None if ty.signed() && pattern >= 1i128 << (bits - 1) => pattern - (1i128 << bits),
        None => pattern,
    }
}

const ACTIONS: [&str; 6] = [
    "allow",
    "log",
    "errno(EPERM)",
    "trap",
    "kill",
    "kill_thread",
];

/// A random policy over syscalls that exist on both architectures, with the numbers used.
fn random_policy(rng: &mut Rng) -> (String, Vec<u64>) {
    let both: Vec<&tables::SyscallSpec> = tables::syscalls(Arch::X86_64)
        .iter()
        .filter(|s| tables::syscall_by_name(Arch::Aarch64, s.name).is_some())
        .collect();
    let mut text = format!("default {};\n", rng.pick_ref(&ACTIONS));
    let mut used = Vec::new();
    let mut closed: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.index(25) {
        let spec = *rng.pick_ref(&both);
        if closed.contains(&spec.name) {
            continue;
        }
        let action = rng.pick_ref(&ACTIONS);
        if spec.args.is_empty() || rng.chance(30) {
            closed.push(spec.name);
            writeln!(text, "{action} {};", spec.name).unwrap();
        } else {
            let cond = random_cond(rng, spec, 2, &mut used);
            writeln!(text, "{action} {} if {cond};", spec.name).unwrap();
        }
    }
    (text, used)
}

fn probe_args(rng: &mut Rng, used: &[u64]) -> [u64; 6] {
    let mut args = [0u64; 6];
    for a in &mut args {
        *a = match rng.index(4) {
            0 => *rng.pick_ref(&BOUNDARIES),
            1 if !used.is_empty() => {
                // A used constant, sometimes with the other word changed.
                let v = *rng.pick_ref(used);
                match rng.index(3) {
                    0 => v,
                    1 => v | 0xffff_ffff_0000_0000,
                    _ => v & 0xffff_ffff,
                }
            }
            _ => rng.next(),
        };
    }
    args
}

/// Checks the program against the meaning for many probes; returns the number of probes.
fn check_against_meaning(compiled: &Compiled, rng: &mut Rng, used: &[u64], text: &str) -> usize {
    let mut probes = 0;
    for program in compiled.policy.programs.iter() {
        let arch = program.arch;
        let named: Vec<u32> = compiled
            .checked
            .arch(arch)
            .syscalls
            .keys()
            .copied()
            .collect();
        for _ in 0..300 {
            let nr = match rng.index(6) {
                0..=2 if !named.is_empty() => *rng.pick_ref(&named),
                3 => rng.next() as u32,
                4 => *rng.pick_ref(&[0, 1, X32_SYSCALL_BIT - 1, X32_SYSCALL_BIT, u32::MAX, 500]),
                _ => rng.index(460) as u32,
            };
            let audit = if rng.chance(3) {
                AUDIT_ARCH_I386
            } else {
                arch.audit_arch()
            };
            let args = probe_args(rng, used);
            let data = SeccompData {
                nr: nr as i32,
                arch: audit,
                instruction_pointer: rng.next(),
                args,
            };
            let got = eval::run(&program.filter, &data)
                .unwrap_or_else(|e| panic!("evaluation failed: {e}\n{text}"))
                .ret;
            let want = compiled
                .checked
                .decide(arch, audit, nr, &args)
                .verdict
                .ret_value();
            assert_eq!(
                got, want,
                "{arch}: nr {nr} args {args:#x?}: program returns {got:#x}, meaning {want:#x}\n{text}"
            );
            probes += 1;
        }
    }
    probes
}

#[test]
fn random_policies_match_their_meaning() {
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let mut probes = 0;
    for _ in 0..600 {
        let (text, used) = random_policy(&mut rng);
        let compiled = compile(&text);
        probes += check_against_meaning(&compiled, &mut rng, &used, &text);
    }
    assert!(probes > 300_000);
}

#[test]
fn every_group_matches_its_meaning() {
    let mut rng = Rng(42);
    for group in groups::GROUPS {
        for default in ["kill", "errno(EPERM)", "allow"] {
            let text = format!("default {default};\nuse {};\n", group.name);
            let compiled = compile(&text);
            let used: Vec<u64> = (0..64).map(|i| 1u64 << i).collect();
            check_against_meaning(&compiled, &mut rng, &used, &text);
        }
    }
}

#[test]
fn the_docker_like_benchmark_policy_matches_its_meaning() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/policies/docker-like.policy"
    ))
    .expect("benches/policies/docker-like.policy");
    let compiled = compile(&text);
    let mut rng = Rng(7);
    let used = vec![0, 8, 0x20000, 0x20008, 0xffff_ffff, 40, 1, 2, 10];
    for _ in 0..20 {
        check_against_meaning(&compiled, &mut rng, &used, &text);
    }
}

// --- seccompiler 0.5 -------------------------------------------------------------------------

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// A comparison both generators can express: unsigned (or equality) on one argument.
#[derive(Clone, Debug)]
struct SimpleCmp {
    arg: u8,
    wide: bool,
    op: &'static str,
    mask: Option<u64>,
    value: u64,
}

/// A policy of one match action plus a default: per syscall, unconditional or an OR of ANDs.
fn random_seccompiler_policy(
    rng: &mut Rng,
    arch: Arch,
) -> (
    String,
    BTreeMap<u32, Vec<Vec<SimpleCmp>>>,
    &'static str,
    &'static str,
) {
    let pairs = [
        ("allow", "kill"),
        ("errno(EPERM)", "allow"),
        ("kill", "allow"),
        ("trap", "log"),
        ("allow", "errno(EACCES)"),
    ];
    let (matched, default) = *rng.pick_ref(&pairs);
    // Every call a rule may name (not those no filter sees).
    let table: Vec<&tables::SyscallSpec> = tables::syscalls(arch)
        .iter()
        .filter(|s| !tables::UNFILTERED_SYSCALLS.contains(&s.name))
        .collect();
    let mut rules: BTreeMap<u32, Vec<Vec<SimpleCmp>>> = BTreeMap::new();
    for _ in 0..1 + rng.index(30) {
        let spec = *rng.pick_ref(&table);
        let mut alternatives = Vec::new();
        if !spec.args.is_empty() && rng.chance(70) {
            for _ in 0..1 + rng.index(3) {
                let mut conj = Vec::new();
                for _ in 0..1 + rng.index(3) {
                    let i = rng.index(spec.args.len());
                    let ty = spec.args[i].ty;
                    // Signed ordering means different things to the two generators: equality
                    // and masks only on signed types.
                    let ops: &[&str] = if ty.signed() {
                        &["==", "!="]
                    } else {
                        &["==", "!=", "<", "<=", ">", ">="]
                    };
                    let width = if ty.bits() == 64 {
                        u64::MAX
                    } else {
                        0xffff_ffff
                    };
                    let value = (constant_for(rng, ArgType::U64) as u64)
                        & width
                        & if ty == ArgType::U16 { 0xffff } else { u64::MAX };
                    let masked = rng.chance(25);
                    let mask = masked.then(|| {
                        rng.next() & width & if ty == ArgType::U16 { 0xffff } else { u64::MAX }
                    });
                    conj.push(SimpleCmp {
                        arg: i as u8,
                        wide: ty.bits() == 64,
                        op: if masked {
                            "=="
                        } else {
                            ops[rng.index(ops.len())]
                        },
                        mask,
                        // A masked equality with bits outside the mask is refused.
                        value: mask.map_or(value, |m| value & m),
                    });
                }
                alternatives.push(conj);
            }
        }
        if ty_u16_free(spec) {
            rules.insert(spec.nr, alternatives);
        }
    }
    let mut text = format!("default {default};\n");
    for (nr, alts) in &rules {
        let spec = tables::syscall_by_nr(arch, *nr).unwrap();
        if alts.is_empty() {
            writeln!(text, "{matched} {};", spec.name).unwrap();
            continue;
        }
        let disj: Vec<String> = alts
            .iter()
            .map(|conj| {
                let parts: Vec<String> = conj
                    .iter()
                    .map(|c| match c.mask {
                        Some(m) => format!(
                            "{} & {m:#x} == {:#x}",
                            spec.args[usize::from(c.arg)].name,
                            c.value & m
                        ),
                        None => format!(
                            "{} {} {:#x}",
                            spec.args[usize::from(c.arg)].name,
                            c.op,
                            c.value
                        ),
                    })
                    .collect();
                format!("({})", parts.join(" && "))
            })
            .collect();
        writeln!(text, "{matched} {} if {};", spec.name, disj.join(" || ")).unwrap();
    }
    (text, rules, matched, default)
}

/// umode_t arguments are 16 bits wide for the kernel; seccompiler has no such width.
fn ty_u16_free(spec: &tables::SyscallSpec) -> bool {
    spec.args.iter().all(|a| a.ty != ArgType::U16)
}

fn seccompiler_action(text: &str) -> SeccompAction {
    match text {
        "allow" => SeccompAction::Allow,
        "kill" => SeccompAction::KillProcess,
        "trap" => SeccompAction::Trap,
        "log" => SeccompAction::Log,
        "errno(EPERM)" => SeccompAction::Errno(1),
        "errno(EACCES)" => SeccompAction::Errno(13),
        other => panic!("no seccompiler action for {other}"),
    }
}

fn seccompiler_program(
    rules: &BTreeMap<u32, Vec<Vec<SimpleCmp>>>,
    matched: &str,
    default: &str,
    arch: Arch,
) -> Vec<sandbox_policy::SockFilter> {
    let mut map = BTreeMap::new();
    for (nr, alts) in rules {
        let rs: Vec<SeccompRule> = alts
            .iter()
            .map(|conj| {
                let conds = conj
                    .iter()
                    .map(|c| {
                        let len = if c.wide {
                            SeccompCmpArgLen::Qword
                        } else {
                            SeccompCmpArgLen::Dword
                        };
                        let (op, value) = match (c.mask, c.op) {
                            (Some(m), _) => (SeccompCmpOp::MaskedEq(m), c.value & m),
                            (None, "==") => (SeccompCmpOp::Eq, c.value),
                            (None, "!=") => (SeccompCmpOp::Ne, c.value),
                            (None, "<") => (SeccompCmpOp::Lt, c.value),
                            (None, "<=") => (SeccompCmpOp::Le, c.value),
                            (None, ">") => (SeccompCmpOp::Gt, c.value),
                            (None, _) => (SeccompCmpOp::Ge, c.value),
                        };
                        SeccompCondition::new(c.arg, len, op, value).unwrap()
                    })
                    .collect();
                SeccompRule::new(conds).unwrap()
            })
            .collect();
        map.insert(i64::from(*nr), rs);
    }
    let target = match arch {
        Arch::X86_64 => TargetArch::x86_64,
        Arch::Aarch64 => TargetArch::aarch64,
    };
    let filter = SeccompFilter::new(
        map,
        seccompiler_action(default),
        seccompiler_action(matched),
        target,
    )
    .unwrap();
    let program: BpfProgram = filter.try_into().unwrap();
    program
        .into_iter()
        .map(|i| sandbox_policy::SockFilter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()
}

/// The action part of a return value (errno keeps its number; tags are dropped).
fn action_of(ret_value: u32) -> u32 {
    if ret_value & ret::ACTION_FULL == ret::ERRNO {
        ret_value
    } else {
        ret_value & ret::ACTION_FULL
    }
}

#[test]
fn random_policies_match_seccompiler() {
    let mut rng = Rng(0xdead_beef);
    let mut probes = 0;
    for round in 0..300 {
        let arch = Arch::ALL[round % 2];
        let (text, rules, matched, default) = random_seccompiler_policy(&mut rng, arch);
        let ours = compile(&text);
        let ours = &ours.policy.program(arch).unwrap().filter;
        let theirs = seccompiler_program(&rules, matched, default, arch);
        let used: Vec<u64> = rules
            .values()
            .flatten()
            .flatten()
            .flat_map(|c| {
                [
                    c.value,
                    c.value.wrapping_add(1),
                    c.value.wrapping_sub(1),
                    c.mask.unwrap_or(0),
                ]
            })
            .collect();
        let nrs: Vec<u32> = rules.keys().copied().collect();
        let clone3 = tables::syscall_by_name(arch, "clone3").map(|s| s.nr);
        for _ in 0..400 {
            let nr = if rng.chance(80) && !nrs.is_empty() {
                *rng.pick_ref(&nrs)
            } else {
                rng.index(460) as u32
            };
            let data = SeccompData {
                nr: nr as i32,
                arch: arch.audit_arch(),
                instruction_pointer: 0,
                args: probe_args(&mut rng, &used),
            };
            let a = action_of(eval::run(ours, &data).unwrap().ret);
            if Some(nr) == clone3 && !rules.contains_key(&nr) {
                // Our prelude answers an unnamed clone3 with ENOSYS; seccompiler has no prelude.
                assert_eq!(a, ret::ERRNO | 38);
                continue;
            }
            if prelude_kills(arch, &rules, default, nr) {
                assert_eq!(
                    a,
                    ret::KILL_PROCESS,
                    "{arch} nr {nr}: the prelude kills\n{text}"
                );
                continue;
            }
            let b = action_of(eval::run(&theirs, &data).unwrap().ret);
            if a == ret::KILL_PROCESS && prelude_may_kill(arch, nr, data.args[0]) {
                continue;
            }
            // A containment guard answers EPERM where the policy lets the call run.
            let refused = sandbox_policy::resolve::refusal_where_unenforced(arch, nr, &data.args)
                .is_some_and(|r| r.contains(" if "));
            if a == ret::ERRNO | 1 && refused && matches!(b, ret::ALLOW | ret::LOG) {
                continue;
            }
            assert_eq!(
                a, b,
                "{arch} nr {nr} args {:#x?}: ours {a:#x}, seccompiler {b:#x}\n{text}",
                data.args
            );
            probes += 1;
        }
    }
    assert!(probes >= 100_000);
}

/// Whether the prelude's guards kill call `nr` under a policy naming `rules` with `default`:
/// `seccomp`, `ptrace`, `io_uring_setup` and `request_key` where the policy leaves them to a
/// default that lets calls run. (`prctl(PR_SET_SECCOMP)` is killed too where the policy may let it
/// run: see [`prelude_may_kill`].)
fn prelude_kills(
    arch: Arch,
    rules: &BTreeMap<u32, Vec<Vec<SimpleCmp>>>,
    default: &str,
    nr: u32,
) -> bool {
    let nr_of = |name| tables::syscall_by_name(arch, name).map(|s| s.nr);
    let unnamed = |name| !nr_of(name).is_some_and(|n| rules.contains_key(&n));
    let default_runs = matches!(default, "allow" | "log");
    let guarded = ["seccomp", "ptrace", "io_uring_setup", "request_key"];
    default_runs && guarded.iter().any(|g| nr_of(g) == Some(nr) && unnamed(g))
}

/// Whether the prelude may have put a kill before the policy's answer: `prctl` with option
/// `PR_SET_SECCOMP` (22), `seccomp` with operation `SECCOMP_SET_MODE_FILTER` (1). Whether it
/// did depends on the policy's rules (see `prelude_guards_follow_what_the_policy_names`); here
/// it is enough that it only ever kills.
fn prelude_may_kill(arch: Arch, nr: u32, arg0: u64) -> bool {
    let nr_of = |name| tables::syscall_by_name(arch, name).map(|s| s.nr);
    (nr_of("prctl") == Some(nr) && arg0 as u32 == 22)
        || (nr_of("seccomp") == Some(nr) && arg0 as u32 == 1)
}

/// Where seccompiler is known to be wrong: it does not kill x32-numbered calls, so an
/// allow-by-default (deny-list) filter lets `nr | 0x40000000` through. Ours kills them.
#[test]
fn x32_numbers_are_killed_where_seccompiler_lets_them_through() {
    let text = "default allow;\nkill ptrace;\n";
    let ours = compile(text);
    let ours = &ours.policy.program(Arch::X86_64).unwrap().filter;
    let mut rules = BTreeMap::new();
    rules.insert(101u32, Vec::new());
    let theirs = seccompiler_program(&rules, "kill", "allow", Arch::X86_64);
    let x32_ptrace = SeccompData {
        nr: (101 | X32_SYSCALL_BIT) as i32,
        arch: Arch::X86_64.audit_arch(),
        instruction_pointer: 0,
        args: [0; 6],
    };
    assert_eq!(
        action_of(eval::run(&theirs, &x32_ptrace).unwrap().ret),
        ret::ALLOW
    );
    assert_eq!(
        action_of(eval::run(ours, &x32_ptrace).unwrap().ret),
        ret::KILL_PROCESS
    );
}

/// The prelude's guards against getting around the filter, case by case: what each policy's
/// program answers for `seccomp`, `ptrace`, `io_uring_setup` and `prctl(PR_SET_SECCOMP)` (and
/// another `prctl`), on x86-64.
#[test]
fn prelude_guards_follow_what_the_policy_names() {
    const KILL: u32 = ret::KILL_PROCESS;
    const ALLOW: u32 = ret::ALLOW;
    const EPERM: u32 = ret::ERRNO | 1;
    let cases: [(&str, [u32; 5]); 17] = [
        // seccomp, ptrace, io_uring_setup, prctl(PR_SET_SECCOMP), prctl(PR_SET_NAME)
        ("default allow;", [KILL, KILL, KILL, KILL, ALLOW]),
        ("default log;", [KILL, KILL, KILL, KILL, ret::LOG]),
        (
            "default allow;\nallow seccomp, ptrace, io_uring_setup;",
            [ALLOW, ALLOW, ALLOW, ALLOW, ALLOW],
        ),
        (
            "default kill;\nallow prctl;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default errno(EPERM);\nallow prctl;",
            [EPERM, EPERM, EPERM, KILL, ALLOW],
        ),
        ("default errno(EPERM);", [EPERM, EPERM, EPERM, EPERM, EPERM]),
        // Naming seccomp to refuse it is no opt-in to filters through prctl.
        (
            "default allow;\nkill seccomp;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default allow;\nerrno(EPERM) seccomp;",
            [EPERM, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default allow;\nallow seccomp if operation == SECCOMP_GET_ACTION_AVAIL;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        // A rule that also looks at another argument, but whose operation can never be
        // SECCOMP_SET_MODE_FILTER, opts in to nothing: prctl's way to a filter stays closed.
        (
            "default kill;\nallow seccomp if operation == SECCOMP_SET_MODE_STRICT && flags == 0;\nallow prctl;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default allow;\nallow seccomp if operation == SECCOMP_GET_ACTION_AVAIL || flags == 0 && operation != SECCOMP_SET_MODE_FILTER;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        // A rule whose condition never holds lets nothing run, so it opts in to nothing
        // (the prelude's kill of `seccomp` then goes before it, as for any named call).
        (
            "default allow;\nallow seccomp if flags < 1 && flags > 5;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default kill;\nallow seccomp if flags == 1 && flags == 2;\nallow prctl;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        // Nor does one that earlier rules refuse every such call before.
        (
            "default allow;\nkill seccomp if flags == 0;\nkill seccomp if flags != 0;\nallow seccomp if operation == SECCOMP_SET_MODE_FILTER;\nallow prctl;",
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default allow;\nerrno(EPERM) seccomp if flags == 0;\nerrno(EPERM) seccomp if flags != 0;\nallow seccomp;\nallow prctl;",
            [EPERM, KILL, KILL, KILL, ALLOW],
        ),
        // One too large to decide (2,048 conjunctions) is taken as no opt-in: the guards go
        // in, though `args == 0` would meet it.
        (
            concat!(
                "default kill;\nallow seccomp if operation == SECCOMP_SET_MODE_FILTER",
                " && (args == 0 || flags == 0) && (args == 0 || flags == 1)",
                " && (args == 0 || flags == 2) && (args == 0 || flags == 3)",
                " && (args == 0 || flags == 4) && (args == 0 || flags == 5)",
                " && (args == 0 || flags == 6) && (args == 0 || flags == 7)",
                " && (args == 0 || flags == 8) && (args == 0 || flags == 9)",
                " && (args == 0 || flags == 10);\nallow prctl;"
            ),
            [KILL, KILL, KILL, KILL, ALLOW],
        ),
        // One that may let SECCOMP_SET_MODE_FILTER run, depending on another argument, does.
        (
            "default kill;\nallow seccomp if operation == SECCOMP_SET_MODE_FILTER && flags == 0;\nallow prctl;",
            [ALLOW, KILL, KILL, ALLOW, ALLOW],
        ),
    ];
    let arch = Arch::X86_64;
    let nr = |name| tables::syscall_by_name(arch, name).unwrap().nr as i32;
    let calls = [
        (nr("seccomp"), 1),
        (nr("ptrace"), 16),
        (nr("io_uring_setup"), 4),
        (nr("prctl"), 22),
        (nr("prctl"), 15),
    ];
    for (text, expected) in cases {
        let compiled = compile(text);
        let program = &compiled.policy.program(arch).unwrap().filter;
        for ((nr, arg0), want) in calls.into_iter().zip(expected) {
            let data = SeccompData {
                nr,
                arch: arch.audit_arch(),
                instruction_pointer: 0,
                args: [arg0, 0, 0, 0, 0, 0],
            };
            let got = action_of(eval::run(program, &data).unwrap().ret);
            assert_eq!(got, want, "{text}: nr {nr}, first argument {arg0}");
        }
    }
    // A policy whose own `prctl` rules already refuse PR_SET_SECCOMP gets no guard: its
    // default decides (tag 0), and its program is as it was.
    let compiled = compile("default kill;\nallow prctl if option == PR_SET_NAME;");
    let program = &compiled.policy.program(arch).unwrap().filter;
    let data = SeccompData {
        nr: nr("prctl"),
        arch: arch.audit_arch(),
        instruction_pointer: 0,
        args: [22, 0, 0, 0, 0, 0],
    };
    assert_eq!(eval::run(program, &data).unwrap().ret, ret::KILL_PROCESS);
    // request_key, whose upcall runs a host program as root, goes the way ptrace goes.
    let request_key = SeccompData {
        nr: nr("request_key"),
        arch: arch.audit_arch(),
        instruction_pointer: 0,
        args: [0; 6],
    };
    for (text, want) in [
        ("default allow;", KILL),
        ("default log;", KILL),
        ("default allow;\nallow request_key;", ALLOW),
        ("default errno(EPERM);", EPERM),
    ] {
        let compiled = compile(text);
        let program = &compiled.policy.program(arch).unwrap().filter;
        let got = action_of(eval::run(program, &request_key).unwrap().ret);
        assert_eq!(got, want, "{text}: request_key");
    }
}

/// The program a runtime installs for a sandbox that reaches a host terminal: the one the
/// compiler made with the terminal guard in ([`host_guard`]). Where that is missing a runtime
/// lays the guard's own program into the policy's: the two decide alike on every call here.
fn with_terminal_guard(compiled: &Compiled, arch: Arch) -> Vec<SockFilter> {
    let program = compiled.policy.program(arch).unwrap();
    let guard = host_guard::program(arch, Guards::TERMINAL, ForeignCalls::LeftToPolicy).unwrap();
    let merged = stack::merged(&program.filter, &guard).unwrap();
    let made = program.terminal_guarded.to_vec();
    for nr in 0..500 {
        for args in [
            [0, 0x5412, 0, 0, 0, 0],
            [0, 4, 0x2000, 0, 0, 0],
            [0, 0x5401, 0, 0, 0, 0],
        ] {
            let data = SeccompData::new(arch.audit_arch(), nr, args);
            let (a, b) = (eval::run(&made, &data), eval::run(&merged, &data));
            assert_eq!(a.unwrap().ret, b.unwrap().ret, "{arch} nr {nr} {args:x?}");
        }
    }
    made
}

/// The containment guards, case by case: `socket(AF_VSOCK)` (the prelude's) and, for a sandbox
/// that reaches a host terminal, `ioctl(TIOCSTI)` / `ioctl(TIOCLINUX)` (the terminal guard's)
/// fail with EPERM wherever the policy would let them run, also when a rule allows them on
/// purpose, and on the request's low word alone (as the kernel reads it); a value the policy
/// refuses itself keeps the policy's answer, and other values are untouched.
#[test]
fn containment_guards_follow_what_the_policy_lets_run() {
    const KILL: u32 = ret::KILL_PROCESS;
    const ALLOW: u32 = ret::ALLOW;
    const EPERM: u32 = ret::ERRNO | 1;
    const EACCES: u32 = ret::ERRNO | 13;
    let cases: [(&str, [u32; 6]); 12] = [
        // socket(AF_VSOCK), socket(AF_INET), ioctl(TIOCSTI), ioctl(TIOCSTI | 1 << 32),
        // ioctl(TIOCLINUX), ioctl(TCGETS)
        ("default allow;", [EPERM, ALLOW, EPERM, EPERM, EPERM, ALLOW]),
        (
            "default kill;\nallow socket, ioctl;",
            [EPERM, ALLOW, EPERM, EPERM, EPERM, ALLOW],
        ),
        (
            "default errno(EACCES);\nallow socket, ioctl;",
            [EPERM, ALLOW, EPERM, EPERM, EPERM, ALLOW],
        ),
        ("default kill;", [KILL, KILL, KILL, KILL, KILL, KILL]),
        (
            "default kill;\nallow socket if domain == AF_INET;\nallow ioctl if request == TCGETS;",
            [KILL, ALLOW, KILL, KILL, KILL, ALLOW],
        ),
        (
            "default kill;\nallow socket if domain != AF_INET;",
            [EPERM, KILL, KILL, KILL, KILL, KILL],
        ),
        // A kill that also looks at another argument stands where it matches: the guard goes
        // after it, before the rule that lets the rest run (fd 0 in these probes).
        (
            "default kill;\nkill ioctl if request == TIOCSTI && fd == 0;\nallow ioctl;",
            [KILL, KILL, KILL, KILL, EPERM, ALLOW],
        ),
        // The policy's own kill of TIOCSTI stands; TIOCLINUX, which it lets run, is guarded.
        (
            "default allow;\nkill ioctl if request == TIOCSTI;",
            [EPERM, ALLOW, KILL, KILL, EPERM, ALLOW],
        ),
        (
            "default errno(EACCES);\nallow ioctl if request != TIOCLINUX;",
            [EACCES, EACCES, EPERM, EPERM, EACCES, ALLOW],
        ),
        // Rules that also look at other arguments but can never let these values run leave
        // them to the default: killed, and reported, not refused in silence.
        (
            "default kill;\nallow socket if domain == AF_INET && type == SOCK_STREAM;\nallow ioctl if request == TCGETS && fd == 0;",
            [KILL, ALLOW, KILL, KILL, KILL, ALLOW],
        ),
        // A rule whose condition never holds lets nothing run: the guard goes after it, and
        // the kill that looks at another argument too stands where it matches.
        (
            "default kill;\nallow socket if type < 1 && type > 5;\nkill socket if domain == AF_VSOCK && type == 1;\nallow socket;",
            [KILL, ALLOW, KILL, KILL, KILL, KILL],
        ),
        // A rule on another argument alone may let them run: guarded.
        (
            "default kill;\nallow ioctl if fd == 0;",
            [KILL, KILL, EPERM, EPERM, EPERM, ALLOW],
        ),
    ];
    for arch in Arch::ALL {
        let nr = |name| tables::syscall_by_name(arch, name).unwrap().nr as i32;
        let (socket, ioctl) = (nr("socket"), nr("ioctl"));
        let calls: [(i32, [u64; 2]); 6] = [
            (socket, [40, 1]),
            (socket, [2, 1]),
            (ioctl, [0, 0x5412]),
            (ioctl, [0, 0x5412 | 1 << 32]),
            (ioctl, [0, 0x541c]),
            (ioctl, [0, 0x5401]),
        ];
        for (text, expected) in cases {
            let compiled = compile(text);
            let program = &with_terminal_guard(&compiled, arch);
            for ((nr, [a0, a1]), want) in calls.into_iter().zip(expected) {
                let data = SeccompData {
                    nr,
                    arch: arch.audit_arch(),
                    instruction_pointer: 0,
                    args: [a0, a1, 0, 0, 0, 0],
                };
                let got = action_of(eval::run(program, &data).unwrap().ret);
                assert_eq!(
                    got, want,
                    "{arch} {text}: nr {nr}, arguments {a0:#x} {a1:#x}"
                );
            }
        }
    }
}

/// The terminal guard's refusals of requests that reach past the sandbox (a signal to the host's
/// foreground group, a mode that outlives the run, another line discipline): each EPERM
/// wherever the policy lets `ioctl` run, while the requests that only read or set the
/// terminal's own modes run as the policy says.
#[test]
fn terminal_requests_that_reach_the_host_are_refused() {
    const EPERM: u32 = ret::ERRNO | 1;
    let refused = [
        "TIOCSWINSZ",
        "TIOCSIG",
        "TIOCEXCL",
        "TCXONC",
        "TIOCSETD",
        "FIOASYNC",
    ];
    let untouched = ["TCGETS", "TCSETS", "TIOCGWINSZ", "TIOCNXCL", "TCFLSH"];
    for arch in Arch::ALL {
        let ioctl = tables::syscall_by_name(arch, "ioctl").unwrap().nr as i32;
        for (text, rest) in [
            ("default allow;", ret::ALLOW),
            ("default kill;\nallow ioctl;", ret::ALLOW),
            ("default kill;\nallow ioctl if fd == 0;", ret::ALLOW),
            ("default kill;", ret::KILL_PROCESS),
        ] {
            let compiled = compile(text);
            let program = &with_terminal_guard(&compiled, arch);
            for name in refused.iter().chain(&untouched) {
                let request = tables::constant(arch, name).unwrap() as u64;
                let want = match rest {
                    ret::ALLOW if refused.contains(name) => EPERM,
                    other => other,
                };
                // The high word is not the kernel's: the guard reads the low one alone.
                for high in [0, 1 << 32] {
                    let data = SeccompData {
                        nr: ioctl,
                        arch: arch.audit_arch(),
                        instruction_pointer: 0,
                        args: [0, request | high, 0, 0, 0, 0],
                    };
                    let got = action_of(eval::run(program, &data).unwrap().ret);
                    assert_eq!(got, want, "{arch} {text}: {name} {high:#x}");
                }
            }
        }
    }
}

/// `fcntl(fd, F_SETFL, flags)` with `O_ASYNC` in `flags` is refused with EPERM wherever the
/// policy lets it run (signal-driven I/O on a passed terminal signals the host's foreground
/// group); other flags, other commands with the same bit in their argument, and the bit in
/// the high word (which the kernel does not read) keep the policy's answer, and the command is
/// read on its low word alone.
#[test]
fn signal_driven_io_is_refused() {
    const EPERM: u32 = ret::ERRNO | 1;
    let (f_dupfd, f_setfd, f_setfl) = (0u64, 2u64, 4u64);
    let (o_async, o_nonblock) = (0x2000u64, 0x800u64);
    let cases = [
        (f_setfl, o_async, true),
        (f_setfl, o_async | o_nonblock, true),
        (f_setfl | 1 << 32, o_async | 0xffff_ffff << 32, true),
        (f_setfl, o_nonblock, false),
        (f_setfl, 0, false),
        (f_setfl, o_async << 32, false),
        (f_dupfd, o_async, false),
        (f_setfd, o_async, false),
    ];
    for arch in Arch::ALL {
        let fcntl = tables::syscall_by_name(arch, "fcntl").unwrap().nr as i32;
        for (text, rest) in [
            ("default allow;", ret::ALLOW),
            ("default kill;\nallow fcntl;", ret::ALLOW),
            ("default kill;\nallow fcntl if cmd == F_SETFL;", ret::ALLOW),
            ("default kill;\nallow fcntl if fd == 0;", ret::ALLOW),
            ("default kill;", ret::KILL_PROCESS),
        ] {
            let compiled = compile(text);
            let program = &with_terminal_guard(&compiled, arch);
            for (cmd, arg, refused) in cases {
                let data = SeccompData {
                    nr: fcntl,
                    arch: arch.audit_arch(),
                    instruction_pointer: 0,
                    args: [0, cmd, arg, 0, 0, 0],
                };
                let got = action_of(eval::run(program, &data).unwrap().ret);
                let policy_allows_it = !text.contains("F_SETFL") || cmd as u32 == 4;
                let want = match rest {
                    ret::ALLOW if refused => EPERM,
                    ret::ALLOW if policy_allows_it => ret::ALLOW,
                    ret::ALLOW => ret::KILL_PROCESS,
                    other => other,
                };
                assert_eq!(got, want, "{arch} {text}: cmd {cmd:#x} arg {arg:#x}");
            }
        }
    }
}

/// The guard after a kill that looks at another argument too still refuses where that kill
/// does not match.
#[test]
fn a_guard_after_a_narrower_kill_refuses_the_rest() {
    let text = "default kill;\nkill ioctl if request == TIOCSTI && fd == 0;\nallow ioctl;";
    let compiled = compile(text);
    for arch in Arch::ALL {
        let program = &with_terminal_guard(&compiled, arch);
        let nr = tables::syscall_by_name(arch, "ioctl").unwrap().nr as i32;
        let answer = |fd: u64| {
            let data = SeccompData {
                nr,
                arch: arch.audit_arch(),
                instruction_pointer: 0,
                args: [fd, 0x5412, 0, 0, 0, 0],
            };
            action_of(eval::run(program, &data).unwrap().ret)
        };
        assert_eq!(answer(0), ret::KILL_PROCESS, "{arch}");
        assert_eq!(answer(1), ret::ERRNO | 1, "{arch}");
    }
}

/// A policy's own program has no terminal guard (a runtime adds it to a sandbox that reaches a
/// host terminal): `ioctl` and `fcntl` allowed without a condition stay unconditional, served by
/// the kernel's cache, and the terminal requests get the policy's own answer.
#[test]
fn terminal_requests_are_the_policys_without_the_terminal_guard() {
    for arch in Arch::ALL {
        let nr = |name| tables::syscall_by_name(arch, name).unwrap().nr;
        let (ioctl, fcntl) = (nr("ioctl"), nr("fcntl"));
        let probes = [
            (ioctl, [0, 0x5412, 0, 0, 0, 0]),
            (ioctl, [0, 0x5414, 0, 0, 0, 0]),
            (fcntl, [0, 4, 0x2000, 0, 0, 0]),
        ];
        for (text, want) in [
            ("default kill;\nallow ioctl, fcntl;", ret::ALLOW),
            ("default allow;", ret::ALLOW),
            ("default errno(EACCES);", ret::ERRNO | 13),
        ] {
            let compiled = compile(text);
            let program = &compiled.policy.program(arch).unwrap().filter;
            if want == ret::ALLOW {
                assert!(
                    cache::is_cached_allow(program, arch, ioctl),
                    "{arch} {text}"
                );
                assert!(
                    cache::is_cached_allow(program, arch, fcntl),
                    "{arch} {text}"
                );
            }
            let guarded = with_terminal_guard(&compiled, arch);
            for (nr, args) in probes {
                let data = SeccompData::new(arch.audit_arch(), nr, args);
                let got = eval::run(program, &data).unwrap().ret;
                assert_eq!(got, want, "{arch} {text}: {nr} {args:x?}");
                let got = eval::run(&guarded, &data).unwrap().ret;
                let with_guard = if want == ret::ALLOW {
                    ret::ERRNO | 1
                } else {
                    want
                };
                assert_eq!(
                    got, with_guard,
                    "{arch} {text} with the guard: {nr} {args:x?}"
                );
            }
        }
    }
}

/// What a runtime refuses in the modes that enforce no policy: what the containment guards
/// refuse (read on the low 32 bits, as the kernel reads them, with the guard's own text),
/// `request_key`, `io_uring_setup`, and adding a seccomp filter.
#[test]
fn what_is_refused_where_nothing_is_enforced() {
    use sandbox_policy::resolve::{refusal_where_unenforced, refused_arguments};
    for arch in Arch::ALL {
        let nr = |name| tables::syscall_by_name(arch, name).unwrap().nr;
        let refusal = |name, args: [u64; 6]| refusal_where_unenforced(arch, nr(name), &args);
        let vsock = Some("errno(EPERM) socket if domain == AF_VSOCK".to_string());
        assert_eq!(refusal("socket", [40, 1, 0, 0, 0, 0]), vsock);
        assert_eq!(refusal("socket", [40 | 1 << 32, 1, 0, 0, 0, 0]), vsock);
        assert_eq!(refusal("socket", [2, 1, 0, 0, 0, 0]), None);
        let tiocsti = Some("errno(EPERM) ioctl if request == TIOCSTI".to_string());
        assert_eq!(refusal("ioctl", [0, 0x5412, 0, 0, 0, 0]), tiocsti);
        let high = [0, 0x541c | 0xffff_ffff << 32, 0, 0, 0, 0];
        assert!(refusal("ioctl", high).unwrap().ends_with("TIOCLINUX"));
        assert_eq!(refusal("ioctl", [0x5412, 0x5401, 0, 0, 0, 0]), None);
        assert_eq!(refusal("ioctl", [0, 0x1000_5412, 0, 0, 0, 0]), None);
        let o_async = Some("errno(EPERM) fcntl if cmd == F_SETFL && arg & O_ASYNC != 0".into());
        assert_eq!(refusal("fcntl", [0, 4, 0x2800, 0, 0, 0]), o_async);
        assert_eq!(refusal("fcntl", [0, 4 | 1 << 32, 0x2000, 0, 0, 0]), o_async);
        assert_eq!(refusal("fcntl", [0, 4, 0x800, 0, 0, 0]), None);
        assert_eq!(refusal("fcntl", [0, 4, 0x2000 << 32, 0, 0, 0]), None);
        assert_eq!(refusal("fcntl", [0, 0, 0x2000, 0, 0, 0]), None);
        // What a recorder keeps of a refused call tells the refusal again.
        let read = |name, args: [u64; 6]| refused_arguments(arch, nr(name), &args);
        let f_setfl_async = [7, 4 | 1 << 32, 0x2000 | 0x800 | 1 << 40, 9, 9, 9];
        assert_eq!(read("fcntl", f_setfl_async), Some([0, 4, 0x2000, 0, 0, 0]));
        assert_eq!(
            read("ioctl", [0, 0x5412, 0x7fff_0000, 0, 0, 0]),
            Some([0, 0x5412, 0, 0, 0, 0])
        );
        assert_eq!(read("fcntl", [7, 4, 0x800, 0, 0, 0]), None);
        let whole = |name: &str| Some(format!("errno(EPERM) {name}"));
        assert_eq!(refusal("request_key", [0; 6]), whole("request_key"));
        assert_eq!(refusal("io_uring_setup", [0; 6]), whole("io_uring_setup"));
        assert_eq!(refusal("add_key", [0; 6]), None);
        // Adding a filter, either way, on the low 32 bits; seccomp's other operations and
        // prctl's other options are not refused.
        let seccomp = Some("errno(EPERM) seccomp if operation == SECCOMP_SET_MODE_FILTER".into());
        assert_eq!(refusal("seccomp", [1, 0, 0x1000, 0, 0, 0]), seccomp);
        assert_eq!(refusal("seccomp", [1 | 1 << 32, 8, 0, 0, 0, 0]), seccomp);
        assert_eq!(refusal("seccomp", [0, 0, 0, 0, 0, 0]), None);
        assert_eq!(refusal("seccomp", [2, 0, 0x1000, 0, 0, 0]), None);
        let prctl = Some("errno(EPERM) prctl if option == PR_SET_SECCOMP".to_string());
        assert_eq!(refusal("prctl", [22, 2, 0x1000, 0, 0, 0]), prctl);
        assert_eq!(refusal("prctl", [22 | 1 << 32, 1, 0, 0, 0, 0]), prctl);
        assert_eq!(refusal("prctl", [15, 0, 0, 0, 0, 0]), None);
        assert_eq!(
            read("seccomp", [1 | 1 << 40, 8, 0x7fff_0000, 0, 0, 0]),
            Some([1, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            read("prctl", [22, 2, 0x1000, 0, 0, 0]),
            Some([22, 0, 0, 0, 0, 0])
        );
        assert_eq!(refusal_where_unenforced(arch, 100_000, &[0; 6]), None);
    }
}
