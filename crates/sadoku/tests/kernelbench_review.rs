//! A KernelBench problem file reviewed end to end through sadoku's own judge, without a GPU: the
//! judge is the simulated device (fresh inputs, poisoned outputs, guards, comparison against the
//! truth, statistics), the candidate a Python worker on the CPU, and the truth and the eager
//! baseline the problem's own Model in a Python process of its own (`ModelWorker`). The judge's
//! buffers cross their pipes as copies (there is no CUDA IPC on the CPU).
//!
//! Needs PyTorch, as `bridge.rs` does: `scripts/test.sh` installs it into `.ci/torch-root`;
//! without it these tests skip, unless SADOKU_REQUIRE_TORCH is set (CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use sadoku_core::candidate::Candidate;
use sadoku_core::device::sim::SimDevice;
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::model::ModelWorker;
use sadoku_core::problem::torch::{ModelKind, from_description};
use sadoku_core::problem::{self, Dtype, Problem, Registry, Role, Structure};
use sadoku_core::protocol::{RemoteDevice, Timeouts};
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::time::TimingOptions;
use sadoku_core::verdict::{Rejection, Verdict};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// PyTorch's directory, or why these tests skip.
fn torch_path() -> Option<Vec<PathBuf>> {
    let path = std::env::var_os("SADOKU_TORCH_PATH").map(PathBuf::from).or_else(|| {
        let p = repo().join(".ci/torch-root");
        p.join("torch").exists().then_some(p)
    });
    match path {
        Some(p) => Some(vec![p, repo().join("python")]),
        None => {
            assert!(std::env::var_os("SADOKU_REQUIRE_TORCH").is_none(), "SADOKU_REQUIRE_TORCH is set but no PyTorch");
            eprintln!("skipped: no PyTorch (scripts/test.sh installs it into .ci/torch-root)");
            None
        }
    }
}

