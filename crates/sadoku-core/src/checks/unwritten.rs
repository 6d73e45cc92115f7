//! Every output element must be written by every launch (the Sakana case: a kernel that computed
//! one row and left the rest to whatever the allocator handed it).

use serde::Serialize;

use super::{Poison, coords_text, thousands};
use crate::problem::BufferSpec;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unwritten {
    pub buffer: String,
    pub count: usize,
    pub total: usize,
    /// Row-major coordinates of the first unwritten element.
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

/// Elements whose bits still equal the poison they were given before the launch.
///
/// A random-bits poison word is a right answer now and then: at N = 4096 one of 2³² words meets
/// one of 2²⁴ elements in about 0.4 % of trials. `acceptable(i, value)` says whether element `i`
/// would pass the accuracy check with `value`; such a coincidence is not counted, since whether or
/// not the kernel wrote it, the element is right.
pub fn check(
    buffer: &BufferSpec,
    output_bits: &[u32],
    poison: &Poison,
    acceptable: &dyn Fn(usize, f32) -> bool,
) -> Option<Unwritten> {
    let mut count = 0;
    let mut first = None;
    for (i, &w) in output_bits.iter().enumerate() {
        if w == poison.word(i) && !acceptable(i, f32::from_bits(w)) {
            count += 1;
            first.get_or_insert(i);
        }
    }
    first.map(|i| Unwritten {
        buffer: buffer.name.to_string(),
        count,
        total: output_bits.len(),
        first: buffer.coords(i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::POISON_NAN;
    use crate::problem::Role;

    fn never(_: usize, _: f32) -> bool {
        false
    }

    fn c(n: usize) -> BufferSpec {
        BufferSpec { name: "C", role: Role::Output, dims: vec![n, n], lower_triangular: false }
    }

    #[test]
    fn catches_a_kernel_that_writes_one_row() {
        // The Sakana launch at N = 4096 wrote row 0 only.
        let n = 4096;
        let mut out = vec![POISON_NAN; n * n];
        for v in &mut out[..n] {
            *v = 1.5f32.to_bits();
        }
        let u = check(&c(n), &out, &Poison::Nan, &never).expect("unwritten elements found");
        assert_eq!(u.count, 16_773_120);
        assert_eq!(u.first, vec![1, 0]);
        assert_eq!(u.to_string(), "16,773,120 of 16,777,216 output elements of C never written; first at (1, 0)");
    }

    #[test]
    fn random_poison_catches_a_kernel_that_skips_one_element() {
        let poison = Poison::pattern(9, 42);
        let mut out: Vec<u32> = (0..9).map(|i| (i as f32).to_bits()).collect();
        out[5] = poison.word(5);
        let u = check(&c(3), &out, &poison, &never).unwrap();
        assert_eq!((u.count, u.first.clone()), (1, vec![1, 2]));
    }

    #[test]
    fn a_poison_word_that_happens_to_be_right_is_not_unwritten() {
        let poison = Poison::pattern(9, 42);
        let mut out: Vec<u32> = (0..9).map(|i| (i as f32).to_bits()).collect();
        out[5] = poison.word(5);
        let truth = f32::from_bits(poison.word(5));
        let right = move |i: usize, v: f32| i == 5 && v == truth;
        assert_eq!(check(&c(3), &out, &poison, &right), None);
        // A NaN is never a right answer.
        let mut nan = out.clone();
        nan[5] = crate::checks::POISON_NAN;
        assert!(check(&c(3), &nan, &Poison::Nan, &|_, v: f32| v.is_finite()).is_some());
    }

    #[test]
    fn lets_a_complete_write_through() {
        let out: Vec<u32> = (0..16).map(|i| (i as f32).to_bits()).collect();
        assert_eq!(check(&c(4), &out, &Poison::Nan, &never), None);
        assert_eq!(check(&c(4), &out, &Poison::pattern(16, 7), &never), None);
        // A kernel producing NaN itself is not "unwritten" (accuracy rejects it instead).
        let nan = vec![f32::NAN.to_bits(); 16];
        assert_eq!(check(&c(4), &nan, &Poison::Nan, &never), None);
    }
}
