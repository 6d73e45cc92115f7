//! The comparator: what the judge's GPU reduces a candidate's output to, so that only a summary
//! crosses to the host. [`compare_host`] and [`diff_host`] define it exactly; the device helpers
//! compute the same (counts, worst element and its index bit for bit; the two sums up to the order
//! of fp64 additions), and the judge cross-checks the two at small sizes.

use serde::{Deserialize, Serialize};

use super::PoisonWords;
use super::element;
use crate::vocab::Dtype;

/// No index: nothing of that kind was found.
pub const NONE: u64 = u64::MAX;

/// A candidate's output against the fp64 truth, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub elements: u64,
    /// Σ (got − truth)² over the finite elements.
    pub err2: f64,
    /// Σ truth².
    pub ref2: f64,
    /// Σ scale² over the elements whose error scale is finite.
    #[serde(default)]
    pub scale2: f64,
    /// The most terms summed into one element (the problem's `terms`), set by the judge after the
    /// device's words are read; 0 when unknown (then [`Comparison::normwise`] is the plain ratio).
    #[serde(default)]
    pub terms: u64,
    /// The least magnitude the output's norm is taken at, per element: the output type's underflow
    /// term over its unit roundoff, below which one underflow-sized error (which the elementwise
    /// bound allows) is more than one rounding. Set by the judge with `terms`; 0 when unknown.
    #[serde(default)]
    pub tiny: f64,
    /// Elements whose error is over their bound (non-finite ones included).
    pub over_bound: u64,
    /// Elements that are NaN or infinite.
    pub nonfinite: u64,
    /// Elements still holding their poison word where that word is not itself an acceptable answer.
    pub unwritten: u64,
    pub first_unwritten: u64,
    /// Largest error over bound (+∞ for a non-finite element or an error where the bound is 0),
    /// and the lowest index that has it.
    pub worst_ratio: f64,
    pub worst_index: u64,
    /// The element's bits, in the output's dtype.
    pub worst_got: u64,
    pub worst_expected: f64,
}

impl Comparison {
    /// u64 words the device writes.
    pub const WORDS: usize = 16;

    pub fn from_words(w: &[u64]) -> Comparison {
        Comparison {
            err2: f64::from_bits(w[0]),
            ref2: f64::from_bits(w[1]),
            over_bound: w[2],
            nonfinite: w[3],
            unwritten: w[4],
            first_unwritten: w[5],
            worst_ratio: f64::from_bits(w[6]),
            worst_index: w[7],
            worst_got: w[8],
            worst_expected: f64::from_bits(w[9]),
            elements: w[10],
            scale2: f64::from_bits(w[11]),
            terms: 0,
            tiny: 0.0,
        }
    }

    pub fn to_words(&self) -> [u64; Self::WORDS] {
        let mut w = [0u64; Self::WORDS];
        w[0] = self.err2.to_bits();
        w[1] = self.ref2.to_bits();
        w[2] = self.over_bound;
        w[3] = self.nonfinite;
        w[4] = self.unwritten;
        w[5] = self.first_unwritten;
        w[6] = self.worst_ratio.to_bits();
        w[7] = self.worst_index;
        w[8] = self.worst_got;
        w[9] = self.worst_expected.to_bits();
        w[10] = self.elements;
        w[11] = self.scale2.to_bits();
        w
    }

    /// The same summary, for an output of `dtype` whose elements each sum at most `terms` terms.
    pub fn judged(self, terms: usize, dtype: Dtype) -> Comparison {
        Comparison { terms: terms as u64, tiny: element::underflow(dtype) / element::unit_roundoff(dtype), ..self }
    }

