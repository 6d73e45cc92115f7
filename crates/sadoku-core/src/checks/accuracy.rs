//! The answer must match fp64 ground truth to fp32 accuracy.
//!
//! Two measures, because each misses what the other sees:
//! - elementwise, against the classical bound on rounding error of an fp32 dot product in any
//!   summation order, |ĉ − c| ≤ γ_K·Σ|a_k·b_k| with γ_K = K·u/(1 − K·u). Twice that bound plus
//!   32 ulps leaves room for split-precision tricks (3×TF32) and catches any single wrong element.
//! - normwise, ‖Ĉ − C‖ / ‖C‖. On zero-mean inputs sums cancel, so this exposes the precision the
//!   kernel really computed in: fp32 stays near 1e-6 even at K = 8192, TF32 operands land near
//!   4e-4 and bf16 near 3e-3. That is the precision class.
//!
//! Neither bound is ever off: the elementwise one is finite at every K ([`MAX_KU`]). And where a
//! class's bounds are guesses or loose, they are calibrated against the baseline on the same
//! inputs ([`Bounds`]): an opaque Model's elementwise bound (its K is a guess), and the normwise
//! limit of a low-precision class (bf16's 2e-2 is ~10× what an honest kernel achieves). The
//! candidate may have a stated multiple of the baseline's error; the class limits stay outer ones.

use serde::Serialize;

use super::coords_text;
use crate::device::compare::NONE;
use crate::device::{Comparison, Precision, element};
use crate::problem::{BufferSpec, Dtype, Problem};

/// Unit roundoff of fp32 (round to nearest).
pub const U_FP32: f64 = 1.0 / (1u64 << 24) as f64;

