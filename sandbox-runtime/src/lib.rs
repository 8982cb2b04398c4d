//! Runs a program in namespaces under a compiled seccomp policy.

pub mod cgroup;
pub mod comms;
pub mod elf;

pub use sandbox_policy::CompiledPolicy as Policy;
