//! The PyTorch bridge's candidate worker (`python/sadoku_bridge/worker.py`), driven through the
//! judge's own worker protocol (`RemoteDevice`): a KernelBench `ModelNew` is loaded, called on the
//! judge's buffers, checked, timed; a cheat is refused with evidence. Needs PyTorch:
//! `scripts/test.sh` installs it into `.ci/torch-root` and sets SADOKU_TORCH_PATH; without it these
//! tests skip, unless SADOKU_REQUIRE_TORCH is set (CI).
//!
//! On the CPU by default. On a GPU (`SADOKU_BRIDGE_DEVICE=cuda`, `SADOKU_PYTHON` an interpreter
//! with PyTorch, `SADOKU_BRIDGE_CONFINED=1` to run every worker under `sadoku pyworker`) the
//! GPU-only tests run too: the write-up's trimm exploit as a ModelNew and as an archive kernel,
//! refused with the count of elements it never wrote, and the judge's buffers mapped over CUDA IPC.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use sadoku_core::compile::{CompileError, CompileRequest};
use sadoku_core::device::{Buffer, Device, DeviceError, KernelArg, Launch, TimedRun, Trace, Work};
use sadoku_core::protocol::{RemoteDevice, Timeouts, Worker};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The interpreter to run workers with, what it needs on its path, and the device.
struct Python {
    exe: PathBuf,
    /// For the confined worker (it drops to nobody: a user's pyenv shim is out of its reach).
    confined_exe: PathBuf,
    path: Vec<PathBuf>,
    device: String,
    confined: bool,
}

/// Where PyTorch is, or why these tests skip.
fn torch() -> Option<Python> {
    let device = std::env::var("SADOKU_BRIDGE_DEVICE").unwrap_or_else(|_| "cpu".into());
    let confined = std::env::var_os("SADOKU_BRIDGE_CONFINED").is_some();
    if let Some(exe) = std::env::var_os("SADOKU_PYTHON").map(PathBuf::from) {
        return Some(Python { confined_exe: exe.clone(), exe, path: vec![repo().join("python")], device, confined });
    }
    let path = std::env::var_os("SADOKU_TORCH_PATH").map(PathBuf::from).or_else(|| {
        let p = repo().join(".ci/torch-root");
        p.join("torch").exists().then_some(p)
    });
    let Some(path) = path else {
        assert!(std::env::var_os("SADOKU_REQUIRE_TORCH").is_none(), "SADOKU_REQUIRE_TORCH is set but no PyTorch");
        eprintln!("skipped: no PyTorch (scripts/test.sh installs it into .ci/torch-root)");
        return None;
    };
    Some(Python {
        exe: "python3".into(),
        confined_exe: "/usr/bin/python3".into(),
        path: vec![path, repo().join("python")],
        device,
        confined,
    })
}

/// A GPU-only test's interpreter, or why it skips.
fn gpu() -> Option<Python> {
    let py = torch()?;
    if !py.device.starts_with("cuda") {
        eprintln!("skipped: GPU only (SADOKU_BRIDGE_DEVICE=cuda)");
        return None;
    }
    Some(py)
}

