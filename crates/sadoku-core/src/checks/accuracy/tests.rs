use super::*;
use crate::device::{PoisonWords, compare_host};
use crate::problem::{Reference, Role, Structure};
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
        BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![rows], structure: Structure::Dense },
    )
}

/// The check as the judge makes it: the comparator's definition, then its report.
fn assess(buffer: &BufferSpec, got: &[f32], truth: &Reference, tol: &Tolerance) -> Accuracy {
    let bits: Vec<u64> = got.iter().map(|x| x.to_bits() as u64).collect();
    let factor = tol.elementwise_factor(truth.terms);
    let poison = PoisonWords::Word(crate::checks::POISON_NAN);
    from_comparison(buffer, &compare_host(Dtype::F32, &bits, &truth.values, &truth.scale, factor, poison), tol.class)
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
        BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![2, 2], structure: Structure::Dense };
    let truth = Reference { values: vec![1.0, 0.0, 2.0, 3.0], scale: vec![1.0, 0.0, 2.0, 3.0], terms: 2 };
    assert!(assess(&buf, &[1.0, 0.0, 2.0, 3.0], &truth, &Tolerance::FP32).passes());
    let acc = assess(&buf, &[1.0, 1e-30, 2.0, 3.0], &truth, &Tolerance::FP32);
    assert_eq!((acc.over_bound, acc.worst.unwrap().at), (1, vec![0, 1]));
}

#[test]
fn the_classical_bound_is_unchanged_up_to_k_65536_and_held_beyond() {
    for k in [1usize, 17, 4096, 65_536] {
        let ku = k as f64 * U_FP32;
        let classical = 2.0 * ku / (1.0 - ku) + 32.0 * U_FP32;
        assert_eq!(Tolerance::FP32.elementwise_factor(k), classical, "k = {k}");
    }
    let held = Tolerance::FP32.elementwise_factor(65_536);
    for k in [65_537usize, 1 << 23, 100_000_000, 1 << 40, usize::MAX] {
        assert_eq!(Tolerance::FP32.elementwise_factor(k), held, "k = {k}");
    }
    // An element off by 1 % of its error scale is over the bound at any K, in every class
    // whose arithmetic is fp32 (a bf16 or fp16 result adds its own rounding, 2·2⁻⁸ or 2·2⁻¹¹).
    assert!(held < 0.008, "{held}");
    for tol in [Tolerance::FP32, Tolerance::FP16, Tolerance::FP64, Tolerance::TF32] {
        assert!(tol.elementwise_factor(usize::MAX) < 0.01 + 32.0 * tol.unit_roundoff + 2.0 * tol.output_roundoff);
    }
}

proptest::proptest! {
    #[test]
    fn the_factor_is_finite_and_non_decreasing_in_k(a in 0usize..usize::MAX, b in 0usize..usize::MAX) {
        let (lo, hi) = (a.min(b), a.max(b));
        for tol in [Tolerance::FP64, Tolerance::FP32, Tolerance::TF32, Tolerance::FP16, Tolerance::BF16, Tolerance::EXACT] {
            let (f, g) = (tol.elementwise_factor(lo), tol.elementwise_factor(hi));
            proptest::prop_assert!(f.is_finite() && g.is_finite() && f >= 0.0);
            proptest::prop_assert!(f <= g, "{:?}: factor({}) = {} > factor({}) = {}", tol.class, lo, f, hi, g);
            let (s, t) = (tol.calibration_slack(lo), tol.calibration_slack(hi));
            proptest::prop_assert!(s.is_finite() && s <= t && s <= f.max(tol.elementwise_factor(1)));
        }
    }
}

