//! What users see from `policy!`: every class of mistake in `tests/ui/fail/` with the exact
//! diagnostics rustc prints (the `.stderr` files), and every language feature in
//! `tests/ui/pass/` compiling and running.
//!
//! trybuild builds the cases as a separate crate in `<target>/tests/trybuild/sandbox-macros/`,
//! which is therefore the `CARGO_MANIFEST_DIR` that `policy!(file = ...)` and `include` resolve
//! against. The policy files the cases name are copied there as `policies/`, so the cases write
//! `"policies/x.policy"` exactly as a crate with its own `policies/` directory would.

use std::fs;
use std::path::{Path, PathBuf};

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Puts `tests/ui/policies/` where the cases' crate will look for it.
fn stage_policies() {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory");
    let project: PathBuf = target_dir.join("tests/trybuild/sandbox-macros");
    let staged = project.join("policies");
    let _ = fs::remove_dir_all(&staged);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/policies"),
        &staged,
    );
}

#[test]
fn ui() {
    stage_policies();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
