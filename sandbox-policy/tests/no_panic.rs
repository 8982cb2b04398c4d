//! Hostile input never panics the compiler: random bytes, random token soup, and mutations of
//! valid policies all end in a result or a list of errors. (The cargo-fuzz target in `fuzz/`
//! explores the same property with coverage guidance on a nightly toolchain.)

use sandbox_policy::{compile_text, groups, NoIncludes};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn compile(text: &str) {
    let c = compile_text("fuzz.policy", None, text, &mut NoIncludes);
    if c.result.is_err() {
        // Rendering must not panic either, whatever the positions are.
        let rendered = c.render_errors();
        assert!(rendered.contains("error"));
    }
}

const PIECES: [&str; 40] = [
    "default",
    "kill",
    "allow",
    "errno",
    "(",
    ")",
    "EPERM",
    ";",
    ",",
    "if",
    "fd",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&",
    "&&",
    "|",
    "||",
    "!",
    "-",
    "0",
    "0x",
    "4096",
    "0xffffffffffffffff",
    "read",
    "write",
    "openat",
    "flags",
    "O_RDONLY",
    "use",
    "stdio",
    "include",
    "\"x\"",
    "arg9",
    "/*",
    "//",
    "\n",
];

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(1);
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        compile(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn token_soup_never_panics() {
    let mut rng = Rng(2);
    for _ in 0..5000 {
        let n = rng.below(40);
        let text: Vec<&str> = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        compile(&text.join(" "));
    }
}

#[test]
fn mutated_groups_never_panic() {
    let mut rng = Rng(3);
    for group in groups::GROUPS {
        let base = format!("default kill;\n{}", group.text);
        for _ in 0..60 {
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(chars.len().max(1));
                match rng.below(3) {
                    0 if !chars.is_empty() => {
                        chars.remove(i.min(chars.len() - 1));
                    }
                    1 => chars.insert(
                        i.min(chars.len()),
                        PIECES[rng.below(PIECES.len())]
                            .chars()
                            .next()
                            .unwrap_or(' '),
                    ),
                    _ => {
                        let j = rng.below(chars.len().max(1));
                        if i < chars.len() && j < chars.len() {
                            chars.swap(i, j);
                        }
                    }
                }
            }
            compile(&chars.into_iter().collect::<String>());
        }
    }
}