/// Largest normwise error of each precision class, on zero-mean inputs.
const CLASS_LIMITS: [(PrecisionClass, f64); 4] = [
    (PrecisionClass::Fp64, 1e-12),
    (PrecisionClass::Fp32, 1e-5),
    (PrecisionClass::Tf32, 2e-3),
    (PrecisionClass::Bf16, 2e-2),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
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

pub use crate::vocab::ToleranceClass;

/// The bounds a tolerance class stands for (the class itself is problem-format vocabulary).
impl ToleranceClass {
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
    /// γ_K plus 32 units of the arithmetic, plus two of the output's storage format; K·u held at
    /// [`MAX_KU`] beyond it, so that the factor is finite and non-decreasing in K and never above
    /// 2⁻⁷ + 32u + 2u_out (see [`MAX_KU`] for why honest long sums stay inside). 0 for exact.
    pub fn elementwise_factor(&self, terms: usize) -> f64 {
        let ku = (terms as f64 * self.unit_roundoff).min(MAX_KU);
        2.0 * ku / (1.0 - ku) + 32.0 * self.unit_roundoff + 2.0 * self.output_roundoff
    }

    /// The elementwise slack a calibrated bound allows on top of a multiple of the baseline's
    /// error: the class's bound for one rounded operation, plus the probabilistic bound
    /// [`PROBABILISTIC_LAMBDA`]·√K·u for a sum of K terms in another order than the baseline's
    /// (sequential where the baseline sums pairwise, say), never more than the uncalibrated factor.
    pub fn calibration_slack(&self, terms: usize) -> f64 {
        let probabilistic = PROBABILISTIC_LAMBDA * (terms.max(1) as f64).sqrt() * self.unit_roundoff;
        (self.elementwise_factor(1) + probabilistic).min(self.elementwise_factor(terms))
    }
}

/// Largest K·u the classical bound γ_K = K·u / (1 − K·u) is taken at: 2⁻⁸, K = 65 536 in fp32.
/// Beyond it the bound stays at γ(2⁻⁸) ≈ 3.9e-3 of the error scale (the factor at 2⁻⁷ + 32u), for
/// three reasons:
///
/// - **Depth.** The classical bound for a sum in any order is γ_h·Σ|x| with h the most additions
///   any one term passes through (the depth of the summation tree, Higham, *Accuracy and
///   Stability*, §4.2). A GPU reduction of any length sums a chunk per thread and combines the
///   chunks by a tree or by atomics: its depth is a chunk plus a tree's height or the number of
///   partials, far below 65 536 for every kernel worth timing.
/// - **Chance.** A sequential chain of any length whose roundings are independent and zero-mean
///   is within λ·√K·u·Σ|x| except with probability 2·exp(−λ²/2) (Azuma–Hoeffding on the
///   first-order error Σδ_i·ŝ_i, |ŝ_i| ≤ Σ|x|: Higham and Mary, *A new approach to probabilistic
///   rounding error analysis*, SISC 2019). With λ = 12 ([`PROBABILISTIC_LAMBDA`], a failure
///   probability of 10⁻³¹ per element) that stays below the factor's 2γ(2⁻⁸) up to
///   K ≈ 1.2·10⁸ sequential terms in fp32.
/// - **Stagnation.** A sequential fp32 chain longer than that is wrong whatever the bound: once
///   its partial sum passes 2²⁴ times a term, adding the term changes nothing, and a sum of
///   positive terms stops growing.
///
/// The cap is what keeps the check on at every K: an element off by 1 % of its error scale is
/// over the fp32 bound (2⁻⁷ + 32u ≈ 0.79 %) whatever the problem says K is. Up to K = 65 536
/// the bound is the classical one, unchanged.
pub const MAX_KU: f64 = 1.0 / 256.0;

/// λ of the probabilistic rounding bound λ·√K·u: see [`MAX_KU`].
pub const PROBABILISTIC_LAMBDA: f64 = 12.0;

/// How many times the baseline's worst per-element error (relative to each element's error
/// scale) a calibrated candidate may have, on the same inputs: elementwise errors of two honest
/// implementations of the same operation differ by their rounding luck at the worst element
/// (a different summation order, a different libm: a factor of 2 to 4 between the worst elements
/// of honest kernels), so 8 leaves room for that, while an element wrong by a relative 1 % is
/// thousands of times an fp32 baseline's error. The calibrated slack
/// ([`Tolerance::calibration_slack`]) is added on top.
pub const ELEMENTWISE_MULTIPLE: f64 = 8.0;

/// How many times the baseline's normwise error a calibrated candidate may have, on the same
/// inputs. A norm averages over every element, so honest kernels of the same precision agree far
/// more closely than at their worst elements: a bf16 result of fp32 accumulation is dominated by
/// its one rounding into bf16 (~1.7e-3 for the baseline and an honest candidate alike), TF32
/// operands rounded to nearest or truncated differ by up to ~2×. Accumulating in bf16 instead,
/// even with fp32 inside each 16-term MMA step, is ~5-10× the baseline at K = 1000-4000.
pub const NORMWISE_MULTIPLE: f64 = 4.0;

/// Unit roundoff of an output's storage format: one rounding into it is within this relative
/// error; 0 for integers.
pub fn storage_roundoff(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F64 => 1.0 / (1u64 << 53) as f64,
        Dtype::F32 => U_FP32,
        Dtype::F16 => 1.0 / (1u64 << 11) as f64,
        Dtype::Bf16 => 1.0 / (1u64 << 8) as f64,
        _ => 0.0,
    }
}

/// The baseline's own error against the fp64 truth, on the inputs of a judged launch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BaselineError {
    /// ‖baseline − truth‖₂ / ‖truth‖₂.
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub normwise: f64,
    /// The largest |baseline − truth| / scale over the elements (the error scale of each element,
    /// as the candidate's bound uses it).
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub worst: f64,
}

/// Whether an output's bounds are calibrated against the baseline, and how it went.
#[derive(Debug, Clone, PartialEq)]
pub enum Calibrated {
    /// Neither of its bounds is calibrated (an fp32 output of a library problem, an exact one).
    NotWanted,
    Baseline(BaselineError),
    /// Wanted, but the baseline could not give it: why. The uncalibrated bounds apply.
    Unavailable(String),
}

/// Which of an output's bounds are calibrated against the baseline, if it has one: the
/// elementwise one for a problem whose reference is an opaque Model (its K is a guess), the
/// normwise one for an output judged in a low-precision class by a baseline of that precision
/// (a bf16 or fp16 result in its own dtype; TF32 where the baseline computes in TF32). Returns
/// (elementwise, normwise).
pub fn calibrates(problem: &Problem, class: ToleranceClass, dtype: Dtype, review: ToleranceClass) -> (bool, bool) {
    if !problem.has_baseline() || class == ToleranceClass::Exact {
        return (false, false);
    }
    let precision = if review == ToleranceClass::Tf32 { Precision::Tf32 } else { Precision::F32 };
    let normwise = match class {
        ToleranceClass::Bf16 => dtype == Dtype::Bf16,
        ToleranceClass::Fp16 => dtype == Dtype::F16,
        ToleranceClass::Tf32 => problem.baseline_precision(precision) == Precision::Tf32,
        _ => false,
    };
    (problem.torch().is_some(), normwise)
}

