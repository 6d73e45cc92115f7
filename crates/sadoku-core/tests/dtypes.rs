//! Every judged dtype end to end on the simulated device: a problem y = 3·x over f32, f16, bf16,
//! f64, i32 and i64 tensors (a trusted reference writing fp64, as the CUDA one would), an honest
//! candidate accepted in its class (fp32, fp16 and bf16 by their storage, exact for integers), and
//! each check catching its cheat in every dtype: an output written by half, a written input, a
//! write past the end, a result that moves on the repeat, an inaccurate result, and one computed
//! in too low a precision.

mod common;

use common::timing_options;
use sadoku_core::candidate::Candidate;
use sadoku_core::checks::accuracy::PrecisionClass;
use sadoku_core::device::element;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::problem::{Dtype, Registry, Sizes};
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verdict::{Rejection, Verdict};
use sadoku_core::verify::VerifyOptions;

const DTYPES: [Dtype; 6] = [Dtype::F32, Dtype::F16, Dtype::Bf16, Dtype::F64, Dtype::I32, Dtype::I64];

fn name(dtype: Dtype) -> String {
    format!("sim_triple_{dtype}")
}

/// The library and, per judged dtype, y = 3·x, x and y of that dtype: integers drawn from
/// int(-1000, N + 1000), floats from randn. The problem directories are written once.
fn registry() -> Registry {
    static DIRS: std::sync::OnceLock<Vec<std::path::PathBuf>> = std::sync::OnceLock::new();
    let dirs = DIRS.get_or_init(|| {
        let mut dirs = Vec::new();
        for dtype in DTYPES {
            let size = dtype.bytes();
            let distributions = if dtype.is_float() {
                r#"["randn(0, 3)", "int(-4, 4)"]"#
            } else {
                r#"["int(-1000, N + 1000)", "int(0, 3)"]"#
            };
            let toml = format!(
                r#"
name = "{name}"
summary = "y = 3·x in {dtype}, for the simulated device's tests"
family = "elementwise"

[sizes]
symbols = ["N"]
constraints = ["N >= 1"]
timed = [{{ N = 64 }}]
check = [{{ N = 1 }}, {{ N = 17 }}, {{ N = 1000 }}]
small = {{ N = 17 }}

[[tensor]]
name = "x"
role = "input"
dtype = "{dtype}"
shape = ["N"]
distributions = {distributions}

[[tensor]]
name = "y"
role = "output"
dtype = "{dtype}"
shape = ["N"]

[reference]
kernel = "reference.cu"
terms = 1
scale = "kernel"

[floors]
flops = "N"
bytes = "{bytes} * N"
"#,
                name = name(dtype),
                bytes = 2 * size
            );
            let reference = format!(
                "/* sadoku\nproblem = \"{}\"\n[[launch]]\nkernel = \"triple_fp64\"\ngrid = [\"cdiv(N, 256)\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"y\", \"y_scale\", \"N\"]\n*/\nextern \"C\" __global__ void triple_fp64(const void* x, double* y, double* s, long long n) {{}}\n",
                name(dtype)
            );
            dirs.push(common::problem_dir(&toml, &reference));
        }
        dirs
    });
    let mut registry = Registry::library();
    for (dir, dtype) in dirs.iter().zip(DTYPES) {
        assert_eq!(registry.add_dir(dir).unwrap(), vec![name(dtype).as_str()]);
    }
    registry
}

fn candidate(dtype: Dtype, kernel: &str) -> Candidate {
    let source = format!(
        "/* sadoku\nproblem = \"{}\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"cdiv(N, 256)\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"y\", \"N\"]\n*/\nextern \"C\" __global__ void {kernel}(const void* x, void* y, int n) {{}}\n",
        name(dtype)
    );
    Candidate::from_source(&registry(), format!("{kernel}.cu"), source).unwrap()
}

