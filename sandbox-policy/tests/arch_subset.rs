//! A compilation asked for some architectures' programs (what the `sandbox` tool's `run`,
//! `compile` and `explain` ask for) makes exactly those, byte for byte the ones a compilation
//! for every architecture makes, and checks and lowers the policy for every architecture all
//! the same. Only an error of another architecture's program is not met.

use sandbox_policy::{compile_text, compile_text_for, Arch, Compilation, NoIncludes};

/// Real policies of the repository, of every size.
const POLICIES: &[(&str, &str)] = &[
    (
        "docker-like",
        include_str!("../benches/policies/docker-like.policy"),
    ),
    ("find", include_str!("../../benches/policies/find.policy")),
    ("tar", include_str!("../../benches/policies/tar.policy")),
    (
        "heavy-args",
        include_str!("../../benches/policies/heavy-args.policy"),
    ),
    (
        "python3-imports",
        include_str!("../../benches/policies/python3-imports.policy"),
    ),
    ("cat", include_str!("../../examples/policies/cat.policy")),
    ("gzip", include_str!("../../examples/policies/gzip.policy")),
    ("ls", include_str!("../../examples/policies/ls.policy")),
    (
        "python3",
        include_str!("../../examples/policies/python3.policy"),
    ),
    (
        "sha256sum",
        include_str!("../../examples/policies/sha256sum.policy"),
    ),
    ("allow-all", "default allow;"),
];

fn compile_for(name: &str, text: &str, arches: &[Arch]) -> Compilation {
    compile_text_for(name, None, text, &mut NoIncludes, arches)
}

#[test]
fn each_architecture_asked_for_gets_the_program_every_compilation_makes() {
    for (name, text) in POLICIES {
        let full = compile_text(name, None, text, &mut NoIncludes);
        let full = full
            .result
            .unwrap_or_else(|e| panic!("{name} does not compile: {e:?}"));
        assert_eq!(full.policy.programs.len(), Arch::ALL.len(), "{name}");
        for arches in [&[Arch::X86_64][..], &[Arch::Aarch64], &[], &Arch::ALL] {
            let some = compile_for(name, text, arches)
                .result
                .unwrap_or_else(|e| panic!("{name} for {arches:?} does not compile: {e:?}"));
            let made: Vec<Arch> = some.policy.programs.iter().map(|p| p.arch).collect();
            assert_eq!(made, arches, "{name}");
            for program in some.policy.programs.iter() {
                let everyone = full.policy.program(program.arch).unwrap();
                assert_eq!(program, everyone, "{name} for {arches:?}");
            }
            // Checked and lowered for every architecture: the meaning and the lints see all.
            assert_eq!(some.irs, full.irs, "{name} for {arches:?}");
            assert_eq!(some.checked, full.checked, "{name} for {arches:?}");
            assert_eq!(
                some.policy.rules, full.policy.rules,
                "{name} for {arches:?}"
            );
            assert_eq!(some.policy.default, full.policy.default, "{name}");
        }
    }
}

/// 1500 argument rules on `open`, which only x86_64 has: too long a program there, a short
/// one on aarch64.
fn too_long_on_x86_64_only() -> String {
    let mut text = String::from("default kill;\n");
    for i in 0..1500 {
        text.push_str(&format!(
            "allow open if flags == {} && mode == {i};\n",
            i * 7 + 1
        ));
    }
    text
}

#[test]
fn only_the_architectures_asked_for_can_be_too_long() {
    let text = too_long_on_x86_64_only();
    let too_long = |c: Compilation| {
        let errors = c.result.expect_err("the x86_64 program is too long");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].message.contains("the x86_64 filter needs"),
            "{errors:?}"
        );
    };
    too_long(compile_text("open", None, &text, &mut NoIncludes));
    too_long(compile_for("open", &text, &[Arch::X86_64]));
    let aarch64 = compile_for("open", &text, &[Arch::Aarch64])
        .result
        .expect("the aarch64 program fits");
    let made: Vec<Arch> = aarch64.policy.programs.iter().map(|p| p.arch).collect();
    assert_eq!(made, [Arch::Aarch64]);
    assert!(aarch64.policy.programs[0].filter.len() < 100);
}
