//! `sandbox explain FILE [--arch A] [--syscall NAME [ARGS...]]`

use crate::console::{self, errln, out, outln};
use crate::policy_file;
use clap::Args;
use sandbox_policy::{disasm, eval, syntax, tables, Arch, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sandbox explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The policy file (before --syscall, or after the call's words).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Architecture: x86_64 or aarch64 (default: this machine's).
    #[arg(long)]
    arch: Option<String>,
    /// Show which rule decides this call instead of the disassembly: a syscall name followed
    /// by up to six arguments, each a register value: an integer as the policy language writes
    /// one (42, 0x7f_ff, 0o755, 0b101), a negative decimal integer, a constant name like
    /// O_RDONLY, or values joined with `|` (O_WRONLY|O_CREAT). Options may follow.
    #[arg(
        long,
        num_args = 1..=7,
        action = clap::ArgAction::Set,
        value_name = "NAME [ARGS...]",
        allow_negative_numbers = true
    )]
    syscall: Option<Vec<String>>,
    /// Explain the program of a sandbox that can reach a host terminal: the policy's with the
    /// terminal guard laid in (TIOCSTI and the other terminal requests, O_ASYNC refused).
    #[arg(long)]
    terminal_guard: bool,
    /// Words past the file and the call's seven: more values than a call has registers, which
    /// are refused in words rather than by the parser's bare usage.
    #[arg(hide = true, allow_negative_numbers = true)]
    extra: Vec<String>,
    /// Whether the first extra word came before `--syscall` (a word between the file and the
    /// call), not after its seven: set by [`ExplainArgs::note_order`].
    #[arg(skip)]
    extra_before_call: bool,
}

impl ExplainArgs {
    /// Notes from the parser's `matches` of this command where the extra words were written,
    /// which the parsed fields alone do not tell.
    pub fn note_order(&mut self, matches: Option<&clap::ArgMatches>) {
        self.extra_before_call = matches
            .and_then(|m| Some(m.index_of("extra")? < m.index_of("syscall")?))
            .unwrap_or(false);
    }
}

/// The policy file and the call's words, from how the parser placed them: `--syscall` takes
/// up to seven words, so a file written after fewer comes as its last word; a word past the
/// file and seven words is one value too many, and one between the file and `--syscall` is
/// merely unexpected.
fn file_and_call(args: &ExplainArgs) -> Result<(PathBuf, Option<Vec<String>>), String> {
    let mut call = args.syscall.clone();
    if let Some(word) = args.extra.first() {
        return Err(match &call {
            Some(words) if words.len() == 7 && !args.extra_before_call => format!(
                "more than six values after `{}`: a call passes at most six registers",
                words[0]
            ),
            _ => format!("unexpected argument `{word}`"),
        });
    }
    let file = match (&args.file, call.as_mut()) {
        (Some(file), _) => file.clone(),
        (None, Some(words)) if words.len() >= 2 => PathBuf::from(words.pop().unwrap_or_default()),
        (None, _) => return Err("no policy file given".into()),
    };
    Ok((file, call))
}