/// The judge: its reference kernel writes 3·x and the scale 3·|x|, in fp64, from x's elements.
fn judge(dtype: Dtype) -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        "triple_fp64",
        &["u64", "u64", "u64", "u64"],
        move |call: &mut SimCall| {
            let x: Vec<f64> = call.read_elements(0, dtype)?.into_iter().map(|e| element::value(dtype, e)).collect();
            let n = call.int(3) as usize;
            call.write_f64(1, &x[..n].iter().map(|v| 3.0 * v).collect::<Vec<_>>())?;
            call.write_f64(2, &x[..n].iter().map(|v| 3.0 * v.abs()).collect::<Vec<_>>())
        },
        |_| 0.001,
    );
    d
}

/// 3·x in the candidate's arithmetic: fp32 rounded once to the storage type (fp64 for f64), or
/// integers.
fn triple(dtype: Dtype, x: u64) -> u64 {
    if dtype == Dtype::F64 {
        (3.0 * element::value(dtype, x)).to_bits()
    } else if dtype.is_float() {
        element::from_f32(dtype, 3.0 * element::value(dtype, x) as f32)
    } else {
        element::from_i64(dtype, 3 * element::value(dtype, x) as i64)
    }
}

/// A candidate kernel: `f` maps (call number, x) to what it writes, starting at element `offset`.
fn device(dtype: Dtype, kernel: &str, mut f: impl FnMut(u32, &[u64]) -> (isize, Vec<u64>) + 'static) -> SimDevice {
    let mut d = SimDevice::new();
    let mut calls = 0u32;
    d.kernel(
        kernel,
        &["u64", "u64", "u32"],
        move |call: &mut SimCall| -> Result<(), SimFault> {
            calls += 1;
            let n = call.int(2) as usize;
            let x = call.read_elements(0, dtype)?;
            let (offset, y) = f(calls, &x[..n]);
            call.write_elements_at(1, offset, dtype, &y)
        },
        |_| 0.01,
    );
    d
}

fn review(dtype: Dtype, dev: &mut SimDevice, kernel: &str) -> CandidateReport {
    let mut reference = judge(dtype);
    let options = ReviewOptions {
        verify: VerifyOptions {
            sizes: [1, 17, 1000].iter().map(|&n| Sizes::new([("N", n)])).collect(),
            ..Default::default()
        },
        timing: timing_options(),
        timed_sizes: Some(Sizes::new([("N", 64)])),
        ..ReviewOptions::default()
    };
    let report = review_candidate(
        &mut Devices::new(dev, &mut reference),
        &candidate(dtype, kernel),
        &Seeds { master: 11 },
        &options,
        &Silent,
    )
    .expect("the simulated environment does not fail");
    assert_eq!(reference.live_buffers(), 0, "the judge freed everything");
    report
}

fn rejection(r: &CandidateReport) -> &Rejection {
    match &r.verdict {
        Verdict::Rejected(r) => r,
        v => panic!("expected a rejection, got {v:?}"),
    }
}

#[test]
fn an_honest_kernel_is_accepted_in_its_dtypes_class() {
    for dtype in DTYPES {
        let mut dev = device(dtype, "triple", move |_, x| (0, x.iter().map(|&e| triple(dtype, e)).collect()));
        let report = review(dtype, &mut dev, "triple");
        assert!(report.verdict.is_accepted(), "{dtype}: {:?}", report.verdict);
        let class = report.findings.error.as_ref().unwrap().class;
        let want = match dtype {
            Dtype::F32 => PrecisionClass::Fp32,
            Dtype::F64 => PrecisionClass::Fp64,
            Dtype::F16 => PrecisionClass::Tf32,
            Dtype::Bf16 => PrecisionClass::Bf16,
            _ => PrecisionClass::Exact,
        };
        // Rounding 3·x once to the storage type is exact for some draws (small integers), and
        // classes are upper bounds: never worse than the storage type's.
        assert!(class <= want, "{dtype}: classed {class}, the storage allows {want}");
        if !dtype.is_float() {
            assert_eq!(class, PrecisionClass::Exact, "{dtype}");
        }
        assert!(report.findings.timing.is_some(), "{dtype}: accepted candidates are timed");
    }
}

