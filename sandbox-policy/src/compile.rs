//! The pipeline in one call: lex or take tokens, parse, expand, resolve, lower, generate.

use crate::compiled::{ArchProgram, CompiledPolicy};
use crate::diag::{Diagnostic, LineCol, Loc, Source, SourceId, SourceMap, SourceText};
use crate::ir::ArchIr;
use crate::resolve::{self, CheckedPolicy, Expanded, Expander, FsLoader, Loader};
use crate::syntax::{self, Token};
use crate::{codegen, lint, lower, Arch};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The id of the top-level source in every compilation. Tokens handed to
/// [`compile_tokens`] carry it in their [`Loc`]s, with token indices as positions.
pub const ROOT_SOURCE: SourceId = SourceId(0);

/// The most errors [`Compilation::render_errors`] renders, and warnings
/// [`Compilation::render_warnings`] and `policy!` do: each shows its line, and a line may be as
/// long as the whole file.
pub const MAX_RENDERED_ERRORS: usize = 100;

/// The result of a compilation, with everything needed to report on it.
#[derive(Debug)]
pub struct Compilation {
    /// Every source read: the root, included files and used groups.
    pub sources: SourceMap,
    /// Files read through `include`, for build systems to watch.
    pub included_files: Vec<PathBuf>,
    /// The compiled policy, or every error found.
    pub result: Result<Compiled, Vec<Diagnostic>>,
    /// What [`crate::lint`] found in a policy that compiled (none when it did not).
    pub warnings: Vec<Diagnostic>,
}

/// A successful compilation's products, stage by stage.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The checked policy (its interpreter is the policy's meaning).
    pub checked: CheckedPolicy,
    /// The per-architecture IR, in [`crate::Arch::ALL`] order.
    pub irs: Vec<ArchIr>,
    /// The programs (of the architectures asked for) and rule list.
    pub policy: CompiledPolicy,
}

impl Compilation {
    /// The first [`MAX_RENDERED_ERRORS`] warnings rendered like rustc (`file:line:col: warning:
    /// ...`), separated by blank lines, followed by a count of the rest if there are more;
    /// empty when there is none.
    pub fn render_warnings(&self) -> String {
        let mut out = String::new();
        for w in self.warnings.iter().take(MAX_RENDERED_ERRORS) {
            out.push_str(&self.sources.render_warning(w));
            out.push('\n');
        }
        if let Some(more) = self.warnings.len().checked_sub(MAX_RENDERED_ERRORS) {
            if more > 0 {
                let s = if more == 1 { "" } else { "s" };
                out.push_str(&format!("warning: {more} more warning{s} not shown\n"));
            }
        }
        out
    }

