//! State the runtime makes once per process, on first use, without a lock.
//!
//! A host may fork while another of its threads is making such state (its first sandbox, the
//! fork server's start). A blocking once-cell (`std::sync::OnceLock`) would then be copied into
//! the child marked "being made" by a thread the child does not have, and the child's first
//! spawn would wait for it for ever. These cells never wait: each caller that finds the cell
//! empty makes the value itself and the first to store it wins (the others drop theirs), so
//! the child of such a fork simply makes its own. What goes in them must be cheap to make twice
//! and the same whoever makes it; a value whose making has effects outside the process (the
//! fork server, the release thread) handles the losing copy itself.

pub(crate) use once_cell::race::{OnceBool, OnceBox};