    /// ‖got − truth‖₂ / max(‖truth‖₂, ‖scale‖₂ / √terms, √n·tiny); NaN when any element is not
    /// finite.
    ///
    /// The precision classes are normwise errors on zero-mean inputs, where a sum of K terms is
    /// typically √K times smaller than the sum of their magnitudes (the error scale). An output of
    /// a few elements can cancel far below that by chance (two row sums of 100,003 draws, one of
    /// them 12.8 where 253 is typical), and the honest rounding error, which follows the
    /// magnitudes, then looks like a lower precision. So the norm of the truth is never taken
    /// below the typical ‖scale‖/√K; with many elements, or without cancellation, it is the
    /// larger and the measure is the plain ‖got − truth‖/‖truth‖. Elementwise outputs (K < 2) keep
    /// the plain ratio. Nor is an output whose values all lie near or below its type's normal range
    /// (a stress profile's subnormal draws) judged by relative error there: the norm is taken at
    /// least at `tiny` per element (see [`Comparison::tiny`]).
    pub fn normwise(&self) -> f64 {
        let floor = if self.terms >= 2 { self.scale2 / self.terms as f64 } else { 0.0 };
        let tiny = self.elements as f64 * self.tiny * self.tiny;
        let reference = self.ref2.max(floor).max(tiny);
        if self.nonfinite > 0 {
            f64::NAN
        } else if reference > 0.0 {
            (self.err2 / reference).sqrt()
        } else {
            self.err2.sqrt()
        }
    }
}

/// Error over bound of one element (its bits in `dtype`), as sadoku's accuracy check defines it:
/// the bound is `factor × scale` plus the type's [`element::underflow`].
pub fn ratio(dtype: Dtype, got: u64, truth: f64, scale: f64, factor: f64) -> f64 {
    if !element::finite(dtype, got) {
        return f64::INFINITY;
    }
    let err = (element::value(dtype, got) - truth).abs();
    let bound = factor * scale + element::underflow(dtype);
    if err == 0.0 {
        0.0
    } else if bound == 0.0 {
        f64::INFINITY
    } else {
        err / bound
    }
}

/// The comparator's definition: `got` (elements of `dtype`, as bits) against `values` with
/// per-element bounds `factor × scale`, and the poison each element held before the launch.
pub fn compare_host(
    dtype: Dtype,
    got: &[u64],
    values: &[f64],
    scale: &[f64],
    factor: f64,
    poison: PoisonWords,
) -> Comparison {
    let mut c = Comparison {
        elements: got.len() as u64,
        err2: 0.0,
        ref2: 0.0,
        scale2: 0.0,
        terms: 0,
        tiny: 0.0,
        over_bound: 0,
        nonfinite: 0,
        unwritten: 0,
        first_unwritten: NONE,
        worst_ratio: -1.0,
        worst_index: NONE,
        worst_got: 0,
        worst_expected: 0.0,
    };
    for (i, ((&bits, &t), &s)) in got.iter().zip(values).zip(scale).enumerate() {
        let r = ratio(dtype, bits, t, s, factor);
        if bits == poison.element(i as u64, dtype) && r > 1.0 {
            c.unwritten += 1;
            if c.first_unwritten == NONE {
                c.first_unwritten = i as u64;
            }
        }
        if element::finite(dtype, bits) {
            let err = element::value(dtype, bits) - t;
            c.err2 += err * err;
        } else {
            c.nonfinite += 1;
        }
        c.ref2 += t * t;
        if s.is_finite() {
            c.scale2 += s * s;
        }
        if r > 1.0 {
            c.over_bound += 1;
        }
        if r > c.worst_ratio {
            c.worst_ratio = r;
            c.worst_index = i as u64;
            c.worst_got = bits;
            c.worst_expected = t;
        }
    }
    c
}

/// Two outputs for the same inputs, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub bits_differ: u64,
    /// Elements that differ by more than their rounding bound (or one NaN and one not).
    pub moved: u64,
    pub first_moved: u64,
    /// The two runs' bits of the first element that moved, in the output's dtype.
    pub first_value: u64,
    pub second_value: u64,
}

impl Difference {
    pub const WORDS: usize = 8;

    pub fn from_words(w: &[u64]) -> Difference {
        Difference { bits_differ: w[0], moved: w[1], first_moved: w[2], first_value: w[3], second_value: w[4] }
    }

    pub fn to_words(&self) -> [u64; Self::WORDS] {
        let mut w = [0u64; Self::WORDS];
        w[0] = self.bits_differ;
        w[1] = self.moved;
        w[2] = self.first_moved;
        w[3] = self.first_value;
        w[4] = self.second_value;
        w
    }
}

