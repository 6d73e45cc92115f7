//! What a card's timing keeps from one review to the next within a run: the baselines measured
//! on it (the rule that decides what is remembered, and how a later review re-checks it, is
//! `time::memo`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::device::Sample;
use crate::vocab::Sizes;

/// One kept sample: event time, traced span, wall time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taken {
    pub(crate) event_ms: f64,
    pub(crate) span_ms: Option<f64>,
    pub(crate) wall_ms: f64,
    pub(crate) clock: Option<f64>,
    /// The judge's clock around the request, for a device in another process.
    pub(crate) judge_ms: Option<f64>,
}

impl Taken {
    pub(crate) fn of(sample: &Sample, span_ms: Option<f64>) -> Taken {
        Taken {
            event_ms: sample.ms,
            span_ms,
            wall_ms: sample.wall_ms,
            clock: sample.sm_clock_mhz,
            judge_ms: sample.judge_ms,
        }
    }
}

/// What identifies a baseline's timing on one card.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BaselineKey {
    /// The problem's definition (its file's or spec's hash).
    pub(crate) problem_sha256: String,
    pub(crate) sizes: Sizes,
    /// What the baseline is and computes in (library, precision; eager or compiled PyTorch).
    pub(crate) baseline: String,
}

/// The baselines measured on one card in one run. Shared by the lanes on that card (their timing
/// never overlaps: the card's gate). What is remembered, and when, is `time::memo`'s rule.
#[derive(Debug, Default)]
pub struct Baselines {
    entries: Mutex<HashMap<BaselineKey, Vec<Taken>>>,
}

impl Baselines {
    pub(crate) fn get(&self, key: &BaselineKey) -> Option<Vec<Taken>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    pub(crate) fn remember(&self, key: BaselineKey, samples: Vec<Taken>) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).insert(key, samples);
    }

    pub(crate) fn forget(&self, key: &BaselineKey) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// How many baselines are remembered.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
