//! From the macro's input to a compilation: either the policy's own tokens, or
//! `file = "path"` naming a policy file relative to the crate's manifest directory.

use crate::emit;
use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use sandbox_policy::syntax::{token_from_literal, Punct, Token, TokenKind};
use sandbox_policy::{compile_text, compile_tokens, Compilation, FsLoader, LineCol, Loc, ROOT_SOURCE};
use std::path::PathBuf;

/// Expands one `policy!` invocation.
pub fn expand(input: TokenStream) -> TokenStream {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut loader = FsLoader {
        base: manifest_dir.clone(),
    };
    if let Some((path, lit_span)) = file_argument(&input) {
        let full = manifest_dir.join(&path);
        let text = match std::fs::read_to_string(&full) {
            Ok(t) => t,
            Err(e) => {
                return emit::error_at(
                    lit_span,
                    lit_span,
                    &format!("cannot read policy file `{}`: {e}", full.display()),
                )
            }
        };
        let compilation = compile_text(&path, Some(&full), &text, &mut loader);
        let mut watched = vec![full];
        watched.extend(compilation.included_files.iter().cloned());
        return match &compilation.result {
            Ok(compiled) => emit::policy(&compiled.policy, &watched),
            Err(_) => emit::error_at(lit_span, lit_span, compilation.render_errors().trim_end()),
        };
    }
    let (tokens, positions, spans, mut errors) = convert(input);
    let compilation = compile_tokens(&origin(&spans), tokens, positions, &mut loader);
    match &compilation.result {
        Ok(compiled) if errors.is_empty() => {
            emit::policy(&compiled.policy, &compilation.included_files)
        }
        Ok(_) => emit::errors(errors),
        Err(diags) => {
            for d in diags {
                errors.push(spanned(&compilation, &spans, d));
            }
            emit::errors(errors)
        }
    }
}

/// A diagnostic placed on the user's tokens. Errors inside included files or groups are placed
/// on the `include`/`use` that brought them in, with their own place in the message.
fn spanned(
    compilation: &Compilation,
    spans: &[Span],
    d: &sandbox_policy::Diagnostic,
) -> emit::SpannedError {
    let mut loc = d.loc;
    let mut message = d.message.clone();
    if loc.source != ROOT_SOURCE {
        message = format!("{}: {message}", compilation.sources.describe(loc));
        while loc.source != ROOT_SOURCE {
            match compilation.sources.get(loc.source).included_at {
                Some(at) => loc = at,
                None => break,
            }
        }
    }
    if let Some(help) = &d.help {
        message = format!("{message}\n  = help: {help}");
    }
    let (start, end) = token_spans(spans, loc);
    emit::SpannedError {
        start,
        end,
        message,
    }
}

fn token_spans(spans: &[Span], loc: Loc) -> (Span, Span) {
    let pick = |i: u32| spans.get(i as usize).copied().unwrap_or_else(Span::call_site);
    (pick(loc.start), pick(loc.end))
}

fn origin(spans: &[Span]) -> String {
    match spans.first() {
        Some(s) => {
            let lc = s.start();
            let file = s.file();
            format!("policy! at {file}:{}:{}", lc.line, lc.column + 1)
        }
        None => "policy!".to_string(),
    }
}

/// Recognises `file = "path"`.
fn file_argument(input: &TokenStream) -> Option<(String, Span)> {
    let trees: Vec<TokenTree> = input.clone().into_iter().collect();
    match trees.as_slice() {
        [TokenTree::Ident(i), TokenTree::Punct(p), TokenTree::Literal(l)]
            if i == "file" && p.as_char() == '=' =>
        {
            match token_from_literal(&l.to_string()) {
                Ok(TokenKind::Str(path)) => Some((path, l.span())),
                _ => None,
            }
        }
        _ => None,
    }
}

type Converted = (Vec<Token>, Vec<LineCol>, Vec<Span>, Vec<emit::SpannedError>);

/// Converts the compiler's tokens to the policy compiler's, keeping each token's span.
fn convert(input: TokenStream) -> Converted {
    let mut c = Converter::default();
    c.stream(input);
    (c.tokens, c.positions, c.spans, c.errors)
}

#[derive(Default)]
struct Converter {
    tokens: Vec<Token>,
    positions: Vec<LineCol>,
    spans: Vec<Span>,
    errors: Vec<emit::SpannedError>,
    pending: Option<(String, Span)>,
}

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
            match Punct::from_str(&text) {
                Some(p) => self.push(TokenKind::Punct(p), span),
                None => {
                    // A joint sequence that is no token of ours, e.g. `=>`: split it.
                    for ch in text.chars() {
                        match Punct::from_str(&ch.to_string()) {
                            Some(p) => self.push(TokenKind::Punct(p), span),
                            None => self.error(span, format!("unexpected `{ch}`")),
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
                TokenTree::Literal(l) => match token_from_literal(&l.to_string()) {
                    Ok(kind) => self.push(kind, l.span()),
                    Err(e) => self.error(l.span(), e),
                },
                TokenTree::Punct(p) => {
                    // Doc comments arrive as `#[doc = "..."]`: skip them like comments.
                    if p.as_char() == '#' {
                        if let Some(TokenTree::Group(g)) = trees.peek() {
                            if g.delimiter() == Delimiter::Bracket {
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
                    Delimiter::Parenthesis => {
                        self.push(TokenKind::Punct(Punct::LParen), g.span_open());
                        self.stream(g.stream());
                        self.push(TokenKind::Punct(Punct::RParen), g.span_close());
                    }
                    Delimiter::None => self.stream(g.stream()),
                    Delimiter::Bracket | Delimiter::Brace => self.error(
                        g.span_open(),
                        "unexpected bracket: a policy uses only parentheses".to_string(),
                    ),
                },
            }
        }
        self.flush_punct();
    }

    /// Joint punctuation can grow into a two-character token only from one character.
    fn pending_can_grow(&self) -> bool {
        self.pending.as_ref().is_some_and(|(t, _)| t.len() < 2)
    }
}