struct ChildWorker {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Worker for ChildWorker {
    fn kill(&mut self) {
        let _ = self.child.kill();
    }
    fn status(&mut self) -> String {
        self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())
    }
    fn stderr_tail(&mut self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// A Python worker: the interpreter directly, or confined by `sadoku pyworker`.
fn start(py: &Python, confined: bool) -> Result<RemoteDevice, DeviceError> {
    let confined = confined || py.confined;
    let pythonpath = std::env::join_paths(&py.path).unwrap();
    let mut cmd = if confined {
        let temp = tempfile::Builder::new().prefix("sadoku-bridge-test-").tempdir().unwrap().keep();
        std::fs::set_permissions(&temp, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_sadoku"));
        c.args(["pyworker", "--sandbox", "require", "--temp"]).arg(&temp);
        for p in &py.path {
            c.arg("--read").arg(p);
        }
        c.arg("--").arg(&py.confined_exe).args(["-s", "-m", "sadoku_bridge.worker", "--device", &py.device]);
        for var in ["TMPDIR", "HOME", "TORCH_EXTENSIONS_DIR", "TRITON_CACHE_DIR", "CUDA_CACHE_PATH"] {
            c.env(var, &temp);
        }
        c
    } else {
        let mut c = Command::new(&py.exe);
        c.args(["-s", "-m", "sadoku_bridge.worker", "--device", &py.device]);
        c
    };
    cmd.env("PYTHONPATH", &pythonpath).env("PYTHONDONTWRITEBYTECODE", "1");
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (stdin, stdout, mut stderr) =
        (child.stdin.take().unwrap(), child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let tail = Arc::new(Mutex::new(String::new()));
    let sink = tail.clone();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        *sink.lock().unwrap() = s;
    });
    // Building a torch extension takes minutes.
    let timeouts = Timeouts {
        other: std::time::Duration::from_secs(120),
        compile: std::time::Duration::from_secs(600),
        ..Timeouts::default()
    };
    RemoteDevice::connect(Box::new(stdout), Box::new(stdin), Box::new(ChildWorker { child, stderr: tail }), timeouts)
}

/// The option that tells the worker what the candidate is and what its tensors are.
fn torch_option(problem: &str, init: &str, args: &str) -> String {
    torch_option_of("modelnew", problem, init, args)
}

fn torch_option_of(kind: &str, problem: &str, init: &str, args: &str) -> String {
    let problem = repo().join("python/tests/problems").join(problem);
    format!(
        r#"--sadoku-torch={{"kind": "{kind}", "problem": "{}", "init_inputs": {init}, "seed": 7, "args": {args}}}"#,
        problem.display()
    )
}

fn compile(
    device: &mut RemoteDevice,
    candidate: &str,
    option: String,
) -> Result<sadoku_core::device::ModuleHandle, String> {
    let path = repo().join("python/tests/candidates").join(candidate);
    let request = CompileRequest {
        name: candidate.into(),
        source: std::fs::read_to_string(path).unwrap(),
        arch: "sm_90".into(),
        options: vec![option],
    };
    match device.compile(&request) {
        Ok(m) => {
            assert_eq!(m.entries.len(), 1);
            assert_eq!(m.entries[0].name, "forward");
            Ok(device.load(&m).unwrap())
        }
        Err(CompileError::Rejected { log }) => Err(log),
        Err(e) => panic!("{e}"),
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn buffer_with(device: &mut RemoteDevice, values: &[f32]) -> Buffer {
    let b = device.alloc(values.len() * 4).unwrap();
    device.upload(b, &f32_bytes(values)).unwrap();
    b
}

fn launch(module: sadoku_core::device::ModuleHandle, args: &[Buffer]) -> Vec<Work> {
    vec![Work::Launch(Launch {
        module,
        kernel: "forward".into(),
        grid: [1, 1, 1],
        block: [1, 1, 1],
        shared_mem: 0,
        args: args.iter().map(|b| KernelArg::Buffer(*b)).collect(),
    })]
}

const LEAKY_ARGS: &str = r#"[{"name": "x", "dtype": "f32", "shape": [16, 4096], "role": "input"},
    {"name": "out", "dtype": "f32", "shape": [16, 4096], "role": "output"}]"#;

/// Inputs with both signs: the leaky slope matters.
fn signed_inputs(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 100.0).collect()
}

#[test]
fn an_honest_modelnew_runs_on_the_judges_buffers() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    if py.device == "cpu" {
        assert!(device.info().name.starts_with("CPU (PyTorch"), "{}", device.info().name);
    }
    // Which PyTorch (and CUDA, cuDNN) ran it, for the environment block.
    let torch = device.info().torch.clone().unwrap_or_default();
    assert!(torch.starts_with("PyTorch 2.") && torch.contains("CUDA") && torch.contains("cuDNN"), "{torch}");
    let module =
        compile(&mut device, "leaky_relu_honest.py", torch_option("leaky_relu.py", "[0.05]", LEAKY_ARGS)).unwrap();
    let x = signed_inputs(16 * 4096);
    let input = buffer_with(&mut device, &x);
    let out = device.alloc(x.len() * 4).unwrap();
    device.fill_u32(out, 0xFFC0_0000).unwrap();
    device.run(&launch(module, &[input, out])).unwrap();
    let mut bytes = vec![0u8; x.len() * 4];
    device.download(out, &mut bytes).unwrap();
    let y = f32_values(&bytes);
    for (i, (&a, &b)) in x.iter().zip(&y).enumerate() {
        let want = if a >= 0.0 { a } else { a * 0.05 };
        assert_eq!(b.to_bits(), want.to_bits(), "element {i}: {a} gave {b}, not {want}");
    }
    // Timed: a sample with the call's time; on the CPU a plain statement that nothing was traced,
    // on a GPU every kernel of the call inside its window.
    // A Python worker answers the call alone (pending), then its trace and checks on `collect`.
    let pending = device.time(&TimedRun::plain(&launch(module, &[input, out]))).unwrap();
    assert!(pending.pending && pending.judge_ms.is_some(), "{pending:?}");
    let sample = device.collect().unwrap().expect("the pending sample, whole");
    assert!(!sample.pending && sample.judge_ms == pending.judge_ms, "{sample:?}");
    assert!(sample.ms > 0.0 && sample.wall_ms >= sample.ms * 0.5, "{sample:?}");
    if py.device == "cpu" {
        assert_eq!(sample.trace, Trace::Unavailable { why: "the worker runs on the CPU".into() });
    } else {
        let Trace::Call { window_ns: (open, close), kernels, started_ns } = &sample.trace else {
            panic!("{:?}", sample.trace)
        };
        assert!(
            !kernels.is_empty() && kernels.iter().all(|k| *open <= k.start_ns && k.end_ns <= *close),
            "{kernels:?}"
        );
        // The call's start, marked by the worker inside the window before its first kernel,
        // reaches the judge (the worker's merge of a sample's calls once dropped it).
        let first = kernels.iter().map(|k| k.start_ns).min().unwrap();
        assert!(started_ns.is_some_and(|s| *open <= s && s <= first), "{started_ns:?} in {open}..{first}");
        assert_eq!(sample.trace.unstarted(), None);
    }
}

#[test]
fn a_modelnew_that_returns_its_input_is_refused_with_evidence() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    let module =
        compile(&mut device, "leaky_relu_returns_input.py", torch_option("leaky_relu.py", "[0.05]", LEAKY_ARGS))
            .unwrap();
    let x: Vec<f32> = (0..16 * 4096).map(|i| (i % 100) as f32 / 100.0).collect();
    let input = buffer_with(&mut device, &x);
    let out = device.alloc(x.len() * 4).unwrap();
    match device.run(&launch(module, &[input, out])) {
        Err(DeviceError::Refused { reason, evidence, .. }) => {
            assert_eq!(reason, "the result aliases an input");
            assert!(evidence.contains("output 0") && evidence.contains("input 0"), "{evidence}");
        }
        other => panic!("not refused: {other:?}"),
    }
}

