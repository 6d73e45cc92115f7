//! What sadoku guarantees, one file per check. Each check takes host-side evidence (bits read
//! back from the device, the pristine inputs, the fp64 truth) and returns what it found; none
//! of them touches a GPU.

pub mod accuracy;
pub mod ceiling;
pub mod determinism;
pub mod guards;
pub mod inputs_unchanged;
pub mod sanitizer;
pub mod signature;
pub mod trace;
pub mod unwritten;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// A quiet NaN with a payload no arithmetic produces (hardware NaNs are 0x7FFFFFFF or 0x7FC00000).
pub const POISON_NAN: u32 = 0x7FCA_D0C0;

/// What an output holds before every launch, so that elements the kernel never wrote are seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Poison {
    /// Every element the same NaN: unwritten elements also fail any comparison.
    Nan,
    /// A different finite random value in every element, from a seed drawn at run time: stale or
    /// read-back data cannot be predicted, and NaN-scrubbing tricks do not help.
    Pattern(Vec<u32>),
}

impl Poison {
    pub fn pattern(elements: usize, seed: u64) -> Poison {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Poison::Pattern(
            (0..elements)
                .map(|_| {
                    let w: u32 = rng.random();
                    // Keep it finite: an all-ones exponent would make it Inf/NaN.
                    if w & 0x7F80_0000 == 0x7F80_0000 { w ^ 0x0080_0000 } else { w }
                })
                .collect(),
        )
    }

    pub fn word(&self, index: usize) -> u32 {
        match self {
            Poison::Nan => POISON_NAN,
            Poison::Pattern(words) => words[index],
        }
    }

    pub fn kind(&self) -> PoisonKind {
        match self {
            Poison::Nan => PoisonKind::Nan,
            Poison::Pattern(_) => PoisonKind::Random,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoisonKind {
    Nan,
    Random,
}

impl std::fmt::Display for PoisonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PoisonKind::Nan => "NaN poison",
            PoisonKind::Random => "random-bits poison",
        })
    }
}

/// Row-major coordinates as "(1, 0)".
pub fn coords_text(coords: &[usize]) -> String {
    let parts: Vec<String> = coords.iter().map(|c| c.to_string()).collect();
    format!("({})", parts.join(", "))
}

/// 16773120 as "16,773,120".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(16_773_120), "16,773,120");
    }

    #[test]
    fn poison_patterns_are_finite_and_seeded() {
        let Poison::Pattern(a) = Poison::pattern(100_000, 1) else { unreachable!() };
        assert!(a.iter().all(|&w| f32::from_bits(w).is_finite()));
        assert_ne!(Poison::pattern(100, 1), Poison::pattern(100, 2));
        assert_eq!(Poison::pattern(100, 3), Poison::pattern(100, 3));
        assert!(f32::from_bits(POISON_NAN).is_nan());
        assert_ne!(POISON_NAN, f32::NAN.to_bits());
    }
}
