//! The code generator against the IR's own interpreter: hand-written IRs, thousands of random
//! ones probed at every boundary where range, width, sign and word-splitting mistakes hide,
//! the kernel's constant-action cache, trampolines, limits and determinism.

mod common;

use common::Rng;

use sandbox_policy::action::{Action, Tag, Verdict};
use sandbox_policy::arch::{Arch, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, X32_SYSCALL_BIT};
use sandbox_policy::bpf::{self, SockFilter};
use sandbox_policy::cache;
use sandbox_policy::codegen::{self, CodegenError, CodegenOptions};
use sandbox_policy::disasm;
use sandbox_policy::eval::{self, SeccompData};
use sandbox_policy::ir::{ArchIr, Branch, Cmp, CmpOp, Cond, Decision};
use sandbox_policy::verify;
use std::collections::{BTreeMap, BTreeSet};

const OPS: [CmpOp; 6] = CmpOp::ALL;

/// Argument values where mistakes hide.
const BOUNDARIES: [u64; 18] = [
    0,
    1,
    2,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    1 << 32,
    (1 << 32) | 1,
    0x1_ffff_ffff,
    0x7fff_ffff_ffff_ffff,
    1 << 63,
    (1 << 63) | 1,
    u64::MAX,
    u64::MAX - 1,
    0xffff_ffff_ffff_ff9c, // AT_FDCWD sign-extended
    0x0000_0000_ffff_ff9c, // AT_FDCWD zero-extended
    0xffff_ffff_0000_0000,
];

fn verdict(rng: &mut Rng) -> Verdict {
    let tag = Tag(1 + rng.below(6) as u16);
    match rng.below(9) {
        0..=2 => Verdict::new(Action::Allow, tag),
        3 => Verdict::new(Action::Errno(1), tag),
        4 => Verdict::new(Action::Errno(38), tag),
        5 => Verdict::new(Action::Kill, tag),
        6 => Verdict::new(Action::Trap, tag),
        7 => Verdict::new(Action::Log, tag),
        _ => Verdict::new(Action::KillThread, tag),
    }
}

fn mask(rng: &mut Rng, wide: bool) -> u64 {
    let m = match rng.below(12) {
        0..=3 => u64::MAX,
        4 => 0xff,
        5 => 1 << rng.below(64),
        6 => 0xffff_ffff,
        7 => 0xffff_ffff_0000_0000,
        8 => 0,
        9 => rng.next(),
        10 => 0x8000_0000_0000_0001,
        _ => rng.next() & rng.next(),
    };
    if wide || rng.chance(10) {
        // Narrow comparisons occasionally carry junk high bits, which must be ignored.
        m
    } else {
        m & 0xffff_ffff
    }
}

fn value(rng: &mut Rng, mask: u64, wide: bool) -> u64 {
    let v = match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => mask,
        3 => mask.wrapping_sub(1),
        4 => mask.wrapping_add(1),
        5 => rng.pick(&BOUNDARIES),
        6 => rng.below(16),
        7 => rng.next() & mask,
        8 => (rng.below(3) << 32) | rng.below(3),
        _ => rng.next(),
    };
    if wide {
        v
    } else {
        v & 0xffff_ffff
    }
}

fn cmp(rng: &mut Rng) -> Cmp {
    let wide = rng.chance(50);
    let mask = mask(rng, wide);
    Cmp {
        arg: rng.below(3) as u8,
        wide,
        mask,
        op: rng.pick(&OPS),
        value: value(rng, mask, wide),
    }
}

fn cond(rng: &mut Rng, depth: u32) -> Cond {
    let leafy = depth == 0 || rng.chance(45);
    if leafy {
        return if rng.chance(3) {
            Cond::True
        } else {
            Cond::Cmp(cmp(rng))
        };
    }
    match rng.below(3) {
        0 => Cond::Not(Box::new(cond(rng, depth - 1))),
        1 => Cond::All((0..rng.below(4)).map(|_| cond(rng, depth - 1)).collect()),
        _ => Cond::Any((0..rng.below(4)).map(|_| cond(rng, depth - 1)).collect()),
    }
}