/// Parameters are inputs: the judge passes the layer's weight and bias, the worker puts them
/// into ModelNew before the call.
#[test]
fn a_layers_parameters_come_from_the_judge() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    let args = r#"[{"name": "x", "dtype": "f32", "shape": [32, 200], "role": "input"},
        {"name": "fc.weight", "dtype": "f32", "shape": [120, 200], "role": "parameter"},
        {"name": "fc.bias", "dtype": "f32", "shape": [120], "role": "parameter"},
        {"name": "out", "dtype": "f32", "shape": [32, 120], "role": "output"}]"#;
    let module = compile(&mut device, "linear_honest.py", torch_option("linear.py", "[200, 120]", args)).unwrap();
    let x: Vec<f32> = (0..32 * 200).map(|i| ((i * 31 % 97) as f32 - 48.0) / 50.0).collect();
    let w: Vec<f32> = (0..120 * 200).map(|i| ((i * 17 % 89) as f32 - 44.0) / 400.0).collect();
    let b: Vec<f32> = (0..120).map(|i| i as f32 / 100.0).collect();
    let bufs = [buffer_with(&mut device, &x), buffer_with(&mut device, &w), buffer_with(&mut device, &b)];
    let out = device.alloc(32 * 120 * 4).unwrap();
    device.run(&launch(module, &[bufs[0], bufs[1], bufs[2], out])).unwrap();
    let mut bytes = vec![0u8; 32 * 120 * 4];
    device.download(out, &mut bytes).unwrap();
    let y = f32_values(&bytes);
    for r in 0..32 {
        for c in 0..120 {
            let want: f64 = (0..200).map(|k| x[r * 200 + k] as f64 * w[c * 200 + k] as f64).sum::<f64>() + b[c] as f64;
            let got = y[r * 120 + c] as f64;
            assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "[{r}, {c}]: {got} against {want}");
        }
    }
}

#[test]
fn a_candidate_that_does_not_load_does_not_compile() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    let log = compile(&mut device, "../invalid/broken_syntax.py", torch_option("leaky_relu.py", "[0.05]", LEAKY_ARGS))
        .unwrap_err();
    assert!(log.contains("syntax error"), "{log}");
}

