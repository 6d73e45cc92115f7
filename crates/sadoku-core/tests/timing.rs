//! What is timed must be what was verified, traced and physically possible (docs/THREATS.md).
//! Each check has an adversarial kernel it catches and an honest one it lets through.

mod common;

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use common::*;
use sadoku_core::checks::accuracy::PrecisionClass;
use sadoku_core::checks::trace::HiddenWork;
use sadoku_core::device::Precision;
use sadoku_core::device::sim::SIM_STREAM;
use sadoku_core::device::sim::SimDevice;
use sadoku_core::events::Silent;
use sadoku_core::judge::{Baselines, Devices};
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::time::{Call, TimingOptions};
use sadoku_core::verdict::{Rejection, Verdict};

/// 3 trials at each of 3 sizes: timed launch k is the kernel's call BEFORE_SAMPLING + k.
const BEFORE_SAMPLING: u32 = 9;

fn rejection(report: &CandidateReport) -> &Rejection {
    match &report.verdict {
        Verdict::Rejected(r) => r,
        v => {
            panic!("expected a rejection, got {v:?} (timing {:?})", report.findings.timing.as_ref().map(|t| t.speedup))
        }
    }
}

#[test]
fn honest_kernel_is_timed_on_verified_traced_launches() {
    let mut dev = device();
    let report = review(&mut dev, &candidate("honest"), 1);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().expect("timed");
    assert_eq!(t.sets, 4);
    assert!(t.verified_launches > 2 * 5, "every launch verified: {}", t.verified_launches);
    assert!(t.method.contains("CUPTI"), "{}", t.method);
    assert_eq!(t.kernels.len(), 1);
    assert_eq!((t.kernels[0].name.as_str(), t.kernels[0].stream), ("honest", SIM_STREAM));
    assert!((t.kernels[0].median_ms - KERNEL_MS).abs() < 0.01, "{}", t.kernels[0]);
    assert_eq!(t.rounds.len(), 2);
    assert!(t.reliable, "{:?}", t.unreliable);
    assert_eq!(t.throttled, 0);
    assert_eq!(t.sm_clock_mhz, Some(1980.0));
    // 1 ms against a baseline of microseconds: clearly slower, and said so.
    assert_eq!(t.call, Some(Call::Slower));
    let ceiling = report.findings.ceiling.as_ref().expect("% of ceiling reported");
    assert!(ceiling.percent > 0.0 && ceiling.percent < 1.0, "{ceiling:?}");
}

/// docs/THREATS.md: honest while it is being checked, a no-op once it has been called enough.
#[test]
fn kernel_that_stops_writing_after_warm_up_is_caught_at_its_first_bad_launch() {
    let mut dev = device();
    let honest_calls = BEFORE_SAMPLING + 7;
    let calls = Rc::new(Cell::new(0u32));
    let counter = calls.clone();
    register_raw(&mut dev, "lazy", move |call| {
        counter.set(counter.get() + 1);
        if counter.get() > honest_calls {
            return Ok(());
        }
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))
    });
    let report = review(&mut dev, &candidate("lazy"), 2);
    let Rejection::Unwritten { at, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    // Launches after verification are numbered from 1: call 17 is the first bad one, launch 8.
    assert_eq!(at.timed_launch, Some(8), "{at}");
    assert!(at.trial.starts_with("timed launch 8 (set 4 of 4, randn inputs ×"), "{at}");
    assert_eq!(evidence.count, 40 * 40, "{evidence}");
}

/// Signs of the ratios of a few diagonal elements to the first: a cache key that survives any
/// rescaling of the inputs (the attack that beat rescaled inputs, with its answer scaled exactly).
fn scale_invariant_key(a: &[f32], b: &[f32], n: usize) -> u32 {
    let mut key = 0;
    for (bit, i) in (1..4.min(n)).enumerate() {
        key |= u32::from(a[i * n + i] / a[0] < 0.0) << (2 * bit);
        key |= u32::from(b[i * n + i] / b[0] < 0.0) << (2 * bit + 1);
    }
    key
}

