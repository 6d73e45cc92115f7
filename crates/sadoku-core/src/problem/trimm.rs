//! KernelBench level 1, task 15: C = tril(A · B) for lower-triangular fp32 A, B.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::{BufferSpec, Distribution, Problem, Reference, Role, Sizes};
use crate::device::{Buffer, Device, DeviceError, DeviceExt, LibraryOp, Precision, Work};

pub struct Trimm;

/// Rows generated per independent random stream; fixed so inputs do not depend on thread count.
const ROWS_PER_STREAM: usize = 16;

impl Trimm {
    fn n(sizes: &Sizes) -> usize {
        sizes.of("N")
    }

    fn lower_triangular(n: usize, distribution: Distribution, seed: u64) -> Vec<f32> {
        let mut m = vec![0f32; n * n];
        m.par_chunks_mut((n * ROWS_PER_STREAM).max(1)).enumerate().for_each(|(chunk, rows)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(chunk as u64);
            for (r, row) in rows.chunks_mut(n).enumerate() {
                let i = chunk * ROWS_PER_STREAM + r;
                for v in &mut row[..=i] {
                    *v = match distribution {
                        Distribution::Randn => rng.sample::<f32, _>(StandardNormal),
                        Distribution::Rand => rng.random::<f32>(),
                    };
                }
            }
        });
        m
    }

    fn fp64_truth(
        device: &mut dyn Device,
        n: usize,
        inputs: &[Vec<f32>],
        buffers: &[Buffer],
    ) -> Result<Vec<Reference>, DeviceError> {
        let &[a, b, c, abs_a, abs_b, abs_c] = buffers else { unreachable!("fp64_truth is given six buffers") };
        let up = |v: &[f32], abs: bool| -> Vec<f64> {
            v.par_iter().map(|&x| if abs { (x as f64).abs() } else { x as f64 }).collect()
        };
        device.upload_f64(a, &up(&inputs[0], false))?;
        device.upload_f64(b, &up(&inputs[1], false))?;
        device.upload_f64(abs_a, &up(&inputs[0], true))?;
        device.upload_f64(abs_b, &up(&inputs[1], true))?;
        let gemm = |a, b, c| Work::Library(LibraryOp::Gemm { precision: Precision::F64, m: n, n, k: n, a, b, c });
        // A product of lower-triangular matrices is lower-triangular: its strict upper part is an
        // exact sum of zeros, so the truth needs no tril pass.
        device.run(&[gemm(a, b, c), gemm(abs_a, abs_b, abs_c)])?;
        Ok(vec![Reference { values: device.download_f64(c)?, scale: device.download_f64(abs_c)?, terms: n }])
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
        let square = |name, role| BufferSpec { name, role, dims: vec![n, n] };
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

    fn generate(&self, sizes: &Sizes, distribution: Distribution, seed: u64) -> Vec<Vec<f32>> {
        let n = Self::n(sizes);
        vec![
            Self::lower_triangular(n, distribution, seed),
            Self::lower_triangular(n, distribution, seed ^ 0x9E37_79B9_7F4A_7C15),
        ]
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

    /// C = tril(A·B) is linear in A and in B.
    fn output_scales(&self, input_scales: &[f64]) -> Option<Vec<f64>> {
        Some(vec![input_scales.iter().product()])
    }

    fn reference(
        &self,
        device: &mut dyn Device,
        sizes: &Sizes,
        inputs: &[Vec<f32>],
    ) -> Result<Vec<Reference>, DeviceError> {
        let n = Self::n(sizes);
        let mut buffers = Vec::with_capacity(6);
        let mut result = Ok(Vec::new());
        for _ in 0..6 {
            match device.alloc(n * n * 8) {
                Ok(b) => buffers.push(b),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() {
            result = Self::fp64_truth(device, n, inputs, &buffers);
        }
        for b in buffers {
            device.free(b);
        }
        result
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
    fn inputs_are_lower_triangular_seeded_and_fresh() {
        let t = Trimm;
        let s = Sizes::new([("N", 33)]);
        let a = t.generate(&s, Distribution::Randn, 7);
        assert_eq!(a, t.generate(&s, Distribution::Randn, 7), "a seed replays");
        assert_ne!(a, t.generate(&s, Distribution::Randn, 8), "another seed differs");
        assert_ne!(a[0], a[1], "A and B differ");
        for m in &a {
            for i in 0..33 {
                for j in 0..33 {
                    let v = m[i * 33 + j];
                    if j > i {
                        assert_eq!(v, 0.0);
                    } else {
                        assert_ne!(v, 0.0);
                    }
                }
            }
        }
        let u = t.generate(&s, Distribution::Rand, 7);
        assert!(u[0].iter().all(|&v| (0.0..1.0).contains(&v)));
        assert!(a[0].iter().any(|&v| v < 0.0), "randn has negative values");
    }
}
