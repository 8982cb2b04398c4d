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

use sandbox_policy::syntax::lexer::comment_safe;
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

/// What resets a terminal's character attributes (SGR 0): written before each message when
/// standard error is a terminal, which the sandboxed program shares and may have left with
/// attributes set (concealed text, `ESC [8m`, or colours) that would hide or disguise the
/// command's own words, a violation's report among them.
const RESET_ATTRIBUTES: &str = "\u{1b}[0m";

/// Writes `args` (and a newline when `line`) to the locked standard error, shown safely
/// ([`terminal_safe`]) and, on a terminal, after [`RESET_ATTRIBUTES`]; a failure is ignored
/// (see the module's documentation).
pub fn write_stderr(args: fmt::Arguments<'_>, line: bool) {
    use std::io::IsTerminal;
    let text = terminal_safe(&args.to_string());
    let mut stderr = io::stderr().lock();
    let reset = if stderr.is_terminal() {
        RESET_ATTRIBUTES
    } else {
        ""
    };
    let _ = if line {
        writeln!(stderr, "{reset}{text}")
    } else {
        write!(stderr, "{reset}{text}")
    };
}

/// `text` with every character that a terminal would act on rather than show (an escape
/// sequence's `ESC`, `\r`, a bidirectional control, a line break other than `\n`) escaped,
/// as in a policy's comment: errors quote paths, arguments and names from the command line
/// and the file system, and a hostile file name must not redraw the reader's screen or
/// disguise the error. Each `\n` stays a line break.
fn terminal_safe(text: &str) -> String {
    let lines: Vec<String> = text.split('\n').map(comment_safe).collect();
    lines.join("\n")
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

#[cfg(test)]
mod tests {
    /// Escape sequences, carriage returns and bidirectional controls are shown escaped; line
    /// breaks and everything else printable stay as they are.
    #[test]
    fn what_reaches_standard_error_cannot_act_on_the_terminal() {
        let hostile = "sandbox: `/x\u{1b}[2J\rok\u{202e}é` is missing\nsecond line";
        assert_eq!(
            super::terminal_safe(hostile),
            "sandbox: `/x\\u{1b}[2J\\rok\\u{202e}é` is missing\nsecond line"
        );
    }
}
