//! The same inputs twice must give the same answer up to rounding. Results that move by more
//! than the rounding bound mean a race, a missing barrier, or reads of memory nothing wrote.

use serde::Serialize;

use super::accuracy::Tolerance;
use super::{coords_text, thousands};
use crate::problem::{BufferSpec, Reference};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nondeterministic {
    pub buffer: String,
    /// Elements whose two results differ by more than their rounding bound.
    pub moved: usize,
    /// Elements whose bits differ at all (atomics legitimately reorder sums).
    pub bits_differ: usize,
    pub first: Vec<usize>,
    pub first_run: f32,
    pub second_run: f32,
}

impl std::fmt::Display for Nondeterministic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "same inputs, different results: {} elements of {} moved beyond rounding; first at {} ({} then {})",
            thousands(self.moved),
            self.buffer,
            coords_text(&self.first),
            self.first_run,
            self.second_run
        )
    }
}

pub fn check(
    buffer: &BufferSpec,
    first: &[f32],
    second: &[f32],
    truth: &Reference,
    tol: &Tolerance,
) -> Option<Nondeterministic> {
    let factor = tol.elementwise_factor(truth.terms);
    let (mut moved, mut bits_differ, mut at) = (0, 0, None);
    for (i, ((&a, &b), &s)) in first.iter().zip(second).zip(&truth.scale).enumerate() {
        if a.to_bits() == b.to_bits() {
            continue;
        }
        bits_differ += 1;
        let both_nan = a.is_nan() && b.is_nan();
        // NaN in one run only moves too: the comparison below is false for it.
        let within = (a as f64 - b as f64).abs() <= factor * s;
        if !both_nan && !within {
            moved += 1;
            at.get_or_insert(i);
        }
    }
    at.map(|i| Nondeterministic {
        buffer: buffer.name.to_string(),
        moved,
        bits_differ,
        first: buffer.coords(i),
        first_run: first[i],
        second_run: second[i],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Role;

    fn setup() -> (BufferSpec, Reference) {
        (
            BufferSpec { name: "C", role: Role::Output, dims: vec![2, 2], lower_triangular: false },
            Reference { values: vec![10.0; 4], scale: vec![10.0; 4], terms: 64 },
        )
    }

    #[test]
    fn catches_a_race_that_loses_a_partial_sum() {
        let (buf, truth) = setup();
        let found = check(&buf, &[10.0; 4], &[10.0, 10.0, 10.0, 7.5], &truth, &Tolerance::FP32).unwrap();
        assert_eq!((found.moved, found.first.clone()), (1, vec![1, 1]));
        assert!(found.to_string().contains("first at (1, 1) (10 then 7.5)"));
    }

    #[test]
    fn lets_reordered_rounding_through() {
        let (buf, truth) = setup();
        let nudged = f32::from_bits(10f32.to_bits() + 1);
        assert_eq!(check(&buf, &[10.0; 4], &[10.0, nudged, 10.0, 10.0], &truth, &Tolerance::FP32), None);
        assert_eq!(check(&buf, &[10.0; 4], &[10.0; 4], &truth, &Tolerance::FP32), None);
    }
}
