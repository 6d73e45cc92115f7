//! What sadoku guarantees, one file per check. Each check turns what the judge's device found (the
//! comparator's summary of an output, bits read back as evidence) into its finding; none of them
//! touches a GPU.

pub mod accuracy;
pub mod ceiling;
pub mod determinism;
pub mod guards;
pub mod inputs_unchanged;
pub mod sanitizer;
pub mod signature;
pub mod trace;
pub mod unwritten;

use serde::Serialize;

/// A quiet NaN with a payload no arithmetic produces (hardware NaNs are 0x7FFFFFFF or 0x7FC00000).
pub const POISON_NAN: u32 = 0x7FCA_D0C0;

/// The 32-bit word an output of `dtype` is filled with for "NaN poison": a quiet NaN with an
/// unusual payload in each element for floating-point types (both 16-bit halves the same), a
/// large value no index or label takes for integers.
pub const fn poison_nan(dtype: crate::problem::Dtype) -> u32 {
    use crate::problem::Dtype;
    match dtype {
        Dtype::F16 => 0x7E5D_7E5D,
        Dtype::Bf16 => 0x7FCA_7FCA,
        // Repeated into 64 bits, a quiet fp64 NaN (and an fp32 one).
        Dtype::F64 => 0x7FF8_D0C0,
        _ => POISON_NAN,
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
    fn poison_words_are_finite_seeded_or_a_nan_no_arithmetic_makes() {
        use crate::device::pattern_word;
        assert!((0..100_000).all(|i| f32::from_bits(pattern_word(1, i)).is_finite()));
        assert!((0..100).any(|i| pattern_word(1, i) != pattern_word(2, i)));
        assert_eq!(pattern_word(3, 17), pattern_word(3, 17));
        assert!(f32::from_bits(POISON_NAN).is_nan());
        assert_ne!(POISON_NAN, f32::NAN.to_bits());
    }
}