/// A Python worker on the CPU, speaking the judge's protocol.
fn worker(path: &[PathBuf]) -> RemoteDevice {
    let mut child = Command::new("python3")
        .args(["-s", "-m", "sadoku_bridge.worker", "--device", "cpu"])
        .env("PYTHONPATH", std::env::join_paths(path).unwrap())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    struct Child(std::process::Child);
    impl sadoku_core::protocol::Worker for Child {
        fn kill(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        fn status(&mut self) -> String {
            self.0.wait().map(|s| s.to_string()).unwrap_or_default()
        }
        fn stderr_tail(&mut self) -> String {
            String::new()
        }
    }
    let timeouts = Timeouts { other: std::time::Duration::from_secs(120), ..Timeouts::default() };
    RemoteDevice::connect(Box::new(stdout), Box::new(stdin), Box::new(Child(child)), timeouts).unwrap()
}

/// The problem a test file describes, as `sadoku kernelbench` builds it.
/// A test's own file, else the example batch's (`examples/kernelbench/<dir>`).
fn test_file(dir: &str, file: &str) -> PathBuf {
    let own = repo().join("python/tests").join(dir).join(file);
    if own.exists() { own } else { repo().join("examples/kernelbench").join(dir).join(file) }
}

fn kb_problem(path: &[PathBuf], file: &str) -> Arc<Problem> {
    let file = test_file("problems", file);
    let out = Command::new("python3")
        .args(["-s", "-m", "sadoku_bridge.describe"])
        .arg(&file)
        .env("PYTHONPATH", std::env::join_paths(path).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let description: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let source = std::fs::read_to_string(&file).unwrap();
    Arc::new(from_description(&file.display().to_string(), source, &description).unwrap())
}

fn options() -> ReviewOptions {
    ReviewOptions {
        timing: TimingOptions {
            warmup: std::time::Duration::from_millis(10),
            min_samples: 3,
            max_samples: 6,
            budget: std::time::Duration::from_millis(300),
            ..TimingOptions::default()
        },
        ..ReviewOptions::default()
    }
}

/// Review candidate `file` (`python/tests/candidates`) for `problem`.
fn review(path: &[PathBuf], problem: &Arc<Problem>, file: &str, kind: ModelKind) -> CandidateReport {
    let file = test_file("candidates", file);
    let source = std::fs::read_to_string(&file).unwrap();
    let candidate = Candidate::python(file.display().to_string(), source, Arc::clone(problem), kind).unwrap();
    let mut judge = SimDevice::new();
    let mut candidate_worker = worker(path);
    let mut model = ModelWorker::new(Box::new(worker(path)));
    let mut devices = Devices { model: Some(&mut model), ..Devices::new(&mut candidate_worker, &mut judge) };
    review_candidate(&mut devices, &candidate, &Seeds { master: 11 }, &options(), &Silent).unwrap()
}

fn rejection(r: &CandidateReport) -> &Rejection {
    match &r.verdict {
        Verdict::Rejected(x) => x,
        v => panic!("{} was {v:?}, expected a rejection", r.name),
    }
}

#[test]
fn a_kernelbench_file_becomes_a_problem_with_its_parameters_as_inputs() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "conv2d_bn.py");
    assert_eq!(p.name, "conv2d_bn");
    let names: Vec<(&str, Role)> = p.tensors.iter().map(|t| (t.name, t.role)).collect();
    assert_eq!(
        names,
        vec![
            ("x", Role::Input),
            ("conv_weight", Role::Input),
            ("conv_bias", Role::Input),
            ("bn_weight", Role::Input),
            ("bn_bias", Role::Input),
            ("bn_running_mean", Role::Input),
            ("bn_running_var", Role::Input),
            ("out0", Role::Output),
        ],
        "num_batches_tracked is bookkeeping, not data"
    );
    // The file's constants are the size symbols a native candidate's grid uses.
    assert!(p.symbols.contains(&"batch") && p.symbols.contains(&"height"));
    assert_eq!(p.timed_sizes().get("batch"), Some(4));
    // BatchNorm's running variance is drawn around its initial values: positive.
    let var = p.tensors.iter().find(|t| t.name == "bn_running_var").unwrap();
    let d = var.distributions[1].at(&p.timed_sizes()).unwrap();
    assert!(matches!(d, problem::Distribution::Uniform { lo, .. } if lo > 0.0), "{d}");
    // The input: the file's own get_inputs() draws it in every trial, as its range says.
    let x = &p.tensors[0];
    assert_eq!(x.distributions[0].at(&p.timed_sizes()).unwrap(), problem::Distribution::UNIT_UNIFORM);
    assert_eq!(x.distributions[1].at(&p.timed_sizes()).unwrap(), problem::Distribution::UNIT_UNIFORM);
    assert_eq!(p.torch().unwrap().drawn_by_file(), [true, false, false, false, false, false, false]);
    assert!(p.has_baseline());
    assert!(p.baseline_name(sadoku_core::device::Precision::F32).contains("TF32 off"));
    let trimm = kb_problem(&path, "trimm.py");
    let lower = trimm.tensors[..2].iter().all(|t| t.structure == Structure::Lower);
    assert!(lower, "lower-triangular inputs stay lower-triangular");
}

/// A file whose get_inputs() draws a symmetric A (a batch of them): the problem records the
/// structure, every A drawn for a judged launch is symmetric (a candidate that raises on any other
/// is accepted: it never saw one), so a kernel that reads A as A.mT, right only for symmetric A, is
/// accepted; one that assumes another structure (A upper-triangular) is rejected.
#[test]
fn a_symmetric_input_stays_symmetric_and_a_kernel_relying_on_it_is_accepted() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "symm.py");
    let structures: Vec<(&str, Structure)> = p.tensors.iter().map(|t| (t.name, t.structure)).collect();
    assert_eq!(structures, [("A", Structure::Symmetric), ("B", Structure::Dense), ("out0", Structure::Dense)]);
    for file in ["symm_honest.py", "symm_transposed.py"] {
        let r = review(&path, &p, file, ModelKind::ModelNew);
        assert!(r.verdict.is_accepted(), "{file}: {:?} {:?}", r.verdict, r.evidence);
        assert!(r.findings.trials.len() >= 2, "{file}: {:?}", r.findings.trials);
        let timing = r.findings.timing.as_ref().unwrap();
        assert!(timing.speedup.is_some(), "{file}: every timed launch judged and accepted: {timing:?}");
    }
    let wrong = review(&path, &p, "symm_upper_only.py", ModelKind::ModelNew);
    assert!(matches!(rejection(&wrong), Rejection::Inaccurate { .. }), "{:?}", wrong.verdict);
}

