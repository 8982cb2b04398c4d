//! The parser: tokens to a [`File`]. Operator precedence follows Rust (`&` binds tighter than
//! comparisons, which bind tighter than `&&`, then `||`), and mixing `&` with `|` without
//! parentheses is rejected because Rust would read `flags & A | B` as `(flags & A) | B`; so is
//! `!` before a comparison (`!fd == 1`), which Rust would apply to `fd` alone.
//! After an error the parser skips to the next `;` and goes on, so every error is reported.

use super::ast::*;
use super::lexer::{Punct, Token, TokenKind};
use crate::diag::{Diagnostic, Loc, MAX_ERRORS};

/// The words that can start a statement.
pub const STATEMENT_KEYWORDS: [&str; 9] = [
    "default",
    "use",
    "include",
    "allow",
    "log",
    "trap",
    "kill",
    "kill_thread",
    "errno",
];

/// Parses a token list. Returns the statements that parsed and every syntax error.
pub fn parse(tokens: &[Token], end: Loc) -> (File, Vec<Diagnostic>) {
    let mut p = Parser {
        tokens,
        pos: 0,
        end,
        errors: Vec::new(),
        nesting: 0,
        comparisons: 0,
    };
    let mut file = File::default();
    while p.pos < tokens.len() {
        let start = p.pos;
        match p.item() {
            Ok(item) => file.items.push(item),
            // Past MAX_ERRORS the rest is not read: garbage makes an error every token or two,
            // and what is kept must not grow with it.
            Err(_) if p.errors.len() >= MAX_ERRORS => break,
            Err(e) => {
                p.errors.push(e);
                file.items.extend(default_written_at(tokens, start));
                p.recover(start);
            }
        }
    }
    (file, p.errors)
}

/// A `default` statement that did not read, at token `start`, as a statement all the same,
/// taken as `default kill`: so that checking does not add that the policy has no default
/// action, an echo of the error already reported there. Nothing is built from a policy with
/// errors, so the `kill` is never applied.
fn default_written_at(tokens: &[Token], start: usize) -> Option<Item> {
    let token = tokens.get(start)?;
    let is_default = matches!(&token.kind, TokenKind::Ident(w) if w == "default");
    is_default.then_some(Item::Default {
        action: ActionSpec {
            kind: ActionSyntax::Kill,
            loc: token.loc,
        },
        loc: token.loc,
    })
}

type PResult<T> = Result<T, Diagnostic>;

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    /// Where "end of input" errors point.
    end: Loc,
    errors: Vec<Diagnostic>,
    /// `!` and parentheses open around the current point of a condition or constant.
    nesting: usize,
    /// Comparisons in the condition being parsed.
    comparisons: usize,
}

/// The deepest nesting of `!` and parentheses a condition or constant may have. Every later
/// stage walks conditions recursively; a bound here keeps hostile text from exhausting the
/// compiler's stack (inside `policy!`, rustc's).
const MAX_NESTING: usize = 64;

/// The most comparisons one condition may have, for the same reason (a chain of `||` is as
/// deep as it is long; 1,000 overflow a 2 MiB test thread in a debug build). A rule that needs
/// more is better split into several.
const MAX_COMPARISONS: usize = 256;

