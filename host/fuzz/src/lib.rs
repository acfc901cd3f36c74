//! Mutation fuzzing on the stable toolchain, for every decoder of input from the network or
//! from files: valid seed inputs are mutated by a seeded PRNG (bit flips, byte changes,
//! insertions of tokens that break parsers, deletions, duplications, splices, truncations) and
//! fed to a target that must never panic. Each crate that owns a decoder has a `fuzz` test.
//!
//! `PRAETOR_FUZZ_ITERATIONS` sets the inputs per target (default 2,000: the bounded run of the
//! test suite) and `PRAETOR_FUZZ_SEED` the seed (default: from the clock); a failure prints
//! both, the iteration and the input. The long run:
//! `PRAETOR_FUZZ_ITERATIONS=1000000 cargo test --release fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

/// Inputs per target unless `PRAETOR_FUZZ_ITERATIONS` says otherwise.
pub const DEFAULT_ITERATIONS: u64 = 2_000;
/// A target stops early once it has run this long (the bounded run stays bounded).
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(20);

/// xorshift64*: small, fast, deterministic for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Byte strings that break parsers: structure, escapes, huge or odd numbers, NULs, UTF-8
/// edge cases.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b",",
    b":",
    b"=",
    b"\n",
    b"null",
    b"true",
    b"-",
    b"1e999",
    b"-0",
    b"9999999999999999999999999",
    b"0x",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"${",
    b"<<EOF\n",
    b"/*",
    b"#",
    b"..",
    b"%",
    b"\t",
];

/// One mutated input from `seeds`.
pub fn mutate(rng: &mut Rng, seeds: &[&[u8]]) -> Vec<u8> {
    let mut out = seeds
        .get(rng.below(seeds.len()))
        .map(|s| s.to_vec())
        .unwrap_or_default();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                out.splice(at..at, token.iter().copied());
            }
            3 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(16)).min(len);
                out.drain(from..to);
            }
            4 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(32)).min(len);
                let copy = out[from..to].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            5 => {
                let other = seeds.get(rng.below(seeds.len())).copied().unwrap_or(&[]);
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let to = (from + 1 + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    out.splice(at..at, other[from..to].iter().copied());
                }
            }
            6 if len > 0 => out.truncate(rng.below(len)),
            _ => {
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = (0..=rng.below(8)).map(|_| rng.next_u64() as u8).collect();
                out.splice(at..at, bytes);
            }
        }
    }
    out
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// Feeds every seed, then mutated inputs, to `target`; a panic is reported with the seed,
/// the iteration and the input, then re-raised. Returns how many inputs ran.
pub fn run(name: &str, seeds: &[&[u8]], mut target: impl FnMut(&[u8])) -> u64 {
    let iterations = env_u64("PRAETOR_FUZZ_ITERATIONS").unwrap_or(DEFAULT_ITERATIONS);
    let limit = if env_u64("PRAETOR_FUZZ_ITERATIONS").is_some() {
        Duration::MAX
    } else {
        DEFAULT_TIME_LIMIT
    };
    let seed = env_u64("PRAETOR_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut ran = 0;
    let inputs = seeds
        .iter()
        .map(|s| s.to_vec())
        .chain(std::iter::repeat_with(|| mutate(&mut rng, seeds)));
    for (i, input) in inputs.enumerate() {
        if ran >= iterations + seeds.len() as u64 || start.elapsed() > limit {
            break;
        }
        ran += 1;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(&input))) {
            eprintln!(
                "fuzz target {name} panicked: PRAETOR_FUZZ_SEED={seed}, input #{i} \
                 ({} bytes)\nhex: {}\ntext: {:?}",
                input.len(),
                input.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                String::from_utf8_lossy(&input)
            );
            resume_unwind(panic);
        }
    }
    println!("fuzz target {name}: {ran} inputs, seed {seed}");
    ran
}

/// [`run`] for decoders of text: inputs that are not UTF-8 are given lossily converted.
pub fn run_text(name: &str, seeds: &[&str], mut target: impl FnMut(&str)) -> u64 {
    let seeds: Vec<&[u8]> = seeds.iter().map(|s| s.as_bytes()).collect();
    run(name, &seeds, |bytes| {
        target(&String::from_utf8_lossy(bytes))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_for_a_seed() {
        let seeds: &[&[u8]] = &[b"{\"a\": 1}", b"key = \"value\""];
        let a: Vec<Vec<u8>> = {
            let mut r = Rng::new(7);
            (0..50).map(|_| mutate(&mut r, seeds)).collect()
        };
        let b: Vec<Vec<u8>> = {
            let mut r = Rng::new(7);
            (0..50).map(|_| mutate(&mut r, seeds)).collect()
        };
        assert_eq!(a, b);
        assert!(
            a.iter()
                .any(|m| m.as_slice() != seeds[0] && m.as_slice() != seeds[1])
        );
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panicking_target_is_reported_and_fails() {
        run("boom", &[b"x"], |_| panic!("boom"));
    }
}