/// A bool mask among a file's inputs (its get_inputs() draws it): judged like any other input, so
/// the honest masked running sum is accepted and one that ignores the mask rejected.
#[test]
fn a_bool_mask_is_an_input_and_a_kernel_that_ignores_it_is_rejected() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "masked_cumsum.py");
    let inputs: Vec<(&str, Dtype, Role)> = p.tensors.iter().map(|t| (t.name, t.dtype, t.role)).collect();
    assert_eq!(inputs[..2], [("x", Dtype::F32, Role::Input), ("mask", Dtype::Bool, Role::Input)]);
    let honest = review(&path, &p, "masked_cumsum_honest.py", ModelKind::ModelNew);
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    assert!(honest.findings.timing.as_ref().unwrap().speedup.is_some(), "timed");
    let unmasked = review(&path, &p, "masked_cumsum_unmasked.py", ModelKind::ModelNew);
    assert!(matches!(rejection(&unmasked), Rejection::Inaccurate { .. }), "{:?}", unmasked.verdict);
}

#[test]
fn an_honest_modelnew_is_accepted_against_the_models_truth_and_timed_against_eager() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "leaky_relu.py");
    let r = review(&path, &p, "leaky_relu_honest.py", ModelKind::ModelNew);
    assert!(r.verdict.is_accepted(), "{:?} {:?}", r.verdict, r.evidence);
    let timing = r.findings.timing.as_ref().unwrap();
    assert!(timing.speedup.is_some(), "timed against the eager Model: {timing:?}");
    assert!(timing.baseline_name.starts_with("eager PyTorch"), "{}", timing.baseline_name);
    // Both trials ran, each on the file's own get_inputs() under its own seed.
    assert!(r.findings.trials.len() >= 2);
}

#[test]
fn a_layer_whose_weights_come_from_the_judge_is_accepted() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "linear.py");
    let r = review(&path, &p, "linear_honest.py", ModelKind::ModelNew);
    assert!(r.verdict.is_accepted(), "{:?} {:?}", r.verdict, r.evidence);
}

/// On `problem`, `honest` is ACCEPTED with one trial marked `marker` that judged it (not skipped),
/// and `wrong` passes every trial before trial `trial`, the one marked `marker`, and is REJECTED
/// there as inaccurate.
fn caught_only_by_the_trial(path: &[PathBuf], problem: &str, honest: &str, wrong: &str, marker: &str, trial: usize) {
    let p = kb_problem(path, problem);
    let honest = review(path, &p, honest, ModelKind::ModelNew);
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    let marked: Vec<_> = honest.findings.trials.iter().filter(|t| t.trial.contains(marker)).collect();
    assert_eq!(marked.len(), 1, "{:?}", honest.findings.trials);
    assert!(marked[0].skipped.is_none(), "{:?}", marked[0]);
    let wrong = review(path, &p, wrong, ModelKind::ModelNew);
    let Rejection::Inaccurate { at, .. } = rejection(&wrong) else { panic!("{:?}", wrong.verdict) };
    assert!(at.trial.starts_with(&format!("trial {trial} (")) && at.trial.contains(marker), "{at:?}");
    assert_eq!(wrong.findings.trials.len(), trial, "{:?}", wrong.findings.trials);
    assert!(wrong.findings.trials[..trial - 1].iter().all(|t| t.accuracy.iter().all(|a| a.passes())));
}

/// Under the file's own draws a product of 256 standard normal values is zero in float32 almost
/// everywhere, for every answer: one that multiplies another batch's rows passes the first three
/// trials. The wide trial (the file's normal draws ×±2) puts the products within float32's range:
/// it rejects that one, and accepts the product taken in another order.
#[test]
fn an_output_degenerate_under_the_files_draws_is_judged_on_the_wide_trial() {
    let Some(path) = torch_path() else { return };
    let marker = "the file's normal draws ×";
    caught_only_by_the_trial(&path, "prod_dim.py", "prod_dim_honest.py", "prod_dim_wrong_rows.py", marker, 4);
}

/// Under the file's continuous draws a minimum is almost never tied: an index that breaks ties
/// against the Model's rule (the last row, not the first) passes the first four trials (the
/// file's own draws, then ×±2). The ties trial (the file's draws on a coarse grid) makes ties
/// common: it rejects that one, and accepts the first index found another way.
#[test]
fn a_tie_broken_against_the_models_rule_is_judged_on_the_ties_trial() {
    let Some(path) = torch_path() else { return };
    let marker = "coarse grid (ties)";
    caught_only_by_the_trial(&path, "argmin_dim.py", "argmin_dim_honest.py", "argmin_dim_last_tie.py", marker, 5);
}

