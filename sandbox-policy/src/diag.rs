//! Source positions and diagnostics: every error names its place and, for misspellings, a
//! suggestion. Positions are kept as byte ranges (text sources) or token ranges (tokens handed
//! over by `policy!`), so the same parser serves both and each front end renders places its own
//! way: `file:line:col` with a caret here, spans in the macro.

use std::fmt;
use std::path::PathBuf;

/// The most errors the lexer and the parser each record: garbage input makes one every
/// character or token, and neither the memory nor the rendering may grow with that.
pub const MAX_ERRORS: usize = 1000;

/// Identifies one source in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// A place in a source: a byte range of a text source, or a token-index range of a token source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    /// Which source.
    pub source: SourceId,
    /// Start (inclusive).
    pub start: u32,
    /// End (exclusive for byte ranges; inclusive token index for token ranges).
    pub end: u32,
}

impl Loc {
    /// The smallest place covering both.
    pub fn to(self, other: Loc) -> Loc {
        if self.source != other.source {
            return self;
        }
        Loc {
            source: self.source,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A line and column, both starting at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineCol {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

/// What a source holds.
#[derive(Clone, Debug)]
pub enum SourceText {
    /// A policy file's text (or text handed to the run-time compiler).
    Text(String),
    /// Tokens from `policy!`: the line and column of each token, by index.
    Tokens(Vec<LineCol>),
}

/// One source: a file, a built-in group, or the tokens of a `policy!` invocation.
#[derive(Clone, Debug)]
pub struct Source {
    /// How places in it are written: a path, `group stdio`, or the macro's file.
    pub name: String,
    /// The file on disk it came from, if any.
    pub path: Option<PathBuf>,
    /// The content.
    pub text: SourceText,
    /// The place of the `include`/`use` that brought this source in.
    pub included_at: Option<Loc>,
    /// For a file included before under another spelling, and named by that one: the path
    /// this `include` reached it by, beside which its own includes were looked up.
    pub reached_as: Option<PathBuf>,
}

/// All sources of one compilation.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    sources: Vec<Source>,
    /// For each source, the byte offset where each of its lines starts (empty for tokens), so
    /// that placing a diagnostic does not scan the text from its start.
    line_starts: Vec<Vec<usize>>,
}

impl SourceMap {
    /// Adds a source and returns its id.
    pub fn add(&mut self, source: Source) -> SourceId {
        let starts = match &source.text {
            SourceText::Text(text) => std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
            SourceText::Tokens(_) => Vec::new(),
        };
        self.sources.push(source);
        self.line_starts.push(starts);
        SourceId((self.sources.len() - 1) as u32)
    }

    /// The source with this id.
    pub fn get(&self, id: SourceId) -> &Source {
        &self.sources[id.0 as usize]
    }

    /// Every source, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &Source)> {
        self.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (SourceId(i as u32), s))
    }

    /// The line and column where a place starts.
    pub fn line_col(&self, loc: Loc) -> LineCol {
        match &self.get(loc.source).text {
            SourceText::Text(text) => {
                let starts = &self.line_starts[loc.source.0 as usize];
                text_line_col(text, starts, loc.start as usize)
            }
            SourceText::Tokens(positions) => positions
                .get(loc.start as usize)
                .copied()
                .unwrap_or(LineCol { line: 1, col: 1 }),
        }
    }

    /// `name:line:col` for a place.
    pub fn describe(&self, loc: Loc) -> String {
        let lc = self.line_col(loc);
        format!("{}:{}:{}", self.get(loc.source).name, lc.line, lc.col)
    }

    /// Renders a diagnostic like rustc: the message, the place, the source line with a caret
    /// under the offending text, the help line, and the chain of includes that led there.
    pub fn render(&self, diag: &Diagnostic) -> String {
        self.render_as("error", diag)
    }

    /// Renders a warning as [`SourceMap::render`] does an error.
    pub fn render_warning(&self, diag: &Diagnostic) -> String {
        self.render_as("warning", diag)
    }

    fn render_as(&self, level: &str, diag: &Diagnostic) -> String {
        let message = capped(&diag.message);
        let mut out = format!("{}: {level}: {message}\n", self.describe(diag.loc));
        if let SourceText::Text(text) = &self.get(diag.loc.source).text {
            let starts = &self.line_starts[diag.loc.source.0 as usize];
            out.push_str(&caret_excerpt(text, starts, diag.loc));
        }
        if let Some(help) = &diag.help {
            out.push_str(&format!("  = help: {}\n", capped(help)));
        }
        let mut at = self.get(diag.loc.source).included_at;
        while let Some(loc) = at {
            let source = self.get(loc.source);
            let reached = match &source.reached_as {
                Some(p) => format!(" (reached as {})", p.display()),
                None => String::new(),
            };
            out.push_str(&format!(
                "  = note: brought in at {}{reached}\n",
                self.describe(loc)
            ));
            at = source.included_at;
        }
        without_controls(out)
    }
}

/// The most bytes of a message or help line shown: one quoting a megabyte-long name from a
/// hostile policy (in the message, a suggestion and the help) must not print it whole.
const MESSAGE_MOST: usize = 1024;

/// `text`, cut to about [`MESSAGE_MOST`] bytes with how much was left out.
fn capped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MESSAGE_MOST {
        return text.into();
    }
    let cut = floor_char_boundary(text, MESSAGE_MOST);
    format!("{}... ({} more bytes)", &text[..cut], text.len() - cut).into()
}

