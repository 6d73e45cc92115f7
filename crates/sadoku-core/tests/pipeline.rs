//! The whole review pipeline (compile → verify → time → verdict) on the simulated device, for
//! problem "trimm" at N = 1, 17 and 40: for every check, a kernel that cheats or errs in the
//! way the check exists for, and an honest kernel it lets through.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use common::*;
use sadoku_core::candidate::Candidate;
use sadoku_core::checks::POISON_NAN;
use sadoku_core::checks::accuracy::PrecisionClass;
use sadoku_core::checks::guards::GUARD_BYTES;
use sadoku_core::checks::signature;
use sadoku_core::compile::{CompileRequest, Compiler};
use sadoku_core::device::sim::SimDevice;
use sadoku_core::device::{Device, DeviceError, DeviceExt, KernelArg};
use sadoku_core::events::{Event, Observer, Silent};
use sadoku_core::judge::{Devices, Prepared};
use sadoku_core::problem::Registry;
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verdict::{At, Rejection, Verdict};
use sadoku_core::verify;

const T1: &str = "trial 1 (randn inputs, NaN poison)";
const T2: &str = "trial 2 (rand inputs, random-bits poison)";
const T3: &str = "trial 3 (rand inputs of trial 2, random-bits poison)";

fn at(n: i64, trial: &str) -> At {
    At::new(&n_sizes(n), trial)
}

fn rejection(report: &CandidateReport) -> &Rejection {
    match &report.verdict {
        Verdict::Rejected(r) => r,
        v => panic!("{} should have been rejected, got {v:?}", report.name),
    }
}

/// (sizes, trial) of every trial the report records.
fn trial_labels(report: &CandidateReport) -> Vec<(i64, String)> {
    report.findings.trials.iter().map(|t| (t.sizes.get("N").unwrap(), t.trial.clone())).collect()
}

/// The labels of all three trials at each of `ns`.
fn all_trials(ns: &[i64]) -> Vec<(i64, String)> {
    ns.iter().flat_map(|&n| [T1, T2, T3].map(|t| (n, t.to_string()))).collect()
}

#[derive(Default)]
struct Recorder(RefCell<Vec<String>>);