/// Whether an output whose baseline's own normwise error is `normwise`, above its `class`'s
/// limit, is still judged against that baseline: a KernelBench Model's fp32 or fp64 output (the
/// Model, run eagerly in its own precision, is the honest implementation; a deep network's fp32
/// rounding, ResNet-101's about 1e-4 normwise, can exceed a class limit made for one operation),
/// and only while [`NORMWISE_MULTIPLE`] times that error stays within the TF32 class's limit, the
/// next precision down. Anything beyond is not an fp32 computation and calibrates nothing.
pub fn calibrates_beyond_class(problem: &Problem, class: ToleranceClass, normwise: f64) -> bool {
    problem.torch().is_some()
        && matches!(class, ToleranceClass::Fp32 | ToleranceClass::Fp64)
        && NORMWISE_MULTIPLE * normwise <= ToleranceClass::Tf32.tolerance().normwise
}

/// An output's bounds, as judged: the elementwise factor (bound = factor × scale + the type's
/// underflow), the normwise limit, and the calibration behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub factor: f64,
    pub normwise: f64,
    pub baseline: Option<BaselineError>,
    pub elementwise_calibrated: bool,
    pub normwise_calibrated: bool,
    pub uncalibrated: Option<String>,
}

impl Bounds {
    /// The bounds of an output of `dtype` judged in `class` for sums of `terms`, given its
    /// calibration (which says whether the elementwise, the normwise bound or both are
    /// calibrated: `calibrates`).
    ///
    /// - Elementwise, calibrated: [`ELEMENTWISE_MULTIPLE`] times the baseline's worst error over
    ///   scale, plus [`Tolerance::calibration_slack`]. It replaces the class's bound, whose K is
    ///   a guess for an opaque Model; the slack alone never exceeds that bound.
    /// - Normwise, calibrated: [`NORMWISE_MULTIPLE`] times the baseline's, at least one rounding
    ///   into the output's type (a baseline that happens to be exact does not make it zero), and
    ///   never above the class's limit, which stays the outer one.
    /// - A baseline itself outside the class (only as [`calibrates_beyond_class`] allows): the
    ///   normwise limit is [`NORMWISE_MULTIPLE`] times the baseline's, above the class's.
    pub fn of(
        class: ToleranceClass,
        dtype: Dtype,
        terms: usize,
        wanted: (bool, bool),
        calibration: &Calibrated,
    ) -> Bounds {
        let tol = class.tolerance();
        let mut b = Bounds {
            factor: tol.elementwise_factor(terms),
            normwise: tol.normwise,
            baseline: None,
            elementwise_calibrated: false,
            normwise_calibrated: false,
            uncalibrated: None,
        };
        match calibration {
            Calibrated::Baseline(e) if wanted.0 || wanted.1 => {
                b.baseline = Some(*e);
                if wanted.0 {
                    b.factor = ELEMENTWISE_MULTIPLE * e.worst + tol.calibration_slack(terms);
                    b.elementwise_calibrated = true;
                }
                if wanted.1 {
                    b.normwise = (NORMWISE_MULTIPLE * e.normwise).max(storage_roundoff(dtype)).min(tol.normwise);
                    b.normwise_calibrated = true;
                }
                if e.normwise > tol.normwise {
                    b.normwise = NORMWISE_MULTIPLE * e.normwise;
                    b.normwise_calibrated = true;
                }
            }
            Calibrated::Unavailable(why) if wanted.0 || wanted.1 => b.uncalibrated = Some(why.clone()),
            _ => {}
        }
        b
    }
}

/// Which bounds were calibrated (an alias, so that serde's derive does not borrow it from its input).
pub type BoundsWord = &'static str;

/// `Accuracy::tolerance` of a record from before it was written: those runs judged every output
/// in the review's `--precision`, fp32 unless told otherwise.
fn unrecorded_tolerance() -> ToleranceClass {
    ToleranceClass::Fp32
}

/// `Accuracy::calibrated` read back: one of its three words; anything else was not written by sadoku.
fn calibrated_bounds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    let word: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(word.and_then(|w| ["elementwise", "normwise", "both"].into_iter().find(|k| *k == w)))
}

