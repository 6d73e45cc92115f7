//! Inputs with structure and sizes no one can read, on the simulated device: a softmax without a
//! max shift passes the classic trials and fails the stress trial, and a kernel wrong only at
//! sizes `problem.toml` does not list fails at the size drawn at run time; the honest kernels pass
//! both.

mod common;

use std::cell::RefCell;

use common::*;
use sadoku_core::candidate::Candidate;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::events::{Event, Observer};
use sadoku_core::judge::Devices;
use sadoku_core::problem::Registry;
use sadoku_core::problem::Sizes;
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verdict::{Rejection, Verdict};
use sadoku_core::verify::VerifyOptions;

#[derive(Default)]
struct Recorder(RefCell<Vec<String>>);

impl Observer for Recorder {
    fn event(&self, event: Event<'_>) {
        if let Event::Trial { sizes, trial } = event {
            self.0.borrow_mut().push(format!("{sizes}|{trial}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stress: the library's softmax problem, its fp64 reference as a simulated kernel.

fn bd(b: i64, d: i64) -> Sizes {
    Sizes::new([("B", b), ("D", d)])
}

fn softmax_candidate(kernel: &str) -> Candidate {
    let source = format!(
        "/* sadoku\nproblem = \"softmax\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"B\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"y\", \"B\", \"D\"]\n*/\nextern \"C\" __global__ void {kernel}(const float* x, float* y, int B, int D) {{}}\n"
    );
    Candidate::from_source(&Registry::library(), format!("{kernel}.cu"), source).unwrap()
}

/// The judge, with the problem's reference kernel (`softmax_fp64(x, y, y_scale, D)`) in fp64.
fn softmax_judge() -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        "softmax_fp64",
        &["u64", "u64", "u64", "u64"],
        |call: &mut SimCall| {
            let (x, cols) = (call.read(0)?, call.int(3) as usize);
            let mut y = Vec::with_capacity(x.len());
            for row in x.chunks(cols) {
                let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                y.extend(row.iter().map(|&v| (v as f64 - m).exp() / s));
            }
            call.write_f64(1, &y)?;
            call.write_f64(2, &y)
        },
        |_| 0.01,
    );
    d
}

/// A candidate device running `softmax` over each row, in fp32.
fn softmax_device(kernel: &str, shift: bool) -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        kernel,
        &["u64", "u64", "u32", "u32"],
        move |call: &mut SimCall| -> Result<(), SimFault> {
            let (x, cols) = (call.read(0)?, call.int(3) as usize);
            let mut y = Vec::with_capacity(x.len());
            for row in x.chunks(cols) {
                let m = if shift { row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) } else { 0.0 };
                let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
                y.extend(row.iter().map(|&v| (v - m).exp() / s));
            }
            call.write(1, &y)
        },
        |_| 0.01,
    );
    d
}

fn review_softmax(kernel: &str, shift: bool, stress: bool, master: u64) -> CandidateReport {
    let options = ReviewOptions {
        verify: VerifyOptions { sizes: vec![bd(3, 17), bd(2, 100)], stress, ..Default::default() },
        timed_sizes: Some(bd(3, 17)),
        skip_timing: true,
        ..ReviewOptions::default()
    };
    let (mut dev, mut judge) = (softmax_device(kernel, shift), softmax_judge());
    let report = review_candidate(
        &mut Devices::new(&mut dev, &mut judge),
        &softmax_candidate(kernel),
        &Seeds { master },
        &options,
        &Recorder::default(),
    )
    .expect("the simulated environment does not fail");
    assert_eq!((dev.live_buffers(), judge.live_buffers()), (0, 0));
    report
}

#[test]
fn a_softmax_without_a_max_shift_passes_plain_inputs_and_fails_the_stress_trial() {
    // The hole: standard normal logits never overflow exp.
    let plain = review_softmax("naive", false, false, 3);
    assert!(plain.verdict.is_accepted(), "{:?}", plain.verdict);
    for master in [3, 4, 5] {
        let report = review_softmax("naive", false, true, master);
        let Verdict::Rejected(Rejection::Inaccurate { at, .. }) = &report.verdict else {
            panic!("{:?}", report.verdict)
        };
        assert!(at.trial.starts_with("trial 4 (stress profile"), "{at}");
        assert!(at.trial.contains("randn(100, 2)") || at.trial.contains("randn(-120, 2)"), "{at}");
    }
}

#[test]
fn an_honest_softmax_with_a_max_shift_passes_every_stress_profile() {
    let mut profiles = Vec::new();
    for master in 0..6 {
        let report = review_softmax("honest", true, true, master);
        assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
        let stress: Vec<&str> =
            report.findings.trials.iter().map(|t| t.trial.as_str()).filter(|t| t.starts_with("trial 4")).collect();
        assert_eq!(stress.len(), 3, "one stress trial at each size, the drawn one included: {stress:?}");
        profiles.extend(stress.iter().map(|t| t.contains("randn(100, 2)")));
    }
    assert!(profiles.contains(&true) && profiles.contains(&false), "the seed picks both profiles");
}