impl Parser<'_> {
    /// Enters one more level of `!` or parentheses, or says it is one too many.
    fn nest(&mut self) -> PResult<()> {
        if self.nesting >= MAX_NESTING {
            return Err(Diagnostic::new(
                self.here(),
                format!("nested more than {MAX_NESTING} levels deep"),
            )
            .with_help("write the condition with fewer `!` and parentheses"));
        }
        self.nesting += 1;
        Ok(())
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, i: usize) -> Option<&Token> {
        self.tokens.get(i)
    }

    fn here(&self) -> Loc {
        self.peek().map_or(self.end, |t| t.loc)
    }

    fn prev_loc(&self) -> Loc {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(self.end, |t| t.loc)
    }

    fn is_punct(&self, p: Punct) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Punct(q), .. }) if *q == p)
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Ident(w), .. }) if w == word)
    }

    fn eat_punct(&mut self, p: Punct) -> bool {
        let found = self.is_punct(p);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_punct(&mut self, p: Punct, context: &str) -> PResult<Loc> {
        if self.is_punct(p) {
            self.pos += 1;
            return Ok(self.prev_loc());
        }
        Err(self.unexpected(&format!("`{}` {context}", p.as_str())))
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        match self.peek() {
            Some(t) => Diagnostic::new(t.loc, format!("expected {expected}, found {}", t.kind)),
            None => Diagnostic::new(self.end, format!("expected {expected}, found end of input")),
        }
    }

    fn name(&mut self, what: &str) -> PResult<Name> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Ident(text),
                loc,
            }) => {
                let name = Name {
                    text: text.clone(),
                    loc: *loc,
                };
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// Skips past the next `;` (or to the end), always making progress.
    fn recover(&mut self, start: usize) {
        if self.pos == start {
            self.pos += 1;
        }
        while self.pos < self.tokens.len() {
            let was_semi = self.is_punct(Punct::Semi);
            self.pos += 1;
            if was_semi {
                return;
            }
        }
    }

    fn item(&mut self) -> PResult<Item> {
        let start = self.here();
        let word = match self.peek() {
            Some(Token {
                kind: TokenKind::Ident(w),
                ..
            }) => w.clone(),
            _ => return Err(self.unexpected("a statement (`default`, `use`, `include` or a rule)")),
        };
        match word.as_str() {
            "default" => {
                self.pos += 1;
                let action = self.action()?;
                self.expect_punct(Punct::Semi, "after the default action")?;
                Ok(Item::Default {
                    action,
                    loc: start.to(self.prev_loc()),
                })
            }
            "use" => {
                self.pos += 1;
                let groups = self.name_list("a group name")?;
                self.expect_punct(Punct::Semi, "after the group list")?;
                Ok(Item::Use {
                    groups,
                    loc: start.to(self.prev_loc()),
                })
            }
            "include" => {
                self.pos += 1;
                let (path, path_loc) = match self.peek() {
                    Some(Token {
                        kind: TokenKind::Str(s),
                        loc,
                    }) => (s.clone(), *loc),
                    _ => return Err(self.unexpected("a quoted file name after `include`")),
                };
                self.pos += 1;
                self.expect_punct(Punct::Semi, "after the included file name")?;
                Ok(Item::Include {
                    path,
                    path_loc,
                    loc: start.to(self.prev_loc()),
                })
            }
            _ => self.rule().map(Item::Rule),
        }
    }

    fn action(&mut self) -> PResult<ActionSpec> {
        let name = self.name("an action (allow, log, errno(E), trap, kill, kill_thread)")?;
        let kind = match name.text.as_str() {
            "allow" => ActionSyntax::Allow,
            "log" => ActionSyntax::Log,
            "trap" => ActionSyntax::Trap,
            "kill" => ActionSyntax::Kill,
            "kill_thread" => ActionSyntax::KillThread,
            "errno" => {
                self.expect_punct(Punct::LParen, "after `errno`: write `errno(EPERM)`")?;
                let value = self.const_atom()?;
                self.expect_punct(Punct::RParen, "to close `errno(`")?;
                return Ok(ActionSpec {
                    kind: ActionSyntax::Errno(value),
                    loc: name.loc.to(self.prev_loc()),
                });
            }
            other => {
                return Err(
                    Diagnostic::new(name.loc, format!("unknown action `{other}`"))
                        .suggest(
                            other,
                            ["allow", "log", "errno", "trap", "kill", "kill_thread"],
                        )
                        .or_help("actions are allow, log, errno(E), trap, kill and kill_thread"),
                )
            }
        };
        Ok(ActionSpec {
            kind,
            loc: name.loc,
        })
    }

    fn rule(&mut self) -> PResult<Rule> {
        let start = self.here();
        let is_statement_word = matches!(self.peek(), Some(Token { kind: TokenKind::Ident(w), .. })
            if STATEMENT_KEYWORDS.contains(&w.as_str()));
        if !is_statement_word {
            let name = self.name("a statement")?;
            return Err(
                Diagnostic::new(name.loc, format!("unknown action `{}`", name.text))
                    .suggest(&name.text, STATEMENT_KEYWORDS)
                    .or_help(
                        "a statement starts with default, use, include, or an action \
                 (allow, log, errno(E), trap, kill, kill_thread)",
                    ),
            );
        }
        let action = self.action()?;
        let syscalls = self.name_list("a syscall name")?;
        let cond = if self.is_ident("if") {
            self.pos += 1;
            self.nesting = 0;
            self.comparisons = 0;
            Some(self.or_expr()?)
        } else {
            None
        };
        if !self.is_punct(Punct::Semi) {
            let what = if cond.is_some() {
                "`;`, `&&` or `||` after the condition"
            } else {
                "`,`, `if` or `;` after a syscall name"
            };
            return Err(self.unexpected(what));
        }
        self.pos += 1;
        Ok(Rule {
            action,
            syscalls,
            cond,
            loc: start.to(self.prev_loc()),
        })
    }

    fn name_list(&mut self, what: &str) -> PResult<Vec<Name>> {
        let mut names = vec![self.name(what)?];
        while self.eat_punct(Punct::Comma) {
            if matches!(self.peek(), Some(Token { kind: TokenKind::Ident(w), .. }) if w != "if") {
                names.push(self.name(what)?);
            } else {
                break;
            }
        }
        Ok(names)
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.and_expr()?;
        while self.eat_punct(Punct::OrOr) {
            let rhs = self.and_expr()?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while self.eat_punct(Punct::AndAnd) {
            let rhs = self.unary()?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.is_punct(Punct::Bang) {
            self.nest()?;
            self.pos += 1;
            // Rust reads `!fd == 1` as `(!fd) == 1`; negating the comparison instead would
            // mean something else than the text says to a Rust reader, so it is an error.
            let negates_a_condition = self.is_punct(Punct::Bang)
                || (self.is_punct(Punct::LParen) && !self.paren_is_operand());
            if !negates_a_condition {
                self.nesting -= 1;
                return Err(Diagnostic::new(
                    self.here(),
                    "`!` before a comparison: Rust would apply it to the operand alone",
                )
                .with_help("put the comparison in parentheses, `!(fd == 1)`, or use `!=`"));
            }
            let inner = self.unary();
            self.nesting -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        if self.is_punct(Punct::LParen) && !self.paren_is_operand() {
            self.nest()?;
            self.pos += 1;
            let inner = self.or_expr();
            self.nesting -= 1;
            let inner = inner?;
            self.expect_punct(Punct::RParen, "to close the parenthesised condition")?;
            return Ok(inner);
        }
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(Diagnostic::new(
                self.here(),
                format!("more than {MAX_COMPARISONS} comparisons in one condition"),
            )
            .with_help("split the rule into several rules for the same syscall"));
        }
        self.comparison()
    }

    /// Whether the `(` here opens a parenthesised operand (`(flags & X) == 0`, `(flags) & X`)
    /// rather than a parenthesised condition: the token after the matching `)` is a comparison
    /// operator or a mask's `&`.
    fn paren_is_operand(&self) -> bool {
        let mut depth = 0usize;
        let mut i = self.pos;
        while let Some(t) = self.peek_at(i) {
            match t.kind {
                TokenKind::Punct(Punct::LParen) => depth += 1,
                TokenKind::Punct(Punct::RParen) => {
                    depth -= 1;
                    if depth == 0 {
                        return self.peek_at(i + 1).is_some_and(|t| {
                            cmp_op(&t.kind).is_some() || t.kind == TokenKind::Punct(Punct::And)
                        });
                    }
                }
                TokenKind::Punct(Punct::Semi) => return false,
                _ => {}
            }
            i += 1;
        }
        false
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let start = self.here();
        let (arg, mask) = self.operand()?;
        let op = match self.peek().and_then(|t| cmp_op(&t.kind)) {
            Some(op) => op,
            None => {
                let mut d = self.unexpected("a comparison operator (==, !=, <, <=, >, >=)");
                d.help = Some(format!(
                    "a condition compares an argument with a constant, e.g. `{} == 0`",
                    arg.text
                ));
                return Err(d);
            }
        };
        self.pos += 1;
        let value = self.const_or()?;
        if let Some(t) = self.peek() {
            if cmp_op(&t.kind).is_some() {
                return Err(
                    Diagnostic::new(t.loc, "comparison operators cannot be chained")
                        .with_help("join two comparisons with `&&`"),
                );
            }
        }
        Ok(Expr::Cmp {
            loc: start.to(self.prev_loc()),
            arg,
            mask,
            op,
            value,
        })
    }

    /// An argument, masked or not, in any number of parentheses: `fd`, `(flags & X)`,
    /// `((fd))`, `(flags) & X`. One mask at most: `&` binds to the argument as in Rust.
    fn operand(&mut self) -> PResult<(Name, Option<ConstExpr>)> {
        let (arg, inner_mask) = if self.is_punct(Punct::LParen) {
            self.nest()?;
            self.pos += 1;
            let inner = self.operand();
            self.nesting -= 1;
            let inner = inner?;
            self.expect_punct(Punct::RParen, "to close the parenthesised operand")?;
            inner
        } else {
            let arg = self.name("an argument name (e.g. `fd`, `flags`, `arg0`)")?;
            (arg, None)
        };
        if !self.is_punct(Punct::And) {
            return Ok((arg, inner_mask));
        }
        if inner_mask.is_some() {
            return Err(
                Diagnostic::new(self.here(), "an argument takes one mask in a comparison")
                    .with_help("write one mask, of the bits both masks keep"),
            );
        }
        self.pos += 1;
        Ok((arg, Some(self.mask()?)))
    }

    fn mask(&mut self) -> PResult<ConstExpr> {
        let start = self.here();
        let mask = if self.eat_punct(Punct::LParen) {
            let inner = self.const_or()?;
            self.expect_punct(Punct::RParen, "to close the mask")?;
            ConstExpr {
                parts: inner.parts,
                loc: start.to(self.prev_loc()),
            }
        } else {
            let atom = self.const_atom()?;
            ConstExpr {
                loc: atom.loc(),
                parts: vec![atom],
            }
        };
        if self.is_punct(Punct::Or) {
            return Err(Diagnostic::new(
                self.here(),
                "`&` binds tighter than `|`: this reads as `(arg & A) | B`",
            )
            .with_help(format!("put the mask in parentheses: `& ({} | ...)`", mask)));
        }
        Ok(mask)
    }

    fn const_or(&mut self) -> PResult<ConstExpr> {
        let start = self.here();
        let mut parts = Vec::new();
        loop {
            if self.is_punct(Punct::LParen) {
                self.nest()?;
                self.pos += 1;
                let inner = self.const_or();
                self.nesting -= 1;
                parts.extend(inner?.parts);
                self.expect_punct(Punct::RParen, "to close the constant expression")?;
            } else {
                parts.push(self.const_atom()?);
            }
            if !self.eat_punct(Punct::Or) {
                break;
            }
        }
        if self.is_punct(Punct::And) {
            return Err(Diagnostic::new(
                self.here(),
                "a mask goes on the argument's side: write `arg & MASK == VALUE`",
            ));
        }
        Ok(ConstExpr {
            parts,
            loc: start.to(self.prev_loc()),
        })
    }

    fn const_atom(&mut self) -> PResult<ConstAtom> {
        let start = self.here();
        let negative = self.eat_punct(Punct::Minus);
        match self.peek() {
            Some(Token {
                kind: TokenKind::Int(v, radix),
                loc,
            }) => {
                let atom = ConstAtom::Int {
                    value: *v,
                    negative,
                    radix: *radix,
                    loc: start.to(*loc),
                };
                self.pos += 1;
                Ok(atom)
            }
            Some(Token {
                kind: TokenKind::Ident(_),
                ..
            }) if !negative => Ok(ConstAtom::Named(self.name("a constant")?)),
            _ => Err(self.unexpected(if negative {
                "an integer after `-`"
            } else {
                "a constant (an integer or a name like `O_RDONLY`)"
            })),
        }
    }
}

fn cmp_op(kind: &TokenKind) -> Option<CmpOpSyntax> {
    match kind {
        TokenKind::Punct(Punct::EqEq) => Some(CmpOpSyntax::Eq),
        TokenKind::Punct(Punct::Ne) => Some(CmpOpSyntax::Ne),
        TokenKind::Punct(Punct::Lt) => Some(CmpOpSyntax::Lt),
        TokenKind::Punct(Punct::Le) => Some(CmpOpSyntax::Le),
        TokenKind::Punct(Punct::Gt) => Some(CmpOpSyntax::Gt),
        TokenKind::Punct(Punct::Ge) => Some(CmpOpSyntax::Ge),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceId;
    use crate::syntax::lex;

    fn parse_text(text: &str) -> (File, Vec<Diagnostic>) {
        let (tokens, lex_errors) = lex(SourceId(0), text);
        assert!(lex_errors.is_empty());
        let end = Loc {
            source: SourceId(0),
            start: text.len() as u32,
            end: text.len() as u32,
        };
        parse(&tokens, end)
    }

    fn rule_text(text: &str) -> String {
        let (file, errors) = parse_text(text);
        assert!(errors.is_empty(), "{errors:?}");
        match &file.items[0] {
            Item::Rule(r) => r.to_string(),
            other => panic!("not a rule: {other:?}"),
        }
    }

    #[test]
    fn parses_the_whole_language() {
        let text = r#"
            default kill;
            use dynamic_startup, malloc;
            allow read, write, close, exit_group;
            allow write if fd == 1 || fd == 2;
            allow mmap, mprotect if prot & PROT_EXEC == 0;
            allow openat if flags & O_ACCMODE == O_RDONLY;
            errno(EPERM) socket if domain != AF_UNIX;
            errno(ENOSYS) clone3;
            kill ptrace;
            include "common.policy";
        "#;
        let (file, errors) = parse_text(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(file.items.len(), 10);
    }

    #[test]
    fn precedence_follows_rust() {
        assert_eq!(
            rule_text("allow x if a == 1 || b == 2 && !(c < 3 || d >= -4);"),
            "allow x if a == 1 || b == 2 && !(c < 3 || d >= -4)"
        );
        assert_eq!(
            rule_text("allow clone if (flags & (CLONE_NEWNS | CLONE_NEWUSER)) == 0;"),
            "allow clone if flags & (CLONE_NEWNS | CLONE_NEWUSER) == 0"
        );
        assert_eq!(
            rule_text("allow x if (a == 1 || b == 2) && c == 3;"),
            "allow x if (a == 1 || b == 2) && c == 3"
        );
    }

    /// An operand may sit in any number of parentheses, its mask inside them or after, as
    /// Rust reads it; it takes one mask.
    #[test]
    fn operands_in_parentheses() {
        for (text, read) in [
            ("allow read if ((fd)) == 1;", "allow read if fd == 1"),
            ("allow read if ((fd) == 1);", "allow read if fd == 1"),
            (
                "allow x if ((flags & 3)) != 0;",
                "allow x if flags & 3 != 0",
            ),
            ("allow x if (flags) & 3 != 0;", "allow x if flags & 3 != 0"),
            (
                "allow x if ((flags)) & (1 | 2) == 0;",
                "allow x if flags & (1 | 2) == 0",
            ),
            (
                "allow x if !((flags) & 3 == 0);",
                "allow x if !(flags & 3 == 0)",
            ),
        ] {
            assert_eq!(rule_text(text), read, "{text}");
        }
        for (text, message) in [
            ("allow x if ((flags & 3) & 1) == 0;", "one mask"),
            ("allow x if ((fd) == 1;", "expected `)`"),
            ("allow x if !((fd)) == 1;", "`!` before a comparison"),
        ] {
            let (_, errors) = parse_text(text);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert!(errors[0].message.contains(message), "{text}: {errors:?}");
        }
    }

    /// `!` negates a parenthesised condition (or another `!`); before a comparison, where
    /// Rust would negate the operand alone, it is an error.
    #[test]
    fn bang_before_a_comparison_is_rejected() {
        for text in [
            "allow write if !fd == 1;",
            "allow write if !(fd & 3) == 0;",
            "allow write if fd == 0 || !fd < 3;",
        ] {
            let (_, errors) = parse_text(text);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert!(
                errors[0].message.contains("`!` before a comparison"),
                "{errors:?}"
            );
        }
        assert_eq!(
            rule_text("allow write if !(fd == 1) && !!(fd & 3 == 0);"),
            "allow write if !(fd == 1) && !!(fd & 3 == 0)"
        );
    }

    #[test]
    fn rejects_ambiguous_masks_and_chains() {
        let (_, errors) = parse_text("allow clone if flags & A | B == 0;");
        assert!(errors[0].message.contains("binds tighter"), "{errors:?}");
        let (_, errors) = parse_text("allow x if 1 < a < 3;");
        assert_eq!(errors.len(), 1);
        let (_, errors) = parse_text("allow x if a < 1 < 3;");
        assert!(errors[0].message.contains("chained"));
    }

    #[test]
    fn reports_every_error_and_recovers() {
        let (file, errors) = parse_text("alow read; allow write if fd; allow close; deny x;");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `allow`?"));
        assert_eq!(file.items.len(), 1);
    }
}