/// docs/THREATS.md, done as well as rescaled inputs allowed: a scale-invariant content cache that
/// rescales its stale answer exactly. Against fresh draws its key collides and the answer is stale.
#[test]
fn scale_invariant_cache_returns_stale_answers_on_fresh_inputs() {
    let mut dev = device();
    let mut cache: HashMap<(usize, u32), (f32, f32, Vec<f32>)> = HashMap::new();
    register_raw(&mut dev, "stash", move |call| {
        let (a, b, n) = inputs(call)?;
        let key = (n, scale_invariant_key(&a, &b, n));
        let (a0, b0, c) = cache.entry(key).or_insert_with(|| (a[0], b[0], trimm_fp32(&a, &b, n))).clone();
        let s = (a[0] / a0) * (b[0] / b0);
        call.write(2, &c.iter().map(|x| x * s).collect::<Vec<_>>())
    });
    let report = review(&mut dev, &candidate("stash"), 3);
    let Rejection::Inaccurate { at, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(at.trial.contains("inputs"), "the first stale launch is named: {at}");
}

/// The same idea with a 2-bit hash of the raw bits of a few elements.
#[test]
fn short_hash_cache_collides_on_fresh_inputs() {
    let mut dev = device();
    let mut cache: HashMap<(usize, u64), Vec<f32>> = HashMap::new();
    register_raw(&mut dev, "short_hash", move |call| {
        let (a, b, n) = inputs(call)?;
        let h = sadoku_core::device::mix64(u64::from(a[0].to_bits()) << 32 | u64::from(b[0].to_bits())) & 3;
        let c = cache.entry((n, h)).or_insert_with(|| trimm_fp32(&a, &b, n)).clone();
        call.write(2, &c)
    });
    let report = review(&mut dev, &candidate("short_hash"), 13);
    assert!(matches!(rejection(&report), Rejection::Inaccurate { .. }), "{:?}", report.verdict);
}

/// A cache keyed on the whole of its inputs never hits on fresh draws, so it always does the work:
/// nothing to reject (the honest side of the freshness check).
#[test]
fn exact_content_cache_never_hits_and_is_accepted() {
    let mut dev = device();
    let hits = Rc::new(Cell::new(0u32));
    let seen = hits.clone();
    let mut cache: HashMap<Vec<u32>, Vec<f32>> = HashMap::new();
    register_raw(&mut dev, "exact_cache", move |call| {
        let (a, b, n) = inputs(call)?;
        let key: Vec<u32> = a.iter().chain(&b).map(|x| x.to_bits()).collect();
        if cache.contains_key(&key) {
            seen.set(seen.get() + 1);
        }
        let c = cache.entry(key).or_insert_with(|| trimm_fp32(&a, &b, n)).clone();
        call.write(2, &c)
    });
    let report = review(&mut dev, &candidate("exact_cache"), 14);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    // Only the repeat trial at each size (same inputs on purpose) hits.
    assert_eq!(hits.get(), 3, "no timed launch saw inputs an earlier launch had seen");
}

/// A device whose kernel `instant` is right every time and takes a picosecond: 64,000 flops at
/// N = 40.
fn instant() -> SimDevice {
    let mut dev = device();
    dev.kernel(
        "instant",
        &PARAMS,
        |call| {
            let (a, b, n) = inputs(call)?;
            call.write(2, &trimm_fp32(&a, &b, n))
        },
        |_| 1e-9,
    );
    dev
}

/// Right every time, and far too fast (docs/THREATS.md): physics catches what the answer checks
/// cannot.
#[test]
fn right_but_impossibly_fast_is_rejected_by_physics() {
    let mut dev = instant();
    let report = review(&mut dev, &candidate("instant"), 4);
    let Rejection::Impossible { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(evidence.impossible());
    assert!(evidence.to_string().contains("on a card that peaks at"), "{evidence}");
    // The simulated compiler's modules have no PTX, so no tensor-core instructions: the SIMT peak.
    assert_eq!(evidence.what, "fp32 SIMT");
    assert!(evidence.why.contains("no mma, wmma or wgmma"), "{}", evidence.why);
    assert!(report.findings.timing.is_some(), "the timing that condemned it is kept");
}

/// A card's peaks measured beside other work fall short (seen on an H100 whose DRAM measured
/// 2.62 TB/s outside the card's hold, in a batch building and describing beside it, and 3.14 TB/s
/// alone): an honest kernel then looks impossible.
/// The judge measures the peaks again, with the card held, before it says so, and keeps the
/// higher figures; a kernel still beyond them is rejected.
#[test]
fn ceilings_that_fell_short_are_measured_again_before_a_speed_is_called_impossible() {
    use sadoku_core::device::{Ceilings, Device};
    let tiny = Ceilings { fp32_tflops: 1e-9, tf32_tflops: 1e-9, bf16_tflops: 1e-9, dram_gbs: 1e-9 };
    let real = SimDevice::new().ceilings.expect("the simulated card's peaks");
    // The judge's device holds the short figures; measured again, it finds `again`.
    let judge = |again: Ceilings| {
        let mut reference = SimDevice::new();
        reference.ceilings = Some(tiny);
        reference.ceilings_measured_again = Some(again);
        reference
    };

    // Honest: only the short figures call it impossible.
    let mut reference = judge(real);
    let report = review_on(&mut device(), &mut reference, &candidate("honest"), 1, &options());
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    assert_eq!(reference.ceilings().unwrap(), Some(real), "the higher figures are kept");
    let ceiling = report.findings.ceiling.as_ref().expect("% of ceiling reported");
    assert!(ceiling.percent < 1.0, "against the figures measured again: {ceiling:?}");

    // Adversarial: beyond the peaks however often they are measured.
    let mut dev = instant();
    let mut reference = judge(tiny);
    let report = review_on(&mut dev, &mut reference, &candidate("instant"), 4, &options());
    let Rejection::Impossible { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(evidence.ceiling, 1e-9, "judged against the figures measured again: {evidence}");
    // Honest again, against figures that stay short: the judge does not guess higher ones.
    let mut reference = judge(tiny);
    let report = review_on(&mut device(), &mut reference, &candidate("honest"), 1, &options());
    assert!(matches!(rejection(&report), Rejection::Impossible { .. }), "{:?}", report.verdict);
}

/// docs/THREATS.md, during timing only.
#[test]
fn kernel_that_zeroes_an_input_after_warm_up_is_caught() {
    let mut dev = device();
    let calls = Rc::new(Cell::new(0u32));
    let counter = calls.clone();
    register_raw(&mut dev, "zeroes_late", move |call| {
        counter.set(counter.get() + 1);
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))?;
        if counter.get() > BEFORE_SAMPLING + 3 { call.write(0, &vec![0.0; n * n]) } else { Ok(()) }
    });
    let report = review(&mut dev, &candidate("zeroes_late"), 5);
    let Rejection::InputsModified { at, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(at.timed_launch, Some(4), "{at}");
    assert_eq!(evidence.buffer, "A");
}

/// Summing in a different order from launch to launch changes the last bits: within the bound,
/// accepted.
#[test]
fn kernel_that_reorders_its_sums_is_accepted() {
    let mut dev = device();
    let calls = Rc::new(Cell::new(0u32));
    let counter = calls.clone();
    register(&mut dev, "reorders", move |a, b, n| {
        counter.set(counter.get() + 1);
        // Every third launch sums backwards: each set sees both orders.
        if !counter.get().is_multiple_of(3) {
            return trimm_fp32(a, b, n);
        }
        let mut c = vec![0f32; n * n];
        for i in 0..n {
            for j in 0..=i {
                c[i * n + j] = (j..=i).rev().fold(0f32, |acc, k| a[i * n + k].mul_add(b[k * n + j], acc));
            }
        }
        c
    });
    let report = review(&mut dev, &candidate("reorders"), 6);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
}

/// docs/THREATS.md: work the timed stream's events cannot see.
#[test]
fn kernel_on_another_stream_is_rejected_as_hidden_work() {
    let mut dev = device();
    dev.trace_tweak = Some(Box::new(|kernels, _| kernels.iter_mut().for_each(|k| k.stream = 13)));
    let report = review(&mut dev, &candidate("honest"), 7);
    let Rejection::HiddenWork { at, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(matches!(evidence, HiddenWork::OtherStream { stream: 13, .. }), "{evidence}");
    assert!(at.timed_launch.is_some());
}

#[test]
fn kernel_still_running_after_the_window_is_rejected_as_hidden_work() {
    let mut dev = device();
    dev.trace_tweak = Some(Box::new(|kernels, (_, close)| kernels.iter_mut().for_each(|k| k.end_ns = close + 50_000)));
    let report = review(&mut dev, &candidate("honest"), 8);
    let Rejection::HiddenWork { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(evidence.to_string().contains("still running 50.0 µs after it"), "{evidence}");
}

#[test]
fn extra_kernel_nobody_launched_is_rejected_as_hidden_work() {
    let mut dev = device();
    dev.trace_tweak = Some(Box::new(|kernels, _| {
        let mut child = kernels[0].clone();
        child.name = "child".into();
        child.start_ns = kernels[0].end_ns;
        child.end_ns = kernels[0].end_ns + 10;
        kernels.push(child);
    }));
    let report = review(&mut dev, &candidate("honest"), 9);
    let Rejection::HiddenWork { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(matches!(evidence, HiddenWork::Unexpected { .. }), "{evidence}");
}

/// A Python call's trace (`Trace::Call`): every kernel it caused counts, on any stream, and its
/// time is their span.
#[test]
fn a_python_calls_kernels_on_any_stream_are_its_own_and_timed_by_their_span() {
    let mut dev = device();
    dev.calls = true;
    // Its kernel on a stream of its own (a second stream): still the call's, and timed.
    dev.trace_tweak = Some(Box::new(|kernels, _| kernels.iter_mut().for_each(|k| k.stream = 13)));
    let report = review(&mut dev, &candidate("honest"), 21);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.method.contains("every kernel, copy and memset the call caused, on any stream"), "{}", t.method);
    assert_eq!((t.kernels[0].name.as_str(), t.kernels[0].stream), ("honest", 13));
    assert!((t.candidate.median - KERNEL_MS).abs() < 0.01, "{:?}", t.candidate);
}

/// Work that outlives a Python call's window (a thread that launches after the call returned).
#[test]
fn work_after_a_python_calls_window_is_rejected_as_hidden_work() {
    let mut dev = device();
    dev.calls = true;
    dev.trace_tweak = Some(Box::new(|kernels, (_, close)| {
        let mut late = kernels[0].clone();
        late.name = "late".into();
        (late.start_ns, late.end_ns) = (close + 100_000, close + 400_000);
        kernels.push(late);
    }));
    let report = review(&mut dev, &candidate("honest"), 22);
    let Rejection::HiddenWork { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(evidence.to_string().contains("`late` ran outside the timing window"), "{evidence}");
}

/// A Python call that switches CUPTI's recording off around its kernel: its trace covers almost
/// nothing of what its events measured, so the review is timed by events, and says why.
#[test]
fn a_python_call_whose_trace_misses_its_work_is_timed_by_events() {
    let mut dev = device();
    dev.calls = true;
    dev.trace_tweak = Some(Box::new(|kernels, _| {
        for k in kernels.iter_mut().filter(|k| k.name == "honest") {
            k.end_ns = k.start_ns + 1_000;
        }
    }));
    let report = review(&mut dev, &candidate("honest"), 23);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.method.starts_with("CUDA events"), "{}", t.method);
    assert!(t.method.contains("events uncovered"), "{}", t.method);
    // The events saw the whole kernel.
    assert!((t.candidate.median - KERNEL_MS).abs() < 0.01, "{:?}", t.candidate);
}

/// A Python call whose trace holds no mark of its start has no span to hold against the
/// baseline's (whose host time before its first kernel counts): the review is timed by events,
/// and says why.
#[test]
fn a_python_call_without_its_start_is_timed_by_events_and_says_why() {
    let mut dev = device();
    dev.calls = true;
    dev.unmarked_calls = true;
    let report = review(&mut dev, &candidate("honest"), 24);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.method.starts_with("CUDA events"), "{}", t.method);
    assert!(t.method.contains("no mark of the call's start"), "{}", t.method);
    // Its kernels are still checked and reported.
    assert_eq!(t.kernels[0].name, "honest");
    // Marked, the same call is timed by its span.
    let mut dev = device();
    dev.calls = true;
    let t = review(&mut dev, &candidate("honest"), 24).findings.timing.unwrap();
    assert!(t.method.contains("every kernel, copy and memset the call caused"), "{}", t.method);
}

/// Without a trace the review still runs, on events and the wall clock, and says so.
#[test]
fn without_tracing_timing_falls_back_to_events_and_says_why() {
    let mut dev = device();
    dev.tracing = false;
    let report = review(&mut dev, &candidate("honest"), 10);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.method.starts_with("CUDA events"), "{}", t.method);
    assert!(t.method.contains("simulated device without tracing"), "{}", t.method);
    assert!(t.kernels.is_empty());
}

/// nvbench's rule: samples at a throttled clock are dropped, the rest stand.
#[test]
fn throttled_samples_are_dropped() {
    let mut dev = device();
    dev.clock = Box::new(|tick| Some(if tick % 4 == 0 { 900.0 } else { 1980.0 }));
    let report = review(&mut dev, &candidate("honest"), 11);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.throttled > 0, "{t:?}");
    assert_eq!(t.sm_clock_mhz, Some(1980.0), "only unthrottled samples kept");
    // The candidate's dropped samples are kept aside for the report, never counted.
    assert!(!t.throttled_ms.is_empty() && t.throttled_ms.len() <= t.throttled, "{t:?}");
    assert_eq!(t.candidate.samples, t.candidate_ms.len());
}

/// A kernel that gets slower half-way through: the two rounds disagree.
#[test]
fn rounds_that_disagree_mark_the_timing_unreliable() {
    let mut dev = device();
    let calls = Rc::new(Cell::new(0u32));
    let (counter, cost) = (calls.clone(), calls.clone());
    dev.kernel(
        "drifts",
        &PARAMS,
        move |call| {
            counter.set(counter.get() + 1);
            let (a, b, n) = inputs(call)?;
            call.write(2, &trimm_fp32(&a, &b, n))
        },
        // Verification takes 9 calls, warm-up 3, the first round 30 (it converges at once).
        move |_| if cost.get() > 9 + 3 + 30 { 2.0 } else { 1.0 },
    );
    let mut options = options();
    options.timing.min_samples = 30;
    options.timing.max_samples = 60;
    options.timing.budget = std::time::Duration::from_secs(60);
    let report = review_unchecked(&mut dev, &candidate("drifts"), 12, &options);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(!t.reliable, "{:?}", t.rounds);
    assert!(t.unreliable.as_ref().unwrap().contains("the rounds disagree"));
}

/// docs/THREATS.md: a TF32 kernel fails an fp32 review but passes a TF32 one, where it is compared
/// with the TF32 baseline, never the fp32 one.
#[test]
fn tf32_kernel_is_reviewed_against_the_tf32_baseline_under_precision_tf32() {
    let mut dev = device();
    register(&mut dev, "tf32", |a, b, n| trimm_with(a, b, n, tf32));
    let fp32 = review(&mut dev, &candidate("tf32"), 13);
    assert!(matches!(rejection(&fp32), Rejection::Inaccurate { class: PrecisionClass::Tf32, .. }));

    let mut dev = device();
    register(&mut dev, "tf32", |a, b, n| trimm_with(a, b, n, tf32));
    let options = options().for_precision(Precision::Tf32);
    let report = review_unchecked(&mut dev, &candidate("tf32"), 13, &options);
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Tf32 });
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.baseline_name.contains("TF32"), "{}", t.baseline_name);
}