#[test]
fn half_an_output_unwritten_is_caught_in_every_dtype() {
    for dtype in DTYPES {
        let mut dev = device(dtype, "half", move |_, x| {
            let half = x.len().div_ceil(2);
            (0, x[..half].iter().map(|&e| triple(dtype, e)).collect())
        });
        let report = review(dtype, &mut dev, "half");
        let Rejection::Unwritten { evidence, .. } = rejection(&report) else { panic!("{dtype}: {:?}", report.verdict) };
        // The timed size is verified first.
        assert_eq!((evidence.count, evidence.total), (32, 64), "{dtype}: {evidence}");
        assert_eq!(evidence.first, vec![32], "{dtype}");
    }
}

#[test]
fn a_written_input_is_caught_in_every_dtype() {
    for dtype in DTYPES {
        let mut dev = SimDevice::new();
        dev.kernel(
            "clobber",
            &["u64", "u64", "u32"],
            move |call: &mut SimCall| -> Result<(), SimFault> {
                let n = call.int(2) as usize;
                let x = call.read_elements(0, dtype)?;
                call.write_elements_at(1, 0, dtype, &x[..n].iter().map(|&e| triple(dtype, e)).collect::<Vec<_>>())?;
                // The last element of x flipped in its lowest bit (or its sign for a zero).
                let last = x[n - 1] ^ 1;
                call.write_elements_at(0, n as isize - 1, dtype, &[last])
            },
            |_| 0.01,
        );
        let report = review(dtype, &mut dev, "clobber");
        let Rejection::InputsModified { evidence, .. } = rejection(&report) else {
            panic!("{dtype}: {:?}", report.verdict)
        };
        assert_eq!((evidence.buffer.as_str(), evidence.changed, evidence.first.clone()), ("x", 1, vec![63]), "{dtype}");
    }
}

#[test]
fn a_write_past_the_end_is_caught_in_every_dtype() {
    for dtype in DTYPES {
        let mut dev = device(dtype, "overrun", move |_, x| {
            let mut y: Vec<u64> = x.iter().map(|&e| triple(dtype, e)).collect();
            // Four elements past the end: past any padding to a whole word, into the guard.
            y.extend([0u64; 4]);
            (0, y)
        });
        let report = review(dtype, &mut dev, "overrun");
        assert!(matches!(rejection(&report), Rejection::OutOfBounds { .. }), "{dtype}: {:?}", report.verdict);
    }
}

#[test]
fn a_result_that_moves_on_the_repeat_is_caught_in_every_dtype() {
    for dtype in DTYPES {
        let mut dev = device(dtype, "flaky", move |call, x| {
            let mut y: Vec<u64> = x.iter().map(|&e| triple(dtype, e)).collect();
            if call % 3 == 0 {
                let v = element::value(dtype, y[0]);
                y[0] = if dtype.is_float() {
                    element::from_f32(dtype, (v + 64.0) as f32)
                } else {
                    element::from_i64(dtype, v as i64 + 1)
                };
            }
            (0, y)
        });
        let report = review(dtype, &mut dev, "flaky");
        let Rejection::Nondeterministic { evidence, .. } = rejection(&report) else {
            panic!("{dtype}: {:?}", report.verdict)
        };
        assert_eq!((evidence.moved, evidence.first.clone()), (1, vec![0]), "{dtype}");
    }
}

