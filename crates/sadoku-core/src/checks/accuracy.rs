//! The answer must match fp64 ground truth to fp32 accuracy.
//!
//! Two measures, because each misses what the other sees:
//! - elementwise, against the classical bound on rounding error of an fp32 dot product in any
//!   summation order, |ĉ − c| ≤ γ_K·Σ|a_k·b_k| with γ_K = K·u/(1 − K·u). Twice that bound plus
//!   32 ulps leaves room for split-precision tricks (3×TF32) and catches any single wrong element.
//! - normwise, ‖Ĉ − C‖ / ‖C‖. On zero-mean inputs sums cancel, so this exposes the precision the
//!   kernel really computed in: fp32 stays near 1e-6 even at K = 8192, TF32 operands land near
//!   4e-4 and bf16 near 3e-3. That is the precision class.

use serde::{Deserialize, Serialize};

use super::coords_text;
use crate::device::compare::NONE;
use crate::device::{Comparison, element};
use crate::problem::{BufferSpec, Dtype};

/// Unit roundoff of fp32 (round to nearest).
pub const U_FP32: f64 = 1.0 / (1u64 << 24) as f64;

/// Largest normwise error of each precision class, on zero-mean inputs.
const CLASS_LIMITS: [(PrecisionClass, f64); 4] = [
    (PrecisionClass::Fp64, 1e-12),
    (PrecisionClass::Fp32, 1e-5),
    (PrecisionClass::Tf32, 2e-3),
    (PrecisionClass::Bf16, 2e-2),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrecisionClass {
    /// Equal to the truth, element for element (an exact output: indices, integers).
    Exact,
    /// fp64 arithmetic (an f64 output).
    Fp64,
    /// fp32 arithmetic throughout (or a split-precision method as accurate).
    Fp32,
    /// Operands rounded to 10 mantissa bits: TF32 tensor cores, or fp16.
    Tf32,
    /// Operands rounded to 7 mantissa bits.
    Bf16,
    /// Worse than any floating-point format explains: wrong.
    Wrong,
}

impl PrecisionClass {
    pub fn of(normwise: f64) -> PrecisionClass {
        CLASS_LIMITS.iter().find(|(_, limit)| normwise <= *limit).map_or(PrecisionClass::Wrong, |(c, _)| *c)
    }
}

impl std::fmt::Display for PrecisionClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PrecisionClass::Exact => "exact",
            PrecisionClass::Fp64 => "fp64",
            PrecisionClass::Fp32 => "fp32",
            PrecisionClass::Tf32 => "tf32/fp16",
            PrecisionClass::Bf16 => "bf16",
            PrecisionClass::Wrong => "wrong",
        })
    }
}

/// The precision an output is judged in: declared per output in a problem (`tolerance = "bf16"`),
/// else its dtype's (f16, bf16, exact for integers), else the review's (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToleranceClass {
    /// Integers, indices: every element equal to the truth.
    Exact,
    /// fp64 arithmetic throughout (the default for f64 outputs).
    Fp64,
    /// fp32 arithmetic throughout.
    Fp32,
    /// fp32 accumulation, the result stored in fp16.
    Fp16,
    /// Operands rounded to TF32 (`--precision tf32`).
    Tf32,
    /// fp32 accumulation, the result stored in bf16.
    Bf16,
}

impl ToleranceClass {
    pub const NAMES: &'static str = "fp64, fp32, tf32, fp16, bf16, exact";

    pub fn parse(s: &str) -> Option<ToleranceClass> {
        Some(match s {
            "fp64" => ToleranceClass::Fp64,
            "fp32" => ToleranceClass::Fp32,
            "tf32" => ToleranceClass::Tf32,
            "fp16" => ToleranceClass::Fp16,
            "bf16" => ToleranceClass::Bf16,
            "exact" => ToleranceClass::Exact,
            _ => return None,
        })
    }

    pub fn tolerance(self) -> Tolerance {
        match self {
            ToleranceClass::Exact => Tolerance::EXACT,
            ToleranceClass::Fp64 => Tolerance::FP64,
            ToleranceClass::Fp32 => Tolerance::FP32,
            ToleranceClass::Fp16 => Tolerance::FP16,
            ToleranceClass::Tf32 => Tolerance::TF32,
            ToleranceClass::Bf16 => Tolerance::BF16,
        }
    }