/// A timing that has its samples but whose spread never meets the target (none can meet 0 here)
/// stops at its most samples and says it did not converge, with no word of few samples; one that
/// meets it says neither.
#[test]
fn a_timing_with_its_samples_but_above_the_noise_target_is_not_called_few() {
    let mut options = options();
    options.timing.target_noise = 0.0;
    options.timing.max_samples = 16;
    let report = review_unchecked(&mut device(), &candidate("honest"), 1, &options);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(!t.converged && !t.few_samples, "{:?}", t.rounds);
    assert!(t.rounds.iter().all(|r| r.samples >= options.timing.min_samples), "{:?}", t.rounds);

    let report = review(&mut device(), &candidate("honest"), 1);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(t.converged && !t.few_samples, "{:?}", t.rounds);
}

/// `--time-budget` bounds the time phase's wall clock, warm-up included: samples that each take
/// real time (30 ms a launch here) stop before the budget would pass, never at the end of a
/// round that ran over it; the sampling says it did not converge.
#[test]
fn the_time_budget_bounds_the_time_phase() {
    let mut dev = device();
    register_raw(&mut dev, "slow_honest", |call| {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))
    });
    let mut options = options();
    options.timing.warmup = std::time::Duration::from_millis(400);
    options.timing.min_samples = 1000;
    options.timing.max_samples = 4000;
    options.timing.budget = std::time::Duration::from_secs(1);
    let report = review_unchecked(&mut dev, &candidate("slow_honest"), 14, &options);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    assert!(!t.converged);
    // Each round stopped for time, before its 1,000 samples: the figure rests on few samples.
    assert!(t.few_samples, "{:?}", t.rounds);
    let time_s = report.findings.phases.time_s;
    // Sampling ends within the budget; then the statistics (bootstrap intervals: about 0.2 s in a
    // debug build, milliseconds in a release one) and freeing the sets. Budgeting rounds as
    // before (warm-up 0.4 s beside the budget, each round stopped only once past its half) took
    // 2.0 s here.
    assert!(time_s <= 1.3, "the time phase took {time_s:.3} s against a 1 s budget");
    assert!(time_s >= 0.8, "the budget was not used: {time_s:.3} s");
    assert!(t.rounds.iter().all(|r| r.samples >= 3), "{:?}", t.rounds);
    assert!(t.held_ms <= 1300.0 && t.held_ms >= 800.0, "held the card {:.0} ms", t.held_ms);
    assert!(t.card_wait_ms < 100.0, "nobody else wanted the card: {:.0} ms", t.card_wait_ms);
}

