//! Every output element must be written by every launch (the Sakana case: a kernel that computed
//! one row and left the rest to whatever the allocator handed it).

use serde::Serialize;

use super::{coords_text, thousands};
use crate::device::{Comparison, PoisonWords};
use crate::problem::BufferSpec;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Unwritten {
    #[serde(default)]
    pub buffer: String,
    #[serde(default)]
    pub count: usize,
    #[serde(default)]
    pub total: usize,
    /// Row-major coordinates of the first unwritten element.
    #[serde(default)]
    pub first: Vec<usize>,
}

impl std::fmt::Display for Unwritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} output elements of {} never written; first at {}",
            thousands(self.count),
            thousands(self.total),
            self.buffer,
            coords_text(&self.first)
        )
    }
}

/// How many times the collisions chance gives among the wrong elements a random-bits finding
/// needs (see [`from_comparison`]).
pub const BEYOND_CHANCE: f64 = 1024.0;

/// The elements the comparator found still holding their poison word (where that word is not
/// itself an acceptable answer: a random-bits word is a right answer now and then, and then it is
/// right whoever wrote it).
///
/// Random bits are not proof on their own: a wrong value written into a b-bit element equals
/// that element's random poison once in 2ᵇ (the poison is uniform and independent of what is
/// written), so among many wrong elements some "hold their poison" by chance: among a million
/// wrong bf16 elements about 15, among 67 million wrong fp32 ones one time in 64 (a cache cheat
/// replaying a stale answer was labelled "1 of 67,108,864 never written" so, on an H100). The
/// finding stands only when the elements holding their poison are at least [`BEYOND_CHANCE`]
/// times what chance gives among the wrong ones (for 16 bits: one wrong element in 64), and at
/// least one; below that the output is simply wrong (still rejected, as inaccurate). A fixed
/// NaN word is proof whatever the width: no right answer is NaN.
pub fn from_comparison(buffer: &BufferSpec, c: &Comparison, poison: PoisonWords) -> Option<Unwritten> {
    let chance = c.over_bound as f64 * 2f64.powi(-8 * buffer.dtype.bytes() as i32);
    let random = matches!(poison, PoisonWords::Pattern(_));
    if c.unwritten == 0 || (random && (c.unwritten as f64) < (BEYOND_CHANCE * chance).max(1.0)) {
        return None;
    }
    Some(Unwritten {
        buffer: buffer.name.to_string(),
        count: c.unwritten as usize,
        total: c.elements as usize,
        first: buffer.coords(c.first_unwritten as usize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::POISON_NAN;
    use crate::device::{compare_host, pattern_word};
    use crate::problem::{Dtype, Role, Structure};

    fn c(n: usize) -> BufferSpec {
        BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![n, n], structure: Structure::Dense }
    }

    /// The comparator's finding on `out` (fp32 bits) against a truth of `truth` everywhere.
    fn found(spec: &BufferSpec, out: &[u32], truth: f64, poison: PoisonWords) -> Option<Unwritten> {
        let n = out.len();
        let bits: Vec<u64> = out.iter().map(|&w| w as u64).collect();
        from_comparison(
            spec,
            &compare_host(spec.dtype, &bits, &vec![truth; n], &vec![truth.abs(); n], 1e-6, poison),
            poison,
        )
    }

    /// An index output (i64, exact) that a kernel wrote only half of: its NaN-poison word is a
    /// value no index takes, and random bits are caught as well.
    #[test]
    fn catches_a_half_written_index_output() {
        use crate::checks::poison_nan;
        use crate::device::{element, pattern_element};
        let spec = BufferSpec {
            name: "idx",
            role: Role::Output,
            dtype: Dtype::I64,
            dims: vec![8],
            structure: Structure::Dense,
        };
        let truth: Vec<f64> = (0..8).map(|i| (i % 3) as f64).collect();
        for poison in [PoisonWords::Word(poison_nan(Dtype::I64)), PoisonWords::Pattern(5)] {
            let out: Vec<u64> =
                (0..8u64)
                    .map(|i| {
                        if i < 4 {
                            element::from_i64(Dtype::I64, (i % 3) as i64)
                        } else {
                            poison.element(i, Dtype::I64)
                        }
                    })
                    .collect();
            let c = compare_host(Dtype::I64, &out, &truth, &[0.0; 8], 0.0, poison);
            let u = from_comparison(&spec, &c, poison).unwrap();
            assert_eq!((u.count, u.first.clone()), (4, vec![4]), "{poison:?}");
        }
        assert_ne!(pattern_element(5, 4, Dtype::I64), pattern_element(5, 5, Dtype::I64));
    }

    #[test]
    fn catches_a_kernel_that_writes_one_row() {
        // The Sakana launch at N = 4096 wrote row 0 only.
        let n = 4096;
        let mut out = vec![POISON_NAN; n * n];
        for v in &mut out[..n] {
            *v = 1.5f32.to_bits();
        }
        let u = found(&c(n), &out, 1.5, PoisonWords::Word(POISON_NAN)).expect("unwritten elements found");
        assert_eq!(u.count, 16_773_120);
        assert_eq!(u.first, vec![1, 0]);
        assert_eq!(u.to_string(), "16,773,120 of 16,777,216 output elements of C never written; first at (1, 0)");
    }

    #[test]
    fn random_poison_catches_a_kernel_that_skips_one_element() {
        let mut out: Vec<u32> = (0..9).map(|_| 4f32.to_bits()).collect();
        out[5] = pattern_word(42, 5);
        let u = found(&c(3), &out, 4.0, PoisonWords::Pattern(42)).unwrap();
        assert_eq!((u.count, u.first.clone()), (1, vec![1, 2]));
    }

    #[test]
    fn a_poison_word_that_happens_to_be_right_is_not_unwritten() {
        let word = pattern_word(42, 5);
        let truth = f32::from_bits(word) as f64;
        let out = vec![word; 9];
        // Element 5 still holds its poison, and the poison is the right answer: written or not,
        // it is right. The others hold another element's poison word: written (and wrong).
        let u = found(&c(3), &out, truth, PoisonWords::Pattern(42));
        assert_eq!(u, None, "{u:?}");
        // A NaN is never a right answer.
        assert!(found(&c(3), &[POISON_NAN; 9], f64::NAN, PoisonWords::Word(POISON_NAN)).is_some());
    }

    #[test]
    fn lets_a_complete_write_through() {
        let out: Vec<u32> = (0..16).map(|i| (i as f32).to_bits()).collect();
        assert_eq!(found(&c(4), &out, 0.0, PoisonWords::Word(POISON_NAN)), None);
        assert_eq!(found(&c(4), &out, 0.0, PoisonWords::Pattern(7)), None);
        // A kernel producing NaN itself is not "unwritten" (accuracy rejects it instead).
        assert_eq!(found(&c(4), &[f32::NAN.to_bits(); 16], 0.0, PoisonWords::Word(POISON_NAN)), None);
    }

    /// A wrong bf16 output over a million elements: some elements equal their 16-bit random
    /// poison by chance, which is not "unwritten"; a half-written one is, by either poison.
    #[test]
    fn chance_collisions_with_narrow_random_poison_are_not_unwritten() {
        use crate::device::{element, pattern_element};
        let n = 1 << 20;
        let spec = BufferSpec {
            name: "y",
            role: Role::Output,
            dtype: Dtype::Bf16,
            dims: vec![n],
            structure: Structure::Dense,
        };
        let poison = PoisonWords::Pattern(9);
        // Every element wrong (truth 1.0, written 0.25 .. 0.5), one in 4096 holding its poison.
        let wrong: Vec<u64> = (0..n as u64)
            .map(|i| {
                if i % 4096 == 7 {
                    pattern_element(9, i, Dtype::Bf16)
                } else {
                    element::from_f32(Dtype::Bf16, 0.25 + (i % 256) as f32 / 1024.0)
                }
            })
            .collect();
        let c = compare_host(Dtype::Bf16, &wrong, &vec![1.0; n], &vec![1.0; n], 1e-3, poison);
        // 256 planted, and a few more by chance (about n / 2¹⁶).
        assert!((256..300).contains(&c.unwritten) && c.over_bound == n as u64, "{c:?}");
        assert_eq!(from_comparison(&spec, &c, poison), None);
        // Half of it never written: found, under random bits and under the NaN word alike.
        for p in [poison, PoisonWords::Word(crate::checks::poison_nan(Dtype::Bf16))] {
            let half: Vec<u64> = (0..n as u64)
                .map(|i| if i < n as u64 / 2 { element::from_f32(Dtype::Bf16, 1.0) } else { p.element(i, Dtype::Bf16) })
                .collect();
            let c = compare_host(Dtype::Bf16, &half, &vec![1.0; n], &vec![1.0; n], 1e-3, p);
            // Less the few random poison values that happen to be right (near 1.0, within the bound).
            let count = from_comparison(&spec, &c, p).map_or(0, |u| u.count);
            assert!((n / 2 - 64..=n / 2).contains(&count), "{p:?}: {count}");
        }
        // A 32-bit output of a million wrong elements: one collision is 4,000 times chance
        // (2⁻³² each), evidence.
        let f32_spec = BufferSpec { dtype: Dtype::F32, ..spec.clone() };
        let one = Comparison { unwritten: 1, over_bound: 1_000_000, ..c };
        assert!(from_comparison(&f32_spec, &one, poison).is_some());
        // 67 million wrong fp32 elements (a stale answer replayed over 8192 x 8192): one
        // collision comes by chance once in 64 such outputs, and is no evidence; under the NaN
        // word it would be. A thousand are.
        let stale = Comparison { unwritten: 1, over_bound: 1 << 26, ..c };
        assert_eq!(from_comparison(&f32_spec, &stale, poison), None);
        let nan = PoisonWords::Word(POISON_NAN);
        assert!(from_comparison(&f32_spec, &stale, nan).is_some());
        assert!(from_comparison(&f32_spec, &Comparison { unwritten: 1_000, ..stale }, poison).is_some());
        // A 64-bit index output: one collision in 67 million wrong is still evidence.
        let i64_spec = BufferSpec { dtype: Dtype::I64, ..spec };
        assert!(from_comparison(&i64_spec, &stale, poison).is_some());
    }
}
