//! Timing filters in turns: one child process holds a thread per configuration, each with its
//! own stack of filters (seccomp filters belong to the thread that installs them), and the
//! threads, pinned to one CPU, take turns timing short chunks of calls. The machine's drift,
//! which moves a round of separate children by several percent, then falls on every filter
//! alike, and each turn of the round is one paired sample.

use crate::forked;
use crate::wallclock::{install, time_probe, Config, Probe};
use std::sync::mpsc;

/// Every round's ns per call, by configuration and probe (`[config][probe][round]`, the shape
/// of [`crate::wallclock::samples`]), each filter installed `copies` times on its own thread.
/// A round times every configuration on every probe for `chunk` calls, the configurations in an
/// order rotated each round; a first round warms up and is not kept.
pub fn samples(
    configs: &[Config],
    probes: &[Probe],
    chunk: u64,
    rounds: usize,
    copies: usize,
) -> Result<Vec<Vec<Vec<f64>>>, String> {
    let answer = forked::run(None, || {
        match in_turns(configs, probes, chunk, rounds, copies) {
            Ok(values) => {
                let text: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
                format!("{}\n", text.join(" "))
            }
            Err(e) => format!("ERR {e}\n"),
        }
        .into_bytes()
    })?;
    let status = answer.status;
    let text = String::from_utf8_lossy(&answer.bytes);
    let line = text.trim();
    if let Some(err) = line.strip_prefix("ERR ") {
        return Err(err.to_string());
    }
    let values: Vec<f64> = line.split(' ').filter_map(|v| v.parse().ok()).collect();
    if values.len() != rounds * probes.len() * configs.len() {
        return Err(format!(
            "child's report has {} values, not {} (wait status {status:#x})",
            values.len(),
            rounds * probes.len() * configs.len()
        ));
    }
    // The child reports round by round, probe by probe, configuration by configuration.
    let mut out = vec![vec![Vec::with_capacity(rounds); probes.len()]; configs.len()];
    for (i, v) in values.into_iter().enumerate() {
        let ci = i % configs.len();
        let pi = (i / configs.len()) % probes.len();
        out[ci][pi].push(v);
    }
    Ok(out)
}

/// In the child: pins it to one CPU, starts the threads, runs the rounds; the values come
/// round by round, probe by probe, configuration by configuration.
fn in_turns(
    configs: &[Config],
    probes: &[Probe],
    chunk: u64,
    rounds: usize,
    copies: usize,
) -> Result<Vec<f64>, String> {
    pin_to_current_cpu()?;
    let timers = configs
        .iter()
        .map(|c| Timer::start(c, copies))
        .collect::<Result<Vec<_>, String>>()?;
    let mut values = Vec::with_capacity(rounds * probes.len() * timers.len());
    for round in 0..=rounds {
        for p in probes {
            let mut row = vec![0.0; timers.len()];
            for turn in 0..timers.len() {
                let ci = (turn + round) % timers.len();
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
    name: String,
    ask: mpsc::Sender<(Probe, u64)>,
    answer: mpsc::Receiver<f64>,
}

impl Timer {
    /// Starts the thread and waits until it has installed `copies` of the filter.
    fn start(config: &Config, copies: usize) -> Result<Self, String> {
        let (ask, asked) = mpsc::channel::<(Probe, u64)>();
        let (answer_tx, answer) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let filter = config.filter.clone();
        std::thread::Builder::new()
            .name(config.name.clone())
            .spawn(move || {
                let installed = match &filter {
                    None => Ok(()),
                    Some(f) => (0..copies).try_for_each(|_| install(f)),
                };
                let ok = installed.is_ok();
                if ready_tx.send(installed).is_err() || !ok {
                    return;
                }
                // The thread never ends: the child leaves with _exit once the rounds are done,
                // so nothing runs past the filters but these calls and the channels' futexes.
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
