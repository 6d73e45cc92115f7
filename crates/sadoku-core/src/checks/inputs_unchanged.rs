//! A kernel must not write its inputs: one that zeroes A and B "matches" a reference recomputed
//! from them. sadoku compares against the pristine host copy instead.

use serde::Serialize;

use super::{coords_text, thousands};
use crate::device::element;
use crate::problem::{BufferSpec, Dtype};

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct InputsModified {
    #[serde(default)]
    pub buffer: String,
    /// Records from before dtypes were written held f32 buffers only.
    #[serde(default = "Dtype::f32")]
    pub dtype: Dtype,
    #[serde(default)]
    pub changed: usize,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub first: Vec<usize>,
    #[serde(default)]
    pub before: f64,
    #[serde(default)]
    pub after: f64,
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
            element::show(self.dtype, self.before),
            element::show(self.dtype, self.after)
        )
    }
}

/// Bitwise comparison of an input's elements (bits of its dtype) read back after the launch with a
/// fresh copy of the same draw. An element past the shape (the padding of a 16-bit buffer to a
/// whole word) is named by its flat index.
pub fn check(buffer: &BufferSpec, pristine: &[u64], after: &[u64]) -> Option<InputsModified> {
    let mut changed = 0;
    let mut first = None;
    for (i, (a, b)) in pristine.iter().zip(after).enumerate() {
        if a != b {
            changed += 1;
            first.get_or_insert(i);
        }
    }
    first.map(|i| InputsModified {
        buffer: buffer.name.to_string(),
        dtype: buffer.dtype,
        changed,
        total: buffer.elements(),
        first: if i < buffer.elements() { buffer.coords(i) } else { vec![i] },
        before: element::value(buffer.dtype, pristine[i]),
        after: element::value(buffer.dtype, after[i]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Role, Structure};

    fn a(dtype: Dtype) -> BufferSpec {
        BufferSpec { name: "A", role: Role::Input, dtype, dims: vec![2, 3], structure: Structure::Dense }
    }

    fn bits(dtype: Dtype, v: &[f32]) -> Vec<u64> {
        v.iter().map(|&x| element::from_f32(dtype, x)).collect()
    }

    #[test]
    fn catches_zeroed_input() {
        let pristine = bits(Dtype::F32, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let found = check(&a(Dtype::F32), &pristine, &[0; 6]).unwrap();
        assert_eq!(found.changed, 6);
        assert_eq!(found.to_string(), "input A modified: 6 of 6 elements changed; first at (0, 0) (1 became 0)");
    }

    #[test]
    fn catches_a_single_flipped_bit_and_signed_zero_in_every_dtype() {
        for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
            let pristine = bits(dtype, &[1.0, 2.0, 3.0, 0.0, 5.0, 6.0]);
            let mut after = pristine.clone();
            after[3] = element::from_f32(dtype, -0.0);
            assert_eq!(check(&a(dtype), &pristine, &after).unwrap().first, vec![1, 0], "{dtype}");
        }
        for dtype in [Dtype::I32, Dtype::I64] {
            let pristine: Vec<u64> = (0..6).map(|v| element::from_i64(dtype, v)).collect();
            let mut after = pristine.clone();
            after[5] ^= 1 << (dtype.bytes() * 8 - 1);
            let found = check(&a(dtype), &pristine, &after).unwrap();
            assert_eq!((found.first.clone(), found.before), (vec![1, 2], 5.0), "{dtype}");
            assert!(found.after < 0.0, "{dtype}: the sign bit flipped");
        }
        // The padding element of an odd-sized 16-bit buffer counts too.
        let pristine = bits(Dtype::Bf16, &[1.0; 7]);
        let mut after = pristine.clone();
        after[6] = 0;
        assert_eq!(check(&a(Dtype::Bf16), &pristine, &after).unwrap().first, vec![6]);
    }

    #[test]
    fn lets_untouched_inputs_through() {
        let pristine = bits(Dtype::F32, &[1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(check(&a(Dtype::F32), &pristine, &pristine), None);
    }
}
