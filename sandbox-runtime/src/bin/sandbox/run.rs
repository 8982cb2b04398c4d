//! `sandbox run --policy FILE [options] -- PROGRAM [ARGS...]`

use crate::console::errln;
use crate::interrupt::Watch;
use crate::output_file::OutputFile;
use crate::path_spec::{self, PathSpec};
use crate::policy_file::{self, PolicyError};
use clap::Args;
use sandbox_policy::Arch;
use sandbox_runtime::{
    LimitError, Limits, Observations, Outcome, SandboxChild, SandboxCommand, SetupError,
    SpawnError, Status, SyscallMode,
};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
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
    not be set up, or the report cannot be written; 126 when PROGRAM is not executable (a \
    directory, a device, a file without execute permission, a script or another file that is \
    no ELF binary, or one for another machine); 127 when it is not found. A program can exit \
    with any of these codes itself (or kill itself with SIGSYS, 159): the report's `status` \
    tells them apart.\n\n\
    The report is written whatever happens once its file is open: a run that fails before \
    the program starts reports status `setup_error` with the reason in `error`.\n\n\
    SIGINT (Ctrl-C), SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 or SIGALRM to this command kill \
    the sandbox, write the report (status `killed`), and end the command with 128+N; one the \
    command was started with ignored (nohup) stays ignored."
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
    /// Write the outcome as JSON to FILE (not a directory, nor the policy or a file it includes).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The program and its arguments (any bytes but NUL, as the system takes them).
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS...]")]
    command: Vec<OsString>,
}

/// What the program sees and what bounds it: the options `run` and `learn` share.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Bind a host path read-only at DST (default: the same path). In either path, write a `:`
    /// as `\:` and a `\` as `\\`. Repeatable.
    #[arg(long = "ro", value_name = "SRC[:DST]")]
    ro: Vec<OsString>,
    /// Bind a host path read-write (and noexec) at DST (default: the same path), paths written
    /// as for --ro. The program can make no Unix socket there (only in a --tmpfs), so that no
    /// other sandbox binding it can connect. Repeatable.
    #[arg(long = "rw", value_name = "SRC[:DST]")]
    rw: Vec<OsString>,
    /// Mount a fresh tmpfs at DST, of SIZE bytes (suffixes K, M, G; default 64M), holding at most one file per 4 KiB of it (at least 256); DST written as for --ro. Repeatable.
    #[arg(long = "tmpfs", value_name = "DST[:SIZE]")]
    tmpfs: Vec<OsString>,
    /// Working directory inside the sandbox.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Set an environment variable (the environment is otherwise empty; any bytes but NUL, as
    /// the system takes them). Repeatable, each variable once.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<OsString>,
    /// Share the host's network (off by default: the sandbox has only its own `lo`).
    #[arg(long)]
    net: bool,
    /// Let the program make user namespaces of its own, where its policy allows it (off by
    /// default: nothing in the sandbox can make one, so nothing in it has a capability).
    #[arg(long = "allow-user-namespaces")]
    user_namespaces: bool,
    /// Host name inside the sandbox.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Wall-clock limit in seconds (fractions allowed).
    #[arg(
        long = "time-limit",
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    time_limit: Option<String>,
    /// CPU-time limit in seconds, per process (RLIMIT_CPU, which counts whole seconds: a
    /// fraction is rounded up); a program that forks can use more in all; --time-limit bounds the
    /// whole sandbox.
    #[arg(
        long = "cpu-limit",
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    cpu_limit: Option<String>,
    /// Memory limit for the whole sandbox where a cgroup holds it (the report says which), else
    /// each process's address space, blind to tmpfs and memfd contents (suffixes K, M, G).
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true)]
    memory: Option<String>,
    /// Maximum number of processes and threads in the sandbox, its init included (the
    /// program and its children get N-1, so at least 2).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pids: Option<String>,
    /// Largest length a file may grow to (suffixes K, M, G); not disk space: what a --rw bind
    /// takes is bounded by its file system only.
    #[arg(
        long = "file-size",
        value_name = "BYTES",
        allow_negative_numbers = true
    )]
    file_size: Option<String>,
    /// Maximum number of open files.
    #[arg(long = "open-files", value_name = "N", allow_negative_numbers = true)]
    open_files: Option<String>,
}

