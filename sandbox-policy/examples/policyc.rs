//! Compiles a policy file and prints its disassembly for each architecture, or its errors.
//! `cargo run -p sandbox-policy --example policyc -- FILE`
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: policyc FILE");
        std::process::exit(2);
    };
    match sandbox_policy::compile_file(std::path::Path::new(&path)) {
        Err(e) => {
            eprintln!("error: cannot read `{path}`: {e}");
            std::process::exit(1);
        }
        Ok(c) => match &c.result {
            Ok(compiled) => print!(
                "{}",
                sandbox_policy::disasm::disassemble_policy(&compiled.policy)
            ),
            Err(_) => {
                eprint!("{}", c.render_errors());
                std::process::exit(1);
            }
        },
    }
}