/// Whether `c` is a Unicode bidirectional formatting character (the marks, embeddings,
/// overrides and isolates), which can make text display in another order than it is read.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
    ) || matches!(c, '\u{2066}'..='\u{2069}')
}

/// `text` with every control character but line breaks and tabs, and every bidirectional
/// formatting character, shown as U+FFFD: a policy file, or a path, from someone else must not
/// send escape sequences to the reader's terminal, nor make a line read in another order than
/// the compiler reads it. One character for one, so the caret still points where it did.
fn without_controls(text: String) -> String {
    let hidden = |c: char| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c);
    if !text.chars().any(hidden) {
        return text;
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// The line and column of byte `offset` in `text`, whose lines start at `starts` (see
/// [`SourceMap::add`]).
fn text_line_col(text: &str, starts: &[usize], offset: usize) -> LineCol {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line = starts.partition_point(|&s| s <= offset).max(1);
    let line_start = starts.get(line - 1).copied().unwrap_or(0);
    let col = text[line_start..offset].chars().count() as u32 + 1;
    LineCol {
        line: line as u32,
        col,
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How many bytes of a long line an excerpt shows on each side of the place it points at.
const EXCERPT_CONTEXT: usize = 80;

/// The source line of `loc` with a caret under it: the whole line, or for a long one a window
/// of about [`EXCERPT_CONTEXT`] bytes on each side, marked `...` where cut (so that many errors
/// on one long line do not print it whole each time).
fn caret_excerpt(text: &str, starts: &[usize], loc: Loc) -> String {
    let start = floor_char_boundary(text, (loc.start as usize).min(text.len()));
    let lc = text_line_col(text, starts, start);
    let line = lc.line as usize;
    let line_start = starts.get(line - 1).copied().unwrap_or(0);
    let line_end = starts.get(line).map_or(text.len(), |next| next - 1);
    // A span longer than the window (a megabyte-long name) is shown by its start.
    let end = (loc.end as usize).clamp(start, line_end);
    let end = floor_char_boundary(text, end.min(start.saturating_add(2 * EXCERPT_CONTEXT)));
    let shown_start =
        floor_char_boundary(text, start.saturating_sub(EXCERPT_CONTEXT).max(line_start));
    let shown_end = floor_char_boundary(text, end.saturating_add(EXCERPT_CONTEXT).min(line_end));
    let shown_end = if text[shown_end..line_end].chars().count() <= 3 {
        line_end
    } else {
        shown_end
    };
    let (cut_before, cut_after) = (shown_start > line_start, shown_end < line_end);
    let width = text[start..end].chars().count().max(1);
    let gutter = lc.line.to_string().len();
    let pad = " ".repeat(gutter);
    let lead = if cut_before { "..." } else { "" };
    let indent: String = lead
        .chars()
        .map(|_| ' ')
        .chain(
            text[shown_start..start]
                .chars()
                .map(|c| if c == '\t' { '\t' } else { ' ' }),
        )
        .collect();
    format!(
        "{pad} |\n{} | {lead}{}{}\n{pad} | {}{}\n",
        lc.line,
        &text[shown_start..shown_end],
        if cut_after { "..." } else { "" },
        indent,
        "^".repeat(width)
    )
}

/// One problem found in a policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Where.
    pub loc: Loc,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it, if known (a did-you-mean, the list of valid names, ...).
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without help.
    pub fn new(loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            loc,
            message: message.into(),
            help: None,
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line unless one is already there.
    pub fn or_help(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }

    /// Adds a did-you-mean help line when a close candidate exists.
    pub fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match closest(wrong, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// The candidate closest to `wrong` by edit distance, if it is close enough to be a likely
/// misspelling (at most a third of the word's length, at least one edit). Ties go to the first
/// candidate in order, so suggestions are stable.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_ascii_lowercase();
    let len = wrong.chars().count();
    let limit = (len / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        // The length difference is a lower bound of the distance: skip the quadratic work for
        // names that cannot be close (a megabyte-long unknown name costs a length check each).
        if cand.chars().count().abs_diff(len) > limit {
            continue;
        }
        let d = edit_distance(&wrong_lower, &cand.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// Damerau-Levenshtein distance (optimal string alignment): a swap of two neighbours is one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {

    #[test]
    fn places_are_found_by_line_and_character() {
        let mut map = SourceMap::default();
        let text = "default kill;\nallow é, opne;\n\nallow x;";
        let id = map.add(Source {
            name: "p".into(),
            path: None,
            text: SourceText::Text(text.into()),
            included_at: None,
            reached_as: None,
        });
        let at = |needle: &str| {
            let start = text.find(needle).unwrap() as u32;
            map.line_col(Loc {
                source: id,
                start,
                end: start + 1,
            })
        };
        assert_eq!(at("default"), LineCol { line: 1, col: 1 });
        assert_eq!(at("opne"), LineCol { line: 2, col: 10 });
        assert_eq!(at("x;"), LineCol { line: 4, col: 7 });
        let end = Loc {
            source: id,
            start: text.len() as u32,
            end: text.len() as u32,
        };
        assert_eq!(map.line_col(end), LineCol { line: 4, col: 9 });
    }

    use super::*;

    #[test]
    fn control_characters_of_a_policy_never_reach_the_terminal() {
        let text = "default kill;\n\x1b[31mallow read;\0\n";
        let c = crate::compile_text("p.policy", None, text, &mut crate::NoIncludes);
        let errors = c.render_errors();
        assert!(
            errors.contains("unexpected character `\\u{1b}`"),
            "{errors}"
        );
        assert!(errors.contains("unexpected character `\\0`"), "{errors}");
        assert!(
            !errors.contains('\x1b') && !errors.contains('\0'),
            "{errors:?}"
        );
        assert!(
            errors.contains("\u{fffd}[31mallow read;\u{fffd}"),
            "{errors}"
        );
        // A right-to-left override in a name: shown as what it is, not obeyed.
        let text = "default kill;\nallow re\u{202e}ad;\n";
        let c = crate::compile_text("p.policy", None, text, &mut crate::NoIncludes);
        let errors = c.render_errors();
        assert!(!errors.contains('\u{202e}'), "{errors:?}");
    }

    #[test]
    fn a_huge_name_is_not_printed_whole() {
        let name = "x".repeat(1 << 20);
        let text = format!("default kill;\nallow {name};\n");
        let c = crate::compile_text("p.policy", None, &text, &mut crate::NoIncludes);
        let errors = c.render_errors();
        assert!(errors.contains("unknown syscall"), "{}", &errors[..200]);
        assert!(errors.len() < 8 * MESSAGE_MOST, "{} bytes", errors.len());
    }

    #[test]
    fn suggestions_catch_common_typos() {
        let names = ["open", "openat", "read", "write", "close"];
        assert_eq!(closest("opne", names), Some("open"));
        assert_eq!(closest("wrte", names), Some("write"));
        assert_eq!(closest("xyzzy", names), None);
    }

    #[test]
    fn caret_points_at_the_range() {
        let mut map = SourceMap::default();
        let id = map.add(Source {
            name: "p.policy".into(),
            path: None,
            text: SourceText::Text("default kill;\nallow opne;\n".into()),
            included_at: None,
            reached_as: None,
        });
        let d = Diagnostic::new(
            Loc {
                source: id,
                start: 20,
                end: 24,
            },
            "unknown syscall `opne`",
        )
        .with_help("did you mean `open`?");
        let text = map.render(&d);
        assert!(text.starts_with("p.policy:2:7: error: unknown syscall `opne`"));
        assert!(text.contains("2 | allow opne;"));
        assert!(text.contains("  |       ^^^^"));
    }

    #[test]
    fn a_long_line_is_shown_around_the_place_only() {
        let mut map = SourceMap::default();
        let line = format!("allow {}opne;{}", "read, ".repeat(100), " ".repeat(300));
        let text = format!("default kill;\n{line}\n");
        let start = text.find("opne").unwrap() as u32;
        let id = map.add(Source {
            name: "p.policy".into(),
            path: None,
            text: SourceText::Text(text),
            included_at: None,
            reached_as: None,
        });
        let d = Diagnostic::new(
            Loc {
                source: id,
                start,
                end: start + 4,
            },
            "unknown syscall `opne`",
        );
        let out = map.render(&d);
        let lines: Vec<&str> = out.lines().collect();
        let shown = lines[2];
        let caret = lines[3];
        assert!(
            shown.starts_with("2 | ...") && shown.ends_with("..."),
            "{out}"
        );
        assert!(shown.len() < 200, "{out}");
        // The caret sits under `opne`.
        let at = caret.find('^').unwrap();
        assert_eq!(&shown[at..at + 4], "opne", "{out}");
        assert!(caret.ends_with("^^^^"), "{out}");
    }
}
