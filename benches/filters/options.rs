//! What a run of the filters benchmark measures, from its arguments and environment.

/// The most copies of one filter stacked on a thread unless `SANDBOX_BENCH_STACK` says
/// otherwise: the more copies, the more of a call's time is the program's, and the more the
/// random placement of each copy ([`crate::placement`]) averages out within a child.
const STACK_MOST: usize = 32;

/// The most `SANDBOX_BENCH_STACK` may ask for: each spaced copy keeps a socket open for the
/// child's life, and a child stacks every configuration, so more would run into the usual
/// limit of 1,024 open files.
const STACK_CEILING: usize = 64;

/// The sections a run measures (`SANDBOX_BENCH_ONLY`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// Every section.
    Everything,
    /// `stacked`: only the stacked comparison, without the instruction tables, the
    /// single-filter wall clock and the set-id guard's comparison.
    Stacked,
    /// `guard`: only the set-id guard's comparison, merged against stacked.
    Guard,
}

/// The benchmark's settings.
pub struct Options {
    /// `SANDBOX_BENCH_QUICK=1` or `--quick`: few iterations, to keep the measurement working.
    pub quick: bool,
    /// `SANDBOX_BENCH_STRICT=1` or `--strict`: a missed target fails the run.
    pub strict: bool,
    /// `SANDBOX_BENCH_ONLY`: one section alone, or everything.
    pub only: Only,
    /// `SANDBOX_BENCH_STACK=n` (1 to 64): the most copies of a filter stacked on a thread.
    pub stack_most: usize,
    /// `SANDBOX_BENCH_SPACING=0` turns off the random spacing of copies: the kernel packs them
    /// at a fixed stride, which biases a filter's time (shown by the padded controls).
    pub spaced: bool,
    /// `SANDBOX_BENCH_PADDED=100,412`: more controls, ours padded with never-run instructions
    /// to these lengths, which run the same path as ours in a program of another size.
    pub padded: Vec<usize>,
}

impl Options {
    /// Reads the arguments and environment; a value that cannot be used is an error naming it.
    pub fn from_env() -> Result<Self, String> {
        let only = std::env::var("SANDBOX_BENCH_ONLY").ok();
        let only = match only.as_deref() {
            None | Some("") => Only::Everything,
            Some("stacked") => Only::Stacked,
            Some("guard") => Only::Guard,
            Some(other) => {
                return Err(format!(
                    "SANDBOX_BENCH_ONLY={other}: the filters benchmark knows only `stacked` and `guard`"
                ))
            }
        };
        let stack_most = match std::env::var("SANDBOX_BENCH_STACK") {
            Err(_) => STACK_MOST,
            Ok(v) => match v.parse::<usize>() {
                Ok(n) if (1..=STACK_CEILING).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "SANDBOX_BENCH_STACK={v}: not a count from 1 to {STACK_CEILING}"
                    ))
                }
            },
        };
        let spaced = match std::env::var("SANDBOX_BENCH_SPACING").as_deref() {
            Err(_) | Ok("1") => true,
            Ok("0") => false,
            Ok(v) => return Err(format!("SANDBOX_BENCH_SPACING={v}: not 0 or 1")),
        };
        let padded = match std::env::var("SANDBOX_BENCH_PADDED") {
            Err(_) => Vec::new(),
            Ok(v) => v
                .split(',')
                .map(|n| match n.trim().parse::<usize>() {
                    Ok(n) if (1..=u16::MAX as usize).contains(&n) => Ok(n),
                    _ => Err(format!(
                        "SANDBOX_BENCH_PADDED={v}: `{n}` is not a program length (1 to 65535)"
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            quick: flag("--quick", "SANDBOX_BENCH_QUICK"),
            strict: flag("--strict", "SANDBOX_BENCH_STRICT"),
            only,
            stack_most,
            spaced,
            padded,
        })
    }
}

/// Whether a flag is given as an argument or its environment variable is `1`.
fn flag(arg: &str, env: &str) -> bool {
    std::env::args().any(|a| a == arg) || std::env::var(env).is_ok_and(|v| v == "1")
}
