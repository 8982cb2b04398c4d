//! The policy language's syntax: tokens, the tree, and the parser from one to the other.
//!
//! Text (a policy file, or a group) is lexed here; `policy!` converts the compiler's tokens into
//! the same [`Token`]s with [`token_from_literal`] and [`Punct`], so both reach the parser in
//! the same form and the same text always parses to the same tree.

pub mod ast;
pub mod lexer;
pub mod parser;

pub use ast::*;
pub use lexer::{lex, token_from_literal, Punct, Radix, Token, TokenKind};
pub use parser::parse;
