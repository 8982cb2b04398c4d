//! The disassembly of every built-in group and every shipped policy file, for each
//! architecture, pinned as insta snapshots in `tests/snapshots/`. A change to the code
//! generator, the groups, the tables or the policies shows up as a reviewable diff of the
//! programs the kernel will run.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test -p sandbox-policy --test snapshots`
//! (or `cargo insta review`), then read the diff before committing it.

use sandbox_policy::{compile_text, disasm, groups, Arch, FsLoader, NoIncludes};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The policy files in `dir` (relative to the workspace root), sorted by name.
fn policy_files(dir: &str) -> Vec<(String, PathBuf)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(workspace.join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "policy"))
        .map(|p| {
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            (name, p)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no policies in {dir}");
    files
}

/// Compiles `text` and returns its disassembly for each architecture. `name` is how places
/// are written (a path relative to the workspace root, so snapshots do not depend on where
/// the repository is checked out).
fn disassemble(name: &str, path: Option<&Path>, text: &str) -> Vec<(Arch, String)> {
    let compilation = match path {
        Some(p) => {
            let mut loader = FsLoader {
                base: p.parent().unwrap().to_path_buf(),
            };
            compile_text(name, Some(p), text, &mut loader)
        }
        None => compile_text(name, None, text, &mut NoIncludes),
    };
    let compiled = match &compilation.result {
        Ok(c) => c,
        Err(_) => panic!("{name} does not compile:\n{}", compilation.render_errors()),
    };
    Arch::ALL
        .iter()
        .map(|&arch| {
            let program = compiled
                .policy
                .program(arch)
                .unwrap_or_else(|| panic!("{name}: no program for {arch}"));
            let text = disasm::disassemble(&program.filter, arch, Some(&compiled.policy));
            (arch, text)
        })
        .collect()
}

/// Checks every snapshot and reports every mismatch, not only the first.
fn check_all(cases: Vec<(String, String)>) {
    let mut failed = Vec::new();
    for (name, text) in cases {
        let result = catch_unwind(AssertUnwindSafe(|| {
            insta::assert_snapshot!(name.clone(), text);
        }));
        if result.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "snapshots differ: {failed:?}");
}

/// A snapshot name: letters, digits and `_` only.
fn snapshot_name(parts: &[&str]) -> String {
    parts
        .join("_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[test]
fn every_group() {
    let mut cases = Vec::new();
    for group in groups::GROUPS {
        let text = format!("default kill;\nuse {};\n", group.name);
        let name = format!("use_{}.policy", group.name);
        for (arch, disassembly) in disassemble(&name, None, &text) {
            cases.push((
                snapshot_name(&["group", group.name, arch.name()]),
                disassembly,
            ));
        }
    }
    check_all(cases);
}

#[test]
fn every_policy_file() {
    let mut cases = Vec::new();
    for dir in ["examples/policies", "sandbox-policy/benches/policies"] {
        for (name, path) in policy_files(dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let kind = if dir.starts_with("examples") {
                "example"
            } else {
                "bench"
            };
            for (arch, disassembly) in disassemble(&name, Some(&path), &text) {
                cases.push((snapshot_name(&[kind, &stem, arch.name()]), disassembly));
            }
        }
    }
    check_all(cases);
}
