//! The `policy!` macro: a seccomp policy written inline in Rust, checked and compiled to BPF by
//! rustc. All of the language lives in `sandbox-policy`; this crate only turns the compiler's
//! tokens into the policy compiler's tokens, and its output into static data.
//!
//! See `sandbox_runtime::policy!` for the language reference and examples.

mod emit;
mod input;

use proc_macro::TokenStream;

/// Compiles a seccomp policy at build time into one BPF program per supported architecture
/// (selected by the user crate's `target_arch`) and the rule list the runtime uses to explain
/// violations. `policy!(file = "policies/x.policy")` reads a file relative to the crate's
/// manifest directory instead (rebuilt when it changes).
///
#[doc = include_str!("../../sandbox-policy/LANGUAGE.md")]
#[proc_macro]
pub fn policy(input: TokenStream) -> TokenStream {
    input::expand(input.into()).into()
}
