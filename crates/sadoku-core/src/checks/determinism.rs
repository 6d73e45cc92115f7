//! The same inputs twice must give the same answer up to rounding. Results that move by more
//! than the rounding bound mean a race, a missing barrier, or reads of memory nothing wrote.

use serde::Serialize;

use super::{coords_text, thousands};
use crate::device::{Difference, element};
use crate::problem::{BufferSpec, Dtype};

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Nondeterministic {
    #[serde(default)]
    pub buffer: String,
    /// Records from before dtypes were written held f32 buffers only.
    #[serde(default = "Dtype::f32")]
    pub dtype: Dtype,
    /// Elements whose two results differ by more than their rounding bound.
    #[serde(default)]
    pub moved: usize,
    /// Elements whose bits differ at all (atomics legitimately reorder sums).
    #[serde(default)]
    pub bits_differ: usize,
    #[serde(default)]
    pub first: Vec<usize>,
    #[serde(default)]
    pub first_run: f64,
    #[serde(default)]
    pub second_run: f64,
}

impl std::fmt::Display for Nondeterministic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "same inputs, different results: {} elements of {} moved beyond rounding; first at {} ({} then {})",
            thousands(self.moved),
            self.buffer,
            coords_text(&self.first),
            element::show(self.dtype, self.first_run),
            element::show(self.dtype, self.second_run)
        )
    }
}

/// Elements of two runs on the same inputs that moved beyond their rounding bound, as the
/// comparator's difference kernel found them.
pub fn from_difference(buffer: &BufferSpec, d: &Difference) -> Option<Nondeterministic> {
    (d.moved > 0).then(|| Nondeterministic {
        buffer: buffer.name.to_string(),
        dtype: buffer.dtype,
        moved: d.moved as usize,
        bits_differ: d.bits_differ as usize,
        first: buffer.coords(d.first_moved as usize),
        first_run: element::value(buffer.dtype, d.first_value),
        second_run: element::value(buffer.dtype, d.second_value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::accuracy::Tolerance;
    use crate::device::diff_host;
    use crate::problem::{Role, Structure};

    fn found(first: &[f32], second: &[f32]) -> Option<Nondeterministic> {
        let buf = BufferSpec {
            name: "C",
            role: Role::Output,
            dtype: Dtype::F32,
            dims: vec![2, 2],
            structure: Structure::Dense,
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits() as u64).collect::<Vec<u64>>();
        let factor = Tolerance::FP32.elementwise_factor(64);
        from_difference(&buf, &diff_host(Dtype::F32, &bits(first), &bits(second), &[10.0; 4], factor))
    }

    #[test]
    fn catches_a_race_that_loses_a_partial_sum() {
        let found = found(&[10.0; 4], &[10.0, 10.0, 10.0, 7.5]).unwrap();
        assert_eq!((found.moved, found.first.clone()), (1, vec![1, 1]));
        assert!(found.to_string().contains("first at (1, 1) (10 then 7.5)"));
    }

    #[test]
    fn lets_reordered_rounding_through() {
        let nudged = f32::from_bits(10f32.to_bits() + 1);
        assert_eq!(found(&[10.0; 4], &[10.0, nudged, 10.0, 10.0]), None);
        assert_eq!(found(&[10.0; 4], &[10.0; 4]), None);
        // Two NaNs are the same failure twice (accuracy rejects them); a NaN and a number moved.
        assert_eq!(found(&[f32::NAN; 4], &[f32::NAN; 4]), None);
        assert_eq!(found(&[10.0; 4], &[10.0, f32::NAN, 10.0, 10.0]).map(|f| f.moved), Some(1));
    }
}