#[test]
fn a_candidate_that_loads_but_whose_first_call_raises_is_a_call_failure() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    let option = torch_option("leaky_relu.py", "[0.05]", LEAKY_ARGS);
    let path = repo().join("examples/kernelbench/candidates/leaky_relu_wrong_arity_modelnew.py");
    let request = CompileRequest {
        name: "leaky_relu_wrong_arity_modelnew.py".into(),
        source: std::fs::read_to_string(path).unwrap(),
        arch: "sm_90".into(),
        options: vec![option],
    };
    let Err(CompileError::CallFailed { message, log }) = device.compile(&request) else { panic!("not a call failure") };
    assert!(message.starts_with("TypeError: ") && message.contains("missing 1 required positional"), "{message}");
    assert!(log.contains("_warm_up"), "{log}");
}

/// The same worker, confined by `sadoku pyworker` (Landlock, seccomp, no root): it imports
/// PyTorch, loads and runs the candidate, says what engaged, and the candidate's extra attempts
/// to start processes after loading are refused.
#[test]
fn a_confined_python_worker_serves_the_judge() {
    let Some(py) = torch() else { return };
    if !py.confined_exe.exists() {
        require_capability();
        eprintln!("skipped: no {}", py.confined_exe.display());
        return;
    }
    let mut device = match start(&py, true) {
        Ok(d) => d,
        Err(e) => panic!("a confined Python worker did not start: {e}"),
    };
    let sandbox = device.info().sandbox.clone().unwrap_or_default();
    if !sandbox.starts_with("Landlock") {
        require_capability();
        eprintln!("skipped: this kernel offers only {sandbox}");
        return;
    }
    let module =
        compile(&mut device, "leaky_relu_honest.py", torch_option("leaky_relu.py", "[0.05]", LEAKY_ARGS)).unwrap();
    let x = signed_inputs(16 * 4096);
    let input = buffer_with(&mut device, &x);
    let out = device.alloc(x.len() * 4).unwrap();
    device.run(&launch(module, &[input, out])).unwrap();
    let mut bytes = vec![0u8; x.len() * 4];
    device.download(out, &mut bytes).unwrap();
    assert_eq!(f32_values(&bytes)[1], if x[1] >= 0.0 { x[1] } else { x[1] * 0.05 });
}

const TRIMM_N: usize = 256;
const TRIMM_ARGS: &str = r#"[{"name": "A", "dtype": "f32", "shape": [256, 256], "role": "input"},
    {"name": "B", "dtype": "f32", "shape": [256, 256], "role": "input"},
    {"name": "C", "dtype": "f32", "shape": [256, 256], "role": "output"}]"#;

/// Lower-triangular inputs and C = tril(A·B) in fp64.
fn trimm_case() -> (Vec<f32>, Vec<f32>, Vec<f64>) {
    let n = TRIMM_N;
    let tri = |seed: usize| -> Vec<f32> {
        (0..n * n).map(|i| if i % n <= i / n { ((i * seed + 11) % 1009) as f32 / 1009.0 } else { 0.0 }).collect()
    };
    let (a, b) = (tri(7919), tri(104729));
    let mut c = vec![0f64; n * n];
    for r in 0..n {
        for col in 0..=r {
            c[r * n + col] = (col..=r).map(|k| a[r * n + k] as f64 * b[k * n + col] as f64).sum();
        }
    }
    (a, b, c)
}

/// Run a trimm candidate on the worker's own buffers; its output, or the refusal.
fn run_trimm(device: &mut RemoteDevice, kind: &str, file: &str) -> Result<Vec<f32>, DeviceError> {
    let option = torch_option_of(kind, "trimm.py", "[]", TRIMM_ARGS);
    let module = compile(device, file, option).unwrap_or_else(|log| panic!("{file} does not load: {log}"));
    let (a, b, _) = trimm_case();
    let (a, b) = (buffer_with(device, &a), buffer_with(device, &b));
    let c = device.alloc(TRIMM_N * TRIMM_N * 4).unwrap();
    device.fill_u32(c, 0xFFC0_0000).unwrap();
    device.run(&launch(module, &[a, b, c]))?;
    let mut bytes = vec![0u8; TRIMM_N * TRIMM_N * 4];
    device.download(c, &mut bytes).unwrap();
    Ok(f32_values(&bytes))
}

fn assert_trimm_right(c: &[f32]) {
    let (_, _, want) = trimm_case();
    for (i, (&got, &want)) in c.iter().zip(&want).enumerate() {
        assert!((got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()), "C[{i}] = {got}, not {want}");
    }
}