#[test]
fn the_domain_is_the_files_own_to_declare() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "threshold.py");
    let honest = review(&path, &p, "threshold_honest.py", ModelKind::ModelNew);
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    // Zeros are the exact answer for every input this file's get_inputs() can draw (torch.rand,
    // all below the level 1.0), and every trial draws with it: the file defines the problem on
    // that domain, so zeros are right there. (A file that means more declares more.)
    let zeros = review(&path, &p, "threshold_zeros.py", ModelKind::ModelNew);
    assert!(zeros.verdict.is_accepted(), "{:?} {:?}", zeros.verdict, zeros.evidence);
}

/// Softmax-normalised rows and ±1 labels: drawn by the file's get_inputs() in every trial and
/// every timed launch, the truth is finite and a candidate that relies on the domain is right.
#[test]
fn a_files_inputs_keep_their_domain_in_every_trial_and_timed_launch() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "kl_hinge.py");
    assert_eq!(p.torch().unwrap().drawn_by_file(), [true; 4]);
    for file in ["kl_hinge_honest_modelnew.py", "kl_hinge_domain_modelnew.py"] {
        let r = review(&path, &p, file, ModelKind::ModelNew);
        assert!(r.verdict.is_accepted(), "{file}: {:?} {:?}", r.verdict, r.evidence);
        assert!(r.findings.trials.len() >= 3, "{file}: {:?}", r.findings.trials);
        for t in &r.findings.trials {
            for a in &t.accuracy {
                let finite = a.normwise.is_finite() && a.nonfinite == 0;
                assert!(finite, "{file}, {}: {} against a NaN truth", t.trial, a.buffer);
            }
        }
        let timing = r.findings.timing.as_ref().unwrap();
        assert!(timing.speedup.is_some(), "{file}: every timed launch judged and accepted: {timing:?}");
    }
    // Typical values of the two losses, whatever the inputs: wrong for the inputs drawn.
    let cheat = review(&path, &p, "kl_hinge_constant_modelnew.py", ModelKind::ModelNew);
    assert!(matches!(rejection(&cheat), Rejection::Inaccurate { .. }), "{:?}", cheat.verdict);
}

/// A get_inputs() that draws another shape than the one the problem was described with is the
/// file's fault: the review stops with an error that names the file, no verdict.
#[test]
fn a_get_inputs_of_another_shape_is_an_environment_error_naming_the_file() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "varying_shape.py");
    let file = repo().join("examples/kernelbench/candidates/kl_hinge_domain_modelnew.py");
    let source = "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n";
    let candidate =
        Candidate::python(file.display().to_string(), source.into(), p.clone(), ModelKind::ModelNew).unwrap();
    let mut judge = SimDevice::new();
    let mut candidate_worker = worker(&path);
    let mut model = ModelWorker::new(Box::new(worker(&path)));
    let mut devices = Devices { model: Some(&mut model), ..Devices::new(&mut candidate_worker, &mut judge) };
    let e = review_candidate(&mut devices, &candidate, &Seeds { master: 11 }, &options(), &Silent).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("varying_shape.py: get_inputs() returned") && text.contains("same shapes"), "{text}");
}

#[test]
fn python_cheats_are_rejected_through_the_judge() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "leaky_relu.py");
    // Replays the answer it stored for the input's address: fresh inputs at the same address.
    let cache = review(&path, &p, "leaky_relu_cache.py", ModelKind::ModelNew);
    assert!(matches!(rejection(&cache), Rejection::Inaccurate { .. }), "{:?}", cache.verdict);
    for (file, reason) in [
        ("leaky_relu_returns_input.py", "aliases"),
        ("leaky_relu_thread.py", "thread"),
        ("leaky_relu_lazy.py", "not a plain tensor"),
    ] {
        let r = review(&path, &p, file, ModelKind::ModelNew);
        let text = format!("{:?} {:?} {:?}", rejection(&r), r.reason, r.evidence);
        assert!(text.to_lowercase().contains(reason), "{file}: {text}");
    }
}