#[test]
fn the_wait_for_the_card_is_recorded_apart_from_the_time_the_phase_held_it() {
    // Another lane's work holds the card (as verification does) for 1.5 s from the start: the
    // review's timing waits for it, and says so apart from its own time, which the budget bounds.
    let gate = sadoku_core::judge::GpuGate::default();
    let mut dev = device();
    let mut reference = SimDevice::new();
    let mut options = options();
    options.timing.budget = std::time::Duration::from_millis(500);
    let (tx, rx) = std::sync::mpsc::channel();
    let report = std::thread::scope(|scope| {
        let gate = &gate;
        scope.spawn(move || {
            let _held = gate.shared();
            tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1500));
        });
        rx.recv().unwrap();
        let mut devices = Devices { gate: Some(gate), ..Devices::new(&mut dev, &mut reference) };
        review_candidate(&mut devices, &candidate("honest"), &Seeds { master: 5 }, &options, &Silent).unwrap()
    });
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().unwrap();
    let time_s = report.findings.phases.time_s;
    assert!(t.card_wait_ms >= 500.0, "waited {:.0} ms for the card", t.card_wait_ms);
    assert!(t.held_ms <= 900.0, "held it {:.0} ms against a 0.5 s budget", t.held_ms);
    // The wait is its own phase; the time phase is the card held, which the budget bounds.
    let waited_s = report.findings.phases.card_wait_s;
    assert!((waited_s * 1e3 - t.card_wait_ms).abs() < 1e-6, "{waited_s:.3} s recorded as the wait");
    // The phase is the card held and then its statistics (about 0.2 s in a debug build), never
    // the wait (at least 0.5 s here).
    assert!(time_s * 1e3 >= t.held_ms - 1.0, "the time phase {time_s:.3} s counts the card held");
    assert!(time_s * 1e3 <= t.held_ms + 400.0, "the time phase {time_s:.3} s counts no wait");
}