/// Why PROGRAM was not started: nothing ran.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// PROGRAM is not at the path given, or not on PATH.
    #[error("{0}: program not found")]
    NotFound(String),
    /// PROGRAM is there but cannot be executed.
    #[error("{}: {why}", .path.display())]
    NotExecutable {
        /// Where PROGRAM is.
        path: PathBuf,
        /// Why it cannot be executed: a directory, not a regular file, no execute permission,
        /// or the error that looking at it gave (a directory on the way that may not be read).
        why: String,
    },
    /// The policy file cannot be read or does not compile.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// An option does not hold: a mount, a size, a limit, an environment variable.
    #[error("{0}")]
    BadOption(String),
    /// The sandbox could not be spawned.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
}

impl StartError {
    /// The exit status: [`EXIT_NOT_FOUND`], [`EXIT_NOT_EXECUTABLE`], or [`EXIT_SETUP`].
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            StartError::NotFound(_) => EXIT_NOT_FOUND,
            StartError::NotExecutable { .. } => EXIT_NOT_EXECUTABLE,
            _ => EXIT_SETUP,
        })
    }

    /// Prints the error on stderr: `sandbox: ...`, or a policy's errors like rustc.
    pub fn print(&self) {
        match self {
            StartError::Policy(e) => e.print(),
            _ => errln!("sandbox: {self}"),
        }
    }

    /// The outcome a report records: a setup error naming the problem, after no time.
    pub fn outcome(&self) -> Outcome {
        let error = match self {
            StartError::NotFound(name) => SetupError {
                step: format!("find {name}"),
                errno: libc::ENOENT,
                cause: "program not found".into(),
            },
            StartError::NotExecutable { path, why } => SetupError {
                step: format!("execute {}", path.display()),
                errno: libc::EACCES,
                cause: why.clone(),
            },
            StartError::Policy(e) => SetupError::other("load the policy", e.to_string()),
            StartError::BadOption(e) => SetupError::other("configure the sandbox", e.clone()),
            StartError::Spawn(e) => SetupError::other("start the sandbox", e.to_string()),
        };
        Outcome::never_ran(error)
    }
}

/// Why the report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file cannot be opened, or written.
    #[error("cannot write report `{}`: {source}", .path.display())]
    Io {
        /// The report's path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is the policy file, a file the policy includes, this executable or the program to
    /// run, which the report would replace.
    #[error("--report `{}` names {what}, which it would overwrite", .path.display())]
    WouldOverwrite {
        /// The report's path.
        path: PathBuf,
        /// The file it names, in words ([`policy_file::overwritten`]).
        what: String,
    },
}