fn decision(rng: &mut Rng) -> Decision {
    if rng.chance(55) {
        return Decision::Always(verdict(rng));
    }
    Decision::Branches {
        branches: (0..1 + rng.below(3))
            .map(|_| Branch {
                cond: cond(rng, 3),
                verdict: verdict(rng),
            })
            .collect(),
        otherwise: verdict(rng),
    }
}

fn random_ir(rng: &mut Rng) -> ArchIr {
    let arch = if rng.chance(70) {
        Arch::X86_64
    } else {
        Arch::Aarch64
    };
    let mut syscalls = BTreeMap::new();
    let count = rng.below(30);
    // A few decisions reused for several numbers, so equal non-adjacent blocks occur.
    let shared: Vec<Decision> = (0..3).map(|_| decision(rng)).collect();
    for _ in 0..count {
        let nr = match rng.below(10) {
            0..=6 => rng.below(48) as u32,
            7 => 300 + rng.below(200) as u32,
            8 => rng.next() as u32,
            _ => X32_SYSCALL_BIT | rng.below(600) as u32,
        };
        let d = if rng.chance(30) {
            shared[rng.below(3) as usize].clone()
        } else {
            decision(rng)
        };
        syscalls.insert(nr, d);
    }
    ArchIr {
        arch,
        default: verdict(rng),
        syscalls,
    }
}

fn cmps_of(c: &Cond, out: &mut Vec<Cmp>) {
    match c {
        Cond::True => {}
        Cond::Cmp(c) => out.push(*c),
        Cond::Not(inner) => cmps_of(inner, out),
        Cond::All(parts) | Cond::Any(parts) => parts.iter().for_each(|p| cmps_of(p, out)),
    }
}

/// Argument values near every constant of the IR, in both words.
fn arg_pool(ir: &ArchIr) -> Vec<u64> {
    let mut pool: BTreeSet<u64> = BOUNDARIES.iter().copied().collect();
    let mut cmps = Vec::new();
    for d in ir.syscalls.values() {
        if let Decision::Branches { branches, .. } = d {
            for b in branches {
                cmps_of(&b.cond, &mut cmps);
            }
        }
    }
    for c in cmps {
        let (vhi, vlo) = (c.value >> 32, c.value & 0xffff_ffff);
        for dhi in [0u64, 1, u64::MAX] {
            for dlo in [0u64, 1, u64::MAX] {
                let hi = vhi.wrapping_add(dhi) & 0xffff_ffff;
                let lo = vlo.wrapping_add(dlo) & 0xffff_ffff;
                pool.insert((hi << 32) | lo);
            }
        }
        pool.insert(c.mask);
        pool.insert(c.value | !c.mask);
        pool.insert(c.value & c.mask);
    }
    pool.into_iter().collect()
}

/// Syscall numbers at every range edge.
fn nr_pool(ir: &ArchIr) -> Vec<u32> {
    let mut pool: BTreeSet<u32> = [
        0,
        1,
        0x3fff_ffff,
        0x4000_0000,
        0x4000_0001,
        0x7fff_ffff,
        0x8000_0000,
        0xbfff_ffff,
        0xc000_0000,
        0xffff_fffe,
        0xffff_ffff,
    ]
    .into_iter()
    .collect();
    for &nr in ir.syscalls.keys() {
        pool.extend([nr.wrapping_sub(1), nr, nr.wrapping_add(1)]);
        pool.insert(nr ^ X32_SYSCALL_BIT);
    }
    pool.into_iter().collect()
}

