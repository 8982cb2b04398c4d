//! Timing filters in turns: one child process holds a thread per configuration, each with its
//! own stack of filters (seccomp filters belong to the thread that installs them), and the
//! threads, pinned to one CPU, take turns timing short chunks of calls, in an order shuffled
//! each round. The machine's drift, which moves a round of separate children by several
//! percent, then falls on every filter alike, so the rounds of one child pair up closely; the
//! caller sums a child up (where the kernel placed each program, drawn anew in each child, still
//! moves a whole child).

use crate::forked;
use crate::placement::Spacing;
use crate::wallclock::{install, time_probe, Config, Probe};
use sandbox_policy::bpf::ret;
use sandbox_policy::eval::{run, SeccompData};
use sandbox_policy::Arch;
use std::sync::mpsc;

/// Every round's ns per call, by configuration and probe (`[config][probe][round]`, the shape
/// of [`crate::wallclock::samples`]), each filter installed `copies` times on its own thread,
/// spaced at random when `spaced` ([`Spacing`]).
/// A round times every configuration on every probe for `chunk` calls (after a warm-up of a
/// tenth as many, see [`time_probe`]), the configurations in an order shuffled each round; a
/// first round warms up and is not kept.
pub fn samples(
    configs: &[Config],
    probes: &[Probe],
    chunk: u64,
    rounds: usize,
    copies: usize,
    spaced: bool,
) -> Result<Vec<Vec<Vec<f64>>>, String> {
    let answer = forked::run(forked::CHILD_LIMIT, || {
        forked::numbers_line(in_turns(configs, probes, chunk, rounds, copies, spaced))
    })?;
    let values = forked::read_numbers(&answer, rounds * probes.len() * configs.len())?;
    // The child answers round by round, probe by probe, configuration by configuration.
    let mut out = vec![vec![Vec::with_capacity(rounds); probes.len()]; configs.len()];
    for (i, v) in values.into_iter().enumerate() {
        let ci = i % configs.len();
        let pi = (i / configs.len()) % probes.len();
        out[ci][pi].push(v);
    }
    Ok(out)
}

