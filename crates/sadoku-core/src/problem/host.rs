//! The host's independent fp64 truth, where sadoku has one: plain loops over a built-in GEMM
//! reference, sharing nothing with the device's reference path.

use super::{Problem, Reference, ReferenceSpec, Role, Sizes};

impl Problem {
    /// The host's independent fp64 truth, where sadoku has one (built-in references): plain loops.
    /// `inputs` are the inputs' values, in declaration order.
    pub fn reference_host(&self, sizes: &Sizes, inputs: &[Vec<f64>]) -> Option<Vec<Reference>> {
        let ReferenceSpec::Gemm(g) = &self.reference else { return None };
        let (m, n, k, batch) = g.dims(sizes).ok()?;
        let (a, b) = (&inputs[self.index_of(g.a, Role::Input)], &inputs[self.index_of(g.b, Role::Input)]);
        let mut values = vec![0f64; batch * m * n];
        let mut scale = vec![0f64; batch * m * n];
        use rayon::prelude::*;
        values.par_chunks_mut(n.max(1)).zip(scale.par_chunks_mut(n.max(1))).enumerate().for_each(|(row, (v, s))| {
            let (p, i) = (row / m.max(1), row % m.max(1));
            // Row i of C as a sum of rows of B, in order of l: contiguous, and zeros of A (half of a
            // triangular one) skipped.
            for l in 0..k {
                let av = if g.transpose_a { a[p * k * m + l * m + i] } else { a[p * m * k + i * k + l] };
                if av == 0.0 {
                    continue;
                }
                let b_row = &b[p * k * n + l * n..p * k * n + (l + 1) * n];
                for ((x, y), &bv) in v.iter_mut().zip(s.iter_mut()).zip(b_row) {
                    let t = av * bv;
                    *x += t;
                    *y += t.abs();
                }
            }
        });
        Some(vec![Reference { values, scale, terms: self.terms(sizes) }])
    }
}
