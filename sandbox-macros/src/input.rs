//! From the macro's input to a compilation: either the policy's own tokens, or
//! `file = "path"` naming a policy file relative to the crate's manifest directory.

use crate::emit;
use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use sandbox_policy::syntax::{token_from_literal, Punct, Radix, Token, TokenKind};
use sandbox_policy::{
    compile_text, compile_tokens, Compilation, FsLoader, LineCol, Loc, MAX_RENDERED_ERRORS,
    ROOT_SOURCE,
};
use std::path::{Path, PathBuf};

/// Expands one `policy!` invocation.
pub fn expand(input: TokenStream) -> TokenStream {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let paths = Paths::new(&manifest_dir);
    let mut loader = FsLoader {
        base: manifest_dir.clone(),
    };
    match file_argument(&input) {
        FileArgument::Path(path, lit_span) => {
            return expand_file(&path, lit_span, &manifest_dir, &paths, &mut loader)
        }
        FileArgument::Malformed(start, end) => {
            return emit::error_at(
                start,
                end,
                "expected a string literal after `file =`\n\
                 help: write `policy!(file = \"policies/app.policy\")`, relative to the crate's \
                 directory (CARGO_MANIFEST_DIR)",
            )
        }
        FileArgument::None => {}
    }
    let (tokens, positions, spans, mut errors, dropped) = convert(input);
    let (file, origin) = origin(&spans);
    let compilation = compile_tokens(&file, tokens.clone(), positions, &mut loader);
    match &compilation.result {
        Ok(compiled) if errors.is_empty() => {
            let mut policy = compiled.policy.clone();
            policy.origin = origin.into();
            let warnings: Vec<_> = compilation
                .warnings
                .iter()
                .take(MAX_RENDERED_ERRORS)
                .map(|w| spanned(&compilation, &spans, w, &paths))
                .collect();
            let warnings = with_count_of_the_rest(warnings, compilation.warnings.len());
            emit::policy(&policy, &compilation.included_files, &warnings)
        }
        Ok(_) => emit::errors(errors),
        Err(diags) => {
            let statement = statement_numbers(&tokens);
            let writes_default = tokens.iter().enumerate().any(|(i, t)| {
                matches!(&t.kind, TokenKind::Ident(w) if w == "default")
                    && (i == 0 || tokens[i - 1].kind == TokenKind::Punct(Punct::Semi))
            });
            for d in diags {
                // After a token the converter had to drop, the parser's complaints about the
                // rest of that statement are follow-ons of the error already reported.
                let after_dropped = d.loc.source == ROOT_SOURCE
                    && dropped.iter().any(|&i| {
                        d.loc.start >= i
                            && statement.get(d.loc.start as usize) == statement.get(i as usize)
                    });
                // A `default` statement that did not parse has been reported; "no default"
                // would only repeat it.
                let no_default_again = writes_default && d.message == NO_DEFAULT;
                let follow_on = after_dropped || no_default_again;
                if !follow_on {
                    errors.push(spanned(&compilation, &spans, d, &paths));
                }
            }
            emit::errors(errors)
        }
    }
}

/// The resolver's message for a policy without `default`.
const NO_DEFAULT: &str = "the policy has no `default` action";

