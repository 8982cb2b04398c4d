//! `sandbox run --policy FILE [options] -- PROGRAM [ARGS...]`

use crate::output_file::OutputFile;
use crate::policy_file;
use clap::Args;
use sandbox_runtime::{Limits, Outcome, SandboxChild, SandboxCommand, Status, SyscallMode};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Exit status when the policy was violated.
pub const EXIT_VIOLATION: u8 = 159;
/// Exit status on a time-out.
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit status when the sandbox could not be set up.
pub const EXIT_SETUP: u8 = 125;
/// Exit status when PROGRAM exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: u8 = 126;
/// Exit status when PROGRAM is not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// Arguments of `sandbox run`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: the program's own exit code when it exits; 128+N when \
    killed by signal N; 159 on a policy violation; 124 on time-out; 125 when the sandbox could \
    not be set up; 126 when PROGRAM is not executable; 127 when it is not found."
)]
pub struct RunArgs {
    /// The policy file.
    #[arg(long)]
    policy: PathBuf,
    /// Do not enforce the policy: let each call it would kill run, and report each distinct
    /// (syscall, deciding rule) once on stderr. For tightening a policy step by step; the
    /// namespaces, mounts and limits still apply.
    #[arg(long = "log-violations")]
    log_violations: bool,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Write the outcome as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS...]")]
    command: Vec<String>,
}

/// What the program sees and what bounds it: the options `run` and `learn` share.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Bind a host path read-only at DST (default: the same path). Repeatable.
    #[arg(long = "ro", value_name = "SRC[:DST]")]
    ro: Vec<String>,
    /// Bind a host path read-write (and noexec) at DST (default: the same path). Repeatable.
    #[arg(long = "rw", value_name = "SRC[:DST]")]
    rw: Vec<String>,
    /// Mount a fresh tmpfs at DST, of SIZE bytes (suffixes K, M, G; default 64M). Repeatable.
    #[arg(long = "tmpfs", value_name = "DST[:SIZE]")]
    tmpfs: Vec<String>,
    /// Working directory inside the sandbox.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Set an environment variable (the environment is otherwise empty). Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Share the host's network (off by default: the sandbox has only its own `lo`).
    #[arg(long)]
    net: bool,
    /// Host name inside the sandbox.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Wall-clock limit in seconds (fractions allowed).
    #[arg(long = "time-limit", value_name = "SECONDS")]
    time_limit: Option<f64>,
    /// CPU-time limit in seconds, per process (RLIMIT_CPU): a program that forks can use more in
    /// all; --time-limit bounds the whole sandbox.
    #[arg(long = "cpu-limit", value_name = "SECONDS")]
    cpu_limit: Option<f64>,
    /// Memory limit for the whole sandbox (suffixes K, M, G).
    #[arg(long, value_name = "BYTES")]
    memory: Option<String>,
    /// Maximum number of processes and threads in the sandbox.
    #[arg(long, value_name = "N")]
    pids: Option<u64>,
    /// Largest file the program may write (suffixes K, M, G).
    #[arg(long = "file-size", value_name = "BYTES")]
    file_size: Option<String>,
    /// Maximum number of open files.
    #[arg(long = "open-files", value_name = "N")]
    open_files: Option<u64>,
}