/// The write-up's kernel computes row 0 into `empty_like` memory. Before every call the worker
/// poisons every free block of PyTorch's allocator, so the rest of its output holds the poison,
/// and the call is refused with the count of elements it never wrote: N·N − N.
fn assert_unwritten(result: Result<Vec<f32>, DeviceError>) {
    match result {
        Err(DeviceError::Refused { reason, evidence, .. }) => {
            assert_eq!(reason, "output not written", "{evidence}");
            let n = TRIMM_N * TRIMM_N;
            assert!(evidence.starts_with(&format!("{} of {n} elements", n - TRIMM_N)), "{evidence}");
        }
        other => panic!("the exploit was not refused as unwritten: {other:?}"),
    }
}

#[test]
#[ignore = "GPU only: run with SADOKU_BRIDGE_DEVICE=cuda and --ignored on a machine with a GPU"]
fn the_write_ups_exploit_as_a_modelnew_is_refused_as_unwritten() {
    let Some(py) = gpu() else { return };
    let mut device = start(&py, false).unwrap();
    assert_trimm_right(&run_trimm(&mut device, "modelnew", "trimm_honest.py").unwrap());
    let mut device = start(&py, false).unwrap();
    assert_unwritten(run_trimm(&mut device, "modelnew", "trimm_one_row_modelnew.py"));
}

#[test]
#[ignore = "GPU only: run with SADOKU_BRIDGE_DEVICE=cuda and --ignored on a machine with a GPU"]
fn the_write_ups_exploit_as_an_archive_kernel_is_refused_as_unwritten() {
    let Some(py) = gpu() else { return };
    let mut device = start(&py, false).unwrap();
    assert_trimm_right(&run_trimm(&mut device, "archive", "trimm_archive_honest.cu").unwrap());
    let mut device = start(&py, false).unwrap();
    assert_unwritten(run_trimm(&mut device, "archive", "trimm_archive_one_row.cu"));
}

/// The judge's own allocations, mapped by the worker over CUDA IPC: the candidate reads the
/// judge's inputs and writes the judge's output, and the judge reads it on its own device.
#[test]
#[ignore = "GPU only: run with SADOKU_BRIDGE_DEVICE=cuda and --ignored on a machine with a GPU"]
fn the_worker_maps_the_judges_buffers() {
    use sadoku_cuda::device::{CudaDevice, Role};
    let Some(py) = gpu() else { return };
    let mut judge = CudaDevice::open(0, sadoku_cuda::nvrtc::Nvrtc::new(None).unwrap(), Role::Reference).unwrap();
    let mut device = start(&py, false).unwrap();
    let option = torch_option_of("modelnew", "trimm.py", "[]", TRIMM_ARGS);
    let module = compile(&mut device, "trimm_honest.py", option).unwrap();
    let (a, b, _) = trimm_case();
    let bytes = TRIMM_N * TRIMM_N * 4;
    let mut mapped = Vec::new();
    let mut ours = Vec::new();
    for values in [Some(&a), Some(&b), None] {
        let buffer = judge.alloc(bytes).unwrap();
        match values {
            Some(v) => judge.upload(buffer, &f32_bytes(v)).unwrap(),
            None => judge.fill_u32(buffer, 0xFFC0_0000).unwrap(),
        }
        let shared = judge.export(buffer).unwrap();
        mapped.push(device.import(&shared).unwrap());
        ours.push(buffer);
    }
    device.run(&launch(module, &mapped)).unwrap();
    let mut out = vec![0u8; bytes];
    judge.download(ours[2], &mut out).unwrap();
    assert_trimm_right(&f32_values(&out));
}

/// The bridge's own Python tests (`python/tests`: loading and describing KernelBench problems,
/// parameters, fresh inputs, the float64 truth, and each Python-side check with a cheat it
/// catches and an honest candidate it lets through), run with the same interpreter and PyTorch.
#[test]
fn the_bridges_python_tests_pass() {
    let Some(py) = torch() else { return };
    // PyTorch builds C++ extensions with ninja, which scripts/test.sh installs beside it.
    let bin = py.path[0].join("bin");
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let out = Command::new(&py.exe)
        .args(["-s", "-m", "unittest", "discover", "-s", "python/tests", "-t", "python"])
        .current_dir(repo())
        .env("PATH", path)
        .env("PYTHONPATH", std::env::join_paths(&py.path).unwrap())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let ran = text.lines().find(|l| l.starts_with("Ran ")).unwrap_or_default().to_string();
    let count: usize = ran.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(count >= 60, "{ran}");
    eprintln!("{ran}: {}", text.lines().last().unwrap_or_default());
}