/// `policy!(file = "path")`: errors are placed on the path, each with its own excerpt.
fn expand_file(
    path: &str,
    lit_span: Span,
    manifest_dir: &Path,
    paths: &Paths,
    loader: &mut FsLoader,
) -> TokenStream {
    let full = manifest_dir.join(path);
    // As the compiler reads included files: a regular file of bounded size only, so that a
    // path to a device or a FIFO is an error rather than a build that never ends.
    let text = match sandbox_policy::resolve::read_policy_text(&full) {
        Ok(t) => t,
        Err(e) => {
            return emit::error_at(
                lit_span,
                lit_span,
                &format!(
                    "cannot read policy file `{path}`: {e}\n\
                     help: the path is relative to the crate's directory (CARGO_MANIFEST_DIR), \
                     where its Cargo.toml is"
                ),
            )
        }
    };
    let compilation = compile_text(path, Some(&full), &text, loader);
    let mut watched = vec![full];
    watched.extend(compilation.included_files.iter().cloned());
    match &compilation.result {
        Ok(compiled) => {
            let warnings: Vec<_> = compilation
                .warnings
                .iter()
                .take(MAX_RENDERED_ERRORS)
                .map(|w| emit::SpannedError {
                    start: lit_span,
                    end: lit_span,
                    message: paths.relative(&excerpt(&compilation, w, true)),
                })
                .collect();
            let warnings = with_count_of_the_rest(warnings, compilation.warnings.len());
            emit::policy(&compiled.policy, &watched, &warnings)
        }
        Err(diags) => emit::errors(
            diags
                .iter()
                .map(|d| emit::SpannedError {
                    start: lit_span,
                    end: lit_span,
                    message: paths.relative(&excerpt(&compilation, d, true)),
                })
                .collect(),
        ),
    }
}

/// Makes the paths in messages relative to the manifest directory, so they read as the user
/// wrote them and do not depend on where the crate is checked out.
struct Paths {
    prefixes: Vec<String>,
}

impl Paths {
    fn new(manifest_dir: &Path) -> Self {
        let mut prefixes = Vec::new();
        let canonical = manifest_dir.canonicalize().ok();
        for dir in std::iter::once(manifest_dir).chain(canonical.as_deref()) {
            let text = dir.display().to_string();
            if !text.is_empty() {
                let sep = std::path::MAIN_SEPARATOR;
                prefixes.push(format!("{}{sep}", text.trim_end_matches(sep)));
            }
        }
        // Longest first, so a prefix of another never leaves a fragment behind.
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        prefixes.dedup();
        Paths { prefixes }
    }

    fn relative(&self, message: &str) -> String {
        self.prefixes
            .iter()
            .fold(message.to_string(), |m, p| m.replace(p.as_str(), ""))
    }
}