impl Observer for Recorder {
    fn event(&self, event: Event<'_>) {
        let line = match event {
            Event::Candidate { name, .. } => format!("candidate {name}"),
            Event::Stage { name } => format!("stage {name}"),
            Event::Trial { sizes, trial } => format!("trial {sizes}: {trial}"),
            Event::Sample { .. } => "sample".to_string(),
            Event::Verdict { name, verdict } => format!("verdict {name} accepted={}", verdict.is_accepted()),
        };
        self.0.borrow_mut().push(line);
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The honest kernel.

#[test]
fn honest_fp32_kernel_is_accepted_as_fp32_and_timed_at_the_requested_size() {
    let mut dev = device();
    let cand = candidate("honest");
    let recorder = Recorder::default();
    let mut reference = SimDevice::new();
    let mut devices = Devices::new(&mut dev, &mut reference);
    let report = review_candidate(&mut devices, &cand, &Seeds { master: 1 }, &options(), &recorder).unwrap();
    assert_eq!(dev.live_buffers(), 0, "leaked buffers");

    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    assert_eq!((report.reason.as_deref(), report.evidence.as_deref()), (None, None));
    assert_eq!(report.name, "honest.cu");
    assert_eq!(report.problem, "trimm");
    assert_eq!(report.findings.compile.as_ref().unwrap().arch, "sm_90");

    // Every trial at every size ran and passes the fp32 tolerance.
    assert_eq!(trial_labels(&report), all_trials(&VERIFY_N));
    for t in &report.findings.trials {
        assert_eq!(t.accuracy.len(), 1);
        let acc = &t.accuracy[0];
        assert_eq!(acc.buffer, "C");
        assert!(acc.passes(), "{} {}: {acc:?}", t.sizes, t.trial);
        assert_eq!((acc.class, acc.over_bound, acc.nonfinite), (PrecisionClass::Fp32, 0, 0));
    }
    let worst = report.findings.error.as_ref().unwrap();
    assert_eq!(worst.class, PrecisionClass::Fp32);
    assert!(worst.normwise <= 1e-5, "{worst:?}");

    // Timed at N = 40 (not the problem's 4096) against the fp32 library baseline.
    assert_eq!(report.timed_sizes, n_sizes(TIMED_N));
    let timing = report.findings.timing.as_ref().expect("accepted candidates are timed");
    assert!(timing.baseline_name.starts_with("cuBLAS SGEMM (TF32 off) + tril"), "{}", timing.baseline_name);
    assert!(timing.converged, "{timing:#?}");
    assert!(timing.candidate.samples >= 5 && timing.candidate.samples == timing.baseline.as_ref().unwrap().samples);
    assert!((timing.candidate.median - KERNEL_MS).abs() < 0.01 * KERNEL_MS, "{:?}", timing.candidate);
    let tflops = cand.problem.min_flops(&n_sizes(TIMED_N)) / (timing.candidate.median * 1e-3) / 1e12;
    assert!((report.findings.tflops.unwrap() / tflops - 1.0).abs() < 1e-12);

    // Every launch of the candidate was at a verified size; none at N = 4096.
    let mut at_timed = 0;
    for l in &dev.launches {
        assert_eq!(l.kernel, "honest");
        let KernelArg::I32(n) = l.args[3] else { panic!("N is passed as an int: {:?}", l.args) };
        assert!(VERIFY_N.contains(&(n as i64)), "launched at N = {n}");
        let tiles = (n as u32).div_ceil(16);
        assert_eq!((l.grid, l.block), ([tiles, tiles, 1], [16, 16, 1]));
        at_timed += usize::from(n as i64 == TIMED_N);
    }
    assert!(at_timed >= 3 + 3 + timing.candidate.samples, "3 trials, 3 warm-up runs, the samples: {at_timed}");

    // What a terminal would have shown, in order.
    let events = recorder.0.borrow();
    let stages: Vec<&str> = events.iter().filter(|e| e.starts_with("stage ")).map(String::as_str).collect();
    assert_eq!(stages, ["stage compiling", "stage verifying", "stage timing"]);
    let trials: Vec<&String> = events.iter().filter(|e| e.starts_with("trial ")).collect();
    assert_eq!(trials.len(), 9);
    assert_eq!(trials[0], &format!("trial N = 1: {T1}"));
    assert_eq!(events.iter().filter(|e| *e == "sample").count(), timing.candidate.samples);
    assert_eq!(events.last().unwrap(), "verdict honest.cu accepted=true");
}

/// The accepted path without the timing stage: `verify::verify` straight after compiling and
/// loading, as `review_candidate` does it.
#[test]
fn honest_fp32_kernel_passes_verification_directly() {
    let mut dev = device();
    let cand = candidate("honest");
    let compiler = dev.compiler();
    let module = compiler
        .compile(&CompileRequest {
            name: cand.name(),
            source: cand.source.clone(),
            arch: dev.info().arch(),
            options: cand.spec.options.clone(),
        })
        .unwrap();
    let kinds = cand.spec.launches.iter().map(|l| signature::check(l, &module).unwrap()).collect();
    let prepared = Prepared { module: dev.load(&module).unwrap(), kinds };
    let mut reference = SimDevice::new();
    let mut devices = Devices::new(&mut dev, &mut reference);
    let v = verify::verify(&mut devices, &cand, &prepared, &Seeds { master: 5 }, &verify_options(), &Silent).unwrap();
    assert_eq!(dev.live_buffers(), 0);
    assert_eq!(v.rejection, None);
    assert_eq!(v.class(), PrecisionClass::Fp32);
    assert_eq!(v.trials.len(), 9);
    assert!(v.trials.iter().all(|t| t.accuracy.iter().all(|a| a.passes())));
}

// ---------------------------------------------------------------------------------------------
// 2. Every output element written.

/// The Sakana kernel: computes row 0 and leaves the rest to whatever the allocator handed out.
fn row_zero_only(call: &mut sadoku_core::device::sim::SimCall) -> Result<(), sadoku_core::device::sim::SimFault> {
    let (a, b, n) = inputs(call)?;
    let c = trimm_fp32(&a, &b, n);
    call.write_at(2, 0, &c[..n])
}

#[test]
fn kernel_writing_only_row_zero_is_rejected_as_unwritten() {
    let mut dev = device();
    register_raw(&mut dev, "row_zero", row_zero_only);
    let report = review(&mut dev, &candidate("row_zero"), 2);
    // At N = 1, row 0 is the whole matrix: all three trials pass.
    assert_eq!(trial_labels(&report), all_trials(&[1]));
    let Rejection::Unwritten { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(17, T1));
    assert_eq!(
        (evidence.buffer.as_str(), evidence.count, evidence.total, evidence.first.as_slice()),
        ("C", 17 * 17 - 17, 17 * 17, &[1, 0][..])
    );
    assert_eq!(evidence.to_string(), "272 of 289 output elements of C never written; first at (1, 0)");
    assert_eq!(report.reason.as_deref(), Some("output not written"));
    assert_eq!(
        report.evidence.as_deref(),
        Some(
            "272 of 289 output elements of C never written; first at (1, 0) (at N = 17, trial 1 (randn inputs, NaN poison))"
        )
    );
}

/// A common real bug: the kernel computes the lower triangle and trusts fresh memory to be zero
/// above it.
#[test]
fn kernel_leaving_the_upper_triangle_to_fresh_memory_is_rejected_as_unwritten() {
    let mut dev = device();
    register_raw(&mut dev, "lower_only", |call| {
        let (a, b, n) = inputs(call)?;
        let c = trimm_fp32(&a, &b, n);
        for i in 0..n {
            call.write_at(2, (i * n) as isize, &c[i * n..=i * n + i])?;
        }
        Ok(())
    });
    let report = review(&mut dev, &candidate("lower_only"), 2);
    let Rejection::Unwritten { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(17, T1));
    assert_eq!((evidence.count, evidence.first.as_slice()), (17 * 16 / 2, &[0, 1][..]));
}

/// Behaves when the output holds NaN poison and writes row 0 only otherwise: the random-bits
/// poison of trial 2 catches it.
#[test]
fn kernel_that_sniffs_for_nan_poison_is_caught_by_random_poison() {
    let mut dev = device();
    register_raw(&mut dev, "sniffer", |call| {
        let (a, b, n) = inputs(call)?;
        let c = trimm_fp32(&a, &b, n);
        if call.read(2)?[0].is_nan() { call.write(2, &c) } else { call.write_at(2, 0, &c[..n]) }
    });
    let report = review(&mut dev, &candidate("sniffer"), 4);
    let Rejection::Unwritten { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(17, T2));
    assert_eq!((evidence.count, evidence.first.as_slice()), (272, &[1, 0][..]));
}

/// The simulated allocator recycles freed memory without clearing it, as a caching allocator
/// does: a stale answer left in a freed buffer would be "found" by a kernel that writes nothing.
/// Poisoning every output before every launch overwrites whatever was recycled.
#[test]
fn recycled_memory_keeps_stale_contents_but_poison_overwrites_them() {
    const N: usize = 17;
    let bytes = N * N * 4;
    // Candidates' buffers sit between guard zones: allocations of this size, viewed in the middle.
    let whole = bytes + 2 * GUARD_BYTES;
    let view = |b: sadoku_core::device::Buffer| b.view(GUARD_BYTES, bytes);
    let mut dev = device();
    // The judge allocates every buffer the candidate sees: its allocator is the one that recycles.
    let mut judge = SimDevice::new();
    let seen = Rc::new(RefCell::new(Vec::<(usize, Vec<u32>)>::new()));
    let log = seen.clone();
    register_raw(&mut dev, "row_zero_stale", move |call| {
        let c_at_entry = call.read(2)?.iter().map(|v| v.to_bits()).collect();
        log.borrow_mut().push((call.int(3) as usize, c_at_entry));
        row_zero_only(call)
    });

    // Three N×N buffers with recognisable contents, freed.
    let stale: Vec<Vec<f32>> = (0..3).map(|p| (0..N * N).map(|i| (p * 1000 + i) as f32 + 0.5).collect()).collect();
    let bufs: Vec<_> = stale
        .iter()
        .map(|s| {
            let b = judge.alloc(whole).unwrap();
            judge.upload_f32(view(b), s).unwrap();
            b
        })
        .collect();
    bufs.into_iter().for_each(|b| judge.free(b));
    assert_eq!(judge.live_buffers(), 0);

    // The hazard: new allocations of that size come back holding the old contents, not zeros.
    let again: Vec<_> = (0..3).map(|_| judge.alloc(whole).unwrap()).collect();
    let mut got: Vec<Vec<f32>> = again.iter().map(|b| judge.download_f32(view(*b)).unwrap()).collect();
    got.sort_by(|x, y| x[0].total_cmp(&y[0]));
    assert_eq!(got, stale);
    again.into_iter().for_each(|b| judge.free(b));

    // A, B and C at N = 17 could have been those three recycled buffers; the kernel still gets caught.
    let report = review_on(&mut dev, &mut judge, &candidate("row_zero_stale"), 3, &options());
    let Rejection::Unwritten { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(17, T1));
    assert_eq!((evidence.count, evidence.first.as_slice()), (N * N - N, &[1, 0][..]));

    // The kernel found C full of poison, nothing of the stale contents.
    let seen = seen.borrow();
    let at_17: Vec<&Vec<u32>> = seen.iter().filter(|(n, _)| *n == N).map(|(_, c)| c).collect();
    assert_eq!(at_17.len(), 1);
    assert!(at_17[0].iter().all(|&w| w == POISON_NAN), "C held something other than the NaN poison at launch");
    // And the review was handed none of the three stale buffers: what the judge shares is fresh,
    // zeroed blocks (`alloc_shared`), so its recycled memory stays judge-only, all three still in
    // the pool with their contents.
    let after: Vec<_> = (0..3).map(|_| judge.alloc(whole).unwrap()).collect();
    let mut kept: Vec<Vec<f32>> = after.iter().map(|b| judge.download_f32(view(*b)).unwrap()).collect();
    kept.sort_by(|x, y| x[0].total_cmp(&y[0]));
    assert_eq!(kept, stale, "a stale buffer of the judge's was handed to the review");
    after.into_iter().for_each(|b| judge.free(b));
}

// ---------------------------------------------------------------------------------------------
// 3. Inputs unchanged.

#[test]
fn kernel_that_zeroes_an_input_after_computing_is_rejected() {
    let mut dev = device();
    let first_a = Rc::new(Cell::new(None::<f32>));
    let seen = first_a.clone();
    register_raw(&mut dev, "zero_a", move |call| {
        let (a, b, n) = inputs(call)?;
        if seen.get().is_none() {
            seen.set(Some(a[0]));
        }
        call.write(2, &trimm_fp32(&a, &b, n))?;
        call.write(0, &vec![0.0; n * n])
    });
    let report = review(&mut dev, &candidate("zero_a"), 6);
    let Rejection::InputsModified { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(1, T1));
    let a00 = first_a.get().unwrap();
    assert_ne!(a00, 0.0);
    assert_eq!(
        (
            evidence.buffer.as_str(),
            evidence.changed,
            evidence.total,
            evidence.first.as_slice(),
            evidence.before,
            evidence.after
        ),
        ("A", 1, 1, &[0, 0][..], a00 as f64, 0.0)
    );
    assert_eq!(
        evidence.to_string(),
        format!("input A modified: 1 of 1 elements changed; first at (0, 0) ({a00} became 0)")
    );
    assert_eq!(report.reason.as_deref(), Some("inputs modified"));
}

/// The comparison is bitwise: even turning a zero of B's upper triangle into -0 is caught.
#[test]
fn kernel_that_flips_the_sign_of_an_input_zero_is_rejected() {
    let mut dev = device();
    register_raw(&mut dev, "neg_zero_b", |call| {
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))?;
        if n > 1 { call.write_at(1, 1, &[-0.0]) } else { Ok(()) }
    });
    let report = review(&mut dev, &candidate("neg_zero_b"), 6);
    let Rejection::InputsModified { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(17, T1));
    assert_eq!(evidence.to_string(), "input B modified: 1 of 289 elements changed; first at (0, 1) (0 became -0)");
}