/// Compares the program with the IR on `probes` random calls plus every pool number with
/// zero and all-ones arguments. Returns the number of probes.
fn check(ir: &ArchIr, prog: &[SockFilter], rng: &mut Rng, probes: usize) -> usize {
    verify::verify(prog).unwrap_or_else(|e| panic!("{e}\n{ir:#?}"));
    let audit = ir.arch.audit_arch();
    let args = arg_pool(ir);
    let nrs = nr_pool(ir);
    let run = |nr: u32, a: [u64; 6], audit_arch: u32| {
        let got = eval::run(prog, &SeccompData::new(audit_arch, nr, a))
            .unwrap_or_else(|e| panic!("eval failed: {e}\n{ir:#?}"));
        let want = ir.decide_full(audit_arch, nr, &a).ret_value();
        assert_eq!(
            got.ret,
            want,
            "nr {nr:#x} args {a:#x?} arch {audit_arch:#x}\n{ir:#?}\n{}",
            disasm::disassemble(prog, ir.arch, None)
        );
    };
    let mut n = 0;
    for &nr in &nrs {
        for a in [[0; 6], [u64::MAX; 6]] {
            run(nr, a, audit);
            n += 1;
        }
    }
    for _ in 0..probes {
        let nr = if rng.chance(85) {
            rng.pick(&nrs)
        } else {
            rng.next() as u32
        };
        let mut a = [0u64; 6];
        for slot in a.iter_mut().take(3) {
            *slot = if rng.chance(90) {
                rng.pick(&args)
            } else {
                rng.next()
            };
        }
        run(nr, a, audit);
        n += 1;
    }
    for foreign in [AUDIT_ARCH_I386, AUDIT_ARCH_ARM, 0] {
        run(rng.pick(&nrs), [0; 6], foreign);
        n += 1;
    }
    n
}

/// Every number whose decision is "allow whatever the arguments" must be cached, and every
/// cached number must be allowed whatever the arguments.
fn check_cache(ir: &ArchIr, prog: &[SockFilter], rng: &mut Rng) {
    let allow = bpf::ret::ALLOW;
    for nr in nr_pool(ir) {
        let x32 = ir.arch == Arch::X86_64 && nr & X32_SYSCALL_BIT != 0;
        let always_allow = !x32
            && match ir.syscalls.get(&nr) {
                Some(Decision::Always(v)) => v.ret_value() == allow,
                Some(Decision::Branches { .. }) => false,
                None => ir.default.ret_value() == allow,
            };
        let cached = cache::is_cached_allow(prog, ir.arch, nr);
        if always_allow {
            assert!(cached, "nr {nr} is always allowed but not cached\n{ir:#?}");
        }
        if cached {
            for _ in 0..8 {
                let a = [rng.next(), rng.next(), rng.next(), 0, 0, u64::MAX];
                assert_eq!(ir.decide(nr, &a).ret_value(), allow, "cached nr {nr}");
            }
        }
    }
}

#[test]
fn random_irs_match_their_meaning() {
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let mut probes = 0;
    let irs = 2500;
    for _ in 0..irs {
        let ir = random_ir(&mut rng);
        let prog = codegen::compile_arch(&ir).unwrap_or_else(|e| panic!("{e}\n{ir:#?}"));
        probes += check(&ir, &prog, &mut rng, 1000);
        check_cache(&ir, &prog, &mut rng);
        // The same IR gives the same bytes.
        assert_eq!(codegen::compile_arch(&ir.clone()).ok(), Some(prog));
    }
    println!("{irs} random IRs, {probes} probes, no mismatch");
}

/// An equality test of one word: argument 0 or 1, narrow or 64-bit with a value and mask that
/// have no high bits (both read one word), values clustered so neighbours occur.
fn word_equality(rng: &mut Rng, arg: u8, mask: u64, op: CmpOp) -> Cond {
    let base = [0u64, 0x5400, 0xffff_fff0][(arg as usize + rng.index(2)) % 3];
    let value = match rng.below(8) {
        0 => mask,
        1 => rng.next() & mask,
        _ => (base + rng.below(16)) & mask,
    };
    Cond::Cmp(Cmp {
        arg,
        wide: rng.chance(30),
        mask,
        op,
        value,
    })
}

/// An `==` or `!=` of argument 2, the part of a junction no search takes.
fn other_equality(rng: &mut Rng) -> Cond {
    let mut c = cmp(rng);
    c.arg = 2;
    c.op = rng.pick(&[CmpOp::Eq, CmpOp::Ne]);
    Cond::Cmp(c)
}

