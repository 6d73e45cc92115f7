use super::dispute::*;
use super::sampler::{Taken, inconsistent};
use super::*;
use crate::device::KernelRecord;

fn taken(event_ms: f64, span_ms: f64) -> Taken {
    Taken { event_ms, span_ms: Some(span_ms), wall_ms: event_ms, clock: None, judge_ms: None }
}

fn judged(span_ms: f64, judge_ms: f64) -> Taken {
    Taken { judge_ms: Some(judge_ms), ..taken(span_ms, span_ms) }
}

fn disputed(c: &[Taken], b: &[Taken], use_spans: bool) -> Option<ClockCheck> {
    clock_check(c, b, use_spans).filter(|k| k.disputed)
}

/// Samples whose round trips are `claim + overhead + jitter`, the jitter cycling through
/// `jitter` (ms).
fn jittered(claim: f64, overhead: f64, jitter: &[f64], n: usize) -> Vec<Taken> {
    (0..n).map(|i| judged(claim, claim + overhead + jitter[i % jitter.len()])).collect()
}

/// An honest call's claim stands (its round trip is the baseline's, or a little more); a
/// claim ten times below the judge's clock is disputed, and the candidate is then timed by
/// the judge's clock less the baseline's overhead alone.
#[test]
fn a_claim_far_below_the_judges_clock_is_disputed() {
    let baseline = vec![judged(2.0, 2.3); 5];
    assert_eq!(disputed(&vec![judged(1.0, 1.32); 5], &baseline, true), None);
    // Memory-bound and short: 0.04 ms more bookkeeping than the baseline's, within 0.05 ms.
    assert_eq!(disputed(&vec![judged(0.02, 0.36); 5], &baseline, true), None);
    let d = disputed(&vec![judged(0.7, 7.3); 5], &baseline, true).expect("disputed");
    assert!((d.baseline_overhead_ms - 0.3).abs() < 1e-9, "{d:?}");
    assert!((d.claimed_ms - 0.7).abs() < 1e-9 && (d.judged_ms - 7.0).abs() < 1e-9, "{d:?}");
    // Nothing to calibrate against: nothing disputed.
    assert_eq!(disputed(&vec![judged(0.7, 7.3); 5], &vec![taken(2.0, 2.0); 5], true), None);
    assert_eq!(disputed(&vec![taken(0.7, 0.7); 5], &baseline, true), None);
}

/// The clock's noise disputes no honest claim: with the baseline's round trips spread by
/// ±0.15 ms (as a 0.18 ms call's were on an H100), an honest candidate's median that lands
/// 0.1 ms above the baseline's by chance stands, and the check says how close it could look.
/// A claim shrunk by far more than the noise is disputed all the same. The allowance comes
/// from the baseline's spread alone: a candidate that answers erratically widens nothing.
#[test]
fn the_clocks_noise_disputes_no_honest_claim_and_hides_no_large_lie() {
    let spread = [-0.15, -0.05, 0.0, 0.05, 0.15, -0.1, 0.1];
    let baseline = jittered(0.18, 0.9, &spread, 6);
    let unlucky = jittered(0.18, 1.0, &spread, 6);
    let check = clock_check(&unlucky, &baseline, true).expect("both sides timed by the judge");
    assert!(!check.disputed, "{check:?}");
    assert!((check.excess_ms - 0.1).abs() < 1e-9, "{check:?}");
    assert!(check.allowance_ms > 0.1 && check.allowance_ms < 0.4, "{check:?}");
    // A claim of 0.02 ms for a call the judge's clock sees take 0.5 ms more.
    let shrunk = jittered(0.02, 0.9 + 0.66, &spread, 6);
    assert!(clock_check(&shrunk, &baseline, true).expect("timed").disputed);
    // Erratic answers from the candidate's process leave the allowance as it was.
    let erratic = jittered(0.18, 1.0, &[-0.9, 0.9, 0.0], 6);
    let e = clock_check(&erratic, &baseline, true).expect("timed");
    assert!((e.allowance_ms - check.allowance_ms).abs() < 1e-12, "{e:?} {check:?}");
    // More samples, a tighter allowance: the same excess, seen in 60 samples a side, is beyond it.
    let (baseline, unlucky) = (jittered(0.18, 0.9, &spread, 60), jittered(0.18, 1.0, &spread, 60));
    let many = clock_check(&unlucky, &baseline, true).expect("timed");
    assert!(many.allowance_ms < check.allowance_ms, "{many:?}");
}

/// Where the judge's clock times a call, each sample is an estimate (its round trip less the
/// baseline's median overhead), and the clock's noise can put one below the kernel's own time:
/// as on an H100, an honest average pool whose 0.118 ms kernel was estimated at 0.005 ms once,
/// 174 % of DRAM's peak, and rejected as physically impossible. The physics check takes the
/// fastest sample as measured, which an honest kernel never puts below its own time.
#[test]
fn the_fastest_sample_for_the_physics_check_is_measured_never_a_judges_clock_estimate() {
    let spread = [-0.15, -0.05, 0.0, 0.05, 0.15, -0.1, 0.1];
    let baseline = jittered(0.13, 0.48, &spread, 14);
    // Its process answers 0.34 ms later than the baseline's, and once as soon as 0.485 ms.
    let mut honest = jittered(0.118, 0.48 + 0.34, &spread, 14);
    honest[3].judge_ms = Some(0.485);
    let check = clock_check(&honest, &baseline, true).expect("timed");
    assert!(check.disputed, "{check:?}");
    let estimates = judge_times(&honest, check.baseline_overhead_ms);
    let lowest = estimates.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(lowest < 0.01, "an estimate below the kernel's own time: {estimates:?}");
    assert_eq!(super::sampler::fastest_measured(&honest, true), Some(0.118));
    // A claim of an impossible time stays the candidate's own: it is what the check sees.
    let mut claims = honest.clone();
    claims[5].span_ms = Some(0.004);
    assert_eq!(super::sampler::fastest_measured(&claims, true), Some(0.004));
}

