//! Wall clock per syscall under each generator's filter: a child per configuration and
//! repetition installs the filter, times N calls of each probe, and reports over a pipe.

use crate::forked;
use crate::placement::Spacing;
use sandbox_policy::eval::{run, SeccompData};
use sandbox_policy::{cache, Arch, SockFilter};
use std::time::Instant;

/// A filter to time, or none.
#[derive(Clone)]
pub struct Config {
    /// The name printed.
    pub name: String,
    /// The program; `None` runs without a filter.
    pub filter: Option<Vec<SockFilter>>,
    /// A program installed once before `filter`, which then runs on top of it: two filters.
    pub under: Option<Vec<SockFilter>>,
}

impl Config {
    /// `filter` (or no filter) alone.
    pub fn new(name: impl Into<String>, filter: Option<Vec<SockFilter>>) -> Config {
        Config {
            name: name.into(),
            filter,
            under: None,
        }
    }
}

/// A syscall timed in the child.
#[derive(Clone, Copy)]
pub struct Probe {
    /// Column heading.
    pub label: &'static str,
    /// Syscall number.
    pub nr: u32,
    /// Arguments.
    pub args: [u64; 6],
}

/// The probes: a cached call, an argument-checked one, and one the policy denies.
pub fn probes() -> Vec<Probe> {
    vec![
        Probe {
            label: "getppid",
            nr: libc::SYS_getppid as u32,
            args: [0; 6],
        },
        Probe {
            label: "read(-1,0,0)",
            nr: libc::SYS_read as u32,
            args: [u64::MAX, 0, 0, 0, 0, 0],
        },
        // vserver is unimplemented (ENOSYS) and outside the allowlist: the filter's deny path.
        Probe {
            label: "vserver(denied)",
            nr: libc::SYS_vserver as u32,
            args: [0; 6],
        },
    ]
}

/// The one-instruction `ret ALLOW` filter: the cost of having a filter at all.
pub fn floor_filter() -> Vec<SockFilter> {
    vec![SockFilter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0x7fff_0000,
    }]
}

/// Every repetition's ns per call, by configuration and probe, with each filter installed
/// `copies` times (the kernel runs every attached filter on every uncached call, so a stack
/// multiplies a program's cost while the syscall's own cost stays the same), spaced at random
/// when `spaced` ([`Spacing`]). A repetition in which any child failed is dropped for all, so
/// the rounds stay aligned for comparisons.
pub fn samples(
    configs: &[Config],
    probes: &[Probe],
    n: u64,
    reps: usize,
    copies: usize,
    spaced: bool,
) -> Vec<Vec<Vec<f64>>> {
    let mut out = vec![vec![Vec::new(); probes.len()]; configs.len()];
    for _ in 0..reps {
        let round: Vec<Result<Vec<f64>, String>> = configs
            .iter()
            .map(|c| in_child(c, copies, spaced, probes, n))
            .collect();
        if let Some((c, Err(e))) = configs.iter().zip(&round).find(|(_, r)| r.is_err()) {
            eprintln!("wall clock, {}: {e}", c.name);
            continue;
        }
        for (ci, r) in round.into_iter().enumerate() {
            for (pi, v) in r.unwrap_or_default().into_iter().enumerate() {
                out[ci][pi].push(v);
            }
        }
    }
    out
}

/// [`crate::interval::median`], if there are samples.
pub fn median(xs: Vec<f64>) -> Option<f64> {
    (!xs.is_empty()).then(|| crate::interval::median(&xs))
}

/// Instructions the filter runs for a probe, and whether the kernel's cache skips it.
pub fn path(filter: &[SockFilter], p: &Probe) -> (usize, bool) {
    let executed =
        run(filter, &SeccompData::native(Arch::X86_64, p.nr, p.args)).map_or(0, |o| o.executed);
    (executed, cache::is_cached_allow(filter, Arch::X86_64, p.nr))
}

/// Runs the probes under `config` (its filter `copies` times) in a forked child and reads its
/// ns-per-call figures.
fn in_child(
    config: &Config,
    copies: usize,
    spaced: bool,
    probes: &[Probe],
    n: u64,
) -> Result<Vec<f64>, String> {
    let answer = forked::run(forked::CHILD_LIMIT, || {
        forked::numbers_line(child_figures(config, copies, spaced, probes, n))
    })?;
    forked::read_numbers(&answer, probes.len())
}

/// In the child: installs the filter under, if any, then the filter `copies` times, and times
/// the probes (ns per call).
fn child_figures(
    config: &Config,
    copies: usize,
    spaced: bool,
    probes: &[Probe],
    n: u64,
) -> Result<Vec<f64>, String> {
    if let Some(u) = &config.under {
        install(u)?;
    }
    if let Some(f) = &config.filter {
        Spacing::new(spaced)?.install(f, copies)?;
    }
    Ok(probes.iter().map(|p| time_probe(p, n)).collect())
}

/// Nanoseconds per call of `p`, after a warm-up of a tenth as many calls.
pub fn time_probe(p: &Probe, n: u64) -> f64 {
    for _ in 0..n / 10 {
        call(p);
    }
    let start = Instant::now();
    for _ in 0..n {
        call(p);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Makes the probe's syscall once.
fn call(p: &Probe) {
    let a = p.args.map(|x| x as libc::c_long);
    // SAFETY: the probes are side-effect-free calls (getppid, read of fd -1 into NULL with
    // count 0, an unimplemented syscall); nothing is read from or written to memory.
    let rc = unsafe {
        libc::syscall(
            libc::c_long::from(std::hint::black_box(p.nr) as i32),
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
        )
    };
    std::hint::black_box(rc);
}

/// Sets no_new_privs and attaches `filter` to the calling thread (seccomp filters and
/// no_new_privs belong to the thread that sets them; no other thread of the process is touched).
pub fn install(filter: &[SockFilter]) -> Result<(), String> {
    let insns: Vec<libc::sock_filter> = filter
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let prog = libc::sock_fprog {
        len: u16::try_from(insns.len()).map_err(|_| "filter too long".to_string())?,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "prctl(NO_NEW_PRIVS): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: prog points at `insns`, which outlives the call; the kernel copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(format!("seccomp: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}