/// Runs the program and maps the outcome to an exit status. Once the report's file is open,
/// every end writes it, a failure to start the program included.
pub fn main(args: RunArgs) -> ExitCode {
    // Compiled once: the report must not replace what the compilation read. Only this
    // machine's program is made (every one on an unsupported machine, where the spawn then
    // refuses the policy).
    let here = Arch::native().map_or_else(|| Arch::ALL.to_vec(), |a| vec![a]);
    let (sources, policy) = policy_file::compile_listing_sources(&args.policy, &here);
    // Opened before the run, so that the sandbox cannot redirect the report (see `OutputFile`).
    let report_file = match open_report(&args, &sources) {
        Ok(f) => f,
        Err(e) => {
            errln!("sandbox: {e}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let configured = |cmd: &mut SandboxCommand| configure(&args, policy, cmd);
    // A signal before the sandbox is made ends the command at once (see `interrupt::Watch`),
    // once the report says so: whichever of the two writes it takes the file.
    let report_file = Arc::new(Mutex::new(report_file));
    let early = Arc::clone(&report_file);
    let signals = crate::interrupt::watch_with(Box::new(move |signal| {
        // Held while writing, as below: a signal during the main thread's write waits for it.
        let mut held = early.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = held.take() {
            let why = format!("ended by {signal} before the program started");
            let mut outcome = Outcome::never_ran(SetupError::other("set up the sandbox", why));
            outcome.status = Status::Killed;
            if let Err(e) = write_report(&file, &outcome) {
                errln!("sandbox: {e}");
            }
        }
    }));
    let (outcome, code, said) = match start(&args.sandbox, &args.command, configured, &signals) {
        Ok(child) => {
            let signal = signals.arm(child.killer());
            let (outcome, printer) = watch(child);
            let code = signal.exit_code().unwrap_or_else(|| exit_code(&outcome));
            (outcome, code, Said::Outcome(printer))
        }
        Err(e) => {
            let code = signals.received().exit_code().unwrap_or(e.exit_code());
            (e.outcome(), code, Said::StartError(e))
        }
    };
    // The report first: standard error may be a pipe nobody reads any more, or that is full.
    let written = {
        let mut held = report_file.lock().unwrap_or_else(|e| e.into_inner());
        held.take().map(|file| write_report(&file, &outcome))
    };
    match said {
        Said::Outcome(printer) => {
            // Every violation line before the outcome's.
            if let Some(printer) = printer {
                let _ = printer.join();
            }
            print_outcome(&outcome);
        }
        Said::StartError(e) => e.print(),
    }
    match written {
        Some(Err(e)) => {
            errln!("sandbox: {e}");
            ExitCode::from(EXIT_SETUP)
        }
        _ => code,
    }
}

/// What a run has left to print on standard error once its report is written.
enum Said {
    /// The outcome, after the violation lines its printer thread (if any) still has to print.
    Outcome(Option<std::thread::JoinHandle<()>>),
    /// Why the program could not start.
    StartError(StartError),
}

/// Opens `--report`, if given; refuses the policy file and every file it includes (`sources`),
/// this executable and the program to run.
fn open_report(args: &RunArgs, sources: &[PathBuf]) -> Result<Option<OutputFile>, ReportError> {
    let Some(path) = &args.report else {
        return Ok(None);
    };
    let file = OutputFile::open(path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    // The program as the run will find it; one not found fails the run later, in its words.
    let program = find_program(&args.command[0]).ok();
    if let Some(what) = policy_file::overwritten(sources, program.as_deref(), &file) {
        return Err(ReportError::WouldOverwrite {
            path: path.clone(),
            what,
        });
    }
    Ok(Some(file))
}

/// Writes `outcome` as the JSON report.
fn write_report(file: &OutputFile, outcome: &Outcome) -> Result<(), ReportError> {
    let json = serde_json::to_string_pretty(&outcome.to_json()).unwrap_or_default();
    file.write(json + "\n").map_err(|source| ReportError::Io {
        path: file.path().to_path_buf(),
        source,
    })
}

/// `run`'s part of the command: the policy (compiled, or why not), and whether it is enforced.
fn configure(
    args: &RunArgs,
    policy: Result<policy_file::PolicyFile, policy_file::PolicyError>,
    cmd: &mut SandboxCommand,
) -> Result<(), StartError> {
    let compiled = policy?.compiled;
    cmd.policy(&compiled.policy);
    if args.log_violations {
        cmd.syscall_mode(SyscallMode::LogViolations);
    }
    Ok(())
}

/// The most distinct (syscall, deciding rule) pairs a `--log-violations` run prints. A program
/// may call endless distinct syscall numbers (each unknown one is a violation of its own), and
/// what is remembered to print each once must not grow with them.
const MAX_SHOWN_VIOLATIONS: usize = 1024;

/// Waits for the sandbox's end and returns its outcome, with the thread that prints each
/// distinct (syscall, deciding rule) a `--log-violations` run let through, once, if it runs.
///
/// The observations are read and sorted out on a thread of their own, which never writes: a
/// standard error that blocks (a full pipe nobody reads, which the sandboxee may share) holds up
/// only the printing thread, while every call the sandbox makes meanwhile is still taken off
/// the channel, and the run still ends (and its report is written) on time. What waits to be
/// printed is at most [`MAX_SHOWN_VIOLATIONS`] lines.
fn watch(mut child: SandboxChild) -> (Outcome, Option<std::thread::JoinHandle<()>>) {
    let printer = child.observations().and_then(|observations| {
        let (to_print, lines) = std::sync::mpsc::channel::<String>();
        let started = std::thread::Builder::new()
            .name("sandbox-violations".into())
            .spawn(move || sort_out(observations, &to_print))
            .and_then(|sorter| {
                std::thread::Builder::new()
                    .name("sandbox-print".into())
                    .spawn(move || {
                        for line in lines {
                            errln!("sandbox: {line}");
                        }
                        // The sorter has ended: its sender is gone.
                        let _ = sorter.join();
                    })
            });
        match started {
            Ok(printer) => Some(printer),
            // The observations went with the closure: the calls still run, unreported.
            Err(e) => {
                errln!("sandbox: no violation will be shown: cannot start a thread: {e}");
                None
            }
        }
    });
    (child.wait(), printer)
}

/// Reads every observation until the sandbox ends, and sends a line to print for each distinct
/// (syscall, deciding rule, refused or not), for the first [`MAX_SHOWN_VIOLATIONS`], then one
/// saying the rest are not shown.
fn sort_out(observations: Observations, to_print: &Sender<String>) {
    let mut seen = HashSet::new();
    for o in observations {
        // A refused call is shown apart from the let-run calls of the same syscall and rule.
        let key = (o.nr, o.decided_by.clone(), o.refused);
        if seen.len() > MAX_SHOWN_VIOLATIONS || !seen.insert(key) {
            continue;
        }
        let line = if seen.len() > MAX_SHOWN_VIOLATIONS {
            format!("{MAX_SHOWN_VIOLATIONS} distinct violations shown; later ones are not")
        } else {
            let done = match o.refused {
                Some(errno) => match sandbox_policy::tables::errno_name(errno) {
                    Some(name) => format!("refused: {name}"),
                    None => format!("refused: errno {errno}"),
                },
                None => "let run".to_string(),
            };
            format!("policy violation ({done}): {o}")
        };
        let _ = to_print.send(line);
    }
}

/// What `run` and `learn` share: finds the program, builds its sandbox from the common options,
/// lets `configure` finish the command (a policy, learn mode), and spawns it, telling `signals`
/// when the sandbox is being made. Prints nothing: the caller prints the error
/// ([`StartError::print`]).
pub fn start(
    sandbox: &SandboxArgs,
    command: &[OsString],
    configure: impl FnOnce(&mut SandboxCommand) -> Result<(), StartError>,
    signals: &Watch,
) -> Result<SandboxChild, StartError> {
    let program = find_program(&command[0])?;
    let mut cmd = build(sandbox, command, &program).map_err(StartError::BadOption)?;
    configure(&mut cmd)?;
    // Found before the sandbox is made: a signal during the search ends the command at once.
    cmd.find_libraries().map_err(StartError::from)?;
    signals.making();
    let child = cmd.spawn().map_err(|e| match e {
        SpawnError::Limit(e) => StartError::BadOption(limit_message(e)),
        e => e.into(),
    })?;
    crate::exiting_init::remember(child.id());
    Ok(child)
}

/// Prints a non-exit outcome and maps it to the exit status.
pub fn report(outcome: &Outcome) -> ExitCode {
    print_outcome(outcome);
    exit_code(outcome)
}

/// Prints a non-exit outcome on standard error.
fn print_outcome(outcome: &Outcome) {
    if !matches!(outcome.status, Status::Exited(_)) {
        errln!("sandbox: {outcome}");
    }
}

/// The command's exit status for `outcome`.
fn exit_code(outcome: &Outcome) -> ExitCode {
    ExitCode::from(match &outcome.status {
        Status::Exited(code) => (*code & 0xff) as u8,
        Status::Signaled(sig) => (128 + sig).clamp(0, 255) as u8,
        Status::Violation(_) => EXIT_VIOLATION,
        Status::Timeout(_) => EXIT_TIMEOUT,
        Status::Killed => (128 + libc::SIGKILL) as u8,
        Status::SetupError(e) if e.errno == libc::ENOENT && e.step.starts_with("exec") => {
            EXIT_NOT_FOUND
        }
        Status::SetupError(e)
            if matches!(e.errno, libc::EACCES | libc::ENOEXEC) && e.step.starts_with("exec") =>
        {
            EXIT_NOT_EXECUTABLE
        }
        Status::SetupError(_) => EXIT_SETUP,
    })
}

/// Each limit of [`Limits`] the options set, by its field's name, and the option that sets it.
const LIMIT_OPTIONS: [(&str, &str); 6] = [
    ("wall_time", "--time-limit"),
    ("cpu_time", "--cpu-limit"),
    ("memory", "--memory"),
    ("pids", "--pids"),
    ("file_size", "--file-size"),
    ("open_files", "--open-files"),
];

/// Finds PROGRAM like a shell: a name with a `/` as is, otherwise on the host's PATH (the first
/// executable regular file of that name, else the first regular file, which then is not
/// executable). A path that is there but not an executable regular file (a
/// directory, a device) cannot be executed.
pub fn find_program(name: &OsStr) -> Result<PathBuf, StartError> {
    if name.is_empty() {
        return Err(StartError::BadOption(
            "the program's name is empty (after --)".into(),
        ));
    }
    let not_found = || StartError::NotFound(name.to_string_lossy().into_owned());
    let path = if name.as_bytes().contains(&b'/') {
        PathBuf::from(name)
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        let files: Vec<PathBuf> = std::env::split_paths(&path)
            .map(|d| d.join(name))
            .filter(|p| p.is_file())
            .collect();
        let runnable = files
            .iter()
            .find(|p| std::fs::metadata(p).is_ok_and(|m| is_executable(&m)));
        runnable.or(files.first()).cloned().ok_or_else(not_found)?
    };
    let metadata = std::fs::metadata(&path).map_err(|e| {
        // Missing (or a file on the way instead of a directory): not found, as a shell says;
        // anything else (a directory on the way that may not be searched) says itself.
        if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) {
            not_found()
        } else {
            StartError::NotExecutable {
                path: path.clone(),
                why: e.to_string(),
            }
        }
    })?;
    let why = if metadata.is_dir() {
        Some("is a directory".into())
    } else if !metadata.is_file() {
        Some("is not a regular file".into())
    } else if !is_executable(&metadata) {
        Some("not executable".into())
    } else {
        not_a_program(&path)
    };
    if let Some(why) = why {
        return Err(StartError::NotExecutable { path, why });
    }
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

/// Why a file the system would let run is no program the sandbox can start, if it is not: the
/// sandbox runs ELF binaries only (a script's interpreter would get it as `/dev/fd/N`, which
/// its close-on-exec descriptor has closed by then). Unreadable files are left to the spawn.
fn not_a_program(path: &Path) -> Option<String> {
    let mut start = [0u8; 2];
    let file = std::fs::File::open(path).ok()?;
    let n = std::os::unix::fs::FileExt::read_at(&file, &mut start, 0).ok()?;
    if start[..n] == *b"#!" {
        return Some(
            "is a script (#!), which the sandbox cannot run directly: run its interpreter with \
             the script as an argument"
                .into(),
        );
    }
    // What the kernel refuses with ENOEXEC; a file that cannot be read is left to the spawn.
    match sandbox_runtime::elf::check_runnable(path) {
        Err(sandbox_runtime::elf::ElfError::NotElf(_)) => Some("is not an ELF binary".into()),
        Err(sandbox_runtime::elf::ElfError::Unsupported { reason, .. }) => {
            Some(format!("is an ELF file the sandbox cannot run: {reason}"))
        }
        // The kernel cannot load it either: a shell's exec fails, and it says 126.
        Err(sandbox_runtime::elf::ElfError::Truncated { what, .. }) => {
            Some(format!("is a truncated or malformed ELF file ({what})"))
        }
        _ => None,
    }
}

fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

/// The command for PROGRAM (`command[0]`, found at `program`) with the shared options; no
/// policy yet.
pub fn build(
    args: &SandboxArgs,
    command: &[OsString],
    program: &Path,
) -> Result<SandboxCommand, String> {
    let mut cmd = SandboxCommand::new(program);
    // The name as typed, as a shell gives it: `program` is where it resolved to (`sh` may be
    // `/usr/bin/dash`), which programs that go by their name (`xzcat`) would misread.
    cmd.arg0(&command[0]);
    cmd.args(&command[1..]);
    cmd.add_program_with_libraries(program);
    for spec in &args.ro {
        let (src, dst) = split_mount("--ro", spec)?;
        cmd.mount_ro(src, dst);
    }
    for spec in &args.rw {
        let (src, dst) = split_mount("--rw", spec)?;
        cmd.mount_rw(src, dst);
    }
    for spec in &args.tmpfs {
        let error = |e: String| format!("--tmpfs `{}`: {e}", spec.to_string_lossy());
        let PathSpec { path: dst, rest } = path_spec::split(spec).map_err(error)?;
        let size = match rest {
            // A size is ASCII: what is not UTF-8 is no size either.
            Some(size) => parse_size(&size.to_string_lossy()).map_err(error)?,
            None => 64 << 20,
        };
        if dst.as_os_str().is_empty() {
            return Err(error("expected DST[:SIZE]".into()));
        }
        cmd.tmpfs(dst, size);
    }
    if let Some(dir) = &args.cwd {
        cmd.current_dir(dir);
    }
    let mut given: Vec<(&OsStr, &OsStr)> = Vec::with_capacity(args.env.len());
    for kv in &args.env {
        let (k, v) = parse_env(kv)?;
        if let Some((_, first)) = given.iter().find(|(name, _)| *name == k) {
            let (k, first) = (k.to_string_lossy(), first.to_string_lossy());
            return Err(format!(
                "--env `{k}` is given twice (`{k}={first}`, then `{}`): give each variable once",
                kv.to_string_lossy()
            ));
        }
        given.push((k, v));
        cmd.env(k, v);
    }
    if let Some(h) = &args.hostname {
        cmd.hostname(h.clone());
    }
    cmd.share_network(args.net);
    cmd.allow_user_namespaces(args.user_namespaces);
    // Each error names the option it came from, as the user wrote it.
    let option = |field: &str| {
        let flag = option_name(field).to_string();
        move |e: String| format!("{flag}: {e}")
    };
    // A size or count option, read by `parse` (`parse_size`, `parse_count`).
    let read = |text: &Option<String>, parse: fn(&str) -> Result<u64, String>, field| {
        text.as_deref()
            .map(parse)
            .transpose()
            .map_err(option(field))
    };
    let limits = Limits {
        wall_time: args
            .time_limit
            .as_deref()
            .map(seconds)
            .transpose()
            .map_err(option("wall_time"))?,
        cpu_time: args
            .cpu_limit
            .as_deref()
            .map(seconds)
            .transpose()
            .map_err(option("cpu_time"))?,
        memory: read(&args.memory, parse_size, "memory")?,
        pids: read(&args.pids, parse_count, "pids")?,
        file_size: read(&args.file_size, parse_size, "file_size")?,
        open_files: read(&args.open_files, parse_count, "open_files")?,
        ..Limits::default()
    };
    limits.validate().map_err(limit_message)?;
    cmd.limits(limits);
    Ok(cmd)
}

/// A bad limit in the option's words: the library's message names its field.
fn limit_message(e: LimitError) -> String {
    let (field, problem) = match e {
        LimitError::Zero(field) => (
            field,
            "0 is refused (the program could not start, or not do what the limit counts); leave \
             the option out for no limit"
                .into(),
        ),
        LimitError::TooSmall { limit, least, why } => {
            (limit, format!("give at least {least}: {why}"))
        }
        LimitError::TooLarge(field) => (
            field,
            "too large to set; leave the option out for no limit".into(),
        ),
        LimitError::AboveKernel { limit, most, .. } => (
            limit,
            format!("above the most Linux takes ({most}); leave the option out for no limit"),
        ),
        LimitError::AboveHost { limit, .. } => (
            limit,
            format!(
                "above what this process's own hard limit leaves room for, which a sandbox \
                 cannot raise: {}",
                e.what_fits().unwrap_or_default()
            ),
        ),
    };
    format!("{}: {problem}", option_name(field))
}

/// The option that sets the field `field` of [`Limits`].
fn option_name(field: &str) -> &str {
    LIMIT_OPTIONS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or(field, |(_, o)| *o)
}

/// Splits `KEY=VALUE` at its first `=` (so the name holds none; the value may be empty or hold
/// more). The name must not be empty.
fn parse_env(kv: &OsStr) -> Result<(&OsStr, &OsStr), String> {
    let bytes = kv.as_bytes();
    let shown = kv.to_string_lossy();
    match bytes.iter().position(|&b| b == b'=') {
        Some(0) => Err(format!(
            "--env `{shown}`: the variable's name is empty; expected KEY=VALUE"
        )),
        Some(at) => Ok((
            OsStr::from_bytes(&bytes[..at]),
            OsStr::from_bytes(&bytes[at + 1..]),
        )),
        None => Err(format!("--env `{shown}`: expected KEY=VALUE")),
    }
}

/// A number of seconds (fractions allowed) as a duration; text that is not a number, or one
/// negative, too large, or below a nanosecond (which would read as 0), is an error saying
/// which. Read here rather than by the argument parser, so that a bad one is reported (and
/// written to the report) as every other bad limit is.
fn seconds(text: &str) -> Result<Duration, String> {
    let Ok(s) = text.parse::<f64>() else {
        return Err(format!("`{text}` is not a number of seconds"));
    };
    if s < 0.0 {
        return Err(format!("`{text}` is negative"));
    }
    match Duration::try_from_secs_f64(s) {
        Ok(d) if d.is_zero() && s > 0.0 => Err(format!("`{text}` is below a nanosecond")),
        Ok(d) => Ok(d),
        Err(_) if !s.is_nan() => Err(format!("`{text}` is too large a number of seconds")),
        Err(_) => Err(format!("`{text}` is not a number of seconds")),
    }
}

/// Reads `SRC[:DST]` (DST defaults to SRC), each path as [`path_spec`] writes it.
fn split_mount(option: &str, spec: &OsStr) -> Result<(PathBuf, PathBuf), String> {
    let error = |e: String| format!("{option} `{}`: {e}", spec.to_string_lossy());
    let PathSpec { path: src, rest } = path_spec::split(spec).map_err(error)?;
    let dst = rest.map_or_else(|| src.clone(), PathBuf::from);
    if src.as_os_str().is_empty() || dst.as_os_str().is_empty() {
        return Err(error("expected SRC[:DST]".into()));
    }
    Ok((src, dst))
}

/// A count (`--pids`, `--open-files`), read here rather than by the option parser so that a bad
/// one is a set-up error with a report, like every other bad limit.
fn parse_count(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            format!("`{text}` is too large to set; leave the option out for no limit")
        }
        _ if text.starts_with('-') => format!("`{text}` is negative"),
        _ => format!("`{text}` is not a whole number"),
    })
}

/// Parses `123`, `64K`, `512M`, `2G` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.chars().last() {
        Some('K' | 'k') => (&text[..text.len() - 1], 10),
        Some('M' | 'm') => (&text[..text.len() - 1], 20),
        Some('G' | 'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let too_large = || format!("`{text}` is too large: more bytes than 64 bits count");
    let n = digits.parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => too_large(),
        _ => format!("`{text}` is not a size (use a number with K, M or G)"),
    })?;
    n.checked_mul(1u64 << shift).ok_or_else(too_large)
}