#[test]
fn a_loss_returned_from_its_expected_value_is_rejected_and_the_honest_loss_accepted() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "mse_loss.py");
    // A 0-dimensional output: one element to the judge, shape () to the Model.
    let out = p.tensors.iter().find(|t| t.role == Role::Output).unwrap();
    assert_eq!(p.buffers(&p.timed_sizes()).iter().find(|b| b.name == out.name).unwrap().elements(), 1);
    let honest = review(&path, &p, "mse_loss_honest.py", ModelKind::ModelNew);
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    let analytic = review(&path, &p, "mse_loss_analytic.py", ModelKind::ModelNew);
    assert!(matches!(rejection(&analytic), Rejection::Inaccurate { .. }), "{:?}", analytic.verdict);
    // The right value as a one-element vector, not the Model's 0-dimensional tensor (as an archive
    // HingeLoss kernel returned it): the wrong result form, whatever its value.
    let vector = review(&path, &p, "mse_loss_keeps_a_dim.py", ModelKind::ModelNew);
    assert!(matches!(rejection(&vector), Rejection::Refused { .. }), "{:?}", vector.verdict);
    assert_eq!(vector.reason.as_deref(), Some("wrong result form"), "{:?}", vector.evidence);
    let evidence = vector.evidence.clone().unwrap_or_default();
    assert!(evidence.contains("[1]") && evidence.contains("[]"), "{evidence}");
}

// --- A library problem whose baseline is eager PyTorch -----------------------------------------

const RELU_CANDIDATE: &str = r#"/* sadoku
problem = "PROBLEM"
[[launch]]
kernel = "relu_fast"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B", "D"]
*/
extern "C" __global__ void relu_fast(const float* x, float* y, int B, int D) {}
"#;

/// The library's relu problem, or a copy of it named `name` whose baseline is `expression`, and
/// the library with it.
fn relu_problem(name: &str, expression: &str) -> (Registry, Arc<Problem>) {
    let mut registry = Registry::library();
    if name == "relu" {
        let relu = registry.find("relu").unwrap().clone();
        return (registry, relu);
    }
    let dir = repo().join("problems/relu");
    let text = std::fs::read_to_string(dir.join("problem.toml"))
        .unwrap()
        .replacen("name = \"relu\"", &format!("name = \"{name}\""), 1)
        .replacen("expression = \"torch.relu(x)\"", &format!("expression = \"{expression}\""), 1);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map_err(|e| e.to_string())
            .map(|s| s.replace("problem = \"relu\"", &format!("problem = \"{name}\"")))
    };
    let problem = registry.add(problem::format::parse(name, &text, &read).unwrap());
    (registry, problem)
}

/// A native relu candidate, twice as fast as the simulated library, reviewed on the simulated
/// judge with the PyTorch baseline in a CPU Python process (`model`: whether there is one).
fn review_relu(path: &[PathBuf], (registry, problem): (Registry, Arc<Problem>), model: bool) -> CandidateReport {
    use sadoku_core::device::sim::{SimCall, SimFault};
    use sadoku_core::problem::Sizes;
    let mut judge = SimDevice::new();
    judge.kernel(
        "relu_fp64",
        &["u64", "u64", "u64", "u64"],
        |call: &mut SimCall| {
            let x = call.read(0)?;
            call.write_f64(1, &x.iter().map(|&v| f64::from(v.max(0.0))).collect::<Vec<_>>())?;
            call.write_f64(2, &x.iter().map(|&v| f64::from(v.abs())).collect::<Vec<_>>())
        },
        |_| 0.001,
    );
    let mut dev = SimDevice::new();
    dev.kernel(
        "relu_fast",
        &["u64", "u64", "u32", "u32"],
        |call: &mut SimCall| -> Result<(), SimFault> {
            let x = call.read(0)?;
            call.write(1, &x.iter().map(|v| v.max(0.0)).collect::<Vec<_>>())
        },
        |_| 0.0005,
    );
    let source = RELU_CANDIDATE.replace("PROBLEM", problem.name);
    let candidate = Candidate::from_source(&registry, "relu_fast.cu", source).unwrap();
    let sizes = |b: i64, d: i64| Sizes::new([("B", b), ("D", d)]);
    let options = ReviewOptions {
        verify: sadoku_core::verify::VerifyOptions { sizes: vec![sizes(1, 1), sizes(3, 17)], ..Default::default() },
        timed_sizes: Some(sizes(4, 256)),
        ..options()
    };
    let mut worker = ModelWorker::new(Box::new(self::worker(path)));
    let mut devices = Devices { model: model.then_some(&mut worker), ..Devices::new(&mut dev, &mut judge) };
    let report = review_candidate(&mut devices, &candidate, &Seeds { master: 5 }, &options, &Silent).unwrap();
    assert_eq!(judge.live_buffers(), 0, "the judge freed everything");
    report
}