fn record(name: &str, start_ns: u64, end_ns: u64) -> KernelRecord {
    KernelRecord::at(name, start_ns, end_ns, 7)
}

#[test]
fn a_baselines_busy_time_is_the_union_of_its_records_and_its_kernels_are_kept_by_place() {
    // Eager l2norm as the H200 traced it while CUPTI took up its buffers inside the call: a
    // norm, 0.33 ms idle, a division; and a copy overlapping a kernel on another stream.
    let records = vec![record("norm", 0, 84_000), record("div", 414_000, 622_000), record("copy", 500_000, 700_000)];
    assert!((busy_ms(&records) - (0.084 + 0.286)).abs() < 1e-12, "{}", busy_ms(&records));
    assert_eq!(busy_ms(&[]), 0.0);
    let mut places = Vec::new();
    tally(&mut places, records[..2].to_vec());
    tally(&mut places, vec![record("norm", 0, 86_000), record("div", 90_000, 300_000)]);
    let times = kernel_times(&places);
    assert_eq!(times.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["norm", "div"]);
    assert!((times[0].median_ms - 0.085).abs() < 1e-12);
    assert!((times[1].median_ms - 0.209).abs() < 1e-12);
}

#[test]
fn a_call_whose_trace_covers_much_less_than_its_events_is_timed_by_events() {
    // Eager PyTorch: 0.07 ms of host dispatch before its kernel (measured on the H200).
    let eager = vec![taken(0.197, 0.127); 5];
    // An honest ModelNew: a little more dispatch, within the allowance.
    assert_eq!(uncovered(&vec![taken(0.225, 0.127); 5], &eager), None);
    // A call that switched CUPTI off around its kernel: the trace saw only a 2 µs copy.
    let hidden = vec![taken(0.210, 0.002); 5];
    let why = uncovered(&hidden, &eager).expect("uncovered");
    assert!(why.contains("leave 0.2080 ms of their 0.2100 ms events uncovered"), "{why}");
    // Host work between two copies is inside the span: covered.
    assert_eq!(uncovered(&vec![taken(376.0, 300.0); 5], &eager), None);
    // Without a baseline the allowance alone.
    assert!(uncovered(&hidden, &[]).is_some());
}

#[test]
fn calls_follow_the_interval() {
    assert_eq!(Call::of((1.01, 1.2)), Call::Faster);
    assert_eq!(Call::of((0.5, 0.99)), Call::Slower);
    assert_eq!(Call::of((0.99, 1.01)), Call::Same);
    assert_eq!(Call::of((1.0, 1.3)), Call::Same, "an interval touching 1 claims nothing");
}

#[test]
fn sets_exceed_l2_together() {
    // N = 4096 trimm: three 64 MiB buffers per set, 60 MB L2.
    assert_eq!(set_count(192 << 20, 60_000_000, 140 << 30, 16), 3);
    // N = 1024: 12 MiB per set needs ten sets for 2 × L2.
    let n = set_count(12 << 20, 60_000_000, 140 << 30, 16);
    assert!(n * (12 << 20) >= 120_000_000 && n <= 16, "{n}");
    // Never more than a quarter of memory, never fewer than one.
    assert_eq!(set_count(1 << 30, 60_000_000, 2 << 30, 16), 1);
}

/// The eager baseline's call is timed from its start against a Python candidate (whose call is
/// timed from its own) and from its first kernel against a native one (whose launch's host time no
/// trace holds).
#[test]
fn a_baselines_call_counts_from_its_start_only_against_a_python_candidate() {
    let k = |start: u64, end: u64| crate::device::KernelRecord::at("eager", start, end, 7);
    let trace = crate::device::Trace::Call {
        window_ns: (1_000_000, 2_000_000),
        kernels: vec![k(1_040_000, 1_042_000), k(1_082_000, 1_084_000)],
        started_ns: Some(1_000_000),
    };
    let python = super::sampler::baseline_span(&trace, true).unwrap();
    let native = super::sampler::baseline_span(&trace, false).unwrap();
    assert!((python - 0.084).abs() < 1e-12, "{python}");
    assert!((native - 0.044).abs() < 1e-12, "{native}");
}

/// A Python call's span begins when the device was idle before it, its events only when the
/// device reached the start event, which the driver held back to the call's first kernel: on an
/// H100, an archive HingeLoss call's span was 0.2921 ms, its events 0.2058 ms and the host's clock
/// around it 0.2839 ms. That is consistent; a span or events beyond the host's clock are not.
#[test]
fn a_span_may_exceed_its_events_by_the_calls_host_time_never_the_hosts_clock() {
    let sample = |event_ms: f64, span_ms: f64, wall_ms: f64| Taken { wall_ms, ..taken(event_ms, span_ms) };
    assert_eq!(inconsistent(&[sample(0.2058, 0.2921, 0.2839); 5], true), None);
    let long = inconsistent(&[sample(0.2058, 0.6, 0.2839); 5], true).expect("a span beyond the host's clock");
    assert!(long.contains("the trace's span is 0.6000 ms but only 0.2839 ms passed on the host"), "{long}");
    // Not timed by its span: the span says nothing.
    assert_eq!(inconsistent(&[sample(0.2058, 0.6, 0.2839); 5], false), None);
    let events = inconsistent(&[sample(0.5, 0.5, 0.2); 5], false).expect("events beyond the host's clock");
    assert!(events.contains("the device's events report 0.5000 ms but only 0.2000 ms"), "{events}");
}