/// The determinism comparator's definition, over elements of `dtype`.
pub fn diff_host(dtype: Dtype, first: &[u64], second: &[u64], scale: &[f64], factor: f64) -> Difference {
    let mut d = Difference { bits_differ: 0, moved: 0, first_moved: NONE, first_value: 0, second_value: 0 };
    for (i, ((&a, &b), &s)) in first.iter().zip(second).zip(scale).enumerate() {
        if a == b {
            continue;
        }
        d.bits_differ += 1;
        let both_nan = element::is_nan(dtype, a) && element::is_nan(dtype, b);
        let within =
            (element::value(dtype, a) - element::value(dtype, b)).abs() <= factor * s + 2.0 * element::underflow(dtype);
        if !both_nan && !within {
            d.moved += 1;
            if d.first_moved == NONE {
                d.first_moved = i as u64;
                d.first_value = a;
                d.second_value = b;
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::accuracy::Tolerance;
    use crate::checks::{POISON_NAN, poison_nan};
    use crate::device::{pattern_element, pattern_word};

    fn f32_bits(v: &[f32]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits() as u64).collect()
    }

    /// Two row sums of 100,003 standard normal draws, cancelled by chance to 3.0 (253 is
    /// typical): honest fp32 rounding looks like a lower precision against ‖truth‖ alone, and is
    /// fp32 against the typical magnitude ‖scale‖/√K; TF32-rounded operands stay far outside.
    #[test]
    fn the_normwise_error_does_not_mistake_chance_cancellation_for_lost_precision() {
        use rand::{Rng, SeedableRng};
        let k = 100_003;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let draws: Vec<f32> = (0..k).map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal)).collect();
        let exact: f64 = draws.iter().map(|&x| x as f64).sum();
        let magnitude: f64 = draws.iter().map(|&x| (x as f64).abs()).sum();
        // The truth as if cancelled to 3.0; an honest fp32 sum's error (blocks of 256 summed
        // sequentially, then the blocks' sums, as a reduction kernel does).
        let partial: Vec<f32> = draws.chunks(256).map(|c| c.iter().sum::<f32>()).collect();
        let honest_error = partial.iter().sum::<f32>() as f64 - exact;
        let truth = [3.0, 3.0];
        let scale = [magnitude, magnitude];
        let got = f32_bits(&[(3.0 + honest_error) as f32, (3.0 + honest_error) as f32]);
        let factor = Tolerance::FP32.elementwise_factor(k);
        let c = compare_host(Dtype::F32, &got, &truth, &scale, factor, PoisonWords::Word(POISON_NAN));
        let plain = c.normwise();
        let typical = c.judged(k, Dtype::F32).normwise();
        assert!(plain > 1e-5, "against ‖truth‖ alone the honest sum looks like a lower precision: {plain:e}");
        assert!(typical <= plain, "the floor only ever lowers the ratio: {typical} against {plain}");
        assert!(typical < 1e-5, "honest fp32 is fp32 against the typical magnitude: {typical:e}");
        // TF32 operands: each draw rounded to 10 mantissa bits, then summed.
        let tf32: f64 = draws.iter().map(|&x| f32::from_bits((x.to_bits() + 0x1000) & !0x1FFF) as f64).sum();
        let got = f32_bits(&[(3.0 + tf32 - exact) as f32, (3.0 + tf32 - exact) as f32]);
        let c = compare_host(Dtype::F32, &got, &truth, &scale, factor, PoisonWords::Word(POISON_NAN));
        assert!(
            c.judged(k, Dtype::F32).normwise() > 1e-5,
            "TF32 stays outside fp32: {:e}",
            c.judged(k, Dtype::F32).normwise()
        );
        // Without cancellation the measure is the plain one.
        let truth = [magnitude / 2.0, magnitude / 2.0];
        let got = f32_bits(&[(magnitude / 2.0 * (1.0 + 1e-6)) as f32, (magnitude / 2.0) as f32]);
        let c = compare_host(Dtype::F32, &got, &truth, &scale, factor, PoisonWords::Word(POISON_NAN));
        assert_eq!(c.judged(k, Dtype::F32).normwise(), c.normwise());
        // Elementwise outputs keep the plain ratio.
        assert_eq!(c.judged(1, Dtype::F32).normwise(), c.normwise());
    }

    /// A one-element bf16 output of a subnormal draw: gelu of 2.3e-40 computed with a flush to
    /// zero along the way is off by 20 % of itself but within the underflow term, and its normwise
    /// error is measured against the least normal-range magnitude, not against the value itself.
    #[test]
    fn an_output_below_the_normal_range_is_not_judged_by_relative_error() {
        let truth = [2.2958874e-40];
        let got = [(half::bf16::from_f64(1.8367099e-40).to_bits()) as u64];
        let factor = Tolerance::BF16.elementwise_factor(1);
        let c = compare_host(Dtype::Bf16, &got, &truth, &truth, factor, PoisonWords::Word(POISON_NAN));
        assert_eq!(c.over_bound, 0, "within the underflow term");
        assert!(c.normwise() > 0.1, "relative to itself: {:e}", c.normwise());
        let judged = c.judged(1, Dtype::Bf16).normwise();
        assert!(judged < 1e-3, "against the least normal-range magnitude: {judged:e}");
        // A normal-range output keeps the plain ratio.
        let truth = [1.5];
        let got = [(half::bf16::from_f64(1.5078125).to_bits()) as u64];
        let c = compare_host(Dtype::Bf16, &got, &truth, &truth, factor, PoisonWords::Word(POISON_NAN));
        assert_eq!(c.judged(1, Dtype::Bf16).normwise(), c.normwise());
    }

    /// Planted errors, NaNs, infinities and poison: every count, index and sum as defined.
    #[test]
    fn counts_planted_errors_nans_and_poison() {
        let n = 64 * 64;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 100.0 - 5.0).collect();
        let scale: Vec<f64> = values.iter().map(|v| v.abs() + 1.0).collect();
        let factor = Tolerance::FP32.elementwise_factor(64);
        let seed = 99;
        let mut got: Vec<u64> = values.iter().map(|&v| (v as f32).to_bits() as u64).collect();
        got[100] = (values[100] as f32 + 0.5).to_bits() as u64; // a planted error
        got[200] = f32::NAN.to_bits() as u64;
        got[300] = f32::INFINITY.to_bits() as u64;
        for i in [400usize, 401, 402] {
            got[i] = pattern_word(seed, i as u64) as u64; // left holding poison
        }
        let c = compare_host(Dtype::F32, &got, &values, &scale, factor, PoisonWords::Pattern(seed));
        assert_eq!((c.elements, c.over_bound, c.nonfinite), (n as u64, 6, 2));
        assert_eq!((c.unwritten, c.first_unwritten), (3, 400));
        assert!(c.normwise().is_nan(), "a non-finite element makes the normwise error NaN");
        // The worst is +∞ (the NaN), at the lowest index that has it.
        assert_eq!((c.worst_ratio, c.worst_index, c.worst_got), (f64::INFINITY, 200, f32::NAN.to_bits() as u64));
        assert_eq!(c.worst_expected, values[200]);
        assert_eq!(Comparison::from_words(&c.to_words()), c);

        // Finite errors only: the normwise error is ‖got − truth‖ / ‖truth‖.
        let mut fine: Vec<u64> = values.iter().map(|&v| (v as f32).to_bits() as u64).collect();
        fine[5] = (values[5] as f32 * 1.001).to_bits() as u64;
        let c = compare_host(Dtype::F32, &fine, &values, &scale, factor, PoisonWords::Word(POISON_NAN));
        let (err2, ref2) = fine.iter().zip(&values).fold((0.0, 0.0), |(e, r), (&g, &t)| {
            let d = f32::from_bits(g as u32) as f64 - t;
            (e + d * d, r + t * t)
        });
        assert!((c.normwise() - (err2 / ref2).sqrt()).abs() <= 1e-12);
        assert_eq!((c.over_bound, c.unwritten, c.worst_index), (1, 0, 5));
    }

    #[test]
    fn a_poison_word_that_is_a_right_answer_is_written() {
        let values = vec![f32::from_bits(pattern_word(1, 0)) as f64, 2.0];
        let got = vec![pattern_word(1, 0) as u64, 2f32.to_bits() as u64];
        let c = compare_host(Dtype::F32, &got, &values, &[1.0, 1.0], 1e-6, PoisonWords::Pattern(1));
        assert_eq!((c.unwritten, c.over_bound), (0, 0));
        let nan = compare_host(
            Dtype::F32,
            &[POISON_NAN as u64, 0],
            &values,
            &[1.0, 1.0],
            1e-6,
            PoisonWords::Word(POISON_NAN),
        );
        assert_eq!((nan.unwritten, nan.first_unwritten, nan.nonfinite), (1, 0, 1));
    }

    /// Every judged dtype: its poison is seen as unwritten, NaN only where the type has one, and
    /// an exact output (bound 0) fails on any difference.
    #[test]
    fn every_dtype_reads_its_own_elements_and_poison() {
        for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16, Dtype::I32, Dtype::I64] {
            let values = vec![1.0, -2.0, 3.0, 4.0];
            let exact = dtype == Dtype::I32 || dtype == Dtype::I64;
            let (scale, factor) =
                if exact { (vec![0.0; 4], 0.0) } else { (vec![4.0; 4], Tolerance::BF16.elementwise_factor(4)) };
            let mut got: Vec<u64> = values
                .iter()
                .map(|&v| if exact { element::from_i64(dtype, v as i64) } else { element::from_f32(dtype, v as f32) })
                .collect();
            let word = poison_nan(dtype);
            got[2] = PoisonWords::Word(word).element(2, dtype);
            got[3] = pattern_element(8, 3, dtype);
            let c = compare_host(dtype, &got, &values, &scale, factor, PoisonWords::Word(word));
            assert_eq!((c.unwritten, c.first_unwritten), (1, 2), "{dtype}");
            assert_eq!(
                c.nonfinite,
                if exact { 0 } else { 1 },
                "{dtype}: NaN poison is non-finite only in a float type"
            );
            assert_eq!(c.over_bound, 2, "{dtype}");
            let p = compare_host(dtype, &got, &values, &scale, factor, PoisonWords::Pattern(8));
            assert_eq!((p.unwritten, p.first_unwritten), (1, 3), "{dtype}");
            assert!(element::finite(dtype, pattern_element(8, 3, dtype)), "{dtype}: random poison is finite");
            // Off by one unit: over an exact bound always.
            if exact {
                let mut off = got.clone();
                off[2] = element::from_i64(dtype, 3);
                off[3] = element::from_i64(dtype, 5);
                let c = compare_host(dtype, &off, &values, &scale, 0.0, PoisonWords::Word(word));
                assert_eq!((c.over_bound, c.worst_index, c.worst_ratio), (1, 3, f64::INFINITY), "{dtype}");
                assert_eq!(element::value(dtype, c.worst_got), 5.0);
            }
        }
    }

    #[test]
    fn differences_count_what_moved_beyond_rounding() {
        let nudged = f32::from_bits(10f32.to_bits() + 1);
        let factor = Tolerance::FP32.elementwise_factor(64);
        let d = diff_host(Dtype::F32, &f32_bits(&[10.0; 4]), &f32_bits(&[10.0, nudged, 10.0, 7.5]), &[10.0; 4], factor);
        assert_eq!((d.moved, d.bits_differ, d.first_moved), (1, 2, 3));
        assert_eq!((f32::from_bits(d.first_value as u32), f32::from_bits(d.second_value as u32)), (10.0, 7.5));
        assert_eq!(Difference::from_words(&d.to_words()), d);
        let same =
            diff_host(Dtype::F32, &f32_bits(&[10.0; 4]), &f32_bits(&[10.0, nudged, 10.0, 10.0]), &[10.0; 4], factor);
        assert_eq!((same.moved, same.bits_differ, same.first_moved), (0, 1, NONE));
        // bf16: a one-unit change of the last place is rounding at bf16's bound; integers move at 1.
        let one = element::from_f32(Dtype::Bf16, 10.0);
        let d = diff_host(Dtype::Bf16, &[one], &[one + 1], &[10.0], Tolerance::BF16.elementwise_factor(1));
        assert_eq!((d.bits_differ, d.moved), (1, 0));
        let d = diff_host(Dtype::I64, &[3], &[4], &[0.0], 0.0);
        assert_eq!((d.moved, d.first_value, d.second_value), (1, 3, 4));
    }
}
