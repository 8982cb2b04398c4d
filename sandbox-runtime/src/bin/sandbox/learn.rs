//! `sandbox learn -o OUT.policy [options] -- PROGRAM [ARGS...]`: runs the program with every
//! system call observed and let through, and writes a policy that allows what it did.

use crate::console::errln;
use crate::output_file::OutputFile;
use crate::run::{self, SandboxArgs, EXIT_SETUP};
use crate::synth::{self, Call, Learned, Run};
use clap::Args;
use sandbox_policy::Arch;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `sandbox learn`.
#[derive(Args, Debug)]
#[command(after_help = LEARN_HELP)]
pub struct LearnArgs {
    /// Where to write the policy. The observations go beside it, to OUT.policy.learn.json.
    #[arg(short = 'o', long = "output", value_name = "OUT.policy")]
    output: PathBuf,
    /// Merge with the calls learnt by earlier runs (read from OUT.policy.learn.json), to cover more of
    /// the program's code paths.
    #[arg(long)]
    append: bool,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// The program and its arguments (any bytes but NUL, as the system takes them).
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS...]")]
    command: Vec<std::ffi::OsString>,
}

const LEARN_HELP: &str = "\
How it works: PROGRAM runs in the same sandbox as under `sandbox run` (namespaces, private \
root with only what --ro/--rw/--tmpfs add, limits), but the syscall filter is NOT enforced: \
every system call is sent to the monitor through seccomp user notification (no ptrace), \
recorded, and let run. Calls from a foreign ABI (i386 int 0x80, x32) are still killed. Run \
it only on inputs you would let the program see anyway.

What is recorded: each syscall with the arguments policies constrain: open flags, mmap and \
mprotect prot, socket domain and type, ioctl request, clone flags, fcntl cmd, prctl option, \
futex op, and every argument a built-in group's conditions look at.

How the policy is written: `default kill;`, then built-in groups, then one rule per syscall \
not covered. A group is eligible when every recorded call of the group's syscalls is one the \
group allows (checked with the group's compiled policy) and it does not allow a syscall \
unconditionally where the program's own use supports a condition; eligible groups are taken \
greedily, the one covering most still-uncovered syscalls first, while it covers at least two. \
A syscall's own rule has a condition when the program used only safe values: opens read-only \
(no O_CREAT, O_TRUNC), mmap/mprotect without PROT_EXEC (or at least never writable and \
executable), no namespace flags on clone; for socket domains, ioctl requests, fcntl \
commands, prctl options, futex ops and getrandom flags it lists the values seen. The result \
is compiled and every recorded call is checked to be allowed before the file is written.