/// A diagnostic in a text source (a policy file, an included file or a group), as a message
/// with the place and the offending line under it, like rustc's own excerpts.
/// `root_is_text` says whether the top-level source is a file (its place is then worth a note;
/// for `policy!` tokens the error's span already shows it).
fn excerpt(
    compilation: &Compilation,
    d: &sandbox_policy::Diagnostic,
    root_is_text: bool,
) -> String {
    let sources = &compilation.sources;
    let bare = sandbox_policy::Diagnostic {
        help: None,
        ..d.clone()
    };
    let rendered = sources.render(&bare);
    let mut out = format!("{}\n --> {}\n", d.message, sources.describe(d.loc));
    for line in rendered.lines().skip(1) {
        if !line.starts_with("  = note: ") {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(help) = &d.help {
        out.push_str(&format!("  = help: {help}\n"));
    }
    let mut at = sources.get(d.loc.source).included_at;
    while let Some(loc) = at {
        if loc.source == ROOT_SOURCE && !root_is_text {
            break;
        }
        out.push_str(&format!(
            "  = note: included at {}\n",
            sources.describe(loc)
        ));
        at = sources.get(loc.source).included_at;
    }
    out.trim_end().to_string()
}

/// For each token, how many `;` come before it: tokens with the same number are in one statement.
fn statement_numbers(tokens: &[Token]) -> Vec<usize> {
    let mut n = 0;
    let mut out = Vec::with_capacity(tokens.len() + 1);
    for t in tokens {
        out.push(n);
        if t.kind == TokenKind::Punct(Punct::Semi) {
            n += 1;
        }
    }
    out.push(n);
    out
}

/// A diagnostic placed on the user's tokens. Errors inside included files or groups are placed
/// on the `include`/`use` that brought them in, with their own place and line in the message.
fn spanned(
    compilation: &Compilation,
    spans: &[Span],
    d: &sandbox_policy::Diagnostic,
    paths: &Paths,
) -> emit::SpannedError {
    let mut loc = d.loc;
    let message = if loc.source == ROOT_SOURCE {
        match &d.help {
            Some(help) => format!("{}\nhelp: {help}", d.message),
            None => d.message.clone(),
        }
    } else {
        while loc.source != ROOT_SOURCE {
            match compilation.sources.get(loc.source).included_at {
                Some(at) => loc = at,
                None => break,
            }
        }
        excerpt(compilation, d, false)
    };
    let (start, end) = token_spans(spans, loc);
    emit::SpannedError {
        start,
        end,
        message: paths.relative(&message),
    }
}

fn token_spans(spans: &[Span], loc: Loc) -> (Span, Span) {
    let pick = |i: u32| {
        spans
            .get(i as usize)
            .copied()
            .unwrap_or_else(Span::call_site)
    };
    (pick(loc.start), pick(loc.end))
}

/// The name the policy's places are written with (the source file, so a rule's location reads
/// `src/main.rs:12:5`), and the policy's origin (`policy! at src/main.rs:10:5`).
fn origin(spans: &[Span]) -> (String, String) {
    match spans.first() {
        Some(s) => {
            let lc = s.start();
            let file = s.file();
            let origin = format!("policy! at {file}:{}:{}", lc.line, lc.column + 1);
            (file, origin)
        }
        None => ("policy!".to_string(), "policy!".to_string()),
    }
}

/// A token passed through a `macro_rules!` fragment (`$path:literal`) arrives wrapped in an
/// invisible group: the token itself.
fn unwrap_invisible(tree: TokenTree) -> TokenTree {
    if let TokenTree::Group(g) = &tree {
        if g.delimiter() == Delimiter::None {
            let mut inner = g.stream().into_iter();
            if let (Some(only), None) = (inner.next(), inner.next()) {
                return unwrap_invisible(only);
            }
        }
    }
    tree
}

enum FileArgument {
    /// Not `file = ...`: the input is the policy itself.
    None,
    /// `file = "path"`.
    Path(String, Span),
    /// `file =` followed by anything but one string literal (first and last token).
    Malformed(Span, Span),
}

/// Recognises `file = "path"`.
fn file_argument(input: &TokenStream) -> FileArgument {
    let trees: Vec<TokenTree> = input.clone().into_iter().map(unwrap_invisible).collect();
    match trees.as_slice() {
        [TokenTree::Ident(i), TokenTree::Punct(p), rest @ ..]
            if i == "file" && p.as_char() == '=' && p.spacing() == Spacing::Alone =>
        {
            if let [TokenTree::Literal(l)] = rest {
                if let Ok(TokenKind::Str(path)) = token_from_literal(&l.to_string()) {
                    return FileArgument::Path(path, l.span());
                }
            }
            let first = rest.first().map_or(p.span(), TokenTree::span);
            let last = rest.last().map_or(p.span(), TokenTree::span);
            FileArgument::Malformed(first, last)
        }
        _ => FileArgument::None,
    }
}

type Converted = (
    Vec<Token>,
    Vec<LineCol>,
    Vec<Span>,
    Vec<emit::SpannedError>,
    Vec<u32>,
);

/// Converts the compiler's tokens to the policy compiler's, keeping each token's span. Also
/// returns the token indices at which a token had to be dropped.
fn convert(input: TokenStream) -> Converted {
    let mut c = Converter::default();
    c.stream(input);
    (c.tokens, c.positions, c.spans, c.errors, c.dropped)
}

#[derive(Default)]
struct Converter {
    tokens: Vec<Token>,
    positions: Vec<LineCol>,
    spans: Vec<Span>,
    errors: Vec<emit::SpannedError>,
    /// Where tokens were dropped (the index the next token got).
    dropped: Vec<u32>,
    pending: Option<(String, Span)>,
    /// How many groups the token being converted is in.
    depth: usize,
}

/// How deep the converter follows groups. The compiler refuses conditions nested deeper than
/// 64 levels anyway; this bound only keeps a hostile input from overflowing the stack.
const MAX_GROUP_DEPTH: usize = 256;

impl Converter {
    fn push(&mut self, kind: TokenKind, span: Span) {
        let index = self.tokens.len() as u32;
        let lc = span.start();
        self.tokens.push(Token {
            kind,
            loc: Loc {
                source: ROOT_SOURCE,
                start: index,
                end: index,
            },
        });
        self.positions.push(LineCol {
            line: lc.line as u32,
            col: lc.column as u32 + 1,
        });
        self.spans.push(span);
    }

    fn error(&mut self, span: Span, message: String) {
        self.errors.push(emit::SpannedError {
            start: span,
            end: span,
            message,
        });
    }

    fn flush_punct(&mut self) {
        if let Some((text, span)) = self.pending.take() {
            match Punct::from_text(&text) {
                Some(p) => self.push(TokenKind::Punct(p), span),
                None => {
                    // A joint sequence that is no token of ours, e.g. `=>`: split it.
                    for ch in text.chars() {
                        match Punct::from_text(&ch.to_string()) {
                            Some(p) => self.push(TokenKind::Punct(p), span),
                            None => {
                                self.error(
                                    span,
                                    format!("unexpected `{ch}`: no part of the policy language"),
                                );
                                self.dropped.push(self.tokens.len() as u32);
                            }
                        }
                    }
                }
            }
        }
    }

    fn stream(&mut self, input: TokenStream) {
        let mut trees = input.into_iter().peekable();
        while let Some(tree) = trees.next() {
            if !matches!(tree, TokenTree::Punct(_)) {
                self.flush_punct();
            }
            match tree {
                TokenTree::Ident(i) => {
                    let text = i.to_string();
                    let text = text.strip_prefix("r#").unwrap_or(&text).to_string();
                    self.push(TokenKind::Ident(text), i.span());
                }
                TokenTree::Literal(l) => {
                    let text = l.to_string();
                    match token_from_literal(&text) {
                        Ok(kind) => self.push(kind, l.span()),
                        Err(e) => {
                            self.error(l.span(), e);
                            // Go on with the literal's value (or a harmless 0: no bits, fits
                            // every width), so the parser reports nothing about the hole a
                            // dropped token would leave.
                            let kind = match token_from_literal(without_suffix(&text)) {
                                Ok(kind @ TokenKind::Int(..)) => kind,
                                _ => TokenKind::Int(0, Radix::Decimal),
                            };
                            self.push(kind, l.span());
                        }
                    }
                }
                TokenTree::Punct(p) => {
                    // Doc comments arrive as `#[doc = "..."]` (`#![doc = "..."]` for `//!`):
                    // skip them like comments. Any other attribute is refused: a rule under
                    // `#[cfg(...)]` would otherwise apply whatever the `cfg` says.
                    if p.as_char() == '#' {
                        if matches!(trees.peek(), Some(TokenTree::Punct(q)) if q.as_char() == '!') {
                            trees.next();
                        }
                        if let Some(TokenTree::Group(g)) = trees.peek() {
                            if g.delimiter() == Delimiter::Bracket {
                                let doc = matches!(
                                    g.stream().into_iter().next(),
                                    Some(TokenTree::Ident(i)) if i == "doc"
                                );
                                if !doc {
                                    self.error(
                                        p.span().join(g.span()).unwrap_or(p.span()),
                                        "unexpected attribute: a policy has none, and a rule \
                                         under `#[cfg(...)]` would apply whatever it says\n\
                                         help: choose between policies with `cfg` outside \
                                         `policy!`"
                                            .into(),
                                    );
                                    self.dropped.push(self.tokens.len() as u32);
                                }
                                trees.next();
                                continue;
                            }
                        }
                    }
                    let (text, span) = match self.pending.take() {
                        Some((mut text, span)) => {
                            text.push(p.as_char());
                            (text, span.join(p.span()).unwrap_or(span))
                        }
                        None => (p.as_char().to_string(), p.span()),
                    };
                    self.pending = Some((text, span));
                    if p.spacing() == Spacing::Alone || !self.pending_can_grow() {
                        self.flush_punct();
                    }
                }
                TokenTree::Group(g) => match g.delimiter() {
                    Delimiter::Parenthesis => self.group(g.span_open(), g.stream(), g.span_close()),
                    // A `macro_rules!` fragment (`$cond:expr`) of several tokens is one
                    // operand, as Rust reads it: `$c && fd == 1` with `$c` = `a || b` means
                    // `(a || b) && fd == 1`, so it is grouped as if in parentheses.
                    Delimiter::None if g.stream().into_iter().nth(1).is_some() => {
                        self.group(g.span_open(), g.stream(), g.span_close())
                    }
                    Delimiter::None => self.stream(g.stream()),
                    Delimiter::Bracket | Delimiter::Brace => {
                        let (open, close) = match g.delimiter() {
                            Delimiter::Brace => ("{", "}"),
                            _ => ("[", "]"),
                        };
                        self.error(
                            g.span_open(),
                            format!(
                                "unexpected `{open}`: a policy groups conditions with parentheses\n\
                                 help: write `(` and `)` instead of `{open}` and `{close}`"
                            ),
                        );
                        // Read it as parentheses, so the rest is checked as the user meant it.
                        self.group(g.span_open(), g.stream(), g.span_close())
                    }
                },
            }
        }
        self.flush_punct();
    }

    /// A parenthesised group; past [`MAX_GROUP_DEPTH`], an error instead of its tokens (the
    /// conversion recurses, and the compiler's thread has a bounded stack).
    fn group(&mut self, open: Span, inner: TokenStream, close: Span) {
        if self.depth == MAX_GROUP_DEPTH {
            self.error(
                open,
                format!(
                    "parentheses nested more than {MAX_GROUP_DEPTH} levels deep\n\
                     help: a condition this deep is no policy a reader can check: split it \
                     into rules"
                ),
            );
            self.dropped.push(self.tokens.len() as u32);
            return;
        }
        self.depth += 1;
        self.push(TokenKind::Punct(Punct::LParen), open);
        self.stream(inner);
        self.push(TokenKind::Punct(Punct::RParen), close);
        self.depth -= 1;
    }

    /// Joint punctuation can grow into a two-character token only from one character.
    fn pending_can_grow(&self) -> bool {
        self.pending.as_ref().is_some_and(|(t, _)| t.len() < 2)
    }
}

/// An integer literal's text without a Rust type suffix (`1u32` to `1`).
fn without_suffix(text: &str) -> &str {
    const SUFFIXES: [&str; 12] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    SUFFIXES
        .iter()
        .find_map(|s| text.strip_suffix(s))
        .unwrap_or(text)
}

/// `shown`, the first of `total` warnings, and if some were left out one more that says how
/// many, at the place of the last one shown.
fn with_count_of_the_rest(
    mut shown: Vec<emit::SpannedError>,
    total: usize,
) -> Vec<emit::SpannedError> {
    if let Some(last) = shown.last() {
        if total > shown.len() {
            let more = total - shown.len();
            let s = if more == 1 { "" } else { "s" };
            let message = format!("{more} more warning{s} not shown");
            let (start, end) = (last.start, last.end);
            shown.push(emit::SpannedError {
                start,
                end,
                message,
            });
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_left_out_are_counted_in_one_more() {
        let warning = |message: &str| emit::SpannedError {
            start: Span::call_site(),
            end: Span::call_site(),
            message: message.to_string(),
        };
        let shown: Vec<_> = (0..MAX_RENDERED_ERRORS).map(|_| warning("w")).collect();
        let all = with_count_of_the_rest(shown, MAX_RENDERED_ERRORS + 50);
        assert_eq!(all.len(), MAX_RENDERED_ERRORS + 1);
        assert_eq!(
            all[MAX_RENDERED_ERRORS].message,
            "50 more warnings not shown"
        );
        let few = with_count_of_the_rest(vec![warning("w")], 1);
        assert_eq!(few.len(), 1);
    }
}
