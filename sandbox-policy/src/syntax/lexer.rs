//! Tokens and the lexer for policy text. The token set is Rust's (identifiers, integer and
//! string literals, punctuation), so any policy file is also valid input to `policy!`.

use crate::diag::{Diagnostic, Loc, SourceId, MAX_ERRORS};
use std::fmt;

/// A punctuation token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Punct {
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&`
    And,
    /// `&&`
    AndAnd,
    /// `|`
    Or,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// `-`
    Minus,
    /// `=`
    Eq,
}

impl Punct {
    /// The punctuation as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Punct::Semi => ";",
            Punct::Comma => ",",
            Punct::LParen => "(",
            Punct::RParen => ")",
            Punct::EqEq => "==",
            Punct::Ne => "!=",
            Punct::Lt => "<",
            Punct::Le => "<=",
            Punct::Gt => ">",
            Punct::Ge => ">=",
            Punct::And => "&",
            Punct::AndAnd => "&&",
            Punct::Or => "|",
            Punct::OrOr => "||",
            Punct::Bang => "!",
            Punct::Minus => "-",
            Punct::Eq => "=",
        }
    }

    /// Two- and one-character punctuation, longest first, as the lexer matches them.
    pub const ALL: [Punct; 17] = [
        Punct::EqEq,
        Punct::Ne,
        Punct::Le,
        Punct::Ge,
        Punct::AndAnd,
        Punct::OrOr,
        Punct::Semi,
        Punct::Comma,
        Punct::LParen,
        Punct::RParen,
        Punct::Lt,
        Punct::Gt,
        Punct::And,
        Punct::Or,
        Punct::Bang,
        Punct::Minus,
        Punct::Eq,
    ];

    /// The punctuation spelled by `s`, if any.
    pub fn from_text(s: &str) -> Option<Punct> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An identifier or keyword.
    Ident(String),
    /// A non-negative integer literal (decimal, `0x`, `0o` or `0b`, with `_` separators), and
    /// the base it is written in.
    Int(u64, Radix),
    /// A string literal's value.
    Str(String),
    /// Punctuation.
    Punct(Punct),
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Ident(s) => write!(f, "`{s}`"),
            TokenKind::Int(v, radix) => {
                f.write_str("`")?;
                radix.write(f, *v)?;
                f.write_str("`")
            }
            TokenKind::Str(s) => write!(f, "{s:?}"),
            TokenKind::Punct(p) => write!(f, "`{}`", p.as_str()),
        }
    }
}

/// The base an integer literal is written in, so that messages and rule texts show it as
/// written (`0x1f`, `0o755`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Radix {
    /// `42`.
    Decimal,
    /// `0x2a`.
    Hex,
    /// `0o52`.
    Octal,
    /// `0b101010`.
    Binary,
}

impl Radix {
    /// The base of `text`, by its prefix.
    fn of(text: &str) -> Radix {
        match text.get(..2) {
            Some("0x" | "0X") => Radix::Hex,
            Some("0o" | "0O") => Radix::Octal,
            Some("0b" | "0B") => Radix::Binary,
            _ => Radix::Decimal,
        }
    }

    /// Writes `value` in this base, with its prefix.
    pub fn write(self, f: &mut fmt::Formatter<'_>, value: u64) -> fmt::Result {
        match self {
            Radix::Decimal => write!(f, "{value}"),
            Radix::Hex => write!(f, "{value:#x}"),
            Radix::Octal => write!(f, "{value:#o}"),
            Radix::Binary => write!(f, "{value:#b}"),
        }
    }
}

/// A token and its place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub loc: Loc,
}

/// Parses the text of an integer or string literal as Rust writes it (`42`, `0x7f_ff`,
/// `"file.policy"`). Used by the lexer and by `policy!` for the compiler's literal tokens.
pub fn token_from_literal(text: &str) -> Result<TokenKind, String> {
    if let Some(body) = text.strip_prefix('"') {
        let body = body
            .strip_suffix('"')
            .ok_or_else(|| "unterminated string literal".to_string())?;
        return unescape(body).map(TokenKind::Str);
    }
    if text.starts_with('r') && text.contains('"') {
        let body = text.trim_start_matches('r').trim_matches('#');
        let body = body.strip_prefix('"').and_then(|b| b.strip_suffix('"'));
        return body
            .map(|b| TokenKind::Str(b.to_string()))
            .ok_or_else(|| "malformed raw string literal".to_string());
    }
    parse_int(text).map(|v| TokenKind::Int(v, Radix::of(text)))
}