// ---------------------------------------------------------------------------------------------
// 4-5. Accuracy against fp64.

/// TF32 operands, verified largest size first (sadoku's own default order puts the timed size
/// first): the precision class is a normwise statistic and needs many elements. At N = 1 the
/// "normwise" error is one rounded product: for about 2% of master seeds it lands under 1e-5,
/// so the rejection is still `Inaccurate` but classed fp32, with an elementwise message that
/// never mentions tf32 (and for about 1 seed in 2000 all three N = 1 products happen to be
/// within fp32 rounding and N = 1 alone would accept).
#[test]
fn tf32_operands_are_rejected_as_tf32_precision() {
    let mut options = options();
    options.verify.sizes.reverse();
    for master in [1, 2, 3, 4, 5] {
        let mut dev = device();
        register(&mut dev, "tf32_ops", |a, b, n| trimm_with(a, b, n, tf32));
        let report = review_unchecked(&mut dev, &candidate("tf32_ops"), master, &options);
        assert_eq!(dev.live_buffers(), 0);
        let Rejection::Inaccurate { at: where_, class, evidence } = rejection(&report) else {
            panic!("master {master}: {:?}", report.verdict)
        };
        assert_eq!(where_, &at(40, T1), "master {master}: zero-mean inputs expose the precision");
        assert_eq!(*class, PrecisionClass::Tf32, "master {master}: {evidence}");
        assert!(
            evidence.starts_with("normwise relative error ")
                && evidence.contains("exceeds 1e-5 (error looks like tf32/fp16 precision)"),
            "master {master}: {evidence}"
        );
        let failed = report.findings.trials.last().unwrap();
        assert_eq!((&failed.sizes, failed.trial.as_str()), (&where_.sizes, T1));
        let normwise = failed.accuracy[0].normwise;
        assert!((1e-5..=2e-3).contains(&normwise), "master {master}: {normwise}");
        assert_eq!(report.reason.as_deref(), Some("wrong answer"));
    }
}

