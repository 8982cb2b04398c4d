//! Runs a program in namespaces under a compiled seccomp policy.