/// The element furthest outside (or closest to) its bound.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Worst {
    #[serde(default)]
    pub at: Vec<usize>,
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub got: f64,
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub expected: f64,
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub abs_error: f64,
    /// Error over the element's bound: above 1 fails.
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Accuracy {
    #[serde(default)]
    pub buffer: String,
    /// The class it is judged in.
    #[serde(default = "unrecorded_tolerance")]
    pub tolerance: ToleranceClass,
    /// ‖got − truth‖₂ / ‖truth‖₂ (NaN when any value is not finite).
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub normwise: f64,
    pub class: PrecisionClass,
    /// Elements outside their elementwise bound.
    #[serde(default)]
    pub over_bound: usize,
    /// Elements that are NaN or infinite where the truth is finite.
    #[serde(default)]
    pub nonfinite: usize,
    #[serde(default)]
    pub worst: Option<Worst>,
    /// The normwise limit it is held to: its class's, or the calibrated one where tighter.
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub normwise_limit: f64,
    /// The elementwise bound's factor: an element's bound is this times its error scale (plus
    /// the type's underflow).
    #[serde(default, deserialize_with = "crate::stats::nan_if_null")]
    pub factor: f64,
    /// The baseline's own normwise error on the same inputs, when calibrated against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_normwise: Option<f64>,
    /// The baseline's worst error over its element's scale on the same inputs, when calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_worst: Option<f64>,
    /// Which bounds were calibrated against the baseline: "elementwise", "normwise", "both".
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "calibrated_bounds")]
    pub calibrated: Option<BoundsWord>,
    /// Why the bounds were not calibrated where they would have been: the uncalibrated bounds
    /// (finite, the class's) applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated: Option<String>,
}

/// How a calibration says that the baseline itself was outside its output's class (and beyond
/// [`calibrates_beyond_class`]): the start of its [`Calibrated::Unavailable`] reason.
pub const BASELINE_OUTSIDE: &str = "the baseline's own normwise error";

/// How a calibration says that the baseline gave non-finite values where the truth is finite
/// (its float32 run overflowed): the start of its [`Calibrated::Unavailable`] reason.
pub const BASELINE_NONFINITE: &str = "the baseline left";

/// How the bridge says that the problem's own Model, loaded as the baseline, gave other outputs
/// when called twice on the same inputs (a random draw in its forward, a dropout in training
/// mode): words within the calibration's [`Calibrated::Unavailable`] reason ("the baseline
/// failed: ..."), as `python/sadoku_bridge/worker.py` raises them.
pub const BASELINE_RANDOM: &str = "its forward gives other outputs on the same inputs";

/// How a review's one-line reason begins when its problem cannot be judged in its class (see
/// [`Accuracy::unjudgeable`]).
pub const UNJUDGEABLE: &str = "cannot be judged in the";

impl Accuracy {
    pub fn passes(&self) -> bool {
        self.nonfinite == 0 && self.over_bound == 0 && self.normwise <= self.normwise_limit
    }

    /// These bounds (calibrated or not) on the record: the comparison behind `self` must have
    /// used `bounds.factor`.
    pub fn with_bounds(mut self, bounds: &Bounds) -> Accuracy {
        self.normwise_limit = bounds.normwise;
        self.factor = bounds.factor;
        self.baseline_normwise = bounds.baseline.map(|b| b.normwise);
        self.baseline_worst = bounds.baseline.map(|b| b.worst);
        self.calibrated = match (bounds.elementwise_calibrated, bounds.normwise_calibrated) {
            (true, true) => Some("both"),
            (true, false) => Some("elementwise"),
            (false, true) => Some("normwise"),
            (false, false) => None,
        };
        self.uncalibrated = bounds.uncalibrated.clone();
        self
    }