/// Branches that test one or two words against many constants: runs of `==` branches with
/// refused and permitted outcomes, `||` of `==` and `&&` of `!=` (with other tests mixed in),
/// as the `ioctl` guard and request lists make them.
fn equality_decision(rng: &mut Rng) -> Decision {
    let masks = [u64::MAX, 0xffff_ffff, 0xff, 0xfff0];
    let words = [(0u8, rng.pick(&masks)), (1u8, rng.pick(&masks))];
    let branches = (0..1 + rng.below(10))
        .map(|_| {
            let (arg, mask) = words[usize::from(rng.chance(25))];
            let cond = match rng.below(4) {
                0 => word_equality(rng, arg, mask, CmpOp::Eq),
                1 => Cond::Any(
                    (0..rng.below(9))
                        .map(|_| word_equality(rng, arg, mask, CmpOp::Eq))
                        .collect(),
                ),
                2 => {
                    let mut parts: Vec<Cond> = (0..rng.below(9))
                        .map(|_| word_equality(rng, arg, mask, CmpOp::Ne))
                        .collect();
                    parts.insert(rng.index(parts.len() + 1), other_equality(rng));
                    Cond::All(parts)
                }
                _ => {
                    let mut parts: Vec<Cond> = (0..rng.below(9))
                        .map(|_| word_equality(rng, arg, mask, CmpOp::Eq))
                        .collect();
                    parts.insert(rng.index(parts.len() + 1), other_equality(rng));
                    Cond::Any(parts)
                }
            };
            Branch {
                cond,
                verdict: verdict(rng),
            }
        })
        .collect();
    Decision::Branches {
        branches,
        otherwise: verdict(rng),
    }
}

/// Tests of a word against many constants, searched instead of chained where that is
/// shorter, decide every call as the IR does: each constant, its neighbours, the words'
/// extremes and values with high bits set.
#[test]
fn equality_sets_match_their_meaning() {
    let mut rng = Rng(0x0e0a_15e7_5eed_0001);
    let mut searched = 0;
    let irs = 1500;
    for _ in 0..irs {
        // Only `==` and `!=`: every `jge` on an argument is the search's.
        let mut ir = ArchIr {
            arch: rng.pick(&[Arch::X86_64, Arch::Aarch64]),
            default: verdict(&mut rng),
            syscalls: BTreeMap::new(),
        };
        for _ in 0..1 + rng.below(4) {
            let decision = if rng.chance(20) {
                Decision::Always(verdict(&mut rng))
            } else {
                equality_decision(&mut rng)
            };
            ir.syscalls.insert(rng.below(48) as u32, decision);
        }
        let prog = codegen::compile_arch(&ir).unwrap_or_else(|e| panic!("{e}\n{ir:#?}"));
        check(&ir, &prog, &mut rng, 1500);
        let text = disasm::disassemble(&prog, ir.arch, None);
        if text
            .lines()
            .any(|l| l.contains("jge") && l.contains("; args["))
        {
            searched += 1;
        }
    }
    // The search is taken often enough for the probes to have tested it.
    assert!(
        searched > irs / 10,
        "only {searched} of {irs} programs search a word"
    );
}

