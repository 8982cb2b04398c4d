// Comments inside `policy!`: `//`, `/* */`, and doc comments (`///`, `//!`, `/** */`), which
// the macro receives as `#[doc]` (`#![doc]`) attributes and skips, as a policy file does.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    //! A policy for a small tool.
    /// The default: anything not named below kills the process.
    default kill;
    // Standard streams.
    use stdio; /* and exiting: */ use exit;
    /// Random numbers, for hash maps.
    allow getrandom;
    /** A block doc comment. */
    allow getpid;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    let texts: Vec<&str> = POLICY.rules.iter().map(|r| r.text.as_ref()).collect();
    assert!(texts.contains(&"allow getrandom"));
    assert!(texts.contains(&"allow getpid"));
    assert_eq!(
        POLICY
            .rules
            .iter()
            .filter(|r| !r.location.starts_with("group "))
            .count(),
        3
    );
}