#[test]
fn an_inaccurate_result_is_caught_in_every_dtype() {
    for dtype in DTYPES {
        // One element off: by one unit for integers (exact), by a tenth for floats.
        let mut dev = device(dtype, "off", move |_, x| {
            let mut y: Vec<u64> = x.iter().map(|&e| triple(dtype, e)).collect();
            let i = x.len() / 2;
            let v = element::value(dtype, y[i]);
            y[i] = if dtype.is_float() {
                element::from_f32(dtype, (v * 1.1 + 0.5) as f32)
            } else {
                element::from_i64(dtype, v as i64 - 1)
            };
            (0, y)
        });
        let report = review(dtype, &mut dev, "off");
        let Rejection::Inaccurate { evidence, .. } = rejection(&report) else {
            panic!("{dtype}: {:?}", report.verdict)
        };
        if dtype.is_float() {
            assert!(evidence.contains("rounding bound") || evidence.contains("exceeds"), "{dtype}: {evidence}");
        } else {
            assert!(evidence.contains("differ from the exact answer"), "{dtype}: {evidence}");
        }
    }
}

/// Storage in f16 or bf16 allows one rounding of the result, not arithmetic in the narrow type:
/// a kernel that rounds x to bf16's 8 bits before an f16 or fp32 store is too coarse for them.
#[test]
fn too_low_a_precision_is_caught_for_each_storage_type() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::F64] {
        let mut dev = device(dtype, "coarse", move |_, x| {
            let y = x
                .iter()
                .map(|&e| {
                    let v =
                        element::value(Dtype::Bf16, element::from_f32(Dtype::Bf16, element::value(dtype, e) as f32));
                    element::from_f32(dtype, 3.0 * v as f32)
                })
                .collect();
            (0, y)
        });
        let report = review(dtype, &mut dev, "coarse");
        assert!(matches!(rejection(&report), Rejection::Inaccurate { .. }), "{dtype}: {:?}", report.verdict);
    }
}

