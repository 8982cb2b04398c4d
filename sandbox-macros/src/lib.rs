//! The `policy!` macro.
