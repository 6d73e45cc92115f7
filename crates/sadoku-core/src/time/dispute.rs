//! What the samples show: per-kernel times and busy time, and the checks that decide which clock a
//! claim is timed by and whether it is disputed (an uncovered trace, the judge's own clock).

use serde::Serialize;

use super::KernelTime;
use super::sampler::Taken;
use crate::device::KernelRecord;
use crate::stats::Summary;

/// Add one sample's records, in order, to the times of the records at their places.
pub(super) fn tally(into: &mut Vec<(KernelRecord, Vec<f64>)>, records: Vec<KernelRecord>) {
    for (i, k) in records.into_iter().enumerate() {
        let ms = k.end_ns.saturating_sub(k.start_ns) as f64 / 1e6;
        match into.get_mut(i) {
            Some((_, times)) => times.push(ms),
            None => into.push((k, vec![ms])),
        }
    }
}

pub(super) fn kernel_times(records: &[(KernelRecord, Vec<f64>)]) -> Vec<KernelTime> {
    records
        .iter()
        .map(|(k, times)| KernelTime {
            name: k.name.clone(),
            grid: k.grid,
            block: k.block,
            registers: k.registers,
            shared_bytes: k.shared_bytes,
            stream: k.stream,
            median_ms: Summary::of(times).map_or(0.0, |s| s.median),
        })
        .collect()
}

/// How long the device was busy with `records` (sorted by start): the length of the union of
/// their intervals, milliseconds.
pub(super) fn busy_ms(records: &[KernelRecord]) -> f64 {
    let mut busy = 0u64;
    let mut current: Option<(u64, u64)> = None;
    for k in records {
        current = match current {
            Some((a, b)) if k.start_ns <= b => Some((a, b.max(k.end_ns))),
            Some((a, b)) => {
                busy += b - a;
                Some((k.start_ns, k.end_ns.max(k.start_ns)))
            }
            None => Some((k.start_ns, k.end_ns.max(k.start_ns))),
        };
    }
    if let Some((a, b)) = current {
        busy += b - a;
    }
    busy as f64 / 1e6
}

/// A Python call runs in the process that traces it, so it could switch CUPTI's recording off
/// around part of its work: its trace would then cover less of the call than its events did.
/// Some of that is the call's own host time before its first device work (PyTorch's dispatch), as
/// much for the eager baseline as for a candidate: a candidate's median events-minus-span beyond
/// the baseline's by more than 0.05 ms and a quarter of its events is said, and the review is then
/// timed by events, which see all of the call's device work whatever CUPTI recorded.
pub(super) fn uncovered(c: &[Taken], b: &[Taken]) -> Option<String> {
    let gap = |t: &[Taken]| {
        Summary::of(&t.iter().filter_map(|t| t.span_ms.map(|s| t.event_ms - s)).collect::<Vec<_>>()).map(|s| s.median)
    };
    let events = Summary::of(&c.iter().map(|t| t.event_ms).collect::<Vec<_>>())?.median;
    let (gc, gb) = (gap(c)?, gap(b).unwrap_or(0.0));
    (gc > gb + UNCOVERED_MS + UNCOVERED_FRACTION * events).then(|| {
        format!(
            "the calls' traces leave {gc:.4} ms of their {events:.4} ms events uncovered, the eager baseline's \
             {gb:.4} ms: timed by events"
        )
    })
}

/// See [`uncovered`].
pub(super) const UNCOVERED_MS: f64 = 0.05;
pub(super) const UNCOVERED_FRACTION: f64 = 0.25;
/// A claim the judge's clock corroborates to within this fraction of itself is a figure the judge
/// stands behind; a looser one is said to be the worker's.
pub(super) const CORROBORATED_FRACTION: f64 = 0.03;