/// Review `candidate` with the card's remembered baselines, as a batch's lane does.
fn review_remembering(
    dev: &mut SimDevice,
    reference: &mut SimDevice,
    baselines: &Baselines,
    master: u64,
    options: &ReviewOptions,
) -> CandidateReport {
    let mut devices = Devices { baselines: Some(baselines), ..Devices::new(dev, reference) };
    review_candidate(&mut devices, &candidate("honest"), &Seeds { master }, options, &Silent)
        .expect("the simulated environment does not fail")
}

/// A judge's device whose baseline takes `pace` times as long as it would (its traced records
/// stretched from the first one's start): a card slowed, then back to speed.
fn paced_reference(pace: Rc<Cell<f64>>) -> SimDevice {
    let mut reference = SimDevice::new();
    reference.trace_tweak = Some(Box::new(move |kernels, _| {
        let Some(s0) = kernels.iter().map(|k| k.start_ns).min() else { return };
        let f = pace.get();
        for k in kernels.iter_mut() {
            k.start_ns = s0 + ((k.start_ns - s0) as f64 * f) as u64;
            k.end_ns = s0 + ((k.end_ns - s0) as f64 * f) as u64;
        }
    }));
    reference
}

fn memo_options() -> ReviewOptions {
    ReviewOptions { timing: TimingOptions { min_samples: 20, ..timing_options() }, ..options() }
}