    /// This class in a review for `review`: a review looser than fp32 (`--precision tf32`)
    /// loosens a floating-point class to its own where that is looser (each class's bound contains
    /// the ones before it); exact stays exact, and an fp32 review loosens nothing.
    pub fn under(self, review: ToleranceClass) -> ToleranceClass {
        if self == ToleranceClass::Exact || review <= ToleranceClass::Fp32 { self } else { self.max(review) }
    }
}

impl std::fmt::Display for ToleranceClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ToleranceClass::Exact => "exact",
            ToleranceClass::Fp64 => "fp64",
            ToleranceClass::Fp32 => "fp32",
            ToleranceClass::Fp16 => "fp16",
            ToleranceClass::Tf32 => "tf32",
            ToleranceClass::Bf16 => "bf16",
        })
    }
}

/// How close is close enough.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    pub class: ToleranceClass,
    /// Largest accepted normwise relative error.
    pub normwise: f64,
    /// Unit roundoff of the arithmetic the elementwise bound is built from.
    pub unit_roundoff: f64,
    /// Unit roundoff of the output's storage format, when it is coarser than the arithmetic
    /// (fp16, bf16 results of fp32 accumulation): one more rounding of each element.
    pub output_roundoff: f64,
}

impl Tolerance {
    /// Lets any honest fp32 kernel through, stops one that rounds operands to TF32.
    pub const FP32: Tolerance =
        Tolerance { class: ToleranceClass::Fp32, normwise: 1e-5, unit_roundoff: U_FP32, output_roundoff: 0.0 };

    /// For `--precision tf32`: operands rounded to TF32's 10 mantissa bits (unit roundoff 2⁻¹¹)
    /// pass, bf16 does not.
    pub const TF32: Tolerance = Tolerance {
        class: ToleranceClass::Tf32,
        normwise: 2e-3,
        unit_roundoff: 1.0 / (1u64 << 11) as f64,
        output_roundoff: 0.0,
    };

    /// fp32 accumulation rounded once into fp16 (unit roundoff 2⁻¹¹): the rounding alone is a
    /// normwise error near 3e-4; accumulating in fp16 instead is far above 2e-3 at any length
    /// worth a kernel.
    pub const FP16: Tolerance = Tolerance {
        class: ToleranceClass::Fp16,
        normwise: 2e-3,
        unit_roundoff: U_FP32,
        output_roundoff: 1.0 / (1u64 << 11) as f64,
    };

    /// fp32 accumulation rounded once into bf16 (unit roundoff 2⁻⁸): a normwise error near 2e-3;
    /// accumulating in bf16 instead is near 0.1 at K = 4096.
    pub const BF16: Tolerance = Tolerance {
        class: ToleranceClass::Bf16,
        normwise: 2e-2,
        unit_roundoff: U_FP32,
        output_roundoff: 1.0 / (1u64 << 8) as f64,
    };

    /// fp64 arithmetic: an f64 result accumulated in fp32 (normwise near 1e-7) is far outside.
    pub const FP64: Tolerance = Tolerance {
        class: ToleranceClass::Fp64,
        normwise: 1e-12,
        unit_roundoff: 1.0 / (1u64 << 53) as f64,
        output_roundoff: 0.0,
    };

    /// Every element equal to the truth.
    pub const EXACT: Tolerance =
        Tolerance { class: ToleranceClass::Exact, normwise: 0.0, unit_roundoff: 0.0, output_roundoff: 0.0 };

    /// The elementwise error bound factor for sums of `terms` products: twice the classical
    /// γ_K plus 32 units of the arithmetic, plus two of the output's storage format. 0 for exact.
    pub fn elementwise_factor(&self, terms: usize) -> f64 {
        let ku = terms as f64 * self.unit_roundoff;
        if ku >= 0.5 {
            return f64::INFINITY;
        }
        2.0 * ku / (1.0 - ku) + 32.0 * self.unit_roundoff + 2.0 * self.output_roundoff
    }
}

/// The element furthest outside (or closest to) its bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worst {
    pub at: Vec<usize>,
    pub got: f64,
    pub expected: f64,
    pub abs_error: f64,
    /// Error over the element's bound: above 1 fails.
    pub ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    pub buffer: String,
    /// The class it is judged in.
    pub tolerance: ToleranceClass,
    /// ‖got − truth‖₂ / ‖truth‖₂ (NaN when any value is not finite).
    pub normwise: f64,
    pub class: PrecisionClass,
    /// Elements outside their elementwise bound.
    pub over_bound: usize,
    /// Elements that are NaN or infinite where the truth is finite.
    pub nonfinite: usize,
    pub worst: Option<Worst>,
}

