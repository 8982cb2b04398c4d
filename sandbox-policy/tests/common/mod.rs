//! What the policy tests share: a small deterministic PRNG (xorshift64*), so every failure of
//! the randomised ones reproduces from its seed, and the errors of a one-rule policy.

#![allow(dead_code)]

/// xorshift64* over a non-zero seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index into a collection of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A copy of a random item.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// A random item, borrowed.
    pub fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The rendered errors of `default allow;` followed by `rule`, or `None` if it compiles.
pub fn rule_errors(rule: &str) -> Option<String> {
    let text = format!("default allow;\n{rule}\n");
    let c = sandbox_policy::compile_text("p.policy", None, &text, &mut sandbox_policy::NoIncludes);
    c.result.is_err().then(|| c.render_errors())
}
