//! The baseline measured once per problem, size, precision and card in a run, and re-checked in
//! every later review by a few fresh samples.
//!
//! The rule. A review whose baseline (problem definition, sizes, precision, the baseline itself)
//! has not been measured on this card in this run samples it in full, alternating with the
//! candidate; if its rounds agreed and the baseline's own samples are many and quiet enough
//! ([`worth_remembering`]), they are remembered. A later review of the same baseline on the same card samples the baseline only
//! on every [`CHECK_EVERY`]th candidate sample (and never fewer than [`MIN_FRESH`] times), and
//! stops on the candidate's noise alone. Its fresh samples must agree with the remembered ones:
//! their medians at most [`drift_limit`] apart. Then the speedup is taken against the remembered
//! and fresh samples together. If not, the card's state has drifted (or the review that measured
//! it was disturbed): only the fresh samples count, the entry is forgotten, and the next review
//! measures the baseline in full again. A remembered baseline can therefore move a later
//! speedup by at most the drift limit, never more.

use serde::Serialize;

use crate::stats::Summary;

/// A review with a remembered baseline takes one baseline sample per this many candidate samples.
pub const CHECK_EVERY: usize = 4;

/// Fresh baseline samples a review takes at least, in each round, remembered baseline or not.
pub const MIN_FRESH: usize = 3;

/// Samples a fully measured baseline needs to be remembered.
pub const MIN_REMEMBERED: usize = 10;

/// Whether a baseline measured in full is worth remembering: at least [`MIN_REMEMBERED`] samples
/// kept, spread (IQR/1.349/median) within twice the noise target. Its candidate's series need
/// not have converged: under a tight `--time-budget` it often cannot, while the baseline did.
pub fn worth_remembering(baseline: &Summary, target_noise: f64) -> bool {
    baseline.samples >= MIN_REMEMBERED && baseline.noise <= 2.0 * target_noise
}

/// How far the fresh samples' median may lie from the remembered one: 2 %, or twice the noise
/// target if that is larger (a noisier target means a looser claim anyway).
pub fn drift_limit(target_noise: f64) -> f64 {
    (2.0 * target_noise).max(0.02)
}

/// How a review used a remembered baseline (`Timing::baseline_memo`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MemoUse {
    /// Samples remembered from the review that measured the baseline in full on this card.
    pub remembered: usize,
    /// Fresh samples taken in this review, interleaved with the candidate's.
    pub fresh: usize,
    /// median(fresh) / median(remembered) − 1.
    pub drift: f64,
    /// The largest drift allowed.
    pub limit: f64,
    /// True when the drift was within the limit and the remembered samples were used.
    pub used: bool,
}

impl MemoUse {
    /// One line for the report.
    pub fn describe(&self) -> String {
        if self.used {
            format!(
                "{} samples remembered from an earlier review on this card, re-checked by {} fresh ones \
                 (medians {:+.2} % apart, within {:.0} %)",
                self.remembered,
                self.fresh,
                self.drift * 100.0,
                self.limit * 100.0
            )
        } else {
            format!(
                "{} fresh samples only: they lie {:+.2} % from the {} remembered from an earlier review on \
                 this card, beyond {:.0} %, so the remembered ones were set aside and the next review measures \
                 the baseline in full",
                self.fresh,
                self.drift * 100.0,
                self.remembered,
                self.limit * 100.0
            )
        }
    }
}