/// The library's bf16 GEMM at odd sizes (odd element counts: 16-bit buffers padded to whole
/// words), against its cuBLAS-style baseline: fp32 accumulation rounded once to bf16 is accepted
/// and timed against the bf16 baseline; accumulating in bf16 is not.
#[test]
fn a_bf16_gemm_is_judged_against_the_widened_truth_and_a_bf16_baseline() {
    let source = |kernel: &str| {
        format!(
            "/* sadoku\nproblem = \"gemm_bf16\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"cdiv(N, 16)\", \"cdiv(M, 16)\", 1]\nblock = [16, 16, 1]\nargs = [\"A\", \"B\", \"C\", \"M\", \"N\", \"K\"]\n*/\nextern \"C\" __global__ void {kernel}(const void* A, const void* B, void* C, int M, int N, int K) {{}}\n"
        )
    };
    let bf16 = Dtype::Bf16;
    let gemm = |accumulate_in_bf16: bool| {
        move |call: &mut SimCall| -> Result<(), SimFault> {
            let (m, n, k) = (call.int(3) as usize, call.int(4) as usize, call.int(5) as usize);
            let value = |e: u64| element::value(bf16, e) as f32;
            let a: Vec<f32> = call.read_elements(0, bf16)?.into_iter().map(value).collect();
            let b: Vec<f32> = call.read_elements(1, bf16)?.into_iter().map(value).collect();
            let mut c = vec![0u64; m * n];
            for i in 0..m {
                for j in 0..n {
                    let mut acc = 0f32;
                    for l in 0..k {
                        acc = a[i * k + l].mul_add(b[l * n + j], acc);
                        if accumulate_in_bf16 {
                            acc = element::value(bf16, element::from_f32(bf16, acc)) as f32;
                        }
                    }
                    c[i * n + j] = element::from_f32(bf16, acc);
                }
            }
            call.write_elements_at(2, 0, bf16, &c)
        }
    };
    let sizes = |m: i64, n: i64, k: i64| Sizes::new([("M", m), ("N", n), ("K", k)]);
    let options = ReviewOptions {
        verify: VerifyOptions { sizes: vec![sizes(1, 1, 1), sizes(3, 5, 7), sizes(17, 9, 301)], ..Default::default() },
        timing: timing_options(),
        timed_sizes: Some(sizes(3, 5, 7)),
        ..ReviewOptions::default()
    };
    let run = |kernel: &str, accumulate_in_bf16: bool| {
        let mut dev = SimDevice::new();
        dev.kernel(kernel, &["u64", "u64", "u64", "u32", "u32", "u32"], gemm(accumulate_in_bf16), |_| 0.01);
        let mut judge = SimDevice::new();
        let candidate = Candidate::from_source(&registry(), format!("{kernel}.cu"), source(kernel)).unwrap();
        let report = review_candidate(
            &mut Devices::new(&mut dev, &mut judge),
            &candidate,
            &Seeds { master: 3 },
            &options,
            &Silent,
        )
        .expect("the simulated environment does not fail");
        assert_eq!(judge.live_buffers(), 0, "the judge freed everything");
        (report, judge.library_log)
    };
    let (report, log) = run("gemm_bf16_fp32_acc", false);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    assert_eq!(report.findings.error.as_ref().unwrap().class, PrecisionClass::Bf16);
    let timing = report.findings.timing.as_ref().expect("timed");
    assert!(timing.baseline_name.contains("bf16 operands and result, fp32 accumulation"), "{}", timing.baseline_name);
    assert!(timing.speedup.is_some());
    assert!(
        log.iter().any(|op| matches!(op, sadoku_core::device::LibraryOp::Gemm { precision, .. }
            if *precision == sadoku_core::device::Precision::Bf16)),
        "the baseline ran cuBLAS's bf16 GEMM"
    );
    let (report, _) = run("gemm_bf16_bf16_acc", true);
    let Rejection::Inaccurate { evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    // Inside the class's 2e-2 at K = 301 (1.8e-2), and ten times the baseline's error.
    assert!(evidence.contains("× the baseline's") && evidence.contains("(at most 4×"), "{evidence}");
}

/// A bf16 GEMM's kernel: fp32 accumulation inside steps of `step` products, the accumulator
/// rounded to bf16 between steps when `bf16_between` (an MMA loop keeping its C in bf16), the
/// products of each step taken in reverse order (an honest order other than the baseline's).
fn stepped_gemm(
    step: usize,
    bf16_between: impl Fn() -> bool + 'static,
) -> impl FnMut(&mut SimCall) -> Result<(), SimFault> {
    let bf16 = Dtype::Bf16;
    move |call: &mut SimCall| {
        let (m, n, k) = (call.int(3) as usize, call.int(4) as usize, call.int(5) as usize);
        let value = |e: u64| element::value(bf16, e) as f32;
        let a: Vec<f32> = call.read_elements(0, bf16)?.into_iter().map(value).collect();
        let b: Vec<f32> = call.read_elements(1, bf16)?.into_iter().map(value).collect();
        let round = bf16_between();
        let mut c = vec![0u64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f32;
                for start in (0..k).step_by(step) {
                    for l in (start..(start + step).min(k)).rev() {
                        acc = a[i * k + l].mul_add(b[l * n + j], acc);
                    }
                    if round {
                        acc = element::value(bf16, element::from_f32(bf16, acc)) as f32;
                    }
                }
                c[i * n + j] = element::from_f32(bf16, acc);
            }
        }
        call.write_elements_at(2, 0, bf16, &c)
    }
}

fn gemm_bf16_source(kernel: &str) -> String {
    format!(
        "/* sadoku\nproblem = \"gemm_bf16\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"cdiv(N, 16)\", \"cdiv(M, 16)\", 1]\nblock = [16, 16, 1]\nargs = [\"A\", \"B\", \"C\", \"M\", \"N\", \"K\"]\n*/\nextern \"C\" __global__ void {kernel}(const void* A, const void* B, void* C, int M, int N, int K) {{}}\n"
    )
}