/// Honest: the baseline measured in full by the first review of a problem and size on a card is
/// only re-checked by the next (a sample in four), and the speedup comes out the same.
#[test]
fn a_baseline_measured_once_is_rechecked_and_gives_the_same_speedup() {
    let (mut dev, mut reference, baselines) = (device(), SimDevice::new(), Baselines::default());
    let options = memo_options();
    let first = review_remembering(&mut dev, &mut reference, &baselines, 1, &options);
    let t1 = first.findings.timing.clone().expect("timed");
    assert!(t1.baseline_memo.is_none(), "measured in full: {:?}", t1.baseline_memo);
    assert_eq!(baselines.len(), 1, "remembered once it converged");
    let gemms = reference.library_log.len();
    let second = review_remembering(&mut dev, &mut reference, &baselines, 2, &options);
    let t2 = second.findings.timing.clone().expect("timed");
    let memo = t2.baseline_memo.clone().expect("the remembered baseline was used");
    assert!(memo.used && memo.drift.abs() < 0.01, "{memo:?}");
    let full = t1.baseline.as_ref().expect("baseline").samples;
    assert_eq!(memo.remembered, full);
    assert!(memo.fresh * 2 < full, "re-checked by a few fresh samples: {} against {full}", memo.fresh);
    assert!(
        reference.library_log.len() - gemms < gemms,
        "the second review ran the baseline less often: {} against {gemms}",
        reference.library_log.len() - gemms
    );
    let (s1, s2) = (t1.speedup.expect("speedup"), t2.speedup.expect("speedup"));
    assert!((s2 / s1 - 1.0).abs() < 0.01, "{s1} then {s2}");
    assert!(t2.reliable, "{:?}", t2.unreliable);
    assert!(memo.describe().contains("remembered from an earlier review"), "{}", memo.describe());
}

