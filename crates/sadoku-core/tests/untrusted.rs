//! Nothing the candidate's side holds is evidence (issue 21, class 10): the truth comes from the
//! judge's own copy of the inputs, never from the buffers the candidate maps, so a candidate that
//! changes an input during its call gets a truth of the inputs the judge drew, whether or not it
//! puts the input back before the judge hashes it. And (class 1) a Python call's claimed time is
//! held against the judge's own clock around each request.

mod common;

use std::sync::Mutex;

use common::*;
use sadoku_core::device::sim::SimDevice;
use sadoku_core::device::{Device, DeviceError, DeviceExt, LibraryOp, ModuleHandle, Sample, TimedRun, Work};
use sadoku_core::verdict::{Rejection, Verdict};

/// The original contents of input A, kept by the kernel that changed it, for the "timer" that
/// puts it back after the call.
static STASH: Mutex<Option<Vec<f32>>> = Mutex::new(None);

/// A kernel that doubles its input A during the call and computes C = tril(2A·B) from it: right
/// for the changed input, wrong for the one the judge drew.
fn changing_device() -> SimDevice {
    let mut dev = device();
    register_raw(&mut dev, "changes_input", |call| {
        let (a, b, n) = inputs(call)?;
        *STASH.lock().unwrap() = Some(a.clone());
        let doubled: Vec<f32> = a.iter().map(|x| 2.0 * x).collect();
        call.write(0, &doubled)?;
        call.write(2, &trimm_fp32(&doubled, &b, n))
    });
    dev
}

/// A simulated device with knobs of its own. `restore_late`: the judge's device, with the worst
/// timing of a candidate's timer (the judge's checks run with the changed input still in place
/// for the truth and the comparison, and the input is put back just before the judge hashes it).
/// `judge_ms`: a device in another process, whose samples carry the judge's clock around each
/// request, as this function of the sample makes it.
struct Wrapped {
    inner: SimDevice,
    restore_late: bool,
    judge_ms: Option<fn(&Sample) -> f64>,
    /// Answer every timed call `pending`, as a Python worker does, and give the whole sample to
    /// `collect`: (the sample waiting, timed calls, collects).
    staged: Option<(Option<Sample>, usize, usize)>,
}

impl Wrapped {
    fn late_restore(inner: SimDevice) -> Wrapped {
        Wrapped { inner, restore_late: true, judge_ms: None, staged: None }
    }

    fn clocked(inner: SimDevice, judge_ms: fn(&Sample) -> f64) -> Wrapped {
        Wrapped { inner, restore_late: false, judge_ms: Some(judge_ms), staged: None }
    }
}

impl Device for Wrapped {
    crate::forward_device_basics!();
    fn unload(&mut self, module: ModuleHandle) {
        self.inner.unload(module)
    }
    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        let comparing = self.restore_late && work.iter().any(|w| matches!(w, Work::Library(LibraryOp::Compare { .. })));
        let stash = if comparing { STASH.lock().unwrap().take() } else { None };
        let Some(original) = stash else { return self.inner.run(work) };
        let (hashes, rest): (Vec<Work>, Vec<Work>) =
            work.iter().cloned().partition(|w| matches!(w, Work::Library(LibraryOp::Hash { .. })));
        self.inner.run(&rest)?;
        // The first hash after a launch is input A's.
        if let Some(Work::Library(LibraryOp::Hash { buffer, .. })) = hashes.first() {
            self.inner.upload_f32(buffer.view(0, original.len() * 4), &original)?;
        }
        self.inner.run(&hashes)
    }
    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        let sample = self.inner.time(run)?;
        let sample = Sample { judge_ms: self.judge_ms.map(|f| f(&sample)), ..sample };
        let Some((waiting, timed, _)) = self.staged.as_mut() else { return Ok(sample) };
        assert!(waiting.is_none(), "a timed call before the last one was collected");
        *timed += 1;
        *waiting = Some(sample.clone());
        let why = "collected after the judge's comparison".to_string();
        Ok(Sample { pending: true, trace: sadoku_core::device::Trace::Unavailable { why }, ..sample })
    }
    fn collect(&mut self) -> Result<Option<Sample>, DeviceError> {
        let Some((waiting, _, collects)) = self.staged.as_mut() else { return Ok(None) };
        *collects += 1;
        Ok(waiting.take())
    }
}

/// Both tests use the one stash: never at once.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn an_input_changed_during_the_call_and_put_back_later_gets_the_truth_of_the_judges_draw() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut dev = changing_device();
    let mut reference = Wrapped::late_restore(SimDevice::new());
    let report = sadoku_core::review::review_candidate(
        &mut sadoku_core::judge::Devices::new(&mut dev, &mut reference),
        &candidate("changes_input"),
        &sadoku_core::seeds::Seeds { master: 5 },
        &options(),
        &sadoku_core::events::Silent,
    )
    .expect("not an environment failure");
    // The input hashes agree (it was put back), but the truth is of the inputs the judge drew.
    let Verdict::Rejected(Rejection::Inaccurate { .. }) = &report.verdict else { panic!("{:?}", report.verdict) };
    assert_eq!(reference.inner.live_buffers(), 0);
}

