//! Code the macro emits: the compiled programs as static arrays selected by the user's
//! `target_arch`, the rule list, and `compile_error!`s placed on the user's tokens.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use sandbox_policy::{Action, Arch, CompiledPolicy, SockFilter};
use std::path::PathBuf;

/// An error to show at a range of the user's tokens.
pub struct SpannedError {
    /// The first token.
    pub start: Span,
    /// The last token.
    pub end: Span,
    /// The message.
    pub message: String,
}

/// `compile_error!` spanning `start..end` (the first token carries the macro name, the last the
/// group, so rustc underlines the whole range even where spans cannot be joined).
fn compile_error(e: &SpannedError) -> TokenStream {
    let message = &e.message;
    let name = quote_spanned!(e.start=> compile_error);
    let bang = quote_spanned!(e.start=> !);
    let group = quote_spanned!(e.end=> (#message));
    quote!(#name #bang #group ;)
}

/// Every error, then a harmless stand-in policy so no follow-on type errors appear.
pub fn errors(errors: Vec<SpannedError>) -> TokenStream {
    let errs = errors.iter().map(compile_error);
    quote! {
        {
            #(#errs)*
            ::sandbox_runtime::__private::sandbox_policy::CompiledPolicy::EMPTY
        }
    }
}

/// One error at one place, with the stand-in.
pub fn error_at(start: Span, end: Span, message: &str) -> TokenStream {
    errors(vec![SpannedError {
        start,
        end,
        message: message.to_string(),
    }])
}

/// A warning rustc shows at `start` (one token: a use has one span): the use of a deprecated
/// item whose note is the message, since stable Rust gives a procedural macro no other way to
/// warn. `#![deny(deprecated)]` or `-D warnings` turn it into an error, as they do rustc's own.
fn warning(w: &SpannedError) -> TokenStream {
    let note = format!("policy: {}", w.message);
    let item = quote_spanned!(w.start=> PolicyWarning);
    quote! {
        const _: () = {
            #[deprecated(note = #note)]
            struct PolicyWarning;
            let _ = #item;
        };
    }
}

fn action(a: Action) -> TokenStream {
    match a {
        Action::Allow => quote!(Allow),
        Action::Log => quote!(Log),
        Action::Trap => quote!(Trap),
        Action::Kill => quote!(Kill),
        Action::KillThread => quote!(KillThread),
        Action::Errno(e) => quote!(Errno(#e)),
    }
}

fn arch_variant(a: Arch) -> TokenStream {
    match a {
        Arch::X86_64 => quote!(X86_64),
        Arch::Aarch64 => quote!(Aarch64),
    }
}

/// The policy as a constant expression of type `CompiledPolicy`, with its warnings.
pub fn policy(p: &CompiledPolicy, watched: &[PathBuf], warnings: &[SpannedError]) -> TokenStream {
    let warnings = warnings.iter().map(warning);
    let sp = quote!(::sandbox_runtime::__private::sandbox_policy);
    let cow = quote!(::std::borrow::Cow::Borrowed);
    let origin = p.origin.as_ref();
    let default = action(p.default);
    let insns = |filter: &[SockFilter]| {
        let insns = filter.iter().map(|i| {
            let (code, jt, jf, k) = (i.code, i.jt, i.jf, i.k);
            quote!(#sp::SockFilter { code: #code, jt: #jt, jf: #jf, k: #k })
        });
        quote!(&[#(#insns),*])
    };
    let programs = p.programs.iter().map(|prog| {
        let arch_name = prog.arch.name();
        let variant = arch_variant(prog.arch);
        let filter = insns(&prog.filter);
        // The same array twice where the terminal guard changes nothing.
        let guarded = if prog.terminal_guarded == prog.filter {
            quote!(__FILTER)
        } else {
            insns(&prog.terminal_guarded)
        };
        quote! {
            #[cfg(target_arch = #arch_name)]
            const __PROGRAMS: &[#sp::ArchProgram] = {
                const __FILTER: &[#sp::SockFilter] = #filter;
                &[#sp::ArchProgram {
                    arch: #sp::Arch::#variant,
                    filter: #cow(__FILTER),
                    terminal_guarded: #cow(#guarded),
                }]
            };
        }
    });
    let arch_names = p.programs.iter().map(|prog| prog.arch.name());
    let rules = p.rules.iter().map(|r| {
        let (location, text) = (r.location.as_ref(), r.text.as_ref());
        quote!(#sp::RuleMeta { location: #cow(#location), text: #cow(#text) })
    });
    let watched = watched.iter().filter_map(|p| p.to_str()).map(|p| {
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    quote! {
        {
            #(#watched)*
            #(#warnings)*
            #(#programs)*
            #[cfg(not(any(#(target_arch = #arch_names),*)))]
            const __PROGRAMS: &[#sp::ArchProgram] = &[];
            #sp::CompiledPolicy {
                origin: #cow(#origin),
                default: #sp::Action::#default,
                programs: #cow(__PROGRAMS),
                rules: #cow(&[#(#rules),*]),
            }
        }
    }
}