/// Adversarial: the baseline was measured while the card was slowed (a review that disturbed
/// it, a clock that since rose): remembered, it would double every later speedup. The next
/// review's fresh samples disagree with it by far more than the limit: they alone count, the
/// entry is forgotten, and the review after measures the baseline in full again.
#[test]
fn a_remembered_baseline_that_drifted_is_set_aside() {
    let pace = Rc::new(Cell::new(1.0));
    let (mut dev, mut reference, baselines) = (device(), paced_reference(pace.clone()), Baselines::default());
    let options = memo_options();
    let fair = review_remembering(&mut dev, &mut SimDevice::new(), &Baselines::default(), 2, &options);
    let fair = fair.findings.timing.expect("timed").speedup.expect("speedup");
    pace.set(2.0);
    review_remembering(&mut dev, &mut reference, &baselines, 1, &options);
    assert_eq!(baselines.len(), 1);
    pace.set(1.0);
    let second = review_remembering(&mut dev, &mut reference, &baselines, 2, &options);
    let t = second.findings.timing.expect("timed");
    let memo = t.baseline_memo.clone().expect("re-checked");
    assert!(!memo.used && memo.drift < -0.3, "{memo:?}");
    assert!(memo.describe().contains("set aside"), "{}", memo.describe());
    let s = t.speedup.expect("speedup");
    assert!((s / fair - 1.0).abs() < 0.02, "not inflated by the slow baseline: {s} against {fair}");
    assert_eq!(t.baseline.as_ref().expect("baseline").samples, memo.fresh, "the fresh samples alone");
    assert!(baselines.is_empty(), "forgotten");
    let third = review_remembering(&mut dev, &mut reference, &baselines, 3, &options);
    assert!(third.findings.timing.expect("timed").baseline_memo.is_none(), "measured in full again");
    assert_eq!(baselines.len(), 1);
}

