//! A kernel must not write its inputs: one that zeroes A and B "matches" a reference recomputed
//! from them. sadoku compares against the pristine host copy instead.

use serde::Serialize;

use super::{coords_text, thousands};
use crate::problem::BufferSpec;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputsModified {
    pub buffer: String,
    pub changed: usize,
    pub total: usize,
    pub first: Vec<usize>,
    pub before: f32,
    pub after: f32,
}

impl std::fmt::Display for InputsModified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input {} modified: {} of {} elements changed; first at {} ({} became {})",
            self.buffer,
            thousands(self.changed),
            thousands(self.total),
            coords_text(&self.first),
            self.before,
            self.after
        )
    }
}

/// Bitwise comparison of an input read back after the launch with the copy that was uploaded.
pub fn check(buffer: &BufferSpec, pristine: &[f32], after: &[f32]) -> Option<InputsModified> {
    let mut changed = 0;
    let mut first = None;
    for (i, (a, b)) in pristine.iter().zip(after).enumerate() {
        if a.to_bits() != b.to_bits() {
            changed += 1;
            first.get_or_insert(i);
        }
    }
    first.map(|i| InputsModified {
        buffer: buffer.name.to_string(),
        changed,
        total: pristine.len(),
        first: buffer.coords(i),
        before: pristine[i],
        after: after[i],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Role;

    fn a() -> BufferSpec {
        BufferSpec { name: "A", role: Role::Input, dims: vec![2, 3], lower_triangular: false }
    }

    #[test]
    fn catches_zeroed_input() {
        let pristine = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let found = check(&a(), &pristine, &[0.0; 6]).unwrap();
        assert_eq!(found.changed, 6);
        assert_eq!(found.to_string(), "input A modified: 6 of 6 elements changed; first at (0, 0) (1 became 0)");
    }

    #[test]
    fn catches_a_single_flipped_bit_and_signed_zero() {
        let pristine = [1.0, 2.0, 3.0, 0.0, 5.0, 6.0];
        let mut after = pristine;
        after[3] = -0.0;
        assert_eq!(check(&a(), &pristine, &after).unwrap().first, vec![1, 0]);
    }

    #[test]
    fn lets_untouched_inputs_through() {
        let pristine = [1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(check(&a(), &pristine, &pristine), None);
    }
}