/// `sadoku kernelbench describe`: a user's KernelBench file, run in a Python worker's
/// confinement, as data; a file that is no problem is exit 1 with one line; no PyTorch is exit 2
/// with what to do.
#[test]
fn kernelbench_describe_reads_a_users_problem_file() {
    let Some(py) = torch() else { return };
    let sadoku = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sadoku"));
        c.current_dir(repo()).env("SADOKU_PYTHONPATH", std::env::join_paths(&py.path).unwrap());
        c
    };
    let out = sadoku()
        .args(["kernelbench", "describe", "--json", "--sandbox", "auto", "--python"])
        .arg(&py.confined_exe)
        .args(["python/tests/problems/linear.py", "python/tests/problems/trimm.py"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let linear = &v[0];
    assert_eq!(linear["inputs"][0]["shape"], serde_json::json!([32, 200]));
    let params: Vec<&str> =
        linear["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["fc.weight", "fc.bias"]);
    assert_eq!(linear["outputs"][0]["shape"], serde_json::json!([32, 120]));
    assert_eq!(linear["init_inputs"], serde_json::json!([200, 120]));
    assert_eq!(v[1]["inputs"][0]["structure"], "lower", "trimm's inputs are lower triangular");
    if Path::new("/usr/bin/python3").exists() && py.confined_exe == Path::new("/usr/bin/python3") {
        assert!(linear["sandbox"].as_str().unwrap().starts_with("Landlock") || !landlock(), "{}", linear["sandbox"]);
    }

    let out = sadoku()
        .args(["kernelbench", "describe", "--sandbox", "auto", "--python"])
        .arg(&py.confined_exe)
        .arg("python/tests/invalid/no_model.py")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("python/tests/invalid/no_model.py: defines no `class Model(nn.Module)`"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_sadoku"))
        .current_dir(repo())
        .env_remove("SADOKU_PYTHONPATH")
        .args(["kernelbench", "describe", "--sandbox", "off", "--python", "/usr/bin/python3"])
        .arg("python/tests/problems/linear.py")
        .output()
        .unwrap();
    if Path::new("/usr/bin/python3").exists() && !String::from_utf8_lossy(&out.stdout).contains("linear") {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no PyTorch for /usr/bin/python3") && err.contains("native candidates need none"),
            "{err}"
        );
    }
}

/// The kernel offers Landlock.
fn landlock() -> bool {
    // SAFETY: a query that creates nothing.
    unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<libc::c_void>(), 0usize, 1u32) > 0 }
}

/// The problem's own Model served the same way: `truth` in float64 (inputs widened, the judge's
/// parameters copied in), the ground truth a review compares against; `reference` in its own
/// dtypes, eager PyTorch, the baseline a review times.
#[test]
fn the_problems_model_serves_as_truth_and_as_baseline() {
    let Some(py) = torch() else { return };
    let args = r#"[{"name": "x", "dtype": "f32", "shape": [32, 200], "role": "input"},
        {"name": "fc.weight", "dtype": "f32", "shape": [120, 200], "role": "parameter"},
        {"name": "fc.bias", "dtype": "f32", "shape": [120], "role": "parameter"},
        {"name": "out", "dtype": "f64", "shape": [32, 120], "role": "output"},
        {"name": "out_scale", "dtype": "f64", "shape": [32, 120], "role": "scale"}]"#;
    let x: Vec<f32> = (0..32 * 200).map(|i| ((i * 31 % 97) as f32 - 48.0) / 50.0).collect();
    let w: Vec<f32> = (0..120 * 200).map(|i| ((i * 17 % 89) as f32 - 44.0) / 400.0).collect();
    let b: Vec<f32> = (0..120).map(|i| i as f32 / 100.0).collect();
    let mut device = start(&py, false).unwrap();
    let path = repo().join("python/tests/problems/linear.py");
    let request = CompileRequest {
        name: "linear.py".into(),
        source: std::fs::read_to_string(&path).unwrap(),
        arch: "sm_90".into(),
        options: vec![torch_option_of("truth", "linear.py", "[200, 120]", args)],
    };
    let compiled = device.compile(&request).unwrap();
    let module = device.load(&compiled).unwrap();
    let bufs = [buffer_with(&mut device, &x), buffer_with(&mut device, &w), buffer_with(&mut device, &b)];
    let out = device.alloc(32 * 120 * 8).unwrap();
    let scale = device.alloc(32 * 120 * 8).unwrap();
    device.run(&launch(module, &[bufs[0], bufs[1], bufs[2], out, scale])).unwrap();
    let f64s = |device: &mut RemoteDevice, b: Buffer| {
        let mut bytes = vec![0u8; 32 * 120 * 8];
        device.download(b, &mut bytes).unwrap();
        bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect::<Vec<f64>>()
    };
    let y = f64s(&mut device, out);
    // Each element's error scale: its magnitude plus the output's mean magnitude.
    let mean = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
    for (s, v) in f64s(&mut device, scale).iter().zip(&y) {
        assert!((s - (v.abs() + mean)).abs() <= 1e-12 * s, "{s} against |{v}| + {mean}");
    }
    for r in 0..32 {
        for c in 0..120 {
            let want: f64 = (0..200).map(|k| x[r * 200 + k] as f64 * w[c * 200 + k] as f64).sum::<f64>() + b[c] as f64;
            let got = y[r * 120 + c];
            assert!((got - want).abs() <= 1e-12 * (1.0 + want.abs()), "[{r}, {c}]: {got} against {want} (fp64)");
        }
    }

    // The eager baseline in fp32, timed like a candidate.
    let mut device = start(&py, false).unwrap();
    let request = CompileRequest {
        options: vec![torch_option_of("reference", "leaky_relu.py", "[0.05]", LEAKY_ARGS)],
        source: std::fs::read_to_string(repo().join("python/tests/problems/leaky_relu.py")).unwrap(),
        ..request
    };
    let compiled = device.compile(&request).unwrap();
    let module = device.load(&compiled).unwrap();
    let x = signed_inputs(16 * 4096);
    let input = buffer_with(&mut device, &x);
    let out = device.alloc(x.len() * 4).unwrap();
    let sample = device.time(&TimedRun::plain(&launch(module, &[input, out]))).unwrap();
    assert!(sample.ms > 0.0, "{sample:?}");
    let mut bytes = vec![0u8; x.len() * 4];
    device.download(out, &mut bytes).unwrap();
    assert_eq!(f32_values(&bytes)[1], if x[1] >= 0.0 { x[1] } else { x[1] * 0.05 });
}