/// A drift within the limit is accepted and said: a remembered baseline moves a speedup by at
/// most the limit.
#[test]
fn a_small_drift_is_within_the_limit_and_reported() {
    let pace = Rc::new(Cell::new(1.0));
    let (mut dev, mut reference, baselines) = (device(), paced_reference(pace.clone()), Baselines::default());
    let options = memo_options();
    review_remembering(&mut dev, &mut reference, &baselines, 1, &options);
    pace.set(0.99);
    let t = review_remembering(&mut dev, &mut reference, &baselines, 2, &options).findings.timing.expect("timed");
    let memo = t.baseline_memo.expect("re-checked");
    assert!(memo.used && memo.drift < -0.003 && memo.drift.abs() <= memo.limit, "{memo:?}");
}

/// A device that tells a shared log what it was asked to time and where it was held, for the
/// order of a timing's samples and its CPUs.
struct Logged {
    inner: SimDevice,
    side: &'static str,
    log: Rc<std::cell::RefCell<Vec<String>>>,
}

impl sadoku_core::device::Device for Logged {
    crate::forward_device_basics!();
    fn run(&mut self, work: &[sadoku_core::device::Work]) -> Result<(), sadoku_core::device::DeviceError> {
        self.inner.run(work)
    }
    fn time(
        &mut self,
        run: &sadoku_core::device::TimedRun,
    ) -> Result<sadoku_core::device::Sample, sadoku_core::device::DeviceError> {
        self.log.borrow_mut().push(format!("{} timed", self.side));
        self.inner.time(run)
    }
    fn pin(&mut self, cpus: Option<&[usize]>) {
        self.log.borrow_mut().push(format!("{} pinned {cpus:?}", self.side));
    }
}

/// A timing holds the candidate's worker on the CPUs named (`TimingOptions::cpus`) from before
/// its first sample to after its last, and lets it go; with none named it holds nothing. Once
/// every set is drawn, each pair's samples come in random order: the baseline sometimes first,
/// sometimes second.
#[test]
fn a_timing_holds_the_candidate_on_its_cpus_and_draws_each_pairs_order() {
    for cpus in [vec![6, 7], vec![]] {
        let log = Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut dev = Logged { inner: device(), side: "candidate", log: log.clone() };
        let mut reference = Logged { inner: SimDevice::new(), side: "baseline", log: log.clone() };
        let mut options = options();
        options.timing.cpus = cpus.clone();
        let report = review_candidate(
            &mut Devices::new(&mut dev, &mut reference),
            &candidate("honest"),
            &Seeds { master: 3 },
            &options,
            &Silent,
        )
        .expect("the simulated environment does not fail");
        assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
        let log = log.borrow();
        let pins: Vec<(usize, &String)> = log.iter().enumerate().filter(|(_, l)| l.contains("pinned")).collect();
        let timed: Vec<usize> = log.iter().enumerate().filter(|(_, l)| l.ends_with("timed")).map(|(i, _)| i).collect();
        if cpus.is_empty() {
            assert!(pins.is_empty(), "nothing held without CPUs named: {pins:?}");
        } else {
            assert_eq!(pins.len(), 2, "{pins:?}");
            assert_eq!(pins[0].1, "candidate pinned Some([6, 7])");
            assert_eq!(pins[1].1, "candidate pinned None");
            assert!(pins[0].0 < timed[0] && pins[1].0 > *timed.last().unwrap(), "held around every sample");
        }
        // The judge's own device never moves (its threads are the judge's).
        assert!(!log.iter().any(|l| l.starts_with("baseline pinned")));
        // Pairs: consecutive (candidate, baseline) or (baseline, candidate).
        let sides: Vec<&str> = timed.iter().map(|&i| log[i].split(' ').next().unwrap()).collect();
        let (mut first, mut second) = (0, 0);
        for pair in sides.chunks(2).filter(|p| p.len() == 2 && p[0] != p[1]) {
            if pair[0] == "baseline" { first += 1 } else { second += 1 }
        }
        assert!(first > 0 && second > 0, "both orders drawn: {first} baseline-first, {second} candidate-first");
        assert_eq!(sides[0], "candidate", "the first pair before every set is drawn: candidate first");
    }
}