/// At any size with more than a handful of elements, a TF32 kernel never gets through, whatever
/// the seed.
#[test]
fn tf32_operands_are_rejected_at_17_and_at_40_alone() {
    for n in [17, 40] {
        for master in 0..20 {
            let mut dev = device();
            register(&mut dev, "tf32_ops", |a, b, n| trimm_with(a, b, n, tf32));
            let mut options = options();
            options.verify.sizes = vec![n_sizes(n)];
            options.timed_sizes = Some(n_sizes(n));
            let report = review_unchecked(&mut dev, &candidate("tf32_ops"), master, &options);
            assert!(
                matches!(rejection(&report), Rejection::Inaccurate { at, .. } if at.sizes == n_sizes(n)),
                "N = {n}, master {master}: {:?}",
                report.verdict
            );
        }
    }
}

/// One element off by a few times its rounding bound: far too little to move the normwise
/// error (which stays at fp32 level), but the elementwise bound sees it. The error sits on the
/// far corner of matrices bigger than one element (at N = 1 the element is the whole matrix,
/// and the normwise measure would catch it first).
#[test]
fn one_wrong_element_is_rejected_by_the_elementwise_bound() {
    const RELATIVE: f64 = 2e-5;
    for master in [1, 2, 3] {
        let mut dev = device();
        register(&mut dev, "corner_off", |a, b, n| {
            let mut c = trimm_fp32(a, b, n);
            if n > 1 {
                let e = &mut c[n * n - 1];
                *e = (*e as f64 * (1.0 + RELATIVE)) as f32;
            }
            c
        });
        let report = review(&mut dev, &candidate("corner_off"), master);
        let Rejection::Inaccurate { at: where_, class, evidence } = rejection(&report) else {
            panic!("master {master}: {:?}", report.verdict)
        };
        assert_eq!(where_, &at(17, T1), "master {master}");
        assert_eq!(*class, PrecisionClass::Fp32, "master {master}: the normwise error stays at fp32 level");
        assert!(
            evidence.starts_with("1 elements of C outside the fp32 rounding bound; worst at (16, 16)"),
            "master {master}: {evidence}"
        );
        let acc = &report.findings.trials.last().unwrap().accuracy[0];
        assert_eq!((acc.over_bound, acc.nonfinite), (1, 0));
        assert!(acc.normwise <= 1e-5, "{acc:?}");
        let worst = acc.worst.as_ref().unwrap();
        assert!(worst.ratio > 1.0 && worst.at == [16, 16], "{worst:?}");
    }
}

/// The brief's example: C[N-1][0] off by 1e-4 of its magnitude at every size. At N = 1 that
/// one element is all of C, so the rejection comes at once.
#[test]
fn one_element_off_by_1e4_is_rejected_at_the_first_size() {
    let mut dev = device();
    register(&mut dev, "last_row_off", |a, b, n| {
        let mut c = trimm_fp32(a, b, n);
        let e = &mut c[(n - 1) * n];
        *e = (*e as f64 * (1.0 + 1e-4)) as f32;
        c
    });
    let report = review(&mut dev, &candidate("last_row_off"), 8);
    let Rejection::Inaccurate { at: where_, evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(1, T1));
    assert!(evidence.contains("worst at (0, 0)"), "{evidence}");
    let acc = &report.findings.trials.last().unwrap().accuracy[0];
    assert_eq!(acc.over_bound, 1);
    assert!((acc.normwise - 1e-4).abs() < 1e-6, "{acc:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. Determinism.

/// A race whose result moves between runs, each run on its own within the rounding bound (an
/// accuracy check alone passes both) but the two further apart than the bound allows.
#[test]
fn kernel_whose_result_moves_between_identical_runs_is_rejected_as_nondeterministic() {
    let mut dev = device();
    // Per call: (value written, fp64 truth, its rounding bound).
    let written = Rc::new(RefCell::new(Vec::<(f32, f64, f64)>::new()));
    let log = written.clone();
    let mut calls = 0u32;
    register(&mut dev, "racy", move |a, b, n| {
        calls += 1;
        let mut c = trimm_fp32(a, b, n);
        let (i, j) = (n - 1, 0);
        let (exact, scale) = exact_and_scale(a, b, n, i, j);
        let bound = bound_factor(n) * scale;
        let sign = if calls.is_multiple_of(2) { 1.0 } else { -1.0 };
        c[i * n + j] = (exact + sign * 0.9 * bound) as f32;
        log.borrow_mut().push((c[i * n + j], exact, bound));
        c
    });
    let report = review(&mut dev, &candidate("racy"), 9);
    let Rejection::Nondeterministic { at: where_, evidence } = rejection(&report) else {
        panic!("{:?}", report.verdict)
    };
    assert_eq!(where_, &at(1, T3));
    let labels = trial_labels(&report);
    assert_eq!(labels[..2], all_trials(&[1])[..2]);
    assert!(report.findings.trials.iter().all(|t| t.accuracy[0].passes()));

    let written = written.borrow();
    assert_eq!(written.len(), 3, "rejected at the first repeat");
    let [(_, _, _), (second, exact, bound), (third, exact3, _)] = written[..] else { unreachable!() };
    assert_eq!(exact, exact3, "trial 3 repeats trial 2's inputs");
    // Each run alone is inside the bound; the two are further apart than it.
    assert!((second as f64 - exact).abs() <= bound && (third as f64 - exact).abs() <= bound);
    assert!((second as f64 - third as f64).abs() > bound);
    assert_eq!(
        (evidence.buffer.as_str(), evidence.moved, evidence.bits_differ, evidence.first.as_slice()),
        ("C", 1, 1, &[0, 0][..])
    );
    assert_eq!((evidence.first_run, evidence.second_run), (second as f64, third as f64));
    assert_eq!(
        evidence.to_string(),
        format!(
            "same inputs, different results: 1 elements of C moved beyond rounding; first at (0, 0) ({second} then {third})"
        )
    );
    assert_eq!(report.reason.as_deref(), Some("nondeterministic"));
}

/// A call counter that misbehaves on every third call: the repeat (trial 3) is far off while
/// trial 2, on the same inputs, was right. The repeat comparison names it nondeterministic
/// (rather than merely wrong).
#[test]
fn kernel_that_misbehaves_only_on_the_repeat_is_rejected_as_nondeterministic() {
    let mut dev = device();
    let mut calls = 0u32;
    register(&mut dev, "third_call", move |a, b, n| {
        calls += 1;
        let mut c = trimm_fp32(a, b, n);
        if calls.is_multiple_of(3) {
            c[(n - 1) * n] += 1.0;
        }
        c
    });
    let report = review(&mut dev, &candidate("third_call"), 19);
    let Rejection::Nondeterministic { at: where_, evidence } = rejection(&report) else {
        panic!("{:?}", report.verdict)
    };
    assert_eq!(where_, &at(1, T3));
    assert_eq!((evidence.moved, evidence.first.as_slice()), (1, &[0, 0][..]));
    assert_eq!(evidence.second_run, (evidence.first_run as f32 + 1.0) as f64);
}

/// Summing in a different order on every call (as atomics do) changes bits, not the answer
/// beyond rounding: accepted.
#[test]
fn kernel_that_reorders_its_sums_between_runs_is_accepted() {
    let mut dev = device();
    let outputs = Rc::new(RefCell::new(Vec::<(usize, Vec<f32>)>::new()));
    let log = outputs.clone();
    let mut calls = 0u32;
    register(&mut dev, "reordering", move |a, b, n| {
        calls += 1;
        let mut c = vec![0f32; n * n];
        for i in 0..n {
            for j in 0..=i {
                let term = |k: usize| (a[i * n + k], b[k * n + j]);
                c[i * n + j] = if calls.is_multiple_of(2) {
                    (j..=i).map(term).fold(0f32, |acc, (x, y)| x.mul_add(y, acc))
                } else {
                    (j..=i).rev().map(term).fold(0f32, |acc, (x, y)| x.mul_add(y, acc))
                };
            }
        }
        log.borrow_mut().push((n, c.clone()));
        c
    });
    let report = review(&mut dev, &candidate("reordering"), 10);
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    // Trials 2 and 3 at N = 40 really did differ in their bits.
    let outputs = outputs.borrow();
    let at_40: Vec<&Vec<f32>> = outputs.iter().filter(|(n, _)| *n == 40).map(|(_, c)| c).take(3).collect();
    let differ = at_40[1].iter().zip(at_40[2]).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
    assert!(differ > 0, "the two runs should differ in some bits");
}

/// The brief's "perturb one element on every other call by a large amount": whichever calls
/// are perturbed, trial 1 or trial 2 is one of them, and neither has an earlier run on the same
/// inputs to compare with. So the perturbed run is rejected as wrong (`Inaccurate`), at trial 2
/// here, before any repeat happens; `Nondeterministic` is unreachable for this kernel.
#[test]
fn large_flip_flop_is_rejected_as_inaccurate_before_any_repeat() {
    let mut dev = device();
    let mut calls = 0u32;
    register(&mut dev, "flip_flop", move |a, b, n| {
        calls += 1;
        let mut c = trimm_fp32(a, b, n);
        if calls.is_multiple_of(2) {
            c[(n - 1) * n] += 1.0;
        }
        c
    });
    let report = review(&mut dev, &candidate("flip_flop"), 11);
    let Rejection::Inaccurate { at: where_, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(1, T2));
    assert!(report.findings.trials[0].accuracy[0].passes(), "trial 1 was not perturbed");
}

// ---------------------------------------------------------------------------------------------
// 7. Launch failures, and the context they leave behind.

#[test]
fn write_just_past_the_end_lands_in_the_guard_zone() {
    let mut dev = device();
    // No bounds check: one element past the end of C.
    register_raw(&mut dev, "overrun", |call| {
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))?;
        call.write_at(2, (n * n) as isize, &[0.0])
    });
    let report = review(&mut dev, &candidate("overrun"), 12);
    let Rejection::OutOfBounds { at: where_, evidence } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(1, T1));
    assert_eq!((evidence.buffer.as_str(), evidence.nearest), ("C", 0));
    assert!(evidence.to_string().starts_with("out-of-bounds write past the end of C:"), "{evidence}");
    assert_eq!(report.reason.as_deref(), Some("out-of-bounds write"));
}