/// A worker's claim held against the judge's clock (see [`clock_check`]), as the report gives it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct ClockCheck {
    /// The baseline's median round trip beyond its own claimed time, ms (its process is the
    /// problem's Model's, never the candidate's).
    #[serde(default)]
    pub baseline_overhead_ms: f64,
    /// The candidate's median claimed time, ms.
    #[serde(default)]
    pub claimed_ms: f64,
    /// The candidate's median round trip beyond its claim, less the baseline's, ms: its own host
    /// time outside its trace's span, the clock's noise, and whatever its claim left out.
    #[serde(default)]
    pub excess_ms: f64,
    /// How much excess the claim may carry and still stand, ms: 0.05 ms or a quarter of the
    /// claim (a call's own host time, e.g. a Python launcher's), whichever is more, plus three
    /// standard errors of the difference of the two medians, from the baseline's spread alone.
    /// The judge's clock corroborates the claim to within this, no closer.
    #[serde(default)]
    pub allowance_ms: f64,
    /// The candidate's median on the judge's clock, less the baseline's overhead, ms.
    #[serde(default)]
    pub judged_ms: f64,
    /// Whether the excess went beyond the allowance: the judge's clock is then the time.
    #[serde(default)]
    pub disputed: bool,
}

/// A Python candidate's time, its trace and its events are all taken inside its own process, by
/// code it can reach: its claim is testimony. The judge's own clock around each timed request
/// (`judge_ms`, from sending it to holding the reply) is evidence, and so is the same clock
/// around the baseline's requests to its own process (the Model's), which pay the same pipe,
/// the same marshalling and the same synchronisation. Each side's overhead is its median
/// judge-clock-minus-claim. When the candidate's exceeds the baseline's by more than the
/// allowance (0.05 ms or a quarter of the candidate's claimed median, whichever is more, the
/// shape of [`uncovered`], plus three standard errors of the difference, so that the clock's own
/// noise disputes no honest claim), the claim is disputed: each of the candidate's samples is
/// then its judge-clock time less the baseline's median overhead. The noise is the baseline's
/// spread, never anything measured through the candidate's process, which can answer as slowly
/// or as erratically as it likes. Where either side has no judge's clock (the baseline runs in
/// the judge's own process) nothing is subtracted and nothing is disputed.
pub(super) fn clock_check(c: &[Taken], b: &[Taken], use_spans: bool) -> Option<ClockCheck> {
    let overheads = |t: &[Taken]| -> Option<Summary> {
        let gaps: Option<Vec<f64>> =
            t.iter().zip(times(t, use_spans)).map(|(t, claimed)| t.judge_ms.map(|j| j - claimed)).collect();
        Summary::of(&gaps?)
    };
    let claimed_ms = Summary::of(&times(c, use_spans))?.median;
    let (oc, ob) = (overheads(c)?, overheads(b)?);
    // The median's standard error is 1.2533 σ/√n for normal data; σ from the baseline's IQR.
    let sigma = (ob.q3 - ob.q1) / 1.349;
    let standard_error = 1.2533 * sigma * (1.0 / oc.samples as f64 + 1.0 / ob.samples as f64).sqrt();
    let allowance_ms = UNCOVERED_MS.max(UNCOVERED_FRACTION * claimed_ms) + 3.0 * standard_error;
    let excess_ms = oc.median - ob.median;
    let judged_ms = Summary::of(&judge_times(c, ob.median))?.median;
    Some(ClockCheck {
        baseline_overhead_ms: ob.median,
        claimed_ms,
        excess_ms,
        allowance_ms,
        judged_ms,
        disputed: excess_ms > allowance_ms,
    })
}

/// Each sample on the judge's clock, less `overhead_ms` (never below zero).
pub(super) fn judge_times(t: &[Taken], overhead_ms: f64) -> Vec<f64> {
    t.iter().map(|t| (t.judge_ms.unwrap_or(t.event_ms) - overhead_ms).max(0.0)).collect()
}

/// The median of the judge's clock over samples that have it.
pub(super) fn median_judge_ms(t: &[Taken]) -> Option<f64> {
    Summary::of(&t.iter().filter_map(|t| t.judge_ms).collect::<Vec<_>>()).map(|s| s.median)
}

/// Whether both series (or the candidate's alone) were traced: then spans are compared, otherwise
/// events.
pub(super) fn spans(c: &[Taken], b: &[Taken]) -> bool {
    !c.is_empty() && c.iter().chain(b).all(|t| t.span_ms.is_some())
}

pub(super) fn times(t: &[Taken], use_spans: bool) -> Vec<f64> {
    t.iter().map(|t| if use_spans { t.span_ms.unwrap_or(t.event_ms) } else { t.event_ms }).collect()
}