/// Runs the program and maps the outcome to an exit status.
pub fn main(args: RunArgs) -> ExitCode {
    // Opened before the run, so that the sandbox cannot redirect the report (see `OutputFile`).
    let report_file = match args.report.as_deref().map(OutputFile::open).transpose() {
        Ok(f) => f,
        Err(e) => {
            let path = args.report.as_deref().unwrap_or(Path::new("")).display();
            eprintln!("sandbox: cannot write report `{path}`: {e}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let started = start(&args.sandbox, &args.command, |cmd| {
        let compiled = policy_file::load(&args.policy).ok_or(ExitCode::from(EXIT_SETUP))?;
        cmd.policy(&compiled.policy);
        if args.log_violations {
            cmd.syscall_mode(SyscallMode::LogViolations);
        }
        Ok(())
    });
    let mut child = match started {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(observations) = child.observations() {
        let mut seen = std::collections::BTreeSet::new();
        for o in observations {
            if seen.insert((o.nr, o.decided_by.clone())) {
                eprintln!("sandbox: policy violation (let run): {o}");
            }
        }
    }
    let outcome = child.wait();
    if let Some(file) = &report_file {
        let json = serde_json::to_string_pretty(&outcome.to_json()).unwrap_or_default();
        if let Err(e) = file.write(&(json + "\n")) {
            eprintln!(
                "sandbox: cannot write report `{}`: {e}",
                file.path().display()
            );
        }
    }
    report(&outcome)
}

/// What `run` and `learn` share: finds the program, builds its sandbox from the common options,
/// lets `configure` finish the command (a policy, learn mode), and spawns it. On a failure,
/// prints why and returns the exit status to end with.
pub fn start(
    sandbox: &SandboxArgs,
    command: &[String],
    configure: impl FnOnce(&mut SandboxCommand) -> Result<(), ExitCode>,
) -> Result<SandboxChild, ExitCode> {
    let program = find_program(&command[0]).map_err(|(code, message)| {
        eprintln!("sandbox: {message}");
        ExitCode::from(code)
    })?;
    let setup_error = |message: String| {
        eprintln!("sandbox: {message}");
        ExitCode::from(EXIT_SETUP)
    };
    let mut cmd = build(sandbox, command, &program).map_err(setup_error)?;
    configure(&mut cmd)?;
    cmd.spawn().map_err(|e| setup_error(e.to_string()))
}

/// Prints a non-exit outcome and maps it to the exit status.
pub fn report(outcome: &Outcome) -> ExitCode {
    if !matches!(outcome.status, Status::Exited(_)) {
        eprintln!("sandbox: {outcome}");
    }
    ExitCode::from(match &outcome.status {
        Status::Exited(code) => (*code & 0xff) as u8,
        Status::Signaled(sig) => (128 + sig).clamp(0, 255) as u8,
        Status::Violation(_) => EXIT_VIOLATION,
        Status::Timeout => EXIT_TIMEOUT,
        Status::Killed => (128 + libc::SIGKILL) as u8,
        Status::SetupError(e) if e.errno == libc::ENOENT && e.step.starts_with("exec") => {
            EXIT_NOT_FOUND
        }
        Status::SetupError(e) if e.errno == libc::EACCES && e.step.starts_with("exec") => {
            EXIT_NOT_EXECUTABLE
        }
        Status::SetupError(_) => EXIT_SETUP,
    })
}

/// Finds PROGRAM like a shell: a name with a `/` as is, otherwise on the host's PATH.
pub fn find_program(name: &str) -> Result<PathBuf, (u8, String)> {
    let candidates: Vec<PathBuf> = if name.contains('/') {
        vec![PathBuf::from(name)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&path).map(|d| d.join(name)).collect()
    };
    let found = candidates.into_iter().find(|p| p.is_file());
    let Some(path) = found else {
        return Err((EXIT_NOT_FOUND, format!("{name}: program not found")));
    };
    if !is_executable(&path) {
        return Err((
            EXIT_NOT_EXECUTABLE,
            format!("{}: not executable", path.display()),
        ));
    }
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The command for PROGRAM (`command[0]`, found at `program`) with the shared options; no
/// policy yet.
pub fn build(
    args: &SandboxArgs,
    command: &[String],
    program: &Path,
) -> Result<SandboxCommand, String> {
    let mut cmd = SandboxCommand::new(program);
    cmd.args(&command[1..]);
    cmd.add_program_with_libraries(program);
    for spec in &args.ro {
        let (src, dst) = split_mount(spec)?;
        cmd.mount_ro(src, dst);
    }
    for spec in &args.rw {
        let (src, dst) = split_mount(spec)?;
        cmd.mount_rw(src, dst);
    }
    for spec in &args.tmpfs {
        let (dst, size) = match spec.split_once(':') {
            Some((d, s)) => (d, parse_size(s)?),
            None => (spec.as_str(), 64 << 20),
        };
        cmd.tmpfs(dst, size);
    }
    if let Some(dir) = &args.cwd {
        cmd.current_dir(dir);
    }
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--env `{kv}`: expected KEY=VALUE"))?;
        cmd.env(k, v);
    }
    if let Some(h) = &args.hostname {
        cmd.hostname(h.clone());
    }
    cmd.share_network(args.net);
    let limits = Limits {
        wall_time: args.time_limit.map(seconds).transpose()?,
        cpu_time: args.cpu_limit.map(seconds).transpose()?,
        memory: args.memory.as_deref().map(parse_size).transpose()?,
        pids: args.pids,
        file_size: args.file_size.as_deref().map(parse_size).transpose()?,
        open_files: args.open_files,
        ..Limits::default()
    };
    limits.validate().map_err(|e| e.to_string())?;
    cmd.limits(limits);
    Ok(cmd)
}

fn seconds(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("`{s}` is not a valid number of seconds"))
}

fn split_mount(spec: &str) -> Result<(PathBuf, PathBuf), String> {
    let (src, dst) = match spec.split_once(':') {
        Some((s, d)) => (s, d),
        None => (spec, spec),
    };
    if src.is_empty() || dst.is_empty() {
        return Err(format!("mount `{spec}`: expected SRC[:DST]"));
    }
    Ok((PathBuf::from(src), PathBuf::from(dst)))
}

/// Parses `123`, `64K`, `512M`, `2G` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.chars().last() {
        Some('K' | 'k') => (&text[..text.len() - 1], 10),
        Some('M' | 'm') => (&text[..text.len() - 1], 20),
        Some('G' | 'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("`{text}` is not a size (use a number with K, M or G)"))
}
