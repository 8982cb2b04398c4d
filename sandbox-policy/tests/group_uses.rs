//! A group is brought in once. A second `use` the policy writes would add only rules that never
//! apply, so it is an error at that `use`; a group a group uses is brought in once, quietly.

use sandbox_policy::{compile_text, Arch, Compilation, NoIncludes, SockFilter};

fn compile(text: &str) -> Compilation {
    compile_text("uses.policy", None, text, &mut NoIncludes)
}

/// The one error `text` makes, rendered.
fn only_error(text: &str) -> String {
    let c = compile(text);
    let Err(errors) = &c.result else {
        panic!("compiled:\n{text}");
    };
    assert_eq!(errors.len(), 1, "{text}\n{}", c.render_errors());
    c.render_errors()
}

/// The filter of `text` for each architecture.
fn programs(text: &str) -> Vec<Vec<SockFilter>> {
    let c = compile(text);
    let Ok(compiled) = &c.result else {
        panic!("{text}\n{}", c.render_errors());
    };
    Arch::ALL
        .iter()
        .map(|arch| {
            let program = compiled.policy.program(*arch).expect("a program per arch");
            program.filter.to_vec()
        })
        .collect()
}

#[test]
fn a_group_the_policy_uses_twice_is_an_error_at_the_second_use() {
    for (text, place) in [
        ("default kill;\nuse exit, exit;\n", "uses.policy:2:11"),
        (
            "default kill;\nuse exit;\nallow read;\nuse exit;\n",
            "uses.policy:4:5",
        ),
    ] {
        let shown = only_error(text);
        assert!(
            shown.contains("group `exit` is already used (uses.policy:2:5)"),
            "{shown}"
        );
        assert!(shown.contains(place), "{shown}");
    }
}

#[test]
fn a_group_used_after_a_group_that_uses_it_is_an_error() {
    for (text, outer, inner) in [
        (
            "default kill;\nuse dynamic_startup;\nuse static_startup;\n",
            "dynamic_startup",
            "static_startup",
        ),
        (
            "default kill;\nuse threads, mmap_noexec;\n",
            "threads",
            "mmap_noexec",
        ),
        ("default kill;\nuse threads, futex;\n", "threads", "futex"),
    ] {
        let shown = only_error(text);
        let message = format!("group `{inner}` is already used, by group `{outer}`");
        assert!(shown.contains(&message), "{shown}");
    }
}

/// Used first by the policy, a group is not brought in again by a group that uses it: the
/// program is the one the outer group alone gives, whose first statement uses it.
#[test]
fn a_group_a_group_uses_again_is_brought_in_once() {
    for (both, outer) in [
        (
            "default kill;\nuse static_startup, dynamic_startup;\n",
            "default kill;\nuse dynamic_startup;\n",
        ),
        (
            "default kill;\nuse futex, mmap_noexec, threads;\n",
            "default kill;\nuse threads;\n",
        ),
    ] {
        assert_eq!(programs(both), programs(outer), "{both}");
    }
}
