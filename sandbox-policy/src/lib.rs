//! The policy language and its compiler to seccomp-BPF.
//!
//! One pipeline, shared by the `policy!` macro (at compile time) and the `sandbox` tool (at run
//! time), so the same text always yields the same bytes:
//!
//! ```text
//! text or tokens ─lex─▶ tokens ─parse─▶ syntax tree ─resolve─▶ checked policy ─lower─▶ per-arch IR ─codegen─▶ sock_filter[]
//! ```
//!
//! This crate has no OS dependencies: it compiles for every architecture on any host.

pub mod action;
pub mod arch;
pub mod bpf;
pub mod cache;
pub mod codegen;
pub mod compile;
pub mod compiled;
pub mod describe;
pub mod diag;
pub mod disasm;
pub mod eval;
pub mod groups;
pub mod host_guard;
pub mod ir;
pub mod lint;
pub mod lower;
pub mod paths;
pub mod resolve;
pub mod satisfiable;
pub mod set_id;
pub mod stack;
pub mod syntax;
pub mod tables;
pub mod verify;

pub use action::{Action, Tag, Verdict};
pub use arch::Arch;
pub use bpf::SockFilter;
pub use compile::{
    compile_file, compile_file_for, compile_text, compile_text_for, compile_tokens, Compilation,
    Compiled, MAX_RENDERED_ERRORS, ROOT_SOURCE,
};
pub use compiled::{ArchProgram, CompiledPolicy, RuleMeta};
pub use diag::{Diagnostic, LineCol, Loc};
pub use resolve::{FsLoader, Loader, NoIncludes, RUNTIME_EXEC_MAGIC};
