//! A problem defined as data, end to end on the simulated device: a trusted reference kernel (a
//! Rust closure writing fp64, as the CUDA one would), the error scale from the same kernel on
//! |inputs|, no library baseline (time and % of ceiling only), and the checks on its candidates.

mod common;

use common::{PARAMS, inputs, timing_options};
use sadoku_core::candidate::Candidate;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::problem::{Registry, Sizes};
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verdict::{Rejection, Verdict};
use sadoku_core::verify::VerifyOptions;

const PROBLEM: &str = r#"
name = "sim_axpy"
summary = "y = 2·x + z, for the simulated device's tests"
family = "elementwise"

[sizes]
symbols = ["N"]
constraints = ["N >= 1"]
timed = [{ N = 4096 }, { N = 64 }]
check = [{ N = 1 }, { N = 1000 }]
small = { N = 17 }

[[tensor]]
name = "x"
role = "input"
dtype = "f32"
shape = ["N"]
distributions = ["randn(0, 2)", "uniform(-1, 1)"]

[[tensor]]
name = "z"
role = "input"
dtype = "f32"
shape = ["N"]

[[tensor]]
name = "y"
role = "output"
dtype = "f32"
shape = ["N"]

[reference]
kernel = "reference.cu"
terms = 2
scale = "abs"

[floors]
flops = "2 * N"
bytes = "12 * N"
"#;

const REFERENCE: &str = r#"/* sadoku
problem = "sim_axpy"
[[launch]]
kernel = "axpy_fp64"
grid = ["cdiv(N, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "z", "y", "N"]
*/
extern "C" __global__ void axpy_fp64(const float* x, const float* z, double* y, long long n) {}
"#;

/// The library and the problem, whose directory is written once for every test of this file.
fn registry() -> Registry {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| common::problem_dir(PROBLEM, REFERENCE));
    let mut registry = Registry::library();
    assert_eq!(registry.add_dir(dir).unwrap(), vec!["sim_axpy"]);
    registry
}

fn candidate(kernel: &str) -> Candidate {
    let source = format!(
        "/* sadoku\nproblem = \"sim_axpy\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"cdiv(N, 256)\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"z\", \"y\", \"N\"]\n*/\nextern \"C\" __global__ void {kernel}(const float* x, const float* z, float* y, int n) {{}}\n"
    );
    Candidate::from_source(&registry(), format!("{kernel}.cu"), source).unwrap()
}

/// The judge: its reference kernel computes y = 2x + z in fp64.
fn judge() -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        "axpy_fp64",
        &["u64", "u64", "u64", "u64"],
        |call: &mut SimCall| {
            let (x, z) = (call.read(0)?, call.read(1)?);
            let y: Vec<f64> = x.iter().zip(&z).map(|(&a, &b)| 2.0 * a as f64 + b as f64).collect();
            call.write_f64(2, &y)
        },
        |_| 0.001,
    );
    d
}

fn device(kernel: &str, f: impl Fn(f32, f32) -> f32 + 'static) -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        kernel,
        &PARAMS,
        move |call: &mut SimCall| -> Result<(), SimFault> {
            let (x, z, _) = inputs(call)?;
            call.write(2, &x.iter().zip(&z).map(|(&a, &b)| f(a, b)).collect::<Vec<_>>())
        },
        |_| 0.01,
    );
    d
}

fn review(dev: &mut SimDevice, kernel: &str) -> CandidateReport {
    review_with(dev, kernel, Some(Sizes::new([("N", 1000)])))
}

fn review_with(dev: &mut SimDevice, kernel: &str, timed: Option<Sizes>) -> CandidateReport {
    let mut reference = judge();
    let options = ReviewOptions {
        verify: VerifyOptions {
            sizes: [1, 17, 1000].iter().map(|&n| Sizes::new([("N", n)])).collect(),
            ..Default::default()
        },
        timing: timing_options(),
        timed_sizes: timed,
        ..ReviewOptions::default()
    };
    let report = review_candidate(
        &mut Devices::new(dev, &mut reference),
        &candidate(kernel),
        &Seeds { master: 5 },
        &options,
        &Silent,
    )
    .expect("the simulated environment does not fail");
    assert_eq!(reference.live_buffers(), 0, "the judge freed everything");
    report
}

#[test]
fn an_honest_kernel_is_accepted_and_timed_without_a_baseline() {
    let mut dev = device("axpy", |a, b| 2.0 * a + b);
    let report = review(&mut dev, "axpy");
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().expect("timed");
    assert_eq!((t.speedup, t.call, t.baseline.is_some()), (None, None, false), "no baseline, no speedup");
    assert!(t.candidate.samples >= 5);
    assert_eq!(t.rounds.len(), 2);
    assert!(t.rounds.iter().all(|r| r.speedup.is_none() && r.median_ms > 0.0));
    let ceiling = report.findings.ceiling.as_ref().expect("% of the card's ceiling instead");
    assert!(ceiling.percent > 0.0, "{ceiling:?}");
    // The trials drew the problem's own distributions.
    let labels: Vec<&str> = report.findings.trials.iter().map(|t| t.trial.as_str()).collect();
    assert!(labels[0].starts_with("trial 1 (randn(0, 2) and randn inputs"), "{labels:?}");
    assert!(labels[1].starts_with("trial 2 (uniform(-1, 1) and rand inputs"), "{labels:?}");
}

#[test]
fn a_kernel_in_bf16_is_rejected_against_the_fp64_reference() {
    let bf16 = |v: f32| f32::from_bits((v.to_bits() + 0x8000) & 0xFFFF_0000);
    let mut dev = device("axpy_bf16", move |a, b| bf16(2.0 * bf16(a) + bf16(b)));
    let report = review(&mut dev, "axpy_bf16");
    let Verdict::Rejected(Rejection::Inaccurate { evidence, .. }) = &report.verdict else {
        panic!("{:?}", report.verdict)
    };
    assert!(evidence.contains("exceeds 1e-5"), "{evidence}");
}

#[test]
fn a_kernel_that_forgets_an_input_is_rejected() {
    let mut dev = device("axpy_no_z", |a, _| 2.0 * a);
    let report = review(&mut dev, "axpy_no_z");
    assert!(matches!(report.verdict, Verdict::Rejected(Rejection::Inaccurate { .. })), "{:?}", report.verdict);
}

#[test]
fn the_reference_kernel_never_runs_where_the_candidate_does() {
    let mut dev = device("axpy", |a, b| 2.0 * a + b);
    let _ = review(&mut dev, "axpy");
    assert!(dev.launches.iter().all(|l| l.kernel == "axpy"), "only the candidate's kernel ran in its worker");
}

/// A problem with two timed cases: both are verified and timed, the first is the headline.
#[test]
fn every_timed_case_is_verified_and_timed() {
    let mut dev = device("axpy", |a, b| 2.0 * a + b);
    let report = review_with(&mut dev, "axpy", None);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let sizes: Vec<String> = report.findings.cases.iter().map(|c| c.sizes.to_string()).collect();
    assert_eq!(sizes, vec!["N = 4096", "N = 64"]);
    let verified: Vec<i64> = report.findings.trials.iter().map(|t| t.sizes.get("N").unwrap()).collect();
    assert!(verified.contains(&4096) && verified.contains(&64), "{verified:?}");
    assert_eq!(report.findings.timing.as_ref().unwrap(), &report.findings.cases[0].timing, "the first is the headline");
    // No baseline: no speedups to average.
    assert_eq!(report.findings.speedup_geomean, None);
}
