//! Fuzzing on the stable toolchain: a deterministic byte mutator and a driver for the fuzz
//! tests of the workspace (certificates, CRLs, card tokens, CSV imports, native-messaging
//! frames). No coverage feedback: from seed inputs it makes variants with the classic havoc
//! stages (bit flips, boundary bytes, deleted, duplicated and inserted runs, truncation, splices
//! of two seeds). The same seed gives the same variants; the `hpki/fuzz` targets remain for
//! coverage-guided runs where a nightly toolchain exists.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Environment variable fixing the driver's seed (to replay a failure).
pub const SEED_ENV: &str = "SHIKAKU_FUZZ_SEED";
/// Environment variable overriding the number of variants per target.
pub const ITERATIONS_ENV: &str = "SHIKAKU_FUZZ_ITERATIONS";

/// Makes variants of inputs.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

const INTERESTING: [u8; 9] = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xff, 0x30, b'"', b','];

impl Mutator {
    /// A mutator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next pseudo-random number (SplitMix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    /// A variant of `input`: one to three havoc stages, `other` feeding the splices.
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(3) {
            let len = out.len();
            match self.below(8) {
                0 if len > 0 => {
                    let i = self.below(len);
                    out[i] ^= 1 << self.below(8);
                }
                1 if len > 0 => {
                    let i = self.below(len);
                    out[i] = INTERESTING[self.below(INTERESTING.len())];
                }
                2 if len > 0 => {
                    let at = self.below(len);
                    let n = 1 + self.below((len - at).min(16));
                    out.drain(at..at + n);
                }
                3 if len > 0 => {
                    let at = self.below(len);
                    let n = 1 + self.below((len - at).min(64));
                    let run: Vec<u8> = out[at..at + n].to_vec();
                    let to = self.below(out.len() + 1);
                    out.splice(to..to, run);
                }
                4 => {
                    let to = self.below(len + 1);
                    let n = 1 + self.below(8);
                    let bytes: Vec<u8> = (0..n).map(|_| self.next_u64() as u8).collect();
                    out.splice(to..to, bytes);
                }
                5 if len > 0 => out.truncate(self.below(len)),
                6 if !other.is_empty() => {
                    let cut = self.below(out.len() + 1);
                    let from = self.below(other.len());
                    out.truncate(cut);
                    out.extend_from_slice(&other[from..]);
                }
                _ if len > 1 => {
                    let (a, b) = (self.below(len), self.below(len));
                    out.swap(a, b);
                }
                _ => out.push(self.next_u64() as u8),
            }
        }
        out
    }
}

/// Runs `check` on every seed and on `iterations` variants of them (`$SHIKAKU_FUZZ_ITERATIONS`
/// overrides it, for a longer run). The driver's seed is `$SHIKAKU_FUZZ_SEED`, else fixed by
/// `name` (so CI runs the same variants each time), and printed; when `check` panics, the
/// seed, the iteration and the input (hex) are printed before the panic goes on, so that the
/// failure can be replayed.
pub fn run(name: &str, seeds: &[Vec<u8>], iterations: usize, check: impl Fn(&[u8])) {
    assert!(!seeds.is_empty(), "{name}: no seed inputs");
    // FNV-1a of the name.
    let by_name =
        name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let seed = std::env::var(SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(by_name);
    let iterations = std::env::var(ITERATIONS_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(iterations);
    eprintln!("fuzz {name}: {} seeds, {iterations} variants, {SEED_ENV}={seed}", seeds.len());
    let mut m = Mutator::new(seed);
    let attempt = |i: usize, input: &[u8]| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(input))) {
            let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!(
                "fuzz {name}: failed at iteration {i} with {SEED_ENV}={seed}; input ({} bytes): {hex}",
                input.len()
            );
            std::panic::resume_unwind(panic);
        }
    };
    for s in seeds {
        attempt(0, s);
    }
    for i in 1..=iterations {
        let a = &seeds[m.below(seeds.len())];
        let b = &seeds[m.below(seeds.len())];
        let input = m.mutate(a, b);
        attempt(i, &input);
    }
}

#[cfg(test)]
mod tests {
    use super::Mutator;

    #[test]
    fn the_same_seed_gives_the_same_variants_and_they_differ() {
        let (mut a, mut b) = (Mutator::new(7), Mutator::new(7));
        let seed = b"0\x82\x01\x0a\x02\x82\x01\x01".to_vec();
        let va: Vec<Vec<u8>> = (0..50).map(|_| a.mutate(&seed, b"other")).collect();
        let vb: Vec<Vec<u8>> = (0..50).map(|_| b.mutate(&seed, b"other")).collect();
        assert_eq!(va, vb);
        assert!(va.iter().filter(|v| **v != seed).count() > 40, "{va:?}");
    }
}