/// A fast generator for long sums: xorshift64*, uniform in [0, 1).
struct Fast(u64);
impl Fast {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A sum of `k` terms as a GPU reduction computes it: fp32 chunks of `chunk` terms summed
/// sequentially, their partials combined pairwise; and the exact sum and Σ|x|.
fn blocked_sum(k: usize, chunk: usize, zero_mean: bool, seed: u64) -> (f32, f64, f64) {
    let mut g = Fast(seed | 1);
    let (mut partials, mut exact, mut mag) = (Vec::new(), 0f64, 0f64);
    let mut left = k;
    while left > 0 {
        let n = left.min(chunk);
        let mut acc = 0f32;
        for _ in 0..n {
            let x = if zero_mean { g.next() - 0.5 } else { g.next() };
            acc += x;
            exact += x as f64;
            mag += x.abs() as f64;
        }
        partials.push(acc);
        left -= n;
    }
    while partials.len() > 1 {
        partials = partials.chunks(2).map(|p| p.iter().sum()).collect();
    }
    (partials[0], exact, mag)
}

#[test]
fn honest_long_sums_pass_at_any_length_and_a_one_percent_error_does_not() {
    // A GPU reduction's chunks (a thread's or a block's share) up to 2¹⁶ terms, sums up to 10⁸
    // terms; and plain sequential sums up to 2²⁰ terms, inside by the probabilistic argument.
    for (k, chunk) in [(1 << 20, 1 << 20), (1 << 20, 256), (10_000_000, 4096), (100_000_000, 65_536)] {
        for zero_mean in [false, true] {
            let (got, exact, mag) = blocked_sum(k, chunk, zero_mean, k as u64 ^ chunk as u64);
            let factor = Tolerance::FP32.elementwise_factor(k);
            let ratio = (got as f64 - exact).abs() / (factor * mag);
            assert!(ratio < 0.5, "k = {k}, chunk {chunk}, zero mean {zero_mean}: {ratio} of the bound");
            let wrong = exact + 0.01 * mag;
            assert!((wrong - exact).abs() > factor * mag, "a 1 % error at k = {k} is caught");
        }
    }
}

/// Rows of a bf16-operand GEMM: randn operands rounded to bf16, the truth and scale in fp64,
/// and the result by `accumulate` (the operand pairs in order) rounded once to bf16.
fn bf16_gemm(rows: usize, k: usize, accumulate: impl Fn(&[(f32, f32)]) -> f32) -> (Vec<u64>, Reference) {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let bf16 = |x: f32| element::value(Dtype::Bf16, element::from_f32(Dtype::Bf16, x)) as f32;
    let (mut got, mut values, mut scale) = (vec![], vec![], vec![]);
    for _ in 0..rows {
        let pairs: Vec<(f32, f32)> =
            (0..k).map(|_| (bf16(rng.sample(StandardNormal)), bf16(rng.sample(StandardNormal)))).collect();
        values.push(pairs.iter().map(|&(a, b)| a as f64 * b as f64).sum());
        scale.push(pairs.iter().map(|&(a, b)| (a as f64 * b as f64).abs()).sum());
        got.push(element::from_f32(Dtype::Bf16, accumulate(&pairs)));
    }
    (got, Reference { values, scale, terms: k })
}

fn compared(got: &[u64], truth: &Reference, factor: f64) -> Comparison {
    let poison = PoisonWords::Word(crate::checks::poison_nan(Dtype::Bf16));
    compare_host(Dtype::Bf16, got, &truth.values, &truth.scale, factor, poison)
}

#[test]
fn a_bf16_accumulation_inside_the_class_is_caught_against_the_baseline() {
    let fp32 = |p: &[(f32, f32)]| p.iter().fold(0f32, |acc, &(a, b)| a.mul_add(b, acc));
    // Another honest order: four interleaved fp32 accumulators, as a vectorised kernel keeps.
    let lanes = |p: &[(f32, f32)]| {
        let mut acc = [0f32; 4];
        for (i, &(a, b)) in p.iter().enumerate() {
            acc[i % 4] = a.mul_add(b, acc[i % 4]);
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    };
    // fp32 inside each 16-term MMA step, the accumulator rounded to bf16 between steps.
    let bf16_acc = |p: &[(f32, f32)]| {
        p.chunks(16).fold(0f32, |acc, c| {
            let sum = c.iter().fold(acc, |s, &(a, b)| a.mul_add(b, s));
            element::value(Dtype::Bf16, element::from_f32(Dtype::Bf16, sum)) as f32
        })
    };
    let spec =
        BufferSpec { name: "C", role: Role::Output, dtype: Dtype::Bf16, dims: vec![500], structure: Structure::Dense };
    // At K = 4096 the attack is just over the class (2.0e-2); below, inside it.
    for k in [1024, 2048] {
        let tol = Tolerance::BF16;
        let factor = tol.elementwise_factor(k);
        let (base, truth) = bf16_gemm(500, k, fp32);
        let b = compared(&base, &truth, 1.0);
        let calibration = Calibrated::Baseline(BaselineError { normwise: b.normwise(), worst: b.worst_ratio });
        let bounds = Bounds::of(ToleranceClass::Bf16, Dtype::Bf16, k, (false, true), &calibration);
        assert!(bounds.normwise < tol.normwise && bounds.factor == factor, "{bounds:?}");
        let judge = |got: &[u64]| from_comparison(&spec, &compared(got, &truth, factor), ToleranceClass::Bf16);
        let honest = judge(&bf16_gemm(500, k, lanes).0);
        assert!(honest.passes(), "the class alone passes it");
        let honest = honest.with_bounds(&bounds);
        assert!(honest.passes(), "k = {k}: {:?}", honest.failure());
        assert!(honest.baseline_multiple().unwrap() < 1.5, "{honest:?}");
        let attack = judge(&bf16_gemm(500, k, bf16_acc).0);
        assert!(attack.passes(), "k = {k}: inside the bf16 class ({:e}), as the issue found it", attack.normwise);
        let attack = attack.with_bounds(&bounds);
        let why = attack.failure().expect("rejected against the baseline");
        assert!(why.contains("× the baseline's") && why.contains("(at most 4×"), "{why}");
    }
}

#[test]
fn a_calibrated_elementwise_bound_replaces_the_guess_and_never_vanishes() {
    let k = 1 << 23;
    let e = BaselineError { normwise: 3e-8, worst: 6e-8 };
    let b = Bounds::of(ToleranceClass::Fp32, Dtype::F32, k, (true, false), &Calibrated::Baseline(e));
    assert!(b.elementwise_calibrated && !b.normwise_calibrated);
    assert!(b.factor < 2.5e-3 && b.factor > Tolerance::FP32.elementwise_factor(1), "{}", b.factor);
    assert_eq!(b.normwise, Tolerance::FP32.normwise);
    // An exact baseline leaves the slack: one rounded operation and the probabilistic term.
    let exact = Calibrated::Baseline(BaselineError { normwise: 0.0, worst: 0.0 });
    let b = Bounds::of(ToleranceClass::Bf16, Dtype::Bf16, 1, (true, true), &exact);
    assert!(b.factor >= Tolerance::BF16.elementwise_factor(1));
    assert_eq!(b.normwise, 1.0 / 256.0, "one rounding into bf16");
    // No baseline: the class's bounds, and the reason on the record.
    let none = Calibrated::Unavailable("no Python".into());
    let b = Bounds::of(ToleranceClass::Fp32, Dtype::F32, k, (true, false), &none);
    assert_eq!(b.factor, Tolerance::FP32.elementwise_factor(k));
    assert_eq!(b.uncalibrated.as_deref(), Some("no Python"));
}

#[test]
fn low_precision_outputs_calibrate_their_normwise_limit_against_a_baseline_of_their_precision() {
    let library = crate::problem::Registry::library();
    let find = |name: &str| &**library.find(name).unwrap();
    let (fp32, tf32, bf16) = (ToleranceClass::Fp32, ToleranceClass::Tf32, ToleranceClass::Bf16);
    // cuBLAS's bf16 GEMM, in bf16; an fp32 GEMM's cuBLAS only under a TF32 review.
    assert_eq!(calibrates(find("gemm_bf16"), bf16, Dtype::Bf16, fp32), (false, true));
    assert_eq!(calibrates(find("gemm_fp16"), ToleranceClass::Fp16, Dtype::F16, fp32), (false, true));
    assert_eq!(calibrates(find("gemm_square"), fp32, Dtype::F32, fp32), (false, false));
    assert_eq!(calibrates(find("gemm_square"), tf32, Dtype::F32, tf32), (false, true));
    // cuDNN's softmax is fp32 whatever the review: a TF32 candidate is not held to it.
    assert_eq!(calibrates(find("softmax"), tf32, Dtype::F32, tf32), (false, false));
    // A PyTorch expression in the problem's own dtypes.
    assert_eq!(calibrates(find("rmsnorm_bf16"), bf16, Dtype::Bf16, fp32), (false, true));
    // Exact outputs never.
    assert_eq!(calibrates(find("argmax_dim"), ToleranceClass::Exact, Dtype::I64, fp32), (false, false));
}

#[test]
fn non_finite_values_fail_with_their_position() {
    let buf =
        BufferSpec { name: "C", role: Role::Output, dtype: Dtype::F32, dims: vec![2, 2], structure: Structure::Dense };
    let truth = Reference { values: vec![1.0; 4], scale: vec![1.0; 4], terms: 1 };
    let acc = assess(&buf, &[1.0, 1.0, f32::NAN, 1.0], &truth, &Tolerance::FP32);
    assert_eq!(acc.nonfinite, 1);
    assert_eq!(acc.class, PrecisionClass::Wrong);
    let why = acc.failure().unwrap();
    assert!(why.starts_with("1 non-finite values in C; worst at (1, 0)"), "{why}");
}

/// A deep Model's fp32 output, whose eager baseline is itself outside the fp32 class (ResNet-101
/// on an H100: 1.1e-4 normwise against the class's 1e-5, so its own Model submitted as ModelNew
/// was rejected): judged against 4× the baseline, never past the TF32 class's limit; a TF32
/// candidate of the same network (6.9e-2 on the H100) stays rejected, and outputs of a library
/// problem or a low-precision class are not moved.
#[test]
fn a_models_fp32_output_beyond_its_class_is_judged_against_its_baseline_up_to_tf32() {
    let library = crate::problem::Registry::library();
    let trimm = &**library.find("trimm").unwrap();
    let description = serde_json::json!({
        "problem": "deep", "seed": 3, "constants": {"BATCH": 8, "IN": 16},
        "inputs": [{"name": "x", "index": 0, "dtype": "f32", "shape": [8, 16], "structure": "dense",
                    "distribution": {"kind": "empirical", "min": -2.0, "max": 3.0, "mean": 0.4, "std": 1.1}}],
        "outputs": [{"name": "out0", "dtype": "f32", "shape": [8, 16]}]
    });
    let model = crate::problem::torch::from_description("kb/1_deep.py", "source".into(), &description).unwrap();
    let fp32 = ToleranceClass::Fp32;
    assert!(calibrates_beyond_class(&model, fp32, 1.1e-4));
    assert!(!calibrates_beyond_class(&model, fp32, 1e-3), "4x of it is past TF32's limit");
    assert!(!calibrates_beyond_class(&model, ToleranceClass::Bf16, 3e-2));
    assert!(!calibrates_beyond_class(trimm, fp32, 1.1e-4), "a library problem's class is the outer limit");
    let deep = Calibrated::Baseline(BaselineError { normwise: 1.1e-4, worst: 4e-3 });
    let b = Bounds::of(fp32, Dtype::F32, 4096, (true, false), &deep);
    assert!(b.normwise_calibrated && b.elementwise_calibrated, "{b:?}");
    assert!((b.normwise - 4.4e-4).abs() < 1e-12, "{}", b.normwise);
    let honest = |normwise: f64| Accuracy {
        buffer: "out0".into(),
        tolerance: fp32,
        normwise,
        class: PrecisionClass::Fp32,
        over_bound: 0,
        nonfinite: 0,
        worst: None,
        normwise_limit: Tolerance::FP32.normwise,
        factor: b.factor,
        baseline_normwise: None,
        baseline_worst: None,
        calibrated: None,
        uncalibrated: None,
    };
    // The Model itself, and another fp32 order of the same sums: accepted.
    assert!(honest(1.1e-4).with_bounds(&b).passes());
    assert!(honest(2.5e-4).with_bounds(&b).passes());
    // Convolutions in TF32: rejected, against the baseline.
    let tf32 = honest(6.9e-2).with_bounds(&b);
    assert!(!tf32.passes());
    let why = tf32.failure().unwrap();
    assert!(why.contains("the baseline itself is outside the fp32 class's 1e-5"), "{why}");
    // A baseline within the class leaves the class's limit as it was.
    let within = Calibrated::Baseline(BaselineError { normwise: 3e-7, worst: 1e-6 });
    assert_eq!(Bounds::of(fp32, Dtype::F32, 4096, (true, false), &within).normwise, Tolerance::FP32.normwise);
}