/// A problem whose own Model gives other outputs on the same inputs (a dropout in training mode)
/// cannot be a baseline: its `reference` does not load, and says why in one line; the same file
/// without the dropout loads (above).
#[test]
fn a_model_that_answers_differently_on_the_same_inputs_is_refused_as_a_baseline() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    let request = CompileRequest {
        name: "dropout_leaky_relu.py".into(),
        source: std::fs::read_to_string(repo().join("python/tests/problems/dropout_leaky_relu.py")).unwrap(),
        arch: "sm_90".into(),
        options: vec![torch_option_of("reference", "dropout_leaky_relu.py", "[0.5]", LEAKY_ARGS)],
    };
    match device.compile(&request) {
        Err(CompileError::Rejected { log }) => {
            // The words the judge reads it by (a review of its problem: cannot be judged).
            assert!(log.contains(sadoku_core::checks::accuracy::BASELINE_RANDOM), "{log}");
            assert!(log.contains("out0 differs by") && !log.contains('\n'), "{log}");
        }
        other => panic!("a random Model loaded as a baseline: {other:?}"),
    }
}

/// The reward hacks only a Python candidate can try, each refused by the worker with its reason:
/// a background thread that finishes the output after the call (the one its warm-up call, made
/// while it loads, started may still be running when the first judged call comes: then it is
/// refused as a thread of its own between calls), a timer patched to run slow, a tensor subclass
/// that computes only when read.
#[test]
fn python_only_hacks_are_refused_with_their_reason() {
    let Some(py) = torch() else { return };
    let threads: &[&str] = &["threads left running after the call", "threads of the candidate's running between calls"];
    for (file, reasons, evidence) in [
        ("leaky_relu_thread.py", threads, "finish-later"),
        ("leaky_relu_timer.py", &["the timer was tampered with"][..], "elapsed_time"),
        ("leaky_relu_lazy.py", &["the result is not a plain tensor"][..], "Deferred"),
    ] {
        let mut device = start(&py, false).unwrap();
        let module = compile(&mut device, file, torch_option("leaky_relu.py", "[0.05]", LEAKY_ARGS)).unwrap();
        let x = signed_inputs(16 * 4096);
        let input = buffer_with(&mut device, &x);
        let out = device.alloc(x.len() * 4).unwrap();
        match device.run(&launch(module, &[input, out])) {
            Err(DeviceError::Refused { reason: r, evidence: e, .. }) => {
                assert!(reasons.contains(&r.as_str()), "{file}: {r}: {e}");
                assert!(e.contains(evidence), "{file}: {e}");
            }
            other => panic!("{file} was not refused: {other:?}"),
        }
    }
}