fn review_gemm_bf16(
    kernel: &str,
    run: impl FnMut(&mut SimCall) -> Result<(), SimFault> + 'static,
    options: &ReviewOptions,
) -> CandidateReport {
    let mut dev = SimDevice::new();
    dev.kernel(kernel, &["u64", "u64", "u64", "u32", "u32", "u32"], run, |_| 0.01);
    let mut judge = SimDevice::new();
    let candidate = Candidate::from_source(&registry(), format!("{kernel}.cu"), gemm_bf16_source(kernel)).unwrap();
    let report =
        review_candidate(&mut Devices::new(&mut dev, &mut judge), &candidate, &Seeds { master: 5 }, options, &Silent)
            .expect("the simulated environment does not fail");
    assert_eq!(judge.live_buffers(), 0, "the judge freed everything, the baseline's outputs too");
    report
}

/// Calibrated against cuBLAS's bf16 GEMM on the same inputs: a kernel that keeps its accumulator
/// in bf16 between 16-product steps stays inside the bf16 class (its 2e-2 is ~10× what fp32
/// accumulation achieves) but not within 4× the baseline's error, and is rejected with the ratio;
/// an honest kernel summing in another order is accepted, its error on record as a multiple of
/// the baseline's.
#[test]
fn a_bf16_gemm_accumulating_in_bf16_is_rejected_against_the_baseline_and_fp32_accumulation_accepted() {
    let sizes = |m: i64, n: i64, k: i64| Sizes::new([("M", m), ("N", n), ("K", k)]);
    let options = ReviewOptions {
        verify: VerifyOptions { sizes: vec![sizes(1, 1, 1), sizes(24, 20, 1500)], ..Default::default() },
        timing: timing_options(),
        timed_sizes: Some(sizes(3, 5, 7)),
        ..ReviewOptions::default()
    };
    let honest = review_gemm_bf16("gemm_bf16_steps_fp32", stepped_gemm(16, || false), &options);
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    let error = honest.findings.error.as_ref().unwrap();
    assert_eq!(error.calibrated, Some("normwise"), "{error:?}");
    let multiple = error.baseline_multiple().expect("calibrated");
    assert!(multiple < 1.5 && error.normwise_limit < 2e-2, "{error:?}");
    assert!(honest.findings.trials.iter().flat_map(|t| &t.accuracy).all(|a| a.baseline_normwise.is_some()));

    let bf16 = review_gemm_bf16("gemm_bf16_steps_bf16", stepped_gemm(16, || true), &options);
    let Rejection::Inaccurate { evidence, .. } = rejection(&bf16) else { panic!("{:?}", bf16.verdict) };
    assert!(evidence.contains("× the baseline's") && evidence.contains("(at most 4×"), "{evidence}");
    assert!(evidence.contains("the bf16 class alone allows 2e-2"), "inside the class: {evidence}");
}