/// Prints the annotated disassembly and sizes, or the decision for one call.
pub fn main(args: ExplainArgs) -> ExitCode {
    let (file, call) = match file_and_call(&args) {
        Ok(found) => found,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded = match policy_file::load_for_arch(&file, args.arch.as_deref()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (compiled, arch) = (&loaded.compiled, loaded.arch);
    let filter = loaded.filter(args.terminal_guard);
    let Some(call) = call else {
        let text = disasm::disassemble(filter, arch, Some(&compiled.policy));
        return match out!("{text}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => console::stdout_failed(&e),
        };
    };
    let (nr, values) = match parse_call(arch, &call) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let data = eval::SeccompData {
        nr: nr as i32,
        arch: arch.audit_arch(),
        instruction_pointer: 0,
        args: values,
    };
    let ret = match eval::run(filter, &data) {
        Ok(outcome) => outcome.ret,
        Err(e) => {
            errln!("error: the program failed to evaluate: {e}");
            return ExitCode::from(1);
        }
    };
    let meaning = if args.terminal_guard {
        sandbox_policy::resolve::with_terminal_guard(&compiled.checked).decide(
            arch,
            arch.audit_arch(),
            nr,
            &values,
        )
    } else {
        compiled
            .checked
            .decide(arch, arch.audit_arch(), nr, &values)
    };
    let shown: Vec<String> = call[1..].to_vec();
    let action = Verdict::from_ret_value(ret)
        .map(|v| v.action.to_string())
        .unwrap_or_else(|| format!("return value {ret:#x}"));
    let written = outln!(
        "{}({}) [nr {nr}, {arch}] -> {action}: {}",
        call[0],
        shown.join(", "),
        compiled.policy.describe_tag(meaning.verdict.tag)
    );
    if let Err(e) = written {
        return console::stdout_failed(&e);
    }
    if tables::UNFILTERED_SYSCALLS.contains(&call[0].as_str()) {
        // What the program would answer, but the kernel never asks it (`check` refuses a rule
        // naming one of these).
        let note = outln!(
            "note: the kernel runs `{}` without asking any seccomp filter (it works only from \
             the kernel's own uprobe trampoline), so no policy decides it",
            call[0]
        );
        if let Err(e) = note {
            return console::stdout_failed(&e);
        }
    }
    if meaning.verdict.ret_value() != ret {
        errln!("error: the program and the policy's meaning disagree: this is a compiler bug");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn parse_call(arch: Arch, call: &[String]) -> Result<(u32, [u64; 6]), String> {
    let name = &call[0];
    let spec = tables::syscall_by_name(arch, name)
        .ok_or_else(|| format!("`{name}` is not a syscall on {arch}"))?;
    let mut values = [0u64; 6];
    for (i, text) in call[1..].iter().enumerate() {
        values[i] = parse_value(arch, text)?;
    }
    Ok((spec.nr, values))
}

/// Reads one argument as the register value a call would pass: integer literals as the policy
/// language writes them (`42`, `0x7f_ff`, `0o755`, `0b101`; `0755` is an error, as there), a
/// leading `-` for a negative (as 64 bits), constant and errno names for `arch`, and `|`
/// joining values that are not negative. Unlike a condition's constant, a number is not held to
/// the argument's width: the high bits of an `int` are what a hostile call may set.
fn parse_value(arch: Arch, text: &str) -> Result<u64, String> {
    let parts: Vec<&str> = text.split('|').map(str::trim).collect();
    if let [""] = parts.as_slice() {
        return Err(format!(
            "`{text}`: no value; expected an integer, a constant name, or values joined with `|`"
        ));
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        if part.is_empty() {
            return Err(format!("`{text}`: `|` joins two values"));
        }
        values.push(parse_one_value(arch, part)?);
    }
    match values.as_slice() {
        // Two's complement on 64 bits, as the register holds it.
        [one] => Ok(*one as u64),
        _ if values.iter().any(|v| *v < 0) => Err(format!(
            "`{text}`: negative values cannot be combined with `|`"
        )),
        _ => Ok(values.iter().fold(0, |total, v| total | *v as u64)),
    }
}

/// One value of [`parse_value`]: a literal, a negative literal, or a name; from -2^63 to
/// 2^64 - 1.
fn parse_one_value(arch: Arch, text: &str) -> Result<i128, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        let value = match syntax::token_from_literal(body)? {
            syntax::TokenKind::Int(v, _) => i128::from(v),
            _ => return Err(format!("`{text}` is not an integer")),
        };
        return match negative {
            false => Ok(value),
            true if value <= 1 << 63 => Ok(-value),
            true => Err(format!("`{text}` is below the smallest 64-bit value")),
        };
    }
    if negative {
        return Err(format!("`{text}`: a `-` goes before an integer"));
    }
    tables::constant(arch, text)
        .map(i128::from)
        .or_else(|| tables::errno_value(text).map(i128::from))
        .ok_or_else(|| format!("`{text}` is neither an integer nor a known constant"))
}
