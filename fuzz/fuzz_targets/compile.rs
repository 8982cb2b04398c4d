//! Any text through the whole pipeline (lex, parse, expand, resolve, lower, generate, render
//! errors) must end in a policy or errors, never a panic; a policy must verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox_policy::{compile_text, verify, NoIncludes};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let c = compile_text("fuzz.policy", None, &text, &mut NoIncludes);
    match &c.result {
        Ok(compiled) => {
            for p in compiled.policy.programs.iter() {
                assert!(verify::verify(&p.filter).is_ok());
            }
        }
        Err(_) => {
            let _ = c.render_errors();
        }
    }
});