impl Accuracy {
    pub fn passes(&self) -> bool {
        self.nonfinite == 0 && self.over_bound == 0 && self.normwise <= self.tolerance.tolerance().normwise
    }

    /// Why it fails, as one line of evidence; `None` when it passes.
    pub fn failure(&self) -> Option<String> {
        if self.passes() {
            return None;
        }
        let tol = self.tolerance.tolerance();
        let worst = self.worst.as_ref().map_or(String::new(), |w| {
            if self.tolerance == ToleranceClass::Exact {
                return format!("; first at {}: got {}, expected {}", coords_text(&w.at), w.got, w.expected);
            }
            format!(
                "; worst at {}: got {:e}, expected {:.7e} (error {:.2e}, {:.1}× its bound)",
                coords_text(&w.at),
                w.got,
                w.expected,
                w.abs_error,
                w.ratio
            )
        });
        Some(if self.nonfinite > 0 {
            format!("{} non-finite values in {}{worst}", self.nonfinite, self.buffer)
        } else if self.tolerance == ToleranceClass::Exact {
            format!("{} elements of {} differ from the exact answer{worst}", self.over_bound, self.buffer)
        } else if self.normwise > tol.normwise {
            format!(
                "normwise relative error {:.2e} exceeds {:.0e} (error looks like {} precision){worst}",
                self.normwise, tol.normwise, self.class
            )
        } else {
            format!(
                "{} elements of {} outside the {} rounding bound{worst}",
                self.over_bound, self.buffer, self.tolerance
            )
        })
    }
}