    /// The first [`MAX_RENDERED_ERRORS`] errors rendered like rustc (`file:line:col: error:
    /// ...` with the line and a caret), separated by blank lines, followed by a count.
    pub fn render_errors(&self) -> String {
        let Err(errors) = &self.result else {
            return String::new();
        };
        let mut out = String::new();
        for e in errors.iter().take(MAX_RENDERED_ERRORS) {
            out.push_str(&self.sources.render(e));
            out.push('\n');
        }
        let n = errors.len();
        if n > MAX_RENDERED_ERRORS {
            out.push_str(&format!(
                "error: {} more errors not shown\n",
                n - MAX_RENDERED_ERRORS
            ));
        }
        // The lexer, the parser and the resolver each stop counting at MAX_ERRORS.
        let at_least = if n >= crate::diag::MAX_ERRORS {
            "at least "
        } else {
            ""
        };
        out.push_str(&format!(
            "error: could not compile the policy due to {at_least}{n} error{}\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

/// Compiles policy text. `path` (if any) is where relative includes are resolved from.
pub fn compile_text(
    name: &str,
    path: Option<&Path>,
    text: &str,
    loader: &mut dyn Loader,
) -> Compilation {
    compile_text_for(name, path, text, loader, &Arch::ALL)
}

/// As [`compile_text`], making programs for `arches` only (the policy is checked and lowered
/// for every architecture all the same): for a caller that installs the program on this
/// machine and needs no other. Each program is byte for byte the one [`compile_text`] makes
/// for its architecture; an error only another architecture's program would meet (a program
/// longer than the kernel takes there) is not met.
pub fn compile_text_for(
    name: &str,
    path: Option<&Path>,
    text: &str,
    loader: &mut dyn Loader,
    arches: &[Arch],
) -> Compilation {
    let mut sources = SourceMap::default();
    let id = sources.add(Source {
        name: name.to_string(),
        path: path.map(Path::to_path_buf),
        text: SourceText::Text(text.to_string()),
        included_at: None,
        reached_as: None,
    });
    let (tokens, lex_errors) = syntax::lex(id, text);
    let end = Loc {
        source: id,
        start: text.len() as u32,
        end: text.len() as u32,
    };
    run(sources, tokens, end, lex_errors, loader, arches)
}

/// Reads and compiles a policy file; includes are relative to the file's directory.
pub fn compile_file(path: &Path) -> std::io::Result<Compilation> {
    compile_file_for(path, &Arch::ALL)
}

/// As [`compile_file`], making programs for `arches` only (see [`compile_text_for`]).
pub fn compile_file_for(path: &Path, arches: &[Arch]) -> std::io::Result<Compilation> {
    let text = crate::resolve::read_policy_text(path)?;
    let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let mut loader = FsLoader { base };
    Ok(compile_text_for(
        &path.display().to_string(),
        Some(path),
        &text,
        &mut loader,
        arches,
    ))
}

/// Compiles tokens from `policy!`. Each token's [`Loc`] has source [`ROOT_SOURCE`] and its own
/// index as start and end; `positions[i]` is the line and column of token `i`.
pub fn compile_tokens(
    name: &str,
    tokens: Vec<Token>,
    positions: Vec<LineCol>,
    loader: &mut dyn Loader,
) -> Compilation {
    let mut sources = SourceMap::default();
    let last = positions.len().saturating_sub(1) as u32;
    let id = sources.add(Source {
        name: name.to_string(),
        path: None,
        text: SourceText::Tokens(positions),
        included_at: None,
        reached_as: None,
    });
    debug_assert_eq!(id, ROOT_SOURCE);
    let end = Loc {
        source: id,
        start: last,
        end: last,
    };
    run(sources, tokens, end, Vec::new(), loader, &Arch::ALL)
}

fn run(
    mut sources: SourceMap,
    tokens: Vec<Token>,
    end: Loc,
    mut errors: Vec<Diagnostic>,
    loader: &mut dyn Loader,
    arches: &[Arch],
) -> Compilation {
    // The lexer puts a 0 where a literal does not read. What later stages say about that 0
    // (`expected a syscall name, found 0`, `errno value 0 is out of range`) would only repeat
    // the lexer's error at its place: it is left out.
    let unread: Vec<Loc> = errors.iter().map(|e| e.loc).collect();
    let not_an_echo = |d: &Diagnostic| {
        !unread
            .iter()
            .any(|u| u.source == d.loc.source && u.start <= d.loc.start && d.loc.end <= u.end)
    };
    let (file, parse_errors) = syntax::parse(&tokens, end);
    errors.extend(parse_errors.into_iter().filter(not_an_echo));
    let expanded = Expander::new(&mut sources, loader, &mut errors).run(ROOT_SOURCE, file);
    let included_files = expanded.files.clone();
    let checked = resolve::resolve(&expanded, &sources);
    let result = match (checked, errors.is_empty()) {
        (Ok(checked), true) => generate(checked, &expanded, &sources, end, arches),
        (Ok(_), false) => Err(errors),
        (Err(more), _) => {
            errors.extend(more.into_iter().filter(not_an_echo));
            Err(errors)
        }
    };
    let warnings = match &result {
        Ok(compiled) => lint::lint(&expanded, &compiled.irs, &compiled.checked),
        Err(_) => Vec::new(),
    };
    Compilation {
        sources,
        included_files,
        result,
        warnings,
    }
}

/// Where a program too long is most likely to be cut down: the syscall of `ir` whose rules
/// make the most comparisons.
struct Heaviest {
    /// In words, for the error's help: `; `read`'s rules make the most comparisons, 256 in 1
    /// rule`, and how many other syscalls' make as many; empty if no rule makes any.
    words: String,
    /// That syscall's name in its rule that makes the most comparisons (the first such rule),
    /// or the rule as a whole; `None` when no rule of the policy's makes one.
    loc: Option<Loc>,
}

/// Finds the [`Heaviest`] syscall of `ir`; `expanded` gives its rules' places.
fn heaviest(ir: &ArchIr, expanded: &Expanded) -> Heaviest {
    use crate::ir::{Branch, Decision};
    let made: Vec<(usize, usize, u32, &[Branch])> = ir
        .syscalls
        .iter()
        .filter_map(|(nr, d)| match d {
            Decision::Branches { branches, .. } => {
                let made = branches.iter().map(|b| b.cond.comparisons()).sum::<usize>();
                Some((made, branches.len(), *nr, branches.as_slice()))
            }
            Decision::Always(_) => None,
        })
        .collect();
    let Some(&(most, rules, nr, branches)) = made.iter().max_by_key(|(m, r, nr, _)| (*m, *r, *nr))
    else {
        return Heaviest {
            words: String::new(),
            loc: None,
        };
    };
    let name = crate::tables::syscall_by_nr(ir.arch, nr).map_or("?", |s| s.name);
    let heaviest_rule = branches
        .iter()
        .filter(|b| b.verdict.tag.rule_index().is_some())
        .rev()
        .max_by_key(|b| b.cond.comparisons())
        .and_then(|b| expanded.rules.get(b.verdict.tag.rule_index()?));
    let loc = heaviest_rule.map(|flat| {
        let rule = &flat.rule;
        rule.syscalls
            .iter()
            .find(|n| n.text == name)
            .map_or(rule.loc, |n| n.loc)
    });
    let rules = match rules {
        1 => "1 rule".to_string(),
        n => format!("{n} rules"),
    };
    let tied = made.iter().filter(|(m, ..)| *m == most).count() - 1;
    let tied = match tied {
        0 => String::new(),
        1 => " (1 other syscall's as many)".to_string(),
        n => format!(" ({n} other syscalls' as many)"),
    };
    Heaviest {
        words: format!("; `{name}`'s rules make the most comparisons, {most} in {rules}{tied}"),
        loc,
    }
}

/// The program of `ir`'s architecture with the terminal guard in (`guarded` is `checked` with
/// it): `plain` again where the guard added nothing there, empty where it cannot be made.
fn terminal_guarded(
    checked: &CheckedPolicy,
    guarded: &CheckedPolicy,
    ir: &ArchIr,
    plain: &[crate::bpf::SockFilter],
) -> Vec<crate::bpf::SockFilter> {
    let arch = ir.arch;
    let before = checked.arches.iter().find(|a| a.arch == arch);
    let after = guarded.arches.iter().find(|a| a.arch == arch);
    if before == after {
        return plain.to_vec();
    }
    let Some(after) = after else {
        return Vec::new();
    };
    // Lowering reads the default and the branches alone.
    let one = CheckedPolicy {
        default: guarded.default,
        rules: Vec::new(),
        arches: vec![after.clone()],
    };
    lower::lower(&one)
        .first()
        .and_then(|ir| codegen::compile_arch(ir).ok())
        .unwrap_or_default()
}

/// The checked policy's IR for every architecture, and the programs of those in `arches`.
fn generate(
    checked: CheckedPolicy,
    expanded: &Expanded,
    sources: &SourceMap,
    end: Loc,
    arches: &[Arch],
) -> Result<Compiled, Vec<Diagnostic>> {
    let irs = lower::lower(&checked);
    let guarded = resolve::with_terminal_guard(&checked);
    let mut programs = Vec::new();
    let mut errors = Vec::new();
    for ir in irs.iter().filter(|ir| arches.contains(&ir.arch)) {
        match codegen::compile_arch(ir) {
            Ok(filter) => programs.push(ArchProgram {
                arch: ir.arch,
                terminal_guarded: Cow::Owned(terminal_guarded(&checked, &guarded, ir, &filter)),
                filter: Cow::Owned(filter),
            }),
            Err(e) => {
                let heaviest = heaviest(ir, expanded);
                let at = heaviest.loc.unwrap_or(end);
                errors.push(Diagnostic::new(at, e.to_string()).with_help(format!(
                    "split the policy, use fewer argument conditions, or let the default \
                     decide more syscalls{}",
                    heaviest.words
                )));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let origin = sources.get(ROOT_SOURCE).name.clone();
    let policy = CompiledPolicy {
        origin: origin.into(),
        default: checked.default,
        programs: Cow::Owned(programs),
        rules: Cow::Owned(guarded.rules),
    };
    Ok(Compiled {
        checked,
        irs,
        policy,
    })
}