fn unescape(body: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('0') => out.push('\0'),
            other => {
                return Err(format!(
                    "unsupported escape `\\{}` in string literal",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(out)
}

fn parse_int(text: &str) -> Result<u64, String> {
    let (radix, digits) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        Some("0o" | "0O") => (8, &text[2..]),
        Some("0b" | "0B") => (2, &text[2..]),
        _ => (10, text),
    };
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return Err(format!("`{text}` has no digits"));
    }
    // C reads `0755` as octal, Rust as decimal: modes and flags are written both ways, and a
    // policy that means the one must not silently get the other.
    if radix == 10 && cleaned.len() > 1 && cleaned.starts_with('0') {
        let digits = cleaned.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        return Err(format!(
            "`{text}` has a leading zero, which C reads as octal and Rust as decimal: write \
             `0o{digits}` for octal or `{digits}` for decimal"
        ));
    }
    if let Some(at) = cleaned.find(|c: char| !c.is_digit(radix)) {
        const SUFFIXES: [&str; 12] = [
            "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        ];
        let bad = cleaned[at..].chars().next().unwrap_or('?');
        return Err(if SUFFIXES.contains(&&cleaned[at..]) {
            format!("`{text}` is not an integer literal: literals take no type suffix")
        } else if radix == 10 && bad.is_ascii_alphabetic() {
            format!("`{text}` is neither an integer literal nor a name: names do not start with a digit")
        } else {
            let base = match radix {
                16 => "a hexadecimal",
                8 => "an octal",
                2 => "a binary",
                _ => "a decimal",
            };
            format!("`{text}` is not an integer literal: `{bad}` is not {base} digit")
        });
    }
    u64::from_str_radix(&cleaned, radix)
        .map_err(|_| format!("integer literal `{text}` does not fit in 64 bits"))
}

/// Splits policy text into tokens, skipping whitespace and `//` and `/* */` comments. Every
/// character that starts no token is reported, and lexing goes on after it.
pub fn lex(source: SourceId, text: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        source,
        text,
        pos: 0,
        tokens: Vec::new(),
        errors: Vec::new(),
    };
    lexer.refuse_bidi_controls();
    lexer.run();
    (lexer.tokens, lexer.errors)
}

struct Lexer<'a> {
    source: SourceId,
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    errors: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn loc(&self, start: usize, end: usize) -> Loc {
        Loc {
            source: self.source,
            start: start as u32,
            end: end as u32,
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn run(&mut self) {
        while let Some(c) = self.rest().chars().next() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if self.rest().starts_with("//") {
                let len = self.rest().find('\n').unwrap_or(self.rest().len());
                self.refuse_hidden_line_breaks(len);
                self.pos += len;
            } else if self.rest().starts_with("/*") {
                self.block_comment(start);
            } else if c.is_ascii_alphabetic() || c == '_' {
                let len = self.word_len();
                let word = self.rest()[..len].to_string();
                self.pos += len;
                self.push(TokenKind::Ident(word), start);
            } else if c.is_ascii_digit() {
                let len = self.word_len();
                let word = &self.rest()[..len];
                let result = token_from_literal(word);
                self.pos += len;
                match result {
                    Ok(kind) => self.push(kind, start),
                    Err(e) => {
                        self.error(Diagnostic::new(self.loc(start, self.pos), e));
                        // A 0 in its place (no bits, fits every width), so the parser does not
                        // report the hole as a second error.
                        self.push(TokenKind::Int(0, Radix::Decimal), start);
                    }
                }
            } else if c == '"' {
                self.string(start);
            } else if let Some(p) = Punct::ALL
                .into_iter()
                .find(|p| self.rest().starts_with(p.as_str()))
            {
                self.pos += p.as_str().len();
                self.push(TokenKind::Punct(p), start);
            } else {
                self.pos += c.len_utf8();
                if !crate::diag::is_bidi_control(c) {
                    self.error(Diagnostic::new(
                        self.loc(start, self.pos),
                        // Escaped: a control character (a terminal's escape) shows as its code.
                        format!("unexpected character `{}`", c.escape_debug()),
                    ));
                }
            }
        }
    }

    /// Reports every bidirectional formatting character, comments and strings included (as
    /// rustc does): one can make a rule show inside a comment in an editor or a review while the
    /// compiler reads it as a rule. (The lexer's walk then passes over them unreported.)
    fn refuse_bidi_controls(&mut self) {
        let found: Vec<(usize, char)> = self
            .text
            .char_indices()
            .filter(|(_, c)| crate::diag::is_bidi_control(*c))
            .take(MAX_ERRORS)
            .collect();
        for (at, c) in found {
            self.error(
                Diagnostic::new(
                    self.loc(at, at + c.len_utf8()),
                    format!(
                        "bidirectional formatting character U+{:04X} in the policy",
                        u32::from(c)
                    ),
                )
                .with_help(
                    "it can make the text show in another order than it is compiled; remove it",
                ),
            );
        }
    }

    /// Reports each line break other than `\n` in the `//` comment of `len` bytes that starts
    /// here (a lone `\r`, a vertical tab, a form feed, U+0085, U+2028, U+2029). Editors and
    /// viewers show what follows one on a line of its own, but the comment runs on to the `\n`
    /// (as in Rust), so a rule shown there would not be compiled. A `\r` that ends the comment
    /// (a `\r\n` line end, or the end of the file) hides nothing.
    fn refuse_hidden_line_breaks(&mut self, len: usize) {
        let start = self.pos;
        let comment = &self.text[start..start + len];
        let found: Vec<(usize, char)> = comment
            .char_indices()
            .filter(|&(i, c)| is_hidden_line_break(c) && !(c == '\r' && i + 1 == len))
            .take(MAX_ERRORS.saturating_sub(self.errors.len()))
            .collect();
        for (at, c) in found {
            let at = start + at;
            self.error(
                Diagnostic::new(
                    self.loc(at, at + c.len_utf8()),
                    format!("line break U+{:04X} inside a `//` comment", u32::from(c)),
                )
                .with_help(
                    "what follows it shows on a line of its own, but the comment runs on to the \
                     end of the line and none of it is compiled; end the line with a newline",
                ),
            );
        }
    }

    /// Records an error, up to [`MAX_ERRORS`]: garbage (a file of `@`) makes one per
    /// character, and what is kept must not grow with it.
    fn error(&mut self, d: Diagnostic) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(d);
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let loc = self.loc(start, self.pos);
        self.tokens.push(Token { kind, loc });
    }

    fn word_len(&self) -> usize {
        self.rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len())
    }

    fn block_comment(&mut self, start: usize) {
        let mut depth = 0usize;
        while !self.rest().is_empty() {
            if self.rest().starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else if self.rest().starts_with("*/") {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.pos += self.rest().chars().next().map_or(1, char::len_utf8);
            }
        }
        self.error(Diagnostic::new(
            self.loc(start, start + 2),
            "unterminated block comment",
        ));
    }

    fn string(&mut self, start: usize) {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in self.rest().char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i + 1);
                break;
            } else if c == '\n' {
                break;
            }
        }
        let Some(len) = end else {
            let len = self.rest().find('\n').unwrap_or(self.rest().len());
            self.pos += len;
            self.error(Diagnostic::new(
                self.loc(start, self.pos),
                "unterminated string literal",
            ));
            return;
        };
        let literal = self.rest()[..len].to_string();
        self.pos += len;
        match token_from_literal(&literal) {
            Ok(kind) => self.push(kind, start),
            Err(e) => self.error(Diagnostic::new(self.loc(start, self.pos), e)),
        }
    }
}

