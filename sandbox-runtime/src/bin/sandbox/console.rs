//! The command's own standard output and error, written through locked handles so that a stream
//! that cannot be written (a full disk, a closed descriptor) never makes the command panic as
//! `println!` and `eprintln!` do.
//!
//! Standard output carries what a subcommand produces (`check`'s summaries, `explain`'s text,
//! `--help`): a failure to write it is the command's failure, reported by [`stdout_failed`].
//! Standard error carries diagnostics only: when it cannot be written there is nowhere left to
//! say so, and the command goes on to the exit status it would have had. A closed pipe on
//! either kills the command with SIGPIPE, as it does any Unix tool (see `main`); should the
//! signal be blocked, a closed standard output still ends the command quietly. `run` and
//! `learn`, which write only on standard error, ignore SIGPIPE: a closed pipe there must not
//! end them before their sandbox and their report.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// Exit status when standard output cannot be written.
pub const EXIT_OUTPUT: u8 = 1;
/// Exit status when standard output is a closed pipe (and SIGPIPE did not end the command):
/// the status a shell shows for a command killed by SIGPIPE.
pub const EXIT_BROKEN_PIPE: u8 = 128 + libc::SIGPIPE as u8;

/// Writes to standard output like `print!`, returning the write's `io::Result`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!($($arg)*), false)
    };
}

/// Writes a line to standard output like `println!`, returning the write's `io::Result`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!($($arg)*), true)
    };
}

/// Writes to standard error like `eprint!`, but a failed write is ignored instead of panicking.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::console::write_stderr(format_args!($($arg)*), false)
    };
}

/// Writes a line to standard error like `eprintln!`, but a failed write is ignored instead of
/// panicking.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::console::write_stderr(format_args!($($arg)*), true)
    };
}

pub(crate) use {err, errln, out, outln};

/// Writes `args` (and a newline when `line`) to the locked standard output and flushes it, so
/// that an error shows now rather than at exit.
pub fn write_stdout(args: fmt::Arguments<'_>, line: bool) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    if line {
        writeln!(stdout, "{args}")?;
    } else {
        write!(stdout, "{args}")?;
    }
    stdout.flush()
}

/// Writes `args` (and a newline when `line`) to the locked standard error; a failure is
/// ignored (see the module's documentation).
pub fn write_stderr(args: fmt::Arguments<'_>, line: bool) {
    let mut stderr = io::stderr().lock();
    let _ = if line {
        writeln!(stderr, "{args}")
    } else {
        write!(stderr, "{args}")
    };
}

/// The exit status once writing to standard output failed with `e`: [`EXIT_BROKEN_PIPE`],
/// quietly, for a closed pipe; otherwise [`EXIT_OUTPUT`], with the reason on standard error.
pub fn stdout_failed(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::from(EXIT_BROKEN_PIPE);
    }
    errln!("error: cannot write to standard output: {e}");
    ExitCode::from(EXIT_OUTPUT)
}
