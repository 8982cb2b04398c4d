// The macro's output is a constant expression: it initialises a `static`, a `const` and a local.
use sandbox_runtime::Policy;

static IN_STATIC: Policy = sandbox_runtime::policy! { default kill; allow read; };
const IN_CONST: Policy = sandbox_runtime::policy! { default kill; allow read; };

fn main() {
    let local: Policy = sandbox_runtime::policy! { default kill; allow read; };
    assert!(IN_STATIC.native_program().is_some());
    assert_eq!(IN_STATIC.programs, IN_CONST.programs);
    assert_eq!(IN_STATIC.programs, local.programs);
    assert_eq!(IN_CONST.rules.len(), 2);
    // Each knows where it was written.
    assert!(IN_STATIC.origin.starts_with("policy! at "));
    assert_ne!(IN_STATIC.origin, IN_CONST.origin);
    assert!(
        IN_STATIC.rules[0].location.ends_with(":4:69"),
        "{}",
        IN_STATIC.rules[0].location
    );
}
