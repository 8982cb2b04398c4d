//! The policies the benchmark measures, and the derived one the wall-clock runs use.

use sandbox_policy::{compile_file, compile_text, groups, Compilation, Compiled, NoIncludes};
use std::path::{Path, PathBuf};

/// A compiled policy under a short name.
pub struct Bench {
    /// The name printed in the tables.
    pub name: String,
    /// The compiler's output.
    pub compiled: Compiled,
}

/// The workspace root (this package's manifest directory).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Docker-sized allowlist shared with sandbox-policy's own benchmark.
pub fn docker_like_path() -> PathBuf {
    root().join("sandbox-policy/benches/policies/docker-like.policy")
}

/// `default kill; use <every built-in group>;`
fn all_groups_text() -> String {
    format!("default kill;\n{}\n", groups::use_every_group())
}

/// Every policy of the static comparison, in table order; problems are reported, not fatal.
pub fn all() -> Vec<Bench> {
    let mut out = Vec::new();
    let mut add = |name: &str, result: Result<Compiled, String>| match result {
        Ok(compiled) => out.push(Bench {
            name: name.to_string(),
            compiled,
        }),
        Err(e) => eprintln!("policy {name}: does not compile, skipped:\n{e}"),
    };
    add(
        "tiny",
        from_text("tiny", "default kill;\nallow read, write, exit_group;\n"),
    );
    add("all-groups", from_text("all-groups", &all_groups_text()));
    add("docker-like", from_file(&docker_like_path()));
    add(
        "heavy-args",
        from_file(&root().join("benches/policies/heavy-args.policy")),
    );
    for path in example_policies() {
        let stem = path.file_stem().map_or_else(String::new, |s| {
            format!("{} (example)", s.to_string_lossy())
        });
        add(&stem, from_file(&path));
    }
    out
}

/// The real programs' policies under `examples/policies/`, sorted.
fn example_policies() -> Vec<PathBuf> {
    let dir = root().join("examples/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "policy"))
                .collect()
        })
        .unwrap_or_default();
    if files.is_empty() {
        eprintln!("no {}/*.policy: real-program row skipped", dir.display());
    }
    files.sort();
    files
}

/// Compiles policy text.
pub fn from_text(name: &str, text: &str) -> Result<Compiled, String> {
    finish(compile_text(name, None, text, &mut NoIncludes))
}

/// Compiles a policy file.
pub fn from_file(path: &Path) -> Result<Compiled, String> {
    let compilation = compile_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    finish(compilation)
}

/// The compiled policy, or the rendered diagnostics.
fn finish(c: Compilation) -> Result<Compiled, String> {
    let errors = c.render_errors();
    c.result.map_err(|_| errors)
}

/// The wall-clock policy: docker-like with `read` moved from the unconditional list to an
/// argument rule that admits fd -1, so `read(-1, NULL, 0)` is allowed but never cached.
pub fn docker_read_checked() -> Result<Compiled, String> {
    let text = std::fs::read_to_string(docker_like_path()).map_err(|e| e.to_string())?;
    let edited = text.replacen(" pwritev2, read, readahead,", " pwritev2, readahead,", 1);
    if edited == text {
        return Err("docker-like.policy no longer lists `pwritev2, read, readahead,`".into());
    }
    let rule = "allow read if fd == 0 || fd == 1 || fd == 2 || fd == 0xffffffff;\n";
    from_text("docker-read-checked", &format!("{edited}\n{rule}"))
}
