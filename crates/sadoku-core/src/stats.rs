//! Robust summaries of timing samples and the bootstrap interval of a speedup.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Resamples for a bootstrap interval (criterion uses 100 000; 10 000 resolves 2.5 % tails to
/// well under the noise of GPU timings).
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// serde_json writes a number that is not finite (a NaN error, an infinite ratio, an interval of
/// too few samples) as null: read back, null is NaN.
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let x: Option<f64> = serde::Deserialize::deserialize(d)?;
    Ok(x.unwrap_or(f64::NAN))
}

/// An interval read back, its nulls NaN (see [`nan_if_null`]).
pub fn nan_pair_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(f64, f64), D::Error> {
    let (a, b): (Option<f64>, Option<f64>) = serde::Deserialize::deserialize(d)?;
    Ok((a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
}

/// An optional interval read back, its nulls NaN (see [`nan_if_null`]).
pub fn nan_pair_if_null_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<(f64, f64)>, D::Error> {
    let pair: Option<(Option<f64>, Option<f64>)> = serde::Deserialize::deserialize(d)?;
    Ok(pair.map(|(a, b)| (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN))))
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub samples: usize,
    #[serde(default)]
    pub median: f64,
    #[serde(default)]
    pub q1: f64,
    #[serde(default)]
    pub q3: f64,
    #[serde(default)]
    pub min: f64,
    #[serde(default)]
    pub max: f64,
    #[serde(default)]
    pub mean: f64,
    /// Robust relative spread: IQR / 1.349 / median (for normal data, stdev / mean).
    #[serde(default)]
    pub noise: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let median = quantile(&s, 0.5);
        let (q1, q3) = (quantile(&s, 0.25), quantile(&s, 0.75));
        Some(Summary {
            samples: s.len(),
            median,
            q1,
            q3,
            min: s[0],
            max: s[s.len() - 1],
            mean: s.iter().sum::<f64>() / s.len() as f64,
            noise: if median > 0.0 { (q3 - q1) / 1.349 / median } else { f64::INFINITY },
        })
    }

    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// Linear-interpolated quantile of sorted data.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn median_in_place(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    let (_, &mut m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if v.len() % 2 == 1 {
        m
    } else {
        let below = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + m) / 2.0
    }
}

/// 95 % percentile-bootstrap interval of the median of `samples`.
pub fn median_interval(samples: &[f64], seed: u64) -> (f64, f64) {
    // The interval of 1 / median against a constant baseline of 1, inverted (monotonic).
    let (lo, hi) = speedup_interval(&[1.0], samples, seed);
    (1.0 / hi, 1.0 / lo)
}

/// 95 % percentile-bootstrap interval of median(baseline) / median(candidate), resampling each
/// series independently.
pub fn speedup_interval(baseline: &[f64], candidate: &[f64], seed: u64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut b, mut c) = (vec![0.0; baseline.len()], vec![0.0; candidate.len()]);
    let mut ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            b.iter_mut().for_each(|x| *x = baseline[rng.random_range(0..baseline.len())]);
            c.iter_mut().for_each(|x| *x = candidate[rng.random_range(0..candidate.len())]);
            median_in_place(&mut b) / median_in_place(&mut c)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    (quantile(&ratios, 0.025), quantile(&ratios, 0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_data() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.q1, s.q3, s.min, s.max, s.mean), (3.0, 2.0, 4.0, 1.0, 5.0, 3.0));
        assert!((s.noise - 2.0 / 1.349 / 3.0).abs() < 1e-12);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn speedup_interval_brackets_the_true_ratio() {
        // Baseline ~2.0 ms, candidate ~1.0 ms, with a little deterministic jitter.
        let jitter = |i: usize| ((i * 7919) % 101) as f64 / 101.0 - 0.5;
        let base: Vec<f64> = (0..200).map(|i| 2.0 + 0.02 * jitter(i)).collect();
        let cand: Vec<f64> = (0..200).map(|i| 1.0 + 0.01 * jitter(i + 13)).collect();
        let (lo, hi) = speedup_interval(&base, &cand, 1);
        assert!(lo < 2.0 && 2.0 < hi, "[{lo}, {hi}]");
        assert!(hi - lo < 0.05, "tight for tight data: [{lo}, {hi}]");
        // Identical series: the interval contains 1.
        let (lo, hi) = speedup_interval(&base, &base, 2);
        assert!(lo <= 1.0 && 1.0 <= hi);
    }
}