/// How many copies of `config`'s program the kernel stacks on one thread, up to `most`
/// (its limit counts the instructions of the whole stack after each program's conversion to
/// eBPF, so seccompiler's Docker-like program of about 1,500 fits fewer times than 32), found
/// by installing them in a child until one is refused. An error says why the configuration
/// cannot be timed in turns: it has no program, its program does not allow a call the timing
/// thread itself makes (a denied futex would leave a thread spinning or asleep for good and
/// skew or stall the rounds), or the kernel refuses even one copy.
pub fn stackable(config: &Config, most: usize) -> Result<usize, String> {
    let f = config.filter.as_deref().ok_or("no program")?;
    for (name, nr, args) in thread_calls() {
        let outcome = run(f, &SeccompData::native(Arch::X86_64, nr, args));
        if !outcome.is_ok_and(|o| o.ret == ret::ALLOW) {
            return Err(format!(
                "its program does not allow {name}, which the timing thread makes"
            ));
        }
    }
    let answer = forked::run(forked::CHILD_LIMIT, || {
        let mut installed = 0;
        let mut refused = None;
        while installed < most {
            match install(f) {
                Ok(()) => installed += 1,
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        forked::numbers_line(match (installed, refused) {
            (0, Some(e)) => Err(e),
            _ => Ok(vec![installed as f64]),
        })
    })?;
    let counted = forked::read_numbers(&answer, 1)?;
    Ok(counted[0] as usize)
}

/// The calls a timing thread makes once its filters are in place, besides the probes: the
/// channels' futex waits and wakes, a yield while spinning, the clock's fallback, its exit.
fn thread_calls() -> [(&'static str, u32, [u64; 6]); 5] {
    let nr = |n: libc::c_long| n as u32;
    let op = |o: libc::c_int| [0, o as u64, 0, 0, 0, 0];
    [
        (
            "futex(FUTEX_WAIT_PRIVATE)",
            nr(libc::SYS_futex),
            op(libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG),
        ),
        (
            "futex(FUTEX_WAKE_PRIVATE)",
            nr(libc::SYS_futex),
            op(libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG),
        ),
        ("sched_yield", nr(libc::SYS_sched_yield), [0; 6]),
        ("clock_gettime", nr(libc::SYS_clock_gettime), [0; 6]),
        ("exit", nr(libc::SYS_exit), [0; 6]),
    ]
}

/// The order the configurations take their turns in, in round `round`: a shuffle seeded by
/// the round, so that no configuration always follows the same one.
fn order(round: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    // xorshift64*, seeded by the round (never zero).
    let mut state = (round as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// In the child: pins it to one CPU, starts the threads, runs the rounds; the values come
/// round by round, probe by probe, configuration by configuration.
fn in_turns(
    configs: &[Config],
    probes: &[Probe],
    chunk: u64,
    rounds: usize,
    copies: usize,
    spaced: bool,
) -> Result<Vec<f64>, String> {
    pin_to_current_cpu()?;
    let timers = configs
        .iter()
        .map(|c| Timer::start(c, copies, spaced))
        .collect::<Result<Vec<_>, String>>()?;
    let mut values = Vec::with_capacity(rounds * probes.len() * timers.len());
    for round in 0..=rounds {
        for p in probes {
            let mut row = vec![0.0; timers.len()];
            for ci in order(round, timers.len()) {
                row[ci] = timers[ci].time(*p, chunk)?;
            }
            // Round 0 is the warm-up.
            if round > 0 {
                values.extend(row);
            }
        }
    }
    Ok(values)
}

/// Keeps the calling process (and the threads it starts) on the CPU it is running on.
fn pin_to_current_cpu() -> Result<(), String> {
    // SAFETY: no arguments; returns the CPU number or -1.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        return Err(format!("sched_getcpu: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu is below CPU_SETSIZE (the kernel gave it); set is a valid cpu_set_t.
    unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    // SAFETY: set is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc != 0 {
        return Err(format!(
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A thread holding one configuration's filters, timing a probe whenever asked.
struct Timer {
    /// The configuration's name, for errors.
    name: String,
    /// Where the thread is asked to time a probe for a number of calls.
    ask: mpsc::Sender<(Probe, u64)>,
    /// Where it answers, in ns per call.
    answer: mpsc::Receiver<f64>,
}

impl Timer {
    /// Starts the thread and waits until it has installed `copies` of the filter, spaced at
    /// random when `spaced`.
    fn start(config: &Config, copies: usize, spaced: bool) -> Result<Self, String> {
        let (ask, asked) = mpsc::channel::<(Probe, u64)>();
        let (answer_tx, answer) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let filter = config.filter.clone();
        std::thread::Builder::new()
            .name(config.name.clone())
            .spawn(move || {
                let installed = match &filter {
                    None => Ok(()),
                    Some(f) => Spacing::new(spaced).and_then(|mut s| s.install(f, copies)),
                };
                let ok = installed.is_ok();
                if ready_tx.send(installed).is_err() || !ok {
                    return;
                }
                // Until the rounds are done and its channel closes (or the child leaves with
                // _exit first), the thread makes only the probes and the calls of
                // `thread_calls`, which `unfit` checked its program allows.
                while let Ok((p, n)) = asked.recv() {
                    if answer_tx.send(time_probe(&p, n)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("{}: thread: {e}", config.name))?;
        ready
            .recv()
            .map_err(|_| format!("{}: the thread ended before installing", config.name))?
            .map_err(|e| format!("{}: {e}", config.name))?;
        Ok(Self {
            name: config.name.clone(),
            ask,
            answer,
        })
    }

    /// Nanoseconds per call of `p` over `n` calls on this thread.
    fn time(&self, p: Probe, n: u64) -> Result<f64, String> {
        self.ask
            .send((p, n))
            .map_err(|_| format!("{}: the thread has ended", self.name))?;
        self.answer
            .recv()
            .map_err(|_| format!("{}: the thread has ended", self.name))
    }
}