#[test]
fn write_before_the_start_of_an_input_is_caught_too() {
    let mut dev = device();
    register_raw(&mut dev, "underrun", |call| {
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))?;
        call.write_at(0, -2, &[1.0])
    });
    let report = review(&mut dev, &candidate("underrun"), 12);
    let Rejection::OutOfBounds { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!((evidence.buffer.as_str(), evidence.nearest), ("A", -8));
}

#[test]
fn wild_write_is_a_kernel_fault_and_the_device_is_lost() {
    let mut dev = device();
    // Far outside any allocation: an illegal address, not a guard hit.
    register_raw(&mut dev, "wild", |call| call.write_at(2, 1 << 40, &[0.0]));
    let report = review(&mut dev, &candidate("wild"), 12);
    let Rejection::KernelFault { at: where_, message } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_, &at(1, T1));
    assert_eq!(message, "`wild` faulted: CUDA_ERROR_ILLEGAL_ADDRESS: simulated fault");
    assert_eq!(report.reason.as_deref(), Some("kernel fault"));
    assert!(report.findings.trials.is_empty());

    // Like a real CUDA context after a sticky fault, the device refuses all further work: the next
    // candidate's review is an environment error that names the culprit, not a verdict. (In
    // production each candidate has a worker process of its own, so the next one starts clean.)
    let mut reference = SimDevice::new();
    let mut devices = Devices::new(&mut dev, &mut reference);
    let next = review_candidate(&mut devices, &candidate("honest"), &Seeds { master: 12 }, &options(), &Silent);
    assert_eq!(next.unwrap_err(), DeviceError::ContextLost("`wild` faulted with CUDA_ERROR_ILLEGAL_ADDRESS".into()));
}

// ---------------------------------------------------------------------------------------------
// 8. Compile and signature.

#[test]
fn compile_error_is_rejected_with_the_compiler_log() {
    let mut dev = device();
    let src = source_full("honest", GRID, ARGS, "honest", "#error this kernel needs sm_100\n");
    let cand = Candidate::from_source(&Registry::library(), "needs_blackwell.cu", src).unwrap();
    let report = review(&mut dev, &cand, 13);
    assert_eq!(
        rejection(&report),
        &Rejection::Compile { log: "needs_blackwell.cu(10): error: #error directive".into() }
    );
    assert_eq!(report.reason.as_deref(), Some("does not compile"));
    assert_eq!(report.findings.compile, None);
    assert!(report.findings.trials.is_empty() && dev.launches.is_empty());
}