Exit status: as `sandbox run` (the program's own code; 125 when the sandbox could not be \
set up, and nothing is written then). Also 125, before the program runs, when OUT.policy or \
OUT.policy.learn.json cannot be written (a directory there, a missing directory) or the earlier \
observations cannot be read; and 125 after it, when no policy can be written (the observations \
of the run are still kept then).";

/// Runs the program, merges, writes the policy and the sidecar.
pub fn main(args: LearnArgs) -> ExitCode {
    let Some(arch) = Arch::native() else {
        errln!("sandbox: learning needs a supported architecture (x86_64 or aarch64)");
        return ExitCode::from(EXIT_SETUP);
    };
    let sidecar = sidecar_path(&args.output);
    if OutputFile::is_system_path(&args.output) {
        errln!(
            "sandbox: cannot write `{}`: learn keeps its observations beside the policy, in \
             `{}`, so -o must name a file, not a stream or a device",
            args.output.display(),
            sidecar.display()
        );
        return ExitCode::from(EXIT_SETUP);
    }
    // Opened before the run, so that the sandbox cannot redirect what is written after it (see
    // `OutputFile`), and so that what cannot be written (a directory at either path, a directory
    // that does not exist) is said before the program runs, not after.
    let opened = [
        (&args.output, ""),
        (&sidecar, " (where learn keeps the observations)"),
    ]
    .map(|(p, what)| {
        OutputFile::open(p)
            .map_err(|e| errln!("sandbox: cannot write `{}`{what}: {e}", p.display()))
    });
    let [Ok(output_file), Ok(sidecar_file)] = opened else {
        return ExitCode::from(EXIT_SETUP);
    };
    // The program as the run will find it; one not found fails the run later, in its words.
    let program = run::find_program(&args.command[0]).ok();
    for file in [&output_file, &sidecar_file] {
        if let Some(what) = crate::policy_file::overwritten(&[], program.as_deref(), file) {
            errln!(
                "sandbox: `{}` names {what}, which it would overwrite",
                file.path().display()
            );
            return ExitCode::from(EXIT_SETUP);
        }
    }
    let earlier = if args.append {
        match sidecar_file.read_existing() {
            Ok(text) => text,
            Err(e) => {
                errln!("sandbox: cannot read `{}`: {e}", sidecar.display());
                return ExitCode::from(EXIT_SETUP);
            }
        }
    } else {
        None
    };
    let mut learned = if let Some(text) = earlier {
        match Learned::from_json(&text) {
            Ok(l) if l.arch == arch => l,
            Ok(l) => {
                errln!(
                    "sandbox: `{}` was learnt on {}, this machine is {arch}",
                    sidecar.display(),
                    l.arch
                );
                return ExitCode::from(EXIT_SETUP);
            }
            Err(e) => {
                errln!("sandbox: cannot read `{}`: {e}", sidecar.display());
                return ExitCode::from(EXIT_SETUP);
            }
        }
    } else {
        Learned::new(arch)
    };
    // A signal before the sandbox is made ends the command at once (see `interrupt::Watch`).
    let watch = crate::interrupt::watch();
    let started = run::start(
        &args.sandbox,
        &args.command,
        |cmd| {
            cmd.learn();
            Ok(())
        },
        &watch,
    );
    let mut child = match started {
        Ok(c) => c,
        Err(e) => {
            e.print();
            return watch.received().exit_code().unwrap_or(e.exit_code());
        }
    };
    // On Ctrl-C the sandbox ends, and what was seen until then is written as usual.
    let signal = watch.arm(child.killer());
    // A learn-mode sandbox always has them; dropping the child kills and reaps it otherwise.
    let Some(observations) = child.observations() else {
        errln!("sandbox: the sandbox gave no observations to learn from");
        return ExitCode::from(EXIT_SETUP);
    };
    let mut seen = 0u64;
    for o in observations {
        seen += 1;
        learned.record(&Call::from_observation(&o));
    }
    let outcome = child.wait();
    if matches!(outcome.status, sandbox_runtime::Status::SetupError(_)) {
        return run::report(&outcome);
    }
    if outcome.observations_dropped > 0 {
        // A policy from the rest would kill the program at a call it never showed.
        errln!(
            "sandbox: {} calls were not observed (this command fell {} behind the program); \
             nothing written: run it again",
            outcome.observations_dropped,
            sandbox_runtime::OBSERVATIONS_PENDING_MOST
        );
        return ExitCode::from(EXIT_SETUP);
    }
    learned.runs.push(Run {
        command: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        date: synth::utc_date_now(),
        outcome: outcome.to_string(),
    });
    // The observations first: they stay for a later `--append` even if no policy can be
    // written from them.
    if let Err(e) = sidecar_file.write(&(learned.to_json() + "\n")) {
        errln!("sandbox: cannot write `{}`: {e}", sidecar.display());
        return ExitCode::from(EXIT_SETUP);
    }
    let text = match synth::write_policy(&learned) {
        Ok(t) => t,
        Err(e) => {
            errln!(
                "sandbox: the learnt policy does not hold: {e} (the calls are kept in `{}`)",
                sidecar.display()
            );
            return ExitCode::from(EXIT_SETUP);
        }
    };
    if let Err(e) = output_file.write(&text.text) {
        errln!(
            "sandbox: cannot write `{}`: {e} (the calls are kept in `{}`)",
            args.output.display(),
            sidecar.display()
        );
        return ExitCode::from(EXIT_SETUP);
    }
    errln!(
        "sandbox: learnt {seen} calls; wrote {}: {} rules ({} groups, {} own rules) for the {} \
         syscalls used, from {} distinct calls of {} runs",
        args.output.display(),
        text.rules,
        text.groups.len(),
        text.own_rules,
        text.syscalls,
        learned.calls.len(),
        learned.runs.len()
    );
    let code = run::report(&outcome);
    signal.exit_code().unwrap_or(code)
}

/// `OUT.policy.learn.json` beside `OUT.policy`.
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_os_string();
    name.push(".learn.json");
    PathBuf::from(name)
}
