//! Calls the kernel runs without asking any seccomp filter: a rule naming one is refused, since
//! it would promise what no filter can keep.

use sandbox_policy::{compile_text, NoIncludes};

#[test]
fn a_rule_naming_a_call_no_filter_sees_is_refused() {
    for (rule, name) in [
        ("kill uretprobe;", "uretprobe"),
        ("errno(EPERM) uprobe, read;", "uprobe"),
        ("allow uprobe;", "uprobe"),
    ] {
        let text = format!("default allow;\n{rule}\n");
        let c = compile_text("p.policy", None, &text, &mut NoIncludes);
        assert!(c.result.is_err(), "{rule} compiled");
        let errors = c.render_errors();
        assert!(
            errors.contains(&format!("`{name}` never reaches a seccomp filter")),
            "{errors}"
        );
    }
}