/// `sadoku kernelbench review` up to the GPU: problem files described confined, candidates matched
/// and loaded; a candidate whose problem cannot be judged, or that matches no problem, is a
/// rejection in the table, with why, and needs no GPU (the run still exits 1: not all accepted).
#[test]
fn kernelbench_review_rejects_what_cannot_be_judged_before_any_gpu_work() {
    let Some(py) = torch() else { return };
    let problems = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("python/tests/invalid/no_model.py"), problems.path().join("broken.py")).unwrap();
    let candidates = tempfile::tempdir().unwrap();
    std::fs::write(candidates.path().join("broken_fast.py"), "class ModelNew: pass\n").unwrap();
    std::fs::write(candidates.path().join("unrelated.py"), "class ModelNew: pass\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sadoku"))
        .current_dir(repo())
        .env("SADOKU_PYTHONPATH", std::env::join_paths(&py.path).unwrap())
        .args(["kernelbench", "review", "--json", "--sandbox", "auto", "--python"])
        .arg(&py.confined_exe)
        .arg(problems.path())
        .arg(candidates.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = |name: &str| {
        let c = v["candidates"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone();
        (c["verdict"].as_str().unwrap().to_string(), c["evidence"].as_str().unwrap_or_default().to_string())
    };
    let (broken, why) = verdict("broken_fast.py");
    assert_eq!(broken, "REJECTED");
    assert!(why.contains("its problem cannot be judged") && why.contains("defines no `class Model"), "{why}");
    let (unrelated, why) = verdict("unrelated.py");
    assert_eq!(unrelated, "REJECTED");
    assert!(why.contains("matches no problem file"), "{why}");
    // The summary counts the problem given, with none accepted.
    assert_eq!(v["summary"]["problems"], 1);
    assert_eq!(v["summary"]["accepted"], 0);
    assert_eq!(v["summary"]["per_problem"][0]["candidates"], 1);
}

/// Every library problem's PyTorch baseline expression loads and runs in a worker, on random
/// inputs at the problem's small size, giving outputs of the problem's shapes (the worker warms
/// each call up once as it loads it). Whether its values match the truth is checked on a GPU, in
/// every review, before it is timed (`time.rs`).
#[test]
fn every_library_torch_baseline_runs_and_gives_the_problems_outputs() {
    let Some(py) = torch() else { return };
    let mut device = start(&py, false).unwrap();
    let mut seen = 0;
    for p in sadoku_core::problem::Registry::library().all() {
        let Some(expression) = p.torch_baseline() else { continue };
        let option = sadoku_core::problem::torch::expression_option(p, &p.small, expression, false);
        let request = CompileRequest {
            name: format!("{} (PyTorch baseline)", p.name),
            source: expression.to_string(),
            arch: "sm_90".into(),
            options: vec![option],
        };
        match device.compile(&request) {
            Ok(m) => assert_eq!(m.entries[0].name, "forward", "{}", p.name),
            Err(e) => panic!("{}: `{expression}` does not run: {e}", p.name),
        }
        seen += 1;
    }
    assert!(seen >= 18, "{seen} problems with a PyTorch baseline");
    // A wrong one is said, with Python's words.
    let library = sadoku_core::problem::Registry::library();
    let p = library.find("layernorm").unwrap();
    for (expression, says) in [
        ("F.layer_norm(x, (D,), weight, bias, 1e-5) + y", "NameError"),
        ("torch.sum(x)", "output `y` has shape [], the problem's [3, 17]"),
        ("(x, x)", "gives 2 output(s), the problem has 1"),
    ] {
        let request = CompileRequest {
            name: "bad".into(),
            source: expression.into(),
            arch: "sm_90".into(),
            options: vec![sadoku_core::problem::torch::expression_option(p, &p.small, expression, false)],
        };
        match device.compile(&request) {
            Err(CompileError::Rejected { log }) => assert!(log.contains(says), "{expression}: {log}"),
            other => panic!("{expression}: {other:?}"),
        }
    }
}

/// A capability this test needs is missing here: fine on a developer's machine (the test says it
/// skipped), a failure where SADOKU_REQUIRE_SANDBOX is set (CI, whose machines have Landlock and
/// /usr/bin/python3), so that no test passes there without running.
fn require_capability() {
    assert!(
        std::env::var_os("SADOKU_REQUIRE_SANDBOX").is_none(),
        "SADOKU_REQUIRE_SANDBOX is set but this machine lacks what the test needs (Landlock, /usr/bin/python3, the confined interpreter)"
    );
}
