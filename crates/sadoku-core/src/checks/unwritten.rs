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
pub fn check(buffer: &BufferSpec, output_bits: &[u32], poison: &Poison) -> Option<Unwritten> {
    let mut count = 0;
    let mut first = None;
    for (i, &w) in output_bits.iter().enumerate() {
        if w == poison.word(i) {
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

    fn c(n: usize) -> BufferSpec {
        BufferSpec { name: "C", role: Role::Output, dims: vec![n, n] }
    }

    #[test]
    fn catches_a_kernel_that_writes_one_row() {
        // The Sakana launch at N = 4096 wrote row 0 only.
        let n = 4096;
        let mut out = vec![POISON_NAN; n * n];
        for v in &mut out[..n] {
            *v = 1.5f32.to_bits();
        }
        let u = check(&c(n), &out, &Poison::Nan).expect("unwritten elements found");
        assert_eq!(u.count, 16_773_120);
        assert_eq!(u.first, vec![1, 0]);
        assert_eq!(u.to_string(), "16,773,120 of 16,777,216 output elements of C never written; first at (1, 0)");
    }

    #[test]
    fn random_poison_catches_a_kernel_that_skips_one_element() {
        let poison = Poison::pattern(9, 42);
        let mut out: Vec<u32> = (0..9).map(|i| (i as f32).to_bits()).collect();
        out[5] = poison.word(5);
        let u = check(&c(3), &out, &poison).unwrap();
        assert_eq!((u.count, u.first.clone()), (1, vec![1, 2]));
    }

    #[test]
    fn lets_a_complete_write_through() {
        let out: Vec<u32> = (0..16).map(|i| (i as f32).to_bits()).collect();
        assert_eq!(check(&c(4), &out, &Poison::Nan), None);
        assert_eq!(check(&c(4), &out, &Poison::pattern(16, 7)), None);
        // A kernel producing NaN itself is not "unwritten" (accuracy rejects it instead).
        let nan = vec![f32::NAN.to_bits(); 16];
        assert_eq!(check(&c(4), &nan, &Poison::Nan), None);
    }
}
