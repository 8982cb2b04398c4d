// Shared by the pass cases: runs a compiled policy's native program on one call, with the
// compiler's own BPF interpreter, and says which action the filter returns.

use sandbox_runtime::__private::sandbox_policy::{self as sp, Action, Arch, CompiledPolicy};

/// The action the native program returns for `syscall(args)`.
pub fn action(policy: &CompiledPolicy, syscall: &str, args: [u64; 6]) -> Action {
    let arch = Arch::native().expect("a supported architecture");
    let nr = sp::tables::syscall_by_name(arch, syscall)
        .unwrap_or_else(|| panic!("no syscall `{syscall}` on {arch}"))
        .nr;
    let program = policy
        .program(arch)
        .expect("a program for the native architecture");
    let data = sp::eval::SeccompData::native(arch, nr, args);
    let out = sp::eval::run(&program.filter, &data).expect("the filter runs to a return");
    sp::Verdict::from_ret_value(out.ret)
        .expect("a return value of the language")
        .action
}

/// The texts of the policy's rules, in order.
pub fn rule_texts(policy: &CompiledPolicy) -> Vec<&str> {
    policy.rules.iter().map(|r| r.text.as_ref()).collect()
}
