//! Builds the statically linked C sandboxee of `examples/static.rs` (`cc -static -O2`) and
//! tells the example where it is through `SANDBOX_STATIC_UPPER`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "examples/static/upper.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bin = out.join("static_upper");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(src)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`{cc} -static -O2 {src}` failed ({s}): the `static` example needs a C compiler and \
             a static libc (on Debian and Ubuntu: the libc6-dev package, which holds libc.a)"
        ),
        Err(e) => panic!(
            "cannot run the C compiler `{cc}` ({e}): the `static` example builds \
             {src} with `cc -static`; install gcc or set CC"
        ),
    }
    println!("cargo:rustc-env=SANDBOX_STATIC_UPPER={}", bin.display());
}