/// Large random IRs: long argument blocks spread the program over thousands of instructions,
/// so jumps of every kind need trampolines in many shapes.
#[test]
fn large_random_irs_with_far_jumps() {
    let mut rng = Rng(0xfa2_u64 << 20 | 0x1357);
    let (mut longest, mut trampolines) = (0, 0);
    for _ in 0..24 {
        let arch = if rng.chance(50) {
            Arch::X86_64
        } else {
            Arch::Aarch64
        };
        let mut syscalls = BTreeMap::new();
        for _ in 0..60 + rng.below(100) {
            let nr = rng.below(500) as u32;
            let d = Decision::Branches {
                branches: (0..1 + rng.below(4))
                    .map(|_| Branch {
                        cond: Cond::Any((0..2 + rng.below(3)).map(|_| cond(&mut rng, 3)).collect()),
                        verdict: verdict(&mut rng),
                    })
                    .collect(),
                otherwise: verdict(&mut rng),
            };
            syscalls.insert(nr, d);
        }
        let ir = ArchIr {
            arch,
            default: verdict(&mut rng),
            syscalls,
        };
        match codegen::compile_arch(&ir) {
            Ok(prog) => {
                longest = longest.max(prog.len());
                let rets: Vec<u32> = prog
                    .iter()
                    .filter(|i| i.code == bpf::BPF_RET | bpf::BPF_K)
                    .map(|i| i.k)
                    .collect();
                let distinct: BTreeSet<u32> = rets.iter().copied().collect();
                trampolines += rets.len() - distinct.len();
                trampolines += prog
                    .iter()
                    .filter(|i| i.code == bpf::BPF_JMP | bpf::BPF_JA)
                    .count();
                check(&ir, &prog, &mut rng, 400);
                check_cache(&ir, &prog, &mut rng);
            }
            Err(CodegenError::TooLong { len, .. }) => assert!(len > bpf::BPF_MAXINSNS),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(longest > 800, "longest program only {longest}");
    assert!(trampolines > 50, "only {trampolines} trampolines");
    println!("longest program {longest}, {trampolines} trampolines");
}

fn allow() -> Verdict {
    Verdict::new(Action::Allow, Tag::DEFAULT)
}

fn eperm() -> Verdict {
    Verdict::new(Action::Errno(1), Tag::DEFAULT)
}

fn wide_cmp(arg: u8, op: CmpOp, mask: u64, value: u64) -> Cond {
    Cond::Cmp(Cmp {
        arg,
        wide: true,
        mask,
        op,
        value,
    })
}

/// Every operator, on every word-boundary value, against every word-boundary constant.
#[test]
fn wide_comparisons_split_correctly() {
    let constants = [
        0u64,
        1,
        0xffff_ffff,
        1 << 32,
        (1 << 32) | 1,
        0x1_ffff_ffff,
        1 << 63,
        u64::MAX,
        0xffff_ffff_ffff_ff9c,
        0x0000_0000_ffff_ff9c,
    ];
    let masks = [
        u64::MAX,
        0xffff_ffff,
        0xffff_ffff_0000_0000,
        0x0000_00ff_0000_00ff,
    ];
    let mut rng = Rng(7);
    for op in OPS {
        for mask in masks {
            for value in constants {
                let mut syscalls = BTreeMap::new();
                syscalls.insert(
                    0,
                    Decision::Branches {
                        branches: vec![Branch {
                            cond: wide_cmp(1, op, mask, value),
                            verdict: allow(),
                        }],
                        otherwise: eperm(),
                    },
                );
                let ir = ArchIr {
                    arch: Arch::X86_64,
                    default: Verdict::new(Action::Kill, Tag::DEFAULT),
                    syscalls,
                };
                let prog = codegen::compile_arch(&ir).unwrap();
                for x in constants {
                    for d in [0u64, 1, u64::MAX, 1 << 32, (1u64 << 32).wrapping_neg()] {
                        let a = [0, x.wrapping_add(d), 0, 0, 0, 0];
                        let got = eval::run(&prog, &SeccompData::native(Arch::X86_64, 0, a));
                        assert_eq!(
                            got.map(|o| o.ret).ok(),
                            Some(ir.decide(0, &a).ret_value()),
                            "{op:?} mask {mask:#x} value {value:#x} x {:#x}",
                            a[1]
                        );
                    }
                }
                check(&ir, &prog, &mut rng, 50);
            }
        }
    }
}

/// The denied numbers of a Docker-like default profile on x86-64.
const DOCKER_DENIED: [u32; 52] = [
    101, 103, 134, 135, 136, 139, 153, 154, 155, 156, 163, 166, 167, 168, 169, 170, 171, 172, 173,
    174, 175, 176, 177, 178, 179, 180, 246, 248, 249, 250, 272, 298, 304, 308, 310, 311, 312, 313,
    320, 321, 323, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434,
];

fn docker_ir() -> (ArchIr, Vec<u32>) {
    let denied: BTreeSet<u32> = DOCKER_DENIED.into_iter().collect();
    let allowed: Vec<u32> = (0..=334u32)
        .chain(424..=462)
        .filter(|nr| !denied.contains(nr))
        .collect();
    let syscalls = allowed
        .iter()
        .map(|&nr| (nr, Decision::Always(allow())))
        .collect();
    let ir = ArchIr {
        arch: Arch::X86_64,
        default: eperm(),
        syscalls,
    };
    (ir, allowed)
}

#[test]
fn docker_profile_is_short_and_fast() {
    let (ir, allowed) = docker_ir();
    let prog = codegen::compile_arch(&ir).unwrap();
    let stats = eval::path_stats(&prog, Arch::X86_64, &allowed);
    println!(
        "docker-like profile: {} allowed syscalls, {} instructions, executed min {} / mean {:.2} / max {}",
        allowed.len(),
        stats.len,
        stats.min,
        stats.mean,
        stats.max
    );
    println!("{}", disasm::disassemble(&prog, Arch::X86_64, None));
    assert_eq!(stats.errors, 0);
    assert!(stats.mean < 8.8, "mean {}", stats.mean);
    assert!(stats.len <= 110, "len {}", stats.len);
    assert_eq!(
        cache::count_cached(&prog, Arch::X86_64, &allowed),
        allowed.len()
    );
    let mut rng = Rng(3);
    check(&ir, &prog, &mut rng, 2000);
}

#[test]
fn frequency_weights_shorten_hot_paths() {
    let (ir, allowed) = docker_ir();
    let hot = 102u32; // getuid, alone between two denied numbers
    let mut weights: BTreeMap<u32, u64> = allowed.iter().map(|&nr| (nr, 1)).collect();
    weights.insert(hot, 100_000);
    let opts = CodegenOptions {
        weights: Some(weights),
    };
    let prog = codegen::generate(&ir, &opts).unwrap();
    let plain = codegen::compile_arch(&ir).unwrap();
    let executed = |p: &[SockFilter]| {
        eval::run(p, &SeccompData::native(Arch::X86_64, hot, [0; 6]))
            .unwrap()
            .executed
    };
    // Prelude 3, two jge around its range, ret.
    assert!(executed(&prog) <= 6, "{}", executed(&prog));
    assert!(executed(&prog) < executed(&plain));
    check(&ir, &prog, &mut Rng(11), 500);
}

/// Forty syscalls with distinct long argument conditions: the dispatch tree's jumps to the
/// blocks and the blocks' jumps to the shared returns exceed 255 instructions.
fn big_ir(syscalls: u32, cmps_each: u64) -> ArchIr {
    let mut m = BTreeMap::new();
    for nr in 0..syscalls {
        let conds = (0..cmps_each)
            .map(|i| {
                wide_cmp(
                    (i % 6) as u8,
                    CmpOp::Ne,
                    u64::MAX,
                    (u64::from(nr) << 32) | i,
                )
            })
            .collect();
        m.insert(
            nr * 2,
            Decision::Branches {
                branches: vec![
                    Branch {
                        cond: Cond::All(conds),
                        verdict: Verdict::new(Action::Kill, Tag(nr as u16 + 1)),
                    },
                    Branch {
                        cond: wide_cmp(0, CmpOp::Gt, u64::MAX, u64::from(nr)),
                        verdict: Verdict::new(Action::Errno(nr as u16 + 1), Tag::DEFAULT),
                    },
                ],
                otherwise: allow(),
            },
        );
    }
    ArchIr {
        arch: Arch::Aarch64,
        default: Verdict::new(Action::Trap, Tag::DEFAULT),
        syscalls: m,
    }
}

#[test]
fn far_jumps_use_trampolines() {
    let ir = big_ir(40, 8);
    let prog = codegen::compile_arch(&ir).unwrap();
    assert!(prog.len() > 600, "{}", prog.len());
    let far_targets = prog
        .iter()
        .filter(|i| i.code == bpf::BPF_JMP | bpf::BPF_JA)
        .count()
        + prog
            .iter()
            .filter(|i| i.code == bpf::BPF_RET | bpf::BPF_K && i.k == bpf::ret::ALLOW)
            .count();
    assert!(far_targets > 1, "expected trampolines (ja or copied ret)");
    let mut rng = Rng(99);
    check(&ir, &prog, &mut rng, 3000);
    // Probe the conditions' own constants directly.
    for nr in 0..40u32 {
        let mut a = [0u64; 6];
        for (i, slot) in a.iter_mut().enumerate() {
            *slot = (u64::from(nr) << 32) | (i as u64 + 6);
        }
        let want = ir.decide(nr * 2, &a).ret_value();
        let got = eval::run(&prog, &SeccompData::native(Arch::Aarch64, nr * 2, a)).unwrap();
        assert_eq!(got.ret, want);
    }
}

#[test]
fn over_long_programs_are_refused() {
    let ir = big_ir(400, 12);
    match codegen::compile_arch(&ir) {
        Err(CodegenError::TooLong { arch, len }) => {
            assert_eq!(arch, Arch::Aarch64);
            assert!(len > bpf::BPF_MAXINSNS);
        }
        other => panic!("expected TooLong, got {:?}", other.map(|p| p.len())),
    }
}

#[test]
fn trivial_policies() {
    for arch in Arch::ALL {
        for default in [allow(), eperm(), Verdict::new(Action::Kill, Tag::DEFAULT)] {
            let ir = ArchIr {
                arch,
                default,
                syscalls: BTreeMap::new(),
            };
            let prog = codegen::compile_arch(&ir).unwrap();
            check(&ir, &prog, &mut Rng(5), 200);
        }
    }
    // One syscall with conditions and nothing else, on aarch64: the root is the block itself.
    let mut syscalls = BTreeMap::new();
    syscalls.insert(
        0,
        Decision::Branches {
            branches: vec![Branch {
                cond: wide_cmp(0, CmpOp::Eq, 0xff, 3),
                verdict: eperm(),
            }],
            otherwise: allow(),
        },
    );
    let ir = ArchIr {
        arch: Arch::Aarch64,
        default: allow(),
        syscalls,
    };
    let prog = codegen::compile_arch(&ir).unwrap();
    check(&ir, &prog, &mut Rng(6), 200);
}

fn narrow_cmp(arg: u8, op: CmpOp, mask: u64, value: u64) -> Cond {
    Cond::Cmp(Cmp {
        arg,
        wide: false,
        mask,
        op,
        value,
    })
}

/// The listing of a small policy, byte for byte: any change to layout or annotation shows up
/// here for review.
#[test]
fn listing_is_stable() {
    let kill = |tag| Verdict::new(Action::Kill, Tag(tag));
    let mut syscalls = BTreeMap::new();
    for nr in [0, 3, 60, 231] {
        syscalls.insert(nr, Decision::Always(allow()));
    }
    syscalls.insert(
        1,
        Decision::Branches {
            branches: vec![Branch {
                cond: Cond::Any(vec![
                    narrow_cmp(0, CmpOp::Eq, 0xffff_ffff, 1),
                    narrow_cmp(0, CmpOp::Eq, 0xffff_ffff, 2),
                ]),
                verdict: allow(),
            }],
            otherwise: kill(2),
        },
    );
    syscalls.insert(
        257,
        Decision::Branches {
            branches: vec![
                Branch {
                    cond: Cond::All(vec![
                        narrow_cmp(0, CmpOp::Eq, 0xffff_ffff, 0xffff_ff9c),
                        wide_cmp(2, CmpOp::Eq, 3, 0),
                    ]),
                    verdict: allow(),
                },
                Branch {
                    cond: wide_cmp(3, CmpOp::Ge, u64::MAX, 0x1_0000_0000),
                    verdict: kill(4),
                },
            ],
            otherwise: eperm(),
        },
    );
    syscalls.insert(101, Decision::Always(kill(5)));
    let ir = ArchIr {
        arch: Arch::X86_64,
        default: eperm(),
        syscalls,
    };
    let prog = codegen::compile_arch(&ir).unwrap();
    check(&ir, &prog, &mut Rng(17), 500);
    insta::assert_snapshot!(disasm::disassemble(&prog, Arch::X86_64, None));
}

/// Alternating verdicts make one range per number: the exact tree search (a few hundred
/// ranges) and the balanced fallback (more) both stay correct and fast.
#[test]
fn many_ranges() {
    for count in [640u32, 1500] {
        let syscalls = (0..count)
            .map(|nr| {
                let v = if nr % 2 == 0 { allow() } else { eperm() };
                (nr, Decision::Always(v))
            })
            .collect();
        let ir = ArchIr {
            arch: Arch::Aarch64,
            default: Verdict::new(Action::Trap, Tag::DEFAULT),
            syscalls,
        };
        let start = std::time::Instant::now();
        let prog = codegen::compile_arch(&ir).unwrap();
        println!(
            "{count} ranges: {} instructions in {:?}",
            prog.len(),
            start.elapsed()
        );
        check(&ir, &prog, &mut Rng(u64::from(count)), 2000);
        let evens: Vec<u32> = (0..count).step_by(2).collect();
        assert_eq!(
            cache::count_cached(&prog, Arch::Aarch64, &evens),
            evens.len()
        );
        let stats = eval::path_stats(&prog, Arch::Aarch64, &evens);
        assert!(stats.max <= 4 + 13, "{stats:?}");
    }
}