// ---------------------------------------------------------------------------------------------
// Drawn sizes: trimm at N = 1, 17, 40 and one N drawn at run time.

/// Every size of trimm anyone can read: its problem.toml's and these tests'.
fn listed(n: usize) -> bool {
    let p = Registry::library().find("trimm").unwrap().clone();
    let published = p.check_sizes().into_iter().chain([p.small_sizes()]).any(|s| s.get("N") == Some(n as i64));
    published || VERIFY_N.contains(&(n as i64))
}

fn drawn_options(drawn_size: bool) -> ReviewOptions {
    ReviewOptions { verify: VerifyOptions { drawn_size, ..verify_options() }, skip_timing: true, ..options() }
}

#[test]
fn a_kernel_wrong_only_at_unlisted_sizes_is_rejected_at_the_drawn_size() {
    let mut dev = device();
    register(&mut dev, "unlisted", |a, b, n| {
        let mut c = trimm_fp32(a, b, n);
        if !listed(n) {
            c[0] += 1.0;
        }
        c
    });
    let cand = candidate("unlisted");
    // Without the drawn size it passes: the hole.
    let report = review_unchecked(&mut dev, &cand, 8, &drawn_options(false));
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    for master in [8, 9, 10] {
        let recorder = Recorder::default();
        let report = review_candidate(
            &mut Devices::new(&mut dev, &mut SimDevice::new()),
            &cand,
            &Seeds { master },
            &drawn_options(true),
            &recorder,
        )
        .unwrap();
        let Verdict::Rejected(Rejection::Inaccurate { at, .. }) = &report.verdict else {
            panic!("{:?}", report.verdict)
        };
        let drawn = report.findings.drawn_sizes.clone().expect("a size was drawn");
        assert_eq!(at.sizes, drawn);
        let n = drawn.get("N").unwrap();
        assert!((1..=40).contains(&n) && !listed(n as usize), "N = {n}");
        assert!(report.findings.trials.iter().any(|t| t.drawn && t.sizes == drawn));
        // Progress never named it: neither the sizes nor the trial's text.
        let events = recorder.0.borrow();
        let hidden: Vec<&String> = events.iter().filter(|e| e.starts_with('|')).collect();
        assert_eq!(hidden.len(), 1, "{events:?}");
        assert_eq!(hidden[0], "|trial 1");
        assert!(events.iter().all(|e| !e.contains(&format!("N = {n}"))), "{events:?}");
    }
}

#[test]
fn the_honest_kernel_passes_at_the_drawn_size_and_the_seed_replays_it() {
    let mut dev = device();
    let a = review_unchecked(&mut dev, &candidate("honest"), 11, &drawn_options(true));
    assert!(a.verdict.is_accepted(), "{:?}", a.verdict);
    let drawn = a.findings.drawn_sizes.clone().unwrap();
    assert_eq!(a.findings.trials.iter().filter(|t| t.drawn).count(), 3);
    let b = review_unchecked(&mut dev, &candidate("honest"), 11, &drawn_options(true));
    assert_eq!(b.findings.drawn_sizes, Some(drawn.clone()), "--seed replays the drawn size");
    let sizes: Vec<Option<Sizes>> = (12..20)
        .map(|m| review_unchecked(&mut dev, &candidate("honest"), m, &drawn_options(true)).findings.drawn_sizes)
        .collect();
    assert!(sizes.iter().any(|s| s.as_ref() != Some(&drawn)), "another seed, another size");
    // The JSON record names it.
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["drawn_sizes"]["N"], drawn.get("N").unwrap());
}

#[test]
fn trimm_gets_a_stress_trial_at_every_size_by_default() {
    let mut dev = device();
    let options = ReviewOptions {
        verify: VerifyOptions { stress: true, drawn_size: true, ..verify_options() },
        skip_timing: true,
        ..options()
    };
    let report = review_unchecked(&mut dev, &candidate("honest"), 21, &options);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let stress: Vec<&str> =
        report.findings.trials.iter().map(|t| t.trial.as_str()).filter(|t| t.starts_with("trial 4")).collect();
    assert_eq!(stress.len(), 4, "N = 1, 17, 40 and the drawn size: {stress:?}");
    assert!(
        stress.iter().all(|t| t.contains("stress profile") && (t.contains("ties(4)") || t.contains("zero_rows(0.25)"))),
        "{stress:?}"
    );
    // Every trial's inputs have their own seed.
    let mut seeds: Vec<&String> = report.findings.trials.iter().map(|t| &t.input_seed).collect();
    let n = seeds.len();
    seeds.sort();
    seeds.dedup();
    assert_eq!(seeds.len(), n - 4, "only trial 3 repeats trial 2's inputs");
}