    /// Why a failing output of `problem`'s says nothing of the candidate: the problem is a
    /// KernelBench Model whose own float32 run, the honest implementation the problem defines, is
    /// itself outside this output's class on the same inputs, beyond what calibration takes
    /// ([`calibrates_beyond_class`]). No bound of the class then tells a right answer from a
    /// wrong one (KernelBench's EfficientNetB2 at batch 2, BatchNorm on batch statistics of a
    /// few values: its own float32 run 4.46e-1 from its float64 truth), or whose own float32
    /// run gave non-finite values where the truth is finite (Mamba2 at its published size, whose
    /// truth reaches 8e38, beyond float32), or whose own Model answers differently on the same
    /// inputs ([`BASELINE_RANDOM`]: its truth is one random draw among many). The judge's own
    /// measurement, never the candidate's: a candidate within the class is still accepted.
    pub fn unjudgeable(&self, problem: &Problem) -> Option<String> {
        let why = self.uncalibrated.as_deref()?;
        let random = why.contains(BASELINE_RANDOM);
        let outside = why.starts_with(BASELINE_OUTSIDE) || why.starts_with(BASELINE_NONFINITE) || random;
        if self.passes() || problem.torch().is_none() || !outside {
            return None;
        }
        if random {
            // Its truth is one draw among many: no candidate's answer can be told right or wrong.
            return Some(format!(
                "`{}` {UNJUDGEABLE} {} class: {why}; the candidate's error was {:.2e} with {} non-finite values",
                problem.name, self.tolerance, self.normwise, self.nonfinite
            ));
        }
        Some(format!(
            "`{}` {UNJUDGEABLE} {} class: {why} (the baseline is its own Model in its own dtypes, against \
             its float64 truth on the same inputs; the class allows {:.0e} normwise and no non-finite \
             value), so no bound tells a right answer from a wrong one on its inputs; the candidate's \
             error was {:.2e} with {} non-finite values",
            problem.name,
            self.tolerance,
            self.tolerance.tolerance().normwise,
            self.normwise,
            self.nonfinite
        ))
    }

    /// The normwise error as a multiple of the baseline's on the same inputs, when calibrated.
    pub fn baseline_multiple(&self) -> Option<f64> {
        let b = self.baseline_normwise?;
        Some(if b > 0.0 {
            self.normwise / b
        } else if self.normwise > 0.0 {
            f64::INFINITY
        } else {
            1.0
        })
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
        let calibrated = |what: &str| self.calibrated.is_some_and(|c| c == what || c == "both");
        Some(if self.nonfinite > 0 {
            format!("{} non-finite values in {}{worst}", self.nonfinite, self.buffer)
        } else if self.tolerance == ToleranceClass::Exact {
            format!("{} elements of {} differ from the exact answer{worst}", self.over_bound, self.buffer)
        } else if self.normwise > tol.normwise && self.normwise_limit <= tol.normwise {
            format!(
                "normwise relative error {:.2e} exceeds {:.0e} (error looks like {} precision){worst}",
                self.normwise, tol.normwise, self.class
            )
        } else if self.normwise > self.normwise_limit && calibrated("normwise") {
            let b = self.baseline_normwise.unwrap_or(0.0);
            // A baseline itself outside the class (`calibrates_beyond_class`) sets the limit.
            let class = if self.normwise_limit > tol.normwise {
                format!("the baseline itself is outside the {} class's {:.0e}", self.tolerance, tol.normwise)
            } else {
                format!("the {} class alone allows {:.0e}", self.tolerance, tol.normwise)
            };
            format!(
                "normwise relative error {:.2e} of {} is {:.1}× the baseline's {:.2e} on the same inputs (at most \
                 {}×, {:.2e}; {class}: error looks like {} precision){worst}",
                self.normwise,
                self.buffer,
                self.baseline_multiple().unwrap_or(f64::INFINITY),
                b,
                NORMWISE_MULTIPLE,
                self.normwise_limit,
                self.class
            )
        } else if calibrated("elementwise") {
            let of_scale = self.worst.as_ref().map_or(String::new(), |w| {
                let b = self.baseline_worst.unwrap_or(0.0);
                let times = if b > 0.0 {
                    format!(", {:.1}× the baseline's worst", w.ratio * self.factor / b)
                } else {
                    String::new()
                };
                format!(" (the worst {:.2e} of its error scale{times})", w.ratio * self.factor)
            });
            format!(
                "{} elements of {} outside {}× the baseline's worst error ({:.2e} of the error scale) plus the {} \
                 rounding slack{of_scale}{worst}",
                self.over_bound,
                self.buffer,
                ELEMENTWISE_MULTIPLE,
                self.baseline_worst.unwrap_or(0.0),
                self.tolerance
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
        normwise_limit: tolerance.tolerance().normwise,
        factor: 0.0,
        baseline_normwise: None,
        baseline_worst: None,
        calibrated: None,
        uncalibrated: None,
    }
}

#[cfg(test)]
mod tests;
