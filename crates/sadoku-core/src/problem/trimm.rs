//! KernelBench level 1, task 15: C = tril(A · B) for lower-triangular fp32 A, B.

use rayon::prelude::*;

use super::{BufferSpec, Distribution, Problem, Reference, Role, Sizes};
use crate::device::{Buffer, LibraryOp, Precision, Work};

pub struct Trimm;

impl Trimm {
    fn n(sizes: &Sizes) -> usize {
        sizes.of("N")
    }
}

impl Problem for Trimm {
    fn name(&self) -> &'static str {
        "trimm"
    }

    fn summary(&self) -> &'static str {
        "C = tril(A·B), A and B lower-triangular fp32 N×N, row-major (KernelBench L1 #15)"
    }

    fn size_symbols(&self) -> &'static [&'static str] {
        &["N"]
    }

    fn buffers(&self, sizes: &Sizes) -> Vec<BufferSpec> {
        let n = Self::n(sizes);
        let square = |name, role| BufferSpec { name, role, dims: vec![n, n], lower_triangular: role == Role::Input };
        vec![square("A", Role::Input), square("B", Role::Input), square("C", Role::Output)]
    }

    fn timed_sizes(&self) -> Sizes {
        Sizes::new([("N", 4096)])
    }

    fn check_sizes(&self) -> Vec<Sizes> {
        [4096, 1, 17, 1000, 4095].into_iter().map(|n| Sizes::new([("N", n)])).collect()
    }

    fn small_sizes(&self) -> Sizes {
        Sizes::new([("N", 17)])
    }

    fn distributions(&self) -> &'static [Distribution] {
        &[Distribution::Randn, Distribution::Rand]
    }

    /// C[i][j] = Σ_{k=j..i} A[i][k]·B[k][j]: i−j+1 multiply-adds for each i ≥ j, so
    /// Σ_{d=0}^{N−1} (N−d)(d+1) = N(N+1)(N+2)/6 of them, N(N+1)(N+2)/3 flops.
    fn min_flops(&self, sizes: &Sizes) -> f64 {
        let n = Self::n(sizes) as f64;
        n * (n + 1.0) * (n + 2.0) / 3.0
    }

    /// Both lower triangles read once from DRAM (an L2 flush precedes every timed launch). C's
    /// writes may stay in L2 within the timed window, so they are not counted.
    fn min_bytes(&self, sizes: &Sizes) -> f64 {
        let n = Self::n(sizes) as f64;
        4.0 * n * (n + 1.0)
    }

    fn terms(&self, sizes: &Sizes) -> usize {
        Self::n(sizes)
    }

    /// fp64 copies of A and B, and of their absolute values.
    fn truth_scratch(&self, sizes: &Sizes) -> Vec<usize> {
        let n = Self::n(sizes).max(1);
        vec![n * n * 8; 4]
    }

    /// cuBLAS DGEMM on the fp64 copies, and on the copies' absolute values for the error scale.
    /// A product of lower-triangular matrices is lower-triangular: its strict upper part is an
    /// exact sum of zeros, so the truth needs no tril pass.
    fn truth(&self, sizes: &Sizes, inputs: &[Buffer], scratch: &[Buffer], outputs: &[(Buffer, Buffer)]) -> Vec<Work> {
        let n = Self::n(sizes);
        let (&[a, b], &[a64, b64, abs_a, abs_b], &[(c, abs_c)]) = (inputs, scratch, outputs) else {
            unreachable!("trimm's truth takes two inputs, four temporaries and one output")
        };
        let up = |src, dst, abs| Work::Library(LibraryOp::Upcast { src, dst, abs });
        let gemm = |a, b, c| Work::Library(LibraryOp::Gemm { precision: Precision::F64, m: n, n, k: n, a, b, c });
        vec![
            up(a, a64, false),
            up(b, b64, false),
            up(a, abs_a, true),
            up(b, abs_b, true),
            gemm(a64, b64, c),
            gemm(abs_a, abs_b, abs_c),
        ]
    }

    fn reference_host(&self, sizes: &Sizes, inputs: &[Vec<f32>]) -> Vec<Reference> {
        let n = Self::n(sizes);
        let (a, b) = (&inputs[0], &inputs[1]);
        let mut values = vec![0f64; n * n];
        let mut scale = vec![0f64; n * n];
        values.par_chunks_mut(n.max(1)).zip(scale.par_chunks_mut(n.max(1))).enumerate().for_each(|(i, (v, s))| {
            for j in 0..=i.min(n.saturating_sub(1)) {
                let (mut x, mut y) = (0f64, 0f64);
                for k in j..=i {
                    let p = a[i * n + k] as f64 * b[k * n + j] as f64;
                    x += p;
                    y += p.abs();
                }
                v[j] = x;
                s[j] = y;
            }
        });
        vec![Reference { values, scale, terms: n }]
    }

    fn baseline(&self, sizes: &Sizes, inputs: &[Buffer], outputs: &[Buffer], precision: Precision) -> Vec<Work> {
        let n = Self::n(sizes);
        vec![
            Work::Library(LibraryOp::Gemm { precision, m: n, n, k: n, a: inputs[0], b: inputs[1], c: outputs[0] }),
            Work::Library(LibraryOp::TrilF32 { c: outputs[0], n }),
        ]
    }

    fn baseline_name(&self, precision: Precision) -> String {
        match precision {
            Precision::Tf32 => {
                "cuBLAS GEMM (TF32 tensor cores) + tril, as torch.matmul(a, b).tril() with TF32 on".into()
            }
            _ => "cuBLAS SGEMM (TF32 off) + tril, as torch.matmul(a, b).tril()".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_flops_counts_the_triangle() {
        let t = Trimm;
        // Brute force: 2 flops per (i, j, k) with j <= k <= i.
        for n in [1usize, 2, 3, 17] {
            let mut flops = 0usize;
            for i in 0..n {
                for j in 0..=i {
                    flops += 2 * (i - j + 1);
                }
            }
            assert_eq!(t.min_flops(&Sizes::new([("N", n as i64)])), flops as f64);
        }
        // The write-up's figure: 22.9 GFLOP at N = 4096.
        let g = t.min_flops(&t.timed_sizes()) / 1e9;
        assert!((g - 22.92).abs() < 0.01, "{g}");
    }

    #[test]
    fn host_reference_is_the_exact_product_of_the_triangles() {
        let t = Trimm;
        let n = 3;
        let a = vec![1.0, 0.0, 0.0, 2.0, -3.0, 0.0, 4.0, 5.0, 6.0];
        let b = vec![-1.0, 0.0, 0.0, 0.5, 2.0, 0.0, 1.0, 1.0, 1.0];
        let r = &t.reference_host(&Sizes::new([("N", n as i64)]), &[a, b])[0];
        // Row 1: [2·−1 + −3·0.5, −3·2, 0]; row 2: [4·−1 + 5·0.5 + 6·1, 5·2 + 6·1, 6].
        assert_eq!(r.values, vec![-1.0, 0.0, 0.0, -3.5, -6.0, 0.0, 4.5, 16.0, 6.0]);
        assert_eq!(r.scale, vec![1.0, 0.0, 0.0, 3.5, 6.0, 0.0, 12.5, 16.0, 6.0]);
        assert_eq!(r.terms, 3);
    }
}