#[test]
fn an_input_changed_during_the_call_is_still_caught_and_the_truth_never_reads_shared_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut dev = changing_device();
    let mut reference = SimDevice::new();
    let report = review_on(&mut dev, &mut reference, &candidate("changes_input"), 5, &options());
    STASH.lock().unwrap().take();
    let Verdict::Rejected(Rejection::InputsModified { .. }) = &report.verdict else { panic!("{:?}", report.verdict) };
    // Every buffer the truth was computed from (the GEMM reference widens its operands first) is
    // judge-only: never exported to the worker.
    let exported: std::collections::HashSet<u64> = reference.exports.iter().map(|b| b.id).collect();
    let mut read = 0;
    for op in &reference.library_log {
        if let LibraryOp::Upcast { src, .. } = op {
            assert!(!exported.contains(&src.id), "the truth read a buffer the candidate maps");
            read += 1;
        }
        if let LibraryOp::Generate { buffer, .. } = op {
            assert!(!exported.contains(&buffer.id), "the judge drew into a buffer the candidate maps");
        }
    }
    assert!(read > 0);
    // And an honest candidate is untouched by the change.
    let report = review(&mut device(), &candidate("honest"), 5);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
}

/// The span a sample's trace claims, ms.
fn claimed(sample: &Sample) -> f64 {
    sample.trace.span_ms().unwrap_or(sample.ms)
}

/// Review `name` as a Python call (traced as `Trace::Call`) whose worker's round trip on the
/// judge's clock is `judge_ms` of its sample, against a baseline in a process of its own whose
/// round trip is its claim plus 0.2 ms.
fn review_clocked(name: &str, judge_ms: fn(&Sample) -> f64) -> sadoku_core::report::CandidateReport {
    let mut inner = device();
    inner.calls = true;
    let mut dev = Wrapped::clocked(inner, judge_ms);
    let mut reference = Wrapped::clocked(SimDevice::new(), |s| claimed(s) + 0.2);
    let report = sadoku_core::review::review_candidate(
        &mut sadoku_core::judge::Devices::new(&mut dev, &mut reference),
        &candidate(name),
        &sadoku_core::seeds::Seeds { master: 9 },
        &options(),
        &sadoku_core::events::Silent,
    )
    .expect("not an environment failure");
    assert_eq!(reference.inner.live_buffers(), 0);
    report
}

/// Class 1: a call whose own figures (events, trace) say a tenth of what the judge's clock saw
/// is timed by the judge's clock, less the baseline's overhead, and the report says why; an
/// honest call (the same overhead as the baseline's, or a little more) keeps its traced time.
#[test]
fn a_call_that_claims_a_tenth_of_the_judges_clock_is_timed_by_the_judges_clock() {
    let honest = review_clocked("honest", |s| claimed(s) + 0.23);
    assert!(honest.verdict.is_accepted(), "{:?}", honest.verdict);
    let t = honest.findings.timing.as_ref().unwrap();
    assert!(t.method.contains("the worker's own activity trace"), "{}", t.method);
    assert!((t.candidate.median - KERNEL_MS).abs() < 0.01, "{:?}", t.candidate);
    let trip = t.judge_round_trip_ms.expect("the judge's clock");
    assert!((trip - (KERNEL_MS + 0.23)).abs() < 0.02, "{trip}");
    assert!(t.baseline_round_trip_ms.is_some());
    assert!(t.claimed_ms.is_empty(), "an undisputed claim is candidate_ms itself");

    let liar = review_clocked("honest", |s| 10.0 * claimed(s));
    assert!(liar.verdict.is_accepted(), "{:?}", liar.verdict);
    let t = liar.findings.timing.as_ref().unwrap();
    assert!(t.method.starts_with("the judge's clock"), "{}", t.method);
    assert!(t.method.contains("because the worker's claim (0.99"), "{}", t.method);
    assert!(t.method.contains("disagrees with the judge's clock (9.7"), "{}", t.method);
    // Ten times its claim, less the baseline's 0.2 ms of overhead.
    assert!((t.candidate.median - (10.0 * KERNEL_MS - 0.2)).abs() < 0.05, "{:?}", t.candidate);
    // The record keeps both sides of the dispute: each sample's claim beside the judge's
    // estimate, and its round trip.
    assert_eq!((t.claimed_ms.len(), t.round_trips_ms.len()), (t.candidate_ms.len(), t.candidate_ms.len()));
    for ((claim, judged), trip) in t.claimed_ms.iter().zip(&t.candidate_ms).zip(&t.round_trips_ms) {
        assert!((claim - KERNEL_MS).abs() < 0.05 && (trip - 10.0 * claim).abs() < 1e-9, "{claim} {judged} {trip}");
        assert!((judged - (trip - 0.2)).abs() < 0.01, "{claim} {judged} {trip}");
    }
    let (h, l) = (honest.findings.timing.unwrap().speedup.unwrap(), t.speedup.unwrap());
    assert!(l < h / 5.0, "the speedup falls with the time: {h} then {l}");
}

/// A Python worker answers a timed call before its trace and checks (so that the judge's clock
/// holds the call alone); the judge collects them once it has compared the output, once per
/// timed call, and times the call by the collected trace, not the pending placeholder.
#[test]
fn a_pending_sample_is_collected_after_the_comparison_and_timed_by_its_trace() {
    let mut inner = device();
    inner.calls = true;
    let mut dev = Wrapped::clocked(inner, |s| claimed(s) + 0.2);
    dev.staged = Some((None, 0, 0));
    let mut reference = Wrapped::clocked(SimDevice::new(), |s| claimed(s) + 0.2);
    let report = sadoku_core::review::review_candidate(
        &mut sadoku_core::judge::Devices::new(&mut dev, &mut reference),
        &candidate("honest"),
        &sadoku_core::seeds::Seeds { master: 9 },
        &options(),
        &sadoku_core::events::Silent,
    )
    .expect("not an environment failure");
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let (waiting, timed, collects) = dev.staged.take().unwrap();
    assert!(waiting.is_none() && timed > 0 && collects == timed, "{timed} timed, {collects} collected");
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.method.contains("the worker's own activity trace"), "{}", t.method);
    assert!((t.candidate.median - KERNEL_MS).abs() < 0.01, "{:?}", t.candidate);
}