/// Timed launches are held to the calibrated bound too: at a timed size that was never verified
/// the judge calibrates on the first timed launch. A kernel honest in verification that
/// accumulates in bf16 once timed is rejected at a timed launch.
#[test]
fn timed_launches_are_held_to_the_calibrated_bound() {
    let sizes = |m: i64, n: i64, k: i64| Sizes::new([("M", m), ("N", n), ("K", k)]);
    let options = ReviewOptions {
        // The three classic trials only (no stress trial, no drawn size), so that the kernel below
        // knows when verification ends.
        verify: VerifyOptions { sizes: vec![sizes(3, 5, 7)], stress: false, drawn_size: false, ..Default::default() },
        timing: timing_options(),
        timed_sizes: Some(sizes(24, 20, 1500)),
        ..ReviewOptions::default()
    };
    let calls = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let counted = calls.clone();
    // Three verification trials honest, then bf16 between steps.
    let lazy = stepped_gemm(16, move || {
        counted.set(counted.get() + 1);
        counted.get() > 3
    });
    let report = review_gemm_bf16("gemm_bf16_lazy_bf16", lazy, &options);
    let Rejection::Inaccurate { at, evidence, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert!(at.timed_launch.is_some(), "{at:?}");
    assert!(evidence.contains("× the baseline's"), "{evidence}");
    assert!(calls.get() > 3);
}

/// Without the Python process a PyTorch baseline needs, the bounds are the class's, and the
/// record says why they were not calibrated.
#[test]
fn without_a_baseline_the_bounds_are_the_class_and_the_record_says_why() {
    let bf16 = Dtype::Bf16;
    let gelu = |x: f32| 0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044715 * x * x * x)).tanh());
    let run = move |call: &mut SimCall| -> Result<(), SimFault> {
        let x = call.read_elements(0, bf16)?;
        let y: Vec<u64> = x.iter().map(|&e| element::from_f32(bf16, gelu(element::value(bf16, e) as f32))).collect();
        call.write_elements_at(1, 0, bf16, &y)
    };
    let mut dev = SimDevice::new();
    dev.kernel("gelu_bf16_sim", &["u64", "u64", "u32", "u32"], run, |_| 0.01);
    let mut judge = SimDevice::new();
    // The problem's fp64 reference kernel, as reference.cu computes it.
    let reference = move |call: &mut SimCall| -> Result<(), SimFault> {
        let x: Vec<f64> = call.read_elements(0, bf16)?.into_iter().map(|e| element::value(bf16, e)).collect();
        let k = (2.0 / std::f64::consts::PI).sqrt();
        let y: Vec<f64> = x.iter().map(|&v| 0.5 * v * (1.0 + (k * (v + 0.044715 * v * v * v)).tanh())).collect();
        let scale: Vec<f64> = y.iter().zip(&x).map(|(y, x)| y.abs() + x.abs() / 256.0).collect();
        call.write_f64(1, &y)?;
        call.write_f64(2, &scale)
    };
    judge.kernel("gelu_bf16_fp64", &["u64", "u64", "u64", "u64"], reference, |_| 0.001);
    let source = "/* sadoku\nproblem = \"gelu_bf16\"\n[[launch]]\nkernel = \"gelu_bf16_sim\"\ngrid = [\"cdiv(B * D, 256)\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"y\", \"B\", \"D\"]\n*/\nextern \"C\" __global__ void gelu_bf16_sim(const void* x, void* y, int B, int D) {}\n";
    let candidate = Candidate::from_source(&registry(), "gelu_bf16_sim.cu", source.into()).unwrap();
    let options = ReviewOptions { skip_timing: true, ..ReviewOptions::default() };
    let sizes = vec![Sizes::new([("B", 3), ("D", 100)])];
    let options = ReviewOptions {
        timed_sizes: Some(sizes[0].clone()),
        verify: VerifyOptions { sizes, ..Default::default() },
        ..options
    };
    let report =
        review_candidate(&mut Devices::new(&mut dev, &mut judge), &candidate, &Seeds { master: 5 }, &options, &Silent)
            .unwrap();
    assert!(report.verdict.is_accepted(), "{:?} {:?}", report.verdict, report.evidence);
    let error = report.findings.error.as_ref().unwrap();
    assert_eq!(error.calibrated, None);
    assert!(error.uncalibrated.as_deref().unwrap_or("").contains("no Python process"), "{error:?}");
    assert_eq!(error.normwise_limit, 2e-2);
}

/// An f64 output is judged in fp64: computing it in fp32 (one rounding of x and of the product
/// to fp32, a relative error near 6e-8) is far outside the fp64 bound.
#[test]
fn an_f64_result_computed_in_fp32_is_rejected() {
    let f64 = Dtype::F64;
    let mut dev = device(f64, "in_fp32", move |_, x| {
        (0, x.iter().map(|&e| ((3.0 * element::value(f64, e) as f32) as f64).to_bits()).collect())
    });
    let report = review(f64, &mut dev, "in_fp32");
    let Rejection::Inaccurate { evidence, class, .. } = rejection(&report) else { panic!("{:?}", report.verdict) };
    assert_eq!(*class, PrecisionClass::Fp32, "{evidence}");
    assert!(evidence.contains("exceeds 1e-12") || evidence.contains("outside the fp64 rounding bound"), "{evidence}");
}