#[test]
fn a_library_problem_is_timed_against_its_pytorch_baseline_once_it_matches_the_truth() {
    let Some(path) = torch_path() else { return };
    let r = review_relu(&path, relu_problem("relu", ""), true);
    assert!(r.verdict.is_accepted(), "{:?} {:?}", r.verdict, r.evidence);
    let t = r.findings.timing.as_ref().unwrap();
    assert_eq!(t.baseline_name, "eager PyTorch: torch.relu(x)");
    assert_eq!(t.baseline_unavailable, None);
    assert!(t.speedup.is_some() && t.baseline.is_some(), "{t:?}");
}

#[test]
fn a_pytorch_baseline_that_disagrees_with_the_truth_is_not_timed_and_says_why() {
    let Some(path) = torch_path() else { return };
    // Twice relu: the problem author's mistake, which would make every speedup wrong.
    let r = review_relu(&path, relu_problem("relu_doubled_baseline", "torch.relu(x) * 2"), true);
    assert!(r.verdict.is_accepted(), "the candidate's verdict stands: {:?}", r.verdict);
    let t = r.findings.timing.as_ref().unwrap();
    assert_eq!((t.speedup, t.baseline.is_some()), (None, false));
    let why = t.baseline_unavailable.as_deref().unwrap_or_default();
    assert!(why.starts_with("the PyTorch baseline `torch.relu(x) * 2` disagrees with the truth (y:"), "{why}");
    // One that does not run at all is said too.
    let r = review_relu(&path, relu_problem("relu_broken_baseline", "torch.relu(q)"), true);
    let why = r.findings.timing.as_ref().unwrap().baseline_unavailable.clone().unwrap_or_default();
    assert!(why.starts_with("the PyTorch baseline `torch.relu(q)` failed:") && why.contains("NameError"), "{why}");
}

#[test]
fn without_python_a_pytorch_baseline_is_missing_and_the_verdict_stands() {
    let Some(path) = torch_path() else { return };
    let r = review_relu(&path, relu_problem("relu", ""), false);
    assert!(r.verdict.is_accepted(), "{:?}", r.verdict);
    let t = r.findings.timing.as_ref().unwrap();
    assert_eq!(t.speedup, None);
    assert!(t.baseline_unavailable.as_deref().unwrap_or_default().contains("no Python with PyTorch"), "{t:?}");
}

// --- Calibrated accuracy -------------------------------------------------------------------------

/// An elementwise Model over a vector of 2²³ elements: the opaque Model's K (its largest input
/// dimension) makes K·u = 0.5 in fp32, where the uncalibrated bound used to be switched off and a
/// few elements 1 % wrong passed the normwise test. Calibrated against the Model itself in fp32 on
/// the same inputs, those elements are rejected; the honest candidate, rounding differently from
/// the eager Model (one fused multiply-add), is accepted.
#[test]
fn a_few_elements_one_percent_wrong_are_rejected_against_the_models_own_error_at_any_length() {
    let Some(path) = torch_path() else { return };
    let p = kb_problem(&path, "affine_long.py");
    assert_eq!(p.terms(&p.timed_sizes()), 1 << 23);
    let untimed = ReviewOptions { skip_timing: true, ..options() };
    let review = |file: &str| {
        let file = repo().join("python/tests/candidates").join(file);
        let source = std::fs::read_to_string(&file).unwrap();
        let candidate = Candidate::python(file.display().to_string(), source, p.clone(), ModelKind::ModelNew).unwrap();
        let mut judge = SimDevice::new();
        let mut candidate_worker = worker(&path);
        let mut model = ModelWorker::new(Box::new(worker(&path)));
        let mut devices = Devices { model: Some(&mut model), ..Devices::new(&mut candidate_worker, &mut judge) };
        review_candidate(&mut devices, &candidate, &Seeds { master: 11 }, &untimed, &Silent).unwrap()
    };
    let honest = review("affine_long_honest.py");
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    let error = honest.findings.error.as_ref().unwrap();
    assert_eq!(error.calibrated, Some("elementwise"), "{error:?}");
    assert!(error.baseline_worst.is_some() && error.factor < 3e-3, "{error:?}");
    let off = review("affine_long_few_off.py");
    let Rejection::Inaccurate { evidence, .. } = rejection(&off) else { panic!("{:?}", off.verdict) };
    assert!(evidence.contains("outside 8× the baseline's worst error"), "{evidence}");
}