#[test]
fn a_candidate_that_loads_but_cannot_be_called_is_a_call_failure_not_a_compile_failure() {
    let mut dev = device();
    let why = "TypeError: forward() missing 1 required positional argument: 'y'";
    let src = source_full("honest", GRID, ARGS, "honest", &format!("#pragma sim_call_fails {why}\n"));
    let cand = Candidate::from_source(&Registry::library(), "wrong_arity.cu", src).unwrap();
    let report = review(&mut dev, &cand, 13);
    assert_eq!(
        rejection(&report),
        &Rejection::CallFailed { message: why.into(), log: "wrong_arity.cu: loaded".into() }
    );
    assert_eq!(report.reason.as_deref(), Some("call failed"));
    assert_eq!(report.evidence.as_deref(), Some(why));
    assert!(report.findings.trials.is_empty() && dev.launches.is_empty());
}

#[test]
fn kernel_missing_from_the_module_is_a_signature_rejection() {
    let mut dev = device();
    let cand = Candidate::from_source(&Registry::library(), "ghost.cu", source_full("ghost", GRID, ARGS, "honest", ""))
        .unwrap();
    let report = review(&mut dev, &cand, 14);
    let Rejection::Signature { message } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(message.contains("not found"), "{message}");
    assert_eq!(
        message,
        "kernel `ghost` not found in the compiled module (it defines: honest); declare it `extern \"C\" __global__`"
    );
    assert!(report.findings.compile.is_some(), "it did compile");
    assert!(dev.launches.is_empty());
}