/// A character that editors or viewers show as a line break, other than `\n`.
/// `text` as a `//` comment can hold it: every character the lexer refuses in a comment
/// (a line break other than the one that ends it, a bidirectional formatting character) or
/// that would end it or reach a reader's terminal (any control character) is shown escaped
/// (`\n`, `\u{202e}`), so that a comment a tool writes from outside text (a path, a program's
/// argument) always compiles and reads as what it says.
pub fn comment_safe(text: &str) -> String {
    let escaped =
        |c: char| c.is_control() || is_hidden_line_break(c) || crate::diag::is_bidi_control(c);
    text.chars()
        .fold(String::with_capacity(text.len()), |mut out, c| {
            if escaped(c) {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
            out
        })
}

fn is_hidden_line_break(c: char) -> bool {
    matches!(
        c,
        '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let (tokens, errors) = lex(SourceId(0), text);
        assert!(errors.is_empty(), "{errors:?}");
        tokens.into_iter().map(|t| t.kind).collect()
    }

    /// Whatever a comment is written from, it lexes as one comment, with nothing refused,
    /// and keeps the plain text as it is.
    #[test]
    fn comment_safe_text_always_lexes_as_one_comment() {
        let hostile =
            "a\u{2028}allow ptrace;\u{2029}\u{202e}x\u{2066}\u{85}\r\n\u{b}\u{c}\u{1b}[2J\0 é";
        let text = format!("// {}\ndefault kill;\n", comment_safe(hostile));
        assert_eq!(kinds(&text), kinds("default kill;"), "{text:?}");
        assert_eq!(comment_safe("/usr/bin/ls -l é"), "/usr/bin/ls -l é");
        assert!(comment_safe(hostile).contains("\\u{2028}allow ptrace;"));
    }

    #[test]
    fn lexes_rules_with_comments() {
        let k = kinds("allow write if fd == 1 || fd >= 0x2_0; // c\n/* a /* nested */ b */ !");
        assert_eq!(
            k,
            vec![
                TokenKind::Ident("allow".into()),
                TokenKind::Ident("write".into()),
                TokenKind::Ident("if".into()),
                TokenKind::Ident("fd".into()),
                TokenKind::Punct(Punct::EqEq),
                TokenKind::Int(1, Radix::Decimal),
                TokenKind::Punct(Punct::OrOr),
                TokenKind::Ident("fd".into()),
                TokenKind::Punct(Punct::Ge),
                TokenKind::Int(0x20, Radix::Hex),
                TokenKind::Punct(Punct::Semi),
                TokenKind::Punct(Punct::Bang),
            ]
        );
    }

    #[test]
    fn reports_bad_characters_and_literals() {
        let (_, errors) = lex(SourceId(0), "allow read $ 12u8 \"open");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[1].message.contains("suffix"));
    }

    #[test]
    fn a_bad_literal_is_one_error_not_two() {
        for literal in ["99999999999999999999999", "0x1ffffffffffffffff", "12u8"] {
            let text = format!("default kill;\nallow read if fd == {literal};\n");
            let c = crate::compile_text("p.policy", None, &text, &mut crate::NoIncludes);
            let Err(errors) = &c.result else {
                panic!("{literal} compiled");
            };
            assert_eq!(errors.len(), 1, "{}", c.render_errors());
        }
    }

    #[test]
    fn bidirectional_controls_are_errors_even_in_comments() {
        let text = "default kill;\n// \u{202e} } \u{2066}\nallow ptrace; // \u{2069}\n";
        let (_, errors) = lex(SourceId(0), text);
        assert_eq!(errors.len(), 3, "{errors:?}");
        // One outside a comment is that error alone, not also an unexpected character.
        let (_, errors) = lex(SourceId(0), "allow \u{202e}read;");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("U+202E"), "{errors:?}");
    }

    #[test]
    fn a_comment_cannot_hide_a_line_behind_another_line_break() {
        for brk in ["\r", "\u{0b}", "\u{0c}", "\u{85}", "\u{2028}", "\u{2029}"] {
            let text = format!("default allow;\n// the rest{brk}kill mount;\n");
            let c = crate::compile_text("p.policy", None, &text, &mut crate::NoIncludes);
            let Err(errors) = &c.result else {
                panic!("{brk:?} hid a rule in a comment");
            };
            assert_eq!(errors.len(), 1, "{}", c.render_errors());
            assert!(
                errors[0].message.contains("inside a `//` comment"),
                "{errors:?}"
            );
        }
        // Line ends written `\r\n`, and a `\r` at the end of the file, hide nothing.
        kinds("default allow; // a\r\nkill mount; // b\r");
        // Outside a comment such a break is space between tokens, as it shows.
        assert_eq!(kinds("kill\u{2028}mount;").len(), 3);
    }

    #[test]
    fn integer_forms() {
        assert_eq!(
            token_from_literal("0o17"),
            Ok(TokenKind::Int(15, Radix::Octal))
        );
        assert_eq!(
            token_from_literal("0"),
            Ok(TokenKind::Int(0, Radix::Decimal))
        );
        assert_eq!(
            token_from_literal("0x0755"),
            Ok(TokenKind::Int(0x755, Radix::Hex))
        );
        for (bad, says) in [
            ("1u32", "literals take no type suffix"),
            ("32bit_read", "names do not start with a digit"),
            ("0xZZ", "`Z` is not a hexadecimal digit"),
            ("0b12", "`2` is not a binary digit"),
            ("0o8", "`8` is not an octal digit"),
        ] {
            let e = token_from_literal(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        for ambiguous in ["0755", "00", "0_1"] {
            let e = token_from_literal(ambiguous).unwrap_err();
            assert!(e.contains("leading zero"), "{ambiguous}: {e}");
        }
        assert_eq!(
            token_from_literal("0b101"),
            Ok(TokenKind::Int(5, Radix::Binary))
        );
        assert_eq!(
            token_from_literal("0xffff_ffff_ffff_ffff"),
            Ok(TokenKind::Int(u64::MAX, Radix::Hex))
        );
        assert!(token_from_literal("0x1_0000_0000_0000_0000").is_err());
    }
}