/// The comparator's summary as the accuracy check reports it, for an output judged in `tolerance`.
pub fn from_comparison(buffer: &BufferSpec, c: &Comparison, tolerance: ToleranceClass) -> Accuracy {
    let normwise = c.normwise();
    let class = if c.nonfinite > 0 {
        PrecisionClass::Wrong
    } else if tolerance == ToleranceClass::Exact {
        if c.over_bound == 0 { PrecisionClass::Exact } else { PrecisionClass::Wrong }
    } else {
        // A result is of its storage's precision at best, however it was computed (an exact fp32
        // result is fp32; the rounding of a bf16 one alone sits near the class boundary).
        let storage = match buffer.dtype {
            Dtype::Bf16 => PrecisionClass::Bf16,
            Dtype::F16 => PrecisionClass::Tf32,
            Dtype::F64 => PrecisionClass::Fp64,
            _ => PrecisionClass::Fp32,
        };
        PrecisionClass::of(normwise).max(storage)
    };
    let worst = (c.worst_index != NONE).then(|| {
        let got = element::value(buffer.dtype, c.worst_got);
        Worst {
            at: buffer.coords(c.worst_index as usize),
            got,
            expected: c.worst_expected,
            abs_error: (got - c.worst_expected).abs(),
            ratio: c.worst_ratio,
        }
    });
    Accuracy {
        buffer: buffer.name.to_string(),
        tolerance,
        normwise,
        class,
        over_bound: c.over_bound as usize,
        nonfinite: c.nonfinite as usize,
        worst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{PoisonWords, compare_host};
    use crate::problem::{Reference, Role};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn round_to_mantissa_bits(x: f32, bits: u32) -> f32 {
        let drop = 23 - bits;
        let w = x.to_bits();
        let half = 1u32 << (drop - 1);
        f32::from_bits((w + half) & !((1u32 << drop) - 1))
    }

    /// A dot-product problem: `rows` sums of `k` products of N(0,1) values, computed in fp32
    /// sequentially after rounding the operands to `mantissa_bits` (23 = plain fp32).
    fn dots(rows: usize, k: usize, mantissa_bits: u32) -> (Vec<f32>, Reference, BufferSpec) {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut got, mut values, mut scale) = (vec![], vec![], vec![]);
        for _ in 0..rows {
            let (mut acc, mut exact, mut mag) = (0f32, 0f64, 0f64);
            for _ in 0..k {
                let a: f32 = rng.sample(StandardNormal);
                let b: f32 = rng.sample(StandardNormal);
                let (ra, rb) = if mantissa_bits < 23 {
                    (round_to_mantissa_bits(a, mantissa_bits), round_to_mantissa_bits(b, mantissa_bits))
                } else {
                    (a, b)
                };
                acc = ra.mul_add(rb, acc);
                exact += a as f64 * b as f64;
                mag += (a as f64 * b as f64).abs();
            }
            got.push(acc);
            values.push(exact);
            scale.push(mag);
        }
        (
            got,
            Reference { values, scale, terms: k },
            BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![rows], lower_triangular: false },
        )
    }

    /// The check as the judge makes it: the comparator's definition, then its report.
    fn assess(buffer: &BufferSpec, got: &[f32], truth: &Reference, tol: &Tolerance) -> Accuracy {
        let bits: Vec<u64> = got.iter().map(|x| x.to_bits() as u64).collect();
        let factor = tol.elementwise_factor(truth.terms);
        let poison = PoisonWords::Word(crate::checks::POISON_NAN);
        from_comparison(
            buffer,
            &compare_host(Dtype::F32, &bits, &truth.values, &truth.scale, factor, poison),
            tol.class,
        )
    }

    #[test]
    fn honest_fp32_passes_even_at_long_sums() {
        for k in [1, 17, 4096, 8192] {
            let (got, truth, buf) = dots(300, k, 23);
            let acc = assess(&buf, &got, &truth, &Tolerance::FP32);
            assert!(acc.passes(), "k = {k}: {:?}", acc.failure());
            assert_eq!(acc.class, PrecisionClass::Fp32);
        }
    }

    #[test]
    fn tf32_operands_are_caught_and_classed() {
        for k in [1, 64, 4096] {
            let (got, truth, buf) = dots(300, k, 10);
            let acc = assess(&buf, &got, &truth, &Tolerance::FP32);
            assert_eq!(acc.class, PrecisionClass::Tf32, "k = {k}, normwise {}", acc.normwise);
            let why = acc.failure().expect("rejected");
            assert!(why.contains("looks like tf32/fp16 precision"), "{why}");
        }
    }

    #[test]
    fn bf16_operands_are_classed_bf16() {
        let (got, truth, buf) = dots(300, 1024, 7);
        assert_eq!(assess(&buf, &got, &truth, &Tolerance::FP32).class, PrecisionClass::Bf16);
    }

    #[test]
    fn one_wrong_element_among_many_is_caught() {
        let (mut got, truth, buf) = dots(10_000, 64, 23);
        // Off by far less than the normwise tolerance would notice.
        got[1234] += 1e-4 * truth.scale[1234] as f32;
        let acc = assess(&buf, &got, &truth, &Tolerance::FP32);
        assert!(acc.normwise < Tolerance::FP32.normwise, "normwise alone would miss it");
        assert_eq!(acc.over_bound, 1);
        assert_eq!(acc.worst.as_ref().unwrap().at, vec![1234]);
        assert!(acc.failure().unwrap().contains("outside the fp32 rounding bound"));
    }

    #[test]
    fn exact_zeros_must_stay_zero() {
        let buf =
            BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![2, 2], lower_triangular: false };
        let truth = Reference { values: vec![1.0, 0.0, 2.0, 3.0], scale: vec![1.0, 0.0, 2.0, 3.0], terms: 2 };
        assert!(assess(&buf, &[1.0, 0.0, 2.0, 3.0], &truth, &Tolerance::FP32).passes());
        let acc = assess(&buf, &[1.0, 1e-30, 2.0, 3.0], &truth, &Tolerance::FP32);
        assert_eq!((acc.over_bound, acc.worst.unwrap().at), (1, vec![0, 1]));
    }

    #[test]
    fn non_finite_values_fail_with_their_position() {
        let buf =
            BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![2, 2], lower_triangular: false };
        let truth = Reference { values: vec![1.0; 4], scale: vec![1.0; 4], terms: 1 };
        let acc = assess(&buf, &[1.0, 1.0, f32::NAN, 1.0], &truth, &Tolerance::FP32);
        assert_eq!(acc.nonfinite, 1);
        assert_eq!(acc.class, PrecisionClass::Wrong);
        let why = acc.failure().unwrap();
        assert!(why.starts_with("1 non-finite values in C; worst at (1, 0)"), "{why}");
    }
}