#[test]
fn argument_count_mismatch_is_a_signature_rejection() {
    let mut dev = device();
    let src = source_full("honest", GRID, r#"["A", "B", "C"]"#, "honest", "");
    let report = review(&mut dev, &Candidate::from_source(&Registry::library(), "three_args.cu", src).unwrap(), 15);
    let Rejection::Signature { message } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(message.contains("takes 4 parameters"), "{message}");
    assert_eq!(message, "kernel `honest` takes 4 parameters (8, 8, 8, 4 bytes) but args lists 3 (A, B, C)");
    assert!(dev.launches.is_empty());
}

#[test]
fn buffer_passed_for_an_int_parameter_is_a_signature_rejection() {
    let mut dev = device();
    let src = source_full("honest", GRID, r#"["A", "B", "C", "C"]"#, "honest", "");
    let report = review(&mut dev, &Candidate::from_source(&Registry::library(), "c_for_n.cu", src).unwrap(), 15);
    let Rejection::Signature { message } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(
        message,
        "parameter 4 of kernel `honest` is a 4-byte .u32 but args gives `C`, a buffer (an 8-byte pointer)"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Launch configurations that only fail at a verified size (spec validation only evaluates
// the problem's own check sizes).

#[test]
fn launch_config_failing_at_a_verified_size_is_rejected() {
    let mut dev = device();
    let grid = r#"["cdiv(N, 16) + 1 / (N - 40)", "cdiv(N, 16)", 1]"#;
    let cand =
        Candidate::from_source(&Registry::library(), "div40.cu", source_full("honest", grid, ARGS, "honest", ""))
            .unwrap();
    let report = review(&mut dev, &cand, 16);
    assert_eq!(
        rejection(&report),
        &Rejection::LaunchConfig {
            sizes: n_sizes(40),
            message: "launch 1 (`honest`): division by zero in `1 / (N - 40)`".into()
        }
    );
    assert_eq!(trial_labels(&report), all_trials(&[1, 17]));
    assert_eq!(report.reason.as_deref(), Some("invalid launch configuration"));
}

/// `N * 100000000` fits a 32-bit int at N = 1 and 17 but not at N = 40.
fn oversized_int_argument() -> (sadoku_core::device::sim::SimDevice, Candidate) {
    let mut dev = device();
    register(&mut dev, "scaled_n", |a, b, _| {
        let n = (a.len() as f64).sqrt() as usize;
        trimm_fp32(a, b, n)
    });
    let src = source_full("scaled_n", GRID, r#"["A", "B", "C", "N * 100000000"]"#, "scaled_n", "");
    (dev, Candidate::from_source(&Registry::library(), "scaled_n.cu", src).unwrap())
}

#[test]
fn int_argument_overflowing_its_32_bit_parameter_is_a_launch_config_rejection() {
    let (mut dev, cand) = oversized_int_argument();
    let report = review_unchecked(&mut dev, &cand, 17, &options());
    assert_eq!(
        rejection(&report),
        &Rejection::LaunchConfig {
            sizes: n_sizes(40),
            message: "argument value 4000000000 does not fit the kernel's 32-bit parameter".into()
        }
    );
    assert_eq!(trial_labels(&report), all_trials(&[1, 17]));
}

#[test]
fn int_argument_overflow_rejection_frees_its_buffers() {
    let (mut dev, cand) = oversized_int_argument();
    let report = review_unchecked(&mut dev, &cand, 17, &options());
    assert!(matches!(rejection(&report), Rejection::LaunchConfig { .. }));
    assert_eq!(dev.live_buffers(), 0, "A, B and C at N = 40 leaked");
}

// ---------------------------------------------------------------------------------------------
// Two launches through a scratch buffer: scratch is poisoned like outputs.

const TWO_STAGE: &str = r#"/* sadoku
problem = "trimm"
[scratch]
W = "N * N * 4"
[[launch]]
kernel = "stage_one"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "W", "N"]
[[launch]]
kernel = "stage_two"
grid   = ["cdiv(N * N, 256)", 1, 1]
block  = [256, 1, 1]
args   = ["W", "C", "N"]
*/
extern "C" __global__ void stage_one(const float* A, const float* B, float* W, int N) {}
extern "C" __global__ void stage_two(const float* W, float* C, int N) {}
"#;

/// `stage_one` computes into scratch W (all of it, or only the lower triangle); `stage_two`
/// copies W to C.
fn two_stage_device(lower_only: bool) -> sadoku_core::device::sim::SimDevice {
    let mut dev = device();
    register_raw(&mut dev, "stage_one", move |call| {
        let (a, b, n) = inputs(call)?;
        let c = trimm_fp32(&a, &b, n);
        if lower_only {
            (0..n).try_for_each(|i| call.write_at(2, (i * n) as isize, &c[i * n..=i * n + i]))
        } else {
            call.write(2, &c)
        }
    });
    dev.kernel(
        "stage_two",
        &["u64", "u64", "u32"],
        |call| {
            let w = call.read(0)?;
            call.write(1, &w)
        },
        |_| KERNEL_MS,
    );
    dev
}

#[test]
fn two_launches_through_scratch_are_accepted() {
    let mut dev = two_stage_device(false);
    let cand = Candidate::from_source(&Registry::library(), "two_stage.cu", TWO_STAGE.to_string()).unwrap();
    let report = review(&mut dev, &cand, 18);
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    let kernels: Vec<&str> = dev.launches.iter().take(2).map(|l| l.kernel.as_str()).collect();
    assert_eq!(kernels, ["stage_one", "stage_two"]);
}

/// Relying on scratch memory being zero: scratch holds random bits before every launch, so the
/// upper triangle of C comes out as garbage.
#[test]
fn relying_on_zeroed_scratch_is_rejected() {
    let mut dev = two_stage_device(true);
    let cand = Candidate::from_source(&Registry::library(), "two_stage.cu", TWO_STAGE.to_string()).unwrap();
    let report = review(&mut dev, &cand, 18);
    let Rejection::Inaccurate { at: where_, class, evidence } = rejection(&report) else {
        panic!("{:?}", report.verdict)
    };
    assert_eq!(where_, &at(17, T1));
    assert_eq!(*class, PrecisionClass::Wrong);
    // The worst element is one of the upper triangle's garbage values where 0 is the answer.
    assert!(evidence.contains("expected 0.0000000e0"), "{evidence}");
    let worst = report.findings.trials.last().unwrap().accuracy[0].worst.clone().unwrap();
    assert!(worst.at[0] < worst.at[1], "{evidence}");
    assert_eq!(report.findings.trials.last().unwrap().accuracy[0].over_bound, 17 * 16 / 2);
}

// ---------------------------------------------------------------------------------------------
// Timing: what is timed must be what was verified.

/// Verification runs 3 trials at each of the 3 sizes: 9 launches before timing starts.
const VERIFY_CALLS: u32 = 9;

#[test]
fn fault_during_timing_is_a_launch_rejection() {
    let mut dev = device();
    let mut calls = 0u32;
    register_raw(&mut dev, "late_overrun", move |call| {
        calls += 1;
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))?;
        if calls > VERIFY_CALLS { call.write_at(2, 1 << 40, &[0.0]) } else { Ok(()) }
    });
    let report = review(&mut dev, &candidate("late_overrun"), 20);
    let Rejection::KernelFault { at: where_, message } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(where_.timed_launch, Some(1), "the first launch after verification: {where_}");
    assert!(where_.trial.starts_with("timed launch 1 (set 1 of 4, randn inputs"), "{where_}");
    assert!(message.contains("CUDA_ERROR_ILLEGAL_ADDRESS"), "{message}");
    assert_eq!(report.findings.trials.len(), 9, "verification had passed");
    assert_eq!(report.findings.timing, None);
}

/// A call counter (docs/THREATS.md) that waits out verification: honest for the 9 verified
/// launches, then computes nothing, and is fast at it.
#[test]
fn kernel_that_stops_computing_after_verification_is_not_accepted() {
    let mut dev = device();
    let calls = Rc::new(Cell::new(0u32));
    let (counter, cost_counter) = (calls.clone(), calls.clone());
    dev.kernel(
        "lazy_later",
        &PARAMS,
        move |call| {
            counter.set(counter.get() + 1);
            if counter.get() > VERIFY_CALLS {
                return Ok(());
            }
            let (a, b, n) = inputs(call)?;
            call.write(2, &trimm_fp32(&a, &b, n))
        },
        move |_| if cost_counter.get() > VERIFY_CALLS { 1e-4 } else { KERNEL_MS },
    );
    let report = review(&mut dev, &candidate("lazy_later"), 21);
    assert!(calls.get() > VERIFY_CALLS, "it was timed");
    assert!(
        !report.verdict.is_accepted(),
        "accepted (speedup {:?}, 10,000 times an honest kernel's) while computing nothing when timed",
        report.findings.timing.as_ref().map(|t| t.speedup)
    );
}

/// With the timed size overridden (the CLI's `--size N=...`) to a size that is not among the
/// verified ones, a kernel that skips exactly that size must still not pass.
#[test]
fn overridden_timed_size_is_verified_too() {
    let mut dev = device();
    register_raw(&mut dev, "skips_40", |call| {
        let (a, b, n) = inputs(call)?;
        if n == 40 { Ok(()) } else { call.write(2, &trimm_fp32(&a, &b, n)) }
    });
    let mut options = options();
    options.verify.sizes = vec![n_sizes(1), n_sizes(17)];
    let report = review_unchecked(&mut dev, &candidate("skips_40"), 22, &options);
    assert_eq!(dev.live_buffers(), 0);
    assert_eq!(report.timed_sizes, n_sizes(40));
    assert!(!report.verdict.is_accepted(), "accepted, never having written C at the timed N = 40");
}

// ---------------------------------------------------------------------------------------------
// 11. Seeds.

fn errors(report: &CandidateReport) -> Vec<f64> {
    report.findings.trials.iter().map(|t| t.accuracy[0].normwise).collect()
}

fn input_seeds(report: &CandidateReport) -> Vec<String> {
    report.findings.trials.iter().map(|t| t.input_seed.clone()).collect()
}

#[test]
fn same_master_seed_replays_inputs_and_errors_exactly() {
    let mut dev = device();
    let cand = candidate("honest");
    let first = review(&mut dev, &cand, 42);
    // The same device again: its recycled memory now holds the first review's leftovers.
    let second = review(&mut dev, &cand, 42);
    assert!(first.verdict.is_accepted() && second.verdict.is_accepted());
    assert_eq!(first.findings.trials, second.findings.trials, "same seeds, same trials, bit for bit");
    assert_eq!(input_seeds(&first), input_seeds(&second));
    assert_eq!(errors(&first), errors(&second));
    assert_eq!(first.findings.error, second.findings.error);

    // Within a run: trial 3 replays trial 2's inputs; every other trial draws its own.
    let seeds = input_seeds(&first);
    for size in seeds.chunks(3) {
        assert_eq!(size[1], size[2]);
        assert_ne!(size[0], size[1]);
    }
    let mut distinct: Vec<&String> = seeds.iter().step_by(3).chain(seeds.iter().skip(1).step_by(3)).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6);
}

#[test]
fn different_master_seed_draws_different_inputs() {
    let mut dev = device();
    let cand = candidate("honest");
    let a = review(&mut dev, &cand, 42);
    let b = review(&mut dev, &cand, 43);
    assert!(a.verdict.is_accepted() && b.verdict.is_accepted());
    for (x, y) in input_seeds(&a).iter().zip(&input_seeds(&b)) {
        assert_ne!(x, y);
    }
    assert_ne!(errors(&a), errors(&b));
    // Beyond N = 1 (a single product), every trial's error differs.
    for (ta, tb) in a.findings.trials.iter().zip(&b.findings.trials).filter(|(t, _)| t.sizes.get("N") != Some(1)) {
        assert_ne!(ta.accuracy[0].normwise, tb.accuracy[0].normwise, "{} {}", ta.sizes, ta.trial);
    }
}

// ---------------------------------------------------------------------------------------------
// compute-sanitizer runs: no guard zones, no timing, findings folded into the verdict.

fn sanitizer_options() -> ReviewOptions {
    let mut o = options();
    o.verify.guards = false;
    o.verify.sizes = vec![n_sizes(17)];
    o.timed_sizes = Some(n_sizes(17));
    o.skip_timing = true;
    o
}

#[test]
fn without_guards_an_overrun_leaves_the_allocation() {
    let mut dev = device();
    register_raw(&mut dev, "overrun", |call| {
        let (a, b, n) = inputs(call)?;
        call.write(2, &trimm_fp32(&a, &b, n))?;
        call.write_at(2, (n * n) as isize, &[0.0])
    });
    let report = review_unchecked(&mut dev, &candidate("overrun"), 30, &sanitizer_options());
    // What memcheck sees: an access outside the allocation, not a guard hit.
    assert!(matches!(rejection(&report), Rejection::KernelFault { .. }), "{:?}", report.verdict);
}

#[test]
fn skip_timing_accepts_untimed() {
    let mut dev = device();
    register(&mut dev, "honest", trimm_fp32);
    let report = review_unchecked(&mut dev, &candidate("honest"), 31, &sanitizer_options());
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    assert_eq!(report.findings.timing, None);
    assert_eq!(report.findings.trials.len(), 3);
}

#[test]
fn sanitizer_errors_reject_an_accepted_candidate_and_add_to_a_rejected_one() {
    use sadoku_core::checks::sanitizer::SanitizerReport;
    use sadoku_core::report::Sanitized;
    let mut dev = device();
    register(&mut dev, "honest", trimm_fp32);
    let clean = |tool: &str| SanitizerReport { tool: tool.into(), errors: 0, first: vec![] };
    let race = SanitizerReport { tool: "racecheck".into(), errors: 2, first: vec!["Error: Race reported".into()] };

    let mut accepted = review(&mut dev, &candidate("honest"), 32);
    accepted
        .apply_sanitizer(Sanitized::Ran { sizes: n_sizes(17), reports: vec![clean("memcheck"), clean("racecheck")] });
    assert!(accepted.verdict.is_accepted(), "clean reports change nothing");

    let mut raced = review(&mut dev, &candidate("honest"), 32);
    raced.apply_sanitizer(Sanitized::Ran { sizes: n_sizes(17), reports: vec![clean("memcheck"), race.clone()] });
    assert_eq!(raced.reason.as_deref(), Some("sanitizer findings"));
    assert_eq!(raced.evidence.as_deref(), Some("compute-sanitizer racecheck: 2 error(s): Error: Race reported"));

    let mut dev = device();
    register_raw(&mut dev, "row_zero", row_zero_only);
    let mut rejected = review(&mut dev, &candidate("row_zero"), 33);
    rejected.apply_sanitizer(Sanitized::Ran { sizes: n_sizes(17), reports: vec![race] });
    assert_eq!(rejected.reason.as_deref(), Some("output not written"), "the first failed check stays the verdict");
    assert!(matches!(rejected.findings.sanitizer, Some(Sanitized::Ran { .. })));
}

// ---------------------------------------------------------------------------------------------
// The device's helpers are checked against the host at small sizes on every review.

fn review_with_judge(judge: &mut SimDevice, kernel: &str) -> Result<CandidateReport, sadoku_core::device::DeviceError> {
    let mut dev = device();
    register_raw(&mut dev, "row_zero_only", row_zero_only);
    review_candidate(&mut Devices::new(&mut dev, judge), &candidate(kernel), &Seeds { master: 31 }, &options(), &Silent)
}

/// A comparator that stops counting bad elements would pass a wrong kernel: the host's own
/// comparison disagrees, and the run ends with sadoku's fault, not a verdict.
#[test]
fn a_comparator_that_hides_errors_is_caught_by_the_host_cross_check() {
    let mut judge = SimDevice::new();
    judge.compare_tweak = Some(Box::new(|c| {
        c.over_bound = 0;
        c.unwritten = 0;
        c.nonfinite = 0;
    }));
    let e = review_with_judge(&mut judge, "row_zero_only").expect_err("the disagreement ends the run");
    assert!(e.to_string().contains("the device's comparator disagrees with the host's"), "{e}");
    // The same judge without the fault rejects the kernel as it should.
    let mut judge = SimDevice::new();
    let report = review_with_judge(&mut judge, "row_zero_only").unwrap();
    assert!(matches!(rejection(&report), Rejection::Unwritten { .. }), "{:?}", report.verdict);
}

#[test]
fn a_generator_that_drifts_from_its_definition_is_caught() {
    let mut judge = SimDevice::new();
    judge.generate_tweak = Some(Box::new(|v| {
        if v.len() > 3 {
            v[3] ^= 0x10;
        }
    }));
    let e = review_with_judge(&mut judge, "honest").expect_err("the disagreement ends the run");
    assert!(e.to_string().contains("the device's generator disagrees with the host's"), "{e}");
}
