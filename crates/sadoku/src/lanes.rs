//! Reviewing many candidates at once: one lane per GPU (`--gpus`), `--jobs` lanes on each. A lane
//! is a thread with its own reference device; each candidate still gets a worker of its own.
//! Lanes on one GPU share a gate: their verification may overlap, timing has the card alone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use crate::backend::{Backend, JudgeDevice, PythonPlan};
use crate::processes;
use crate::progress::Progress;
use sadoku_core::candidate::Candidate;
use sadoku_core::device::{Device, DeviceError, DeviceInfo};
use sadoku_core::events::{Event, Observer};
use sadoku_core::judge::{Devices, GpuGate, Sharing};
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::Timeouts;
use sadoku_core::report::{CandidateReport, Sanitized};
use sadoku_core::review::{self, ReviewOptions};
use sadoku_core::seeds::Seeds;

/// Everything a lane needs that is the same for all lanes.
pub struct Plan<'a> {
    /// Where the judge's device, the workers and the Model's process come from.
    pub backend: &'a dyn Backend,
    pub candidates: &'a [&'a Candidate],
    pub seeds: Seeds,
    pub options: ReviewOptions,
    pub timeouts: Timeouts,
    pub sanitize: bool,
    pub no_cache: bool,
    pub sandbox: crate::sandbox::Mode,
    /// GiB of memory a worker's compile may take.
    pub compile_memory: f64,
    /// Python workers, for Python candidates and KernelBench problems: the interpreter, the
    /// bridge's sources, the device they use (`cuda`, or `cpu` for tests).
    pub python: Option<PythonPlan>,
}

/// One lane's outcome for one candidate (by index into `Plan::candidates`).
pub type Outcome = (usize, Result<CandidateReport, DeviceError>);

/// After this many candidates in a row (over all lanes) could not be reviewed, the batch stops:
/// it is the environment that fails, not one candidate.
pub const FAILURES_IN_A_ROW: usize = 3;

/// What the lanes of one batch share: the candidates left, and whether to stop taking them.
#[derive(Default)]
pub struct Batch {
    pub queue: Mutex<VecDeque<usize>>,
    pub stop: AtomicBool,
    /// Candidates in a row that the environment kept from a verdict.
    failures_in_a_row: AtomicUsize,
}

impl Batch {
    pub fn new(count: usize) -> Batch {
        Batch { queue: Mutex::new((0..count).collect()), ..Batch::default() }
    }

    /// Whether the batch stopped before every candidate was handed to a lane.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Why a review gave no verdict.
enum Failure {
    /// The lane itself cannot work (its GPU does not open): the batch stops.
    Lane(DeviceError),
    /// The environment failed during this candidate's review: it costs this verdict only.
    Candidate(DeviceError),
}

/// Take candidates from the batch's queue until it is empty or the batch stops; send each verdict
/// as it comes. An environment error costs its candidate's verdict only: the lane starts afresh
/// (its judge device and Model process reopened) for the next one, unless
/// [`FAILURES_IN_A_ROW`] candidates in a row failed so, or the lane's GPU would not open.
/// Returns the lane's GPU as it describes itself (SM clock measured at the end), if it opened one.
pub fn run(
    gpu: usize,
    gate: Arc<GpuGate>,
    plan: &Plan,
    batch: &Batch,
    progress: &Progress,
    results: Sender<Outcome>,
) -> Option<DeviceInfo> {
    let mut reference: Option<Box<dyn JudgeDevice>> = None;
    let mut model: Option<ModelWorker> = None;
    let mut seen: Option<DeviceInfo> = None;
    while !batch.stopped() {
        let Some(index) = batch.queue.lock().ok().and_then(|mut q| q.pop_front()) else { break };
        let candidate = plan.candidates[index];
        progress.event(Event::Candidate { index, total: plan.candidates.len(), name: &candidate.name() });
        let result = match review_one(gpu, &gate, plan, candidate, &mut reference, &mut model, progress) {
            Ok(report) => {
                batch.failures_in_a_row.store(0, Ordering::SeqCst);
                Ok(report)
            }
            Err(Failure::Lane(e)) => {
                batch.stop.store(true, Ordering::SeqCst);
                Err(e)
            }
            Err(Failure::Candidate(e)) => {
                // Whatever state the failure left them in, the next candidate gets fresh ones.
                if let Some(device) = &reference {
                    seen = Some(device.info().clone());
                }
                reference = None;
                model = None;
                if batch.failures_in_a_row.fetch_add(1, Ordering::SeqCst) + 1 >= FAILURES_IN_A_ROW {
                    batch.stop.store(true, Ordering::SeqCst);
                }
                Err(e)
            }
        };
        if results.send((index, result)).is_err() {
            break;
        }
    }
    let Some(device) = reference.as_mut() else { return seen };
    let _ = device.measure_sm_clock();
    let mut info = device.info().clone();
    info.ceilings = device.ceilings().ok().flatten();
    // Which PyTorch (and its CUDA and cuDNN) computed the truth and the baseline.
    if let Some(m) = &model {
        info.torch = m.info().torch.clone();
    }
    Some(info)
}

fn review_one(
    gpu: usize,
    gate: &GpuGate,
    plan: &Plan,
    candidate: &Candidate,
    reference: &mut Option<Box<dyn JudgeDevice>>,
    model: &mut Option<ModelWorker>,
    progress: &Progress,
) -> Result<CandidateReport, Failure> {
    if reference.is_none() {
        *reference = Some(plan.backend.open_judge(gpu, plan.no_cache).map_err(Failure::Lane)?);
    }
    review_on(gpu, gate, plan, candidate, reference.as_mut().expect("opened just above"), model, progress)
        .map_err(Failure::Candidate)
}

fn review_on(
    gpu: usize,
    gate: &GpuGate,
    plan: &Plan,
    candidate: &Candidate,
    reference: &mut Box<dyn JudgeDevice>,
    model: &mut Option<ModelWorker>,
    progress: &Progress,
) -> Result<CandidateReport, DeviceError> {
    let reference = &mut **reference;
    let started = std::time::Instant::now();
    let sanitized = plan.sanitize.then(|| sanitize(gpu, gate, plan, candidate, reference));
    let sanitize_s = started.elapsed().as_secs_f64();
    // Condemned by the sanitizer: verify for the record, but time nothing.
    let condemned = matches!(&sanitized, Some(Sanitized::Ran { reports, .. }) if reports.iter().any(|r| r.errors > 0));
    let options = ReviewOptions { skip_timing: condemned, ..plan.options.clone() };
    let python = || {
        plan.python.as_ref().ok_or_else(|| {
            DeviceError::Environment(format!("{} needs a Python worker, and none was set up", candidate.origin))
        })
    };
    // A KernelBench problem's Model: one process per lane, kept from candidate to candidate.
    // Starting a Python process (importing PyTorch) is host work: never during another's timing.
    let starting = gate.shared();
    if candidate.problem.baseline_in_python() && model.is_none() {
        match python().and_then(|p| plan.backend.spawn_model(p, gpu, plan.timeouts, plan.sandbox)) {
            Ok(m) => *model = Some(m),
            // A KernelBench problem's truth is its Model: no review without it.
            Err(e) if candidate.problem.torch().is_some() => return Err(e),
            // A library problem's PyTorch baseline: the verdict stands without it, and the
            // timing says what is missing.
            Err(e) => {
                progress.line(&format!("sadoku: no process for `{}`'s PyTorch baseline: {e}", candidate.problem.name))
            }
        }
    }
    let spawned = std::time::Instant::now();
    let mut worker = if candidate.is_python() {
        python()?.spawn_candidate(gpu, plan.timeouts, plan.sandbox, &candidate.source, !plan.no_cache)?
    } else {
        let mut w = plan.backend.spawn_worker(gpu, plan.timeouts, None, plan.sandbox, plan.compile_memory)?;
        // The judge keeps the worker's modules: a worker has no cache it could plant one in. (A
        // Python worker's "module" is its loaded candidate: never cached.)
        if let Some(cache) = reference.module_cache() {
            w.cache_modules(cache);
        }
        w
    };
    let worker_start_s = spawned.elapsed().as_secs_f64();
    drop(starting);
    let reference: &mut dyn Device = reference;
    let mut devices = Devices { gate: Some(gate), model: model.as_mut(), ..Devices::new(&mut worker, reference) };
    let mut report = review::review_candidate(&mut devices, candidate, &plan.seeds, &options, progress)?;
    report.findings.phases.worker_start_s = worker_start_s;
    report.findings.phases.sanitize_s = sanitize_s;
    report.review_s = started.elapsed().as_secs_f64();
    if let Some(s) = sanitized {
        report.apply_sanitizer(s);
    }
    report.gpu = Some(gpu);
    Ok(report)
}

/// Run the candidate under each compute-sanitizer tool at a small size, in workers of their own
/// (no guard zones, so that memcheck sees accesses leave their allocation; no timing).
fn sanitize(
    gpu: usize,
    gate: &GpuGate,
    plan: &Plan,
    candidate: &Candidate,
    reference: &mut dyn JudgeDevice,
) -> Sanitized {
    use sadoku_core::checks::sanitizer::{SanitizerReport, TOOLS, parse};
    use sadoku_core::verify::VerifyOptions;
    if candidate.is_python() || candidate.problem.torch().is_some() {
        return Sanitized::NotRun {
            why: "compute-sanitizer is not run on Python candidates or KernelBench problems yet".into(),
        };
    }
    let Some(program) = processes::find_sanitizer() else {
        return Sanitized::NotRun {
            why: "compute-sanitizer not found (looked in PATH, $CUDA_HOME/bin and /usr/local/cuda/bin)".into(),
        };
    };
    let sizes = candidate.problem.small_sizes();
    let options = ReviewOptions {
        verify: VerifyOptions { sizes: vec![sizes.clone()], guards: false, ..VerifyOptions::default() },
        timed_sizes: Some(sizes.clone()),
        skip_timing: true,
        ..ReviewOptions::default()
    };
    // Instrumented kernels run many times slower.
    let timeouts = Timeouts { launch: plan.timeouts.launch * 20, ..plan.timeouts };
    let mut reports = Vec::new();
    for tool in TOOLS {
        let log =
            std::env::temp_dir().join(format!("sadoku-{}-{}-{tool}.log", std::process::id(), &candidate.sha256[..12]));
        let sanitizer = processes::Sanitizer { program: &program, tool, log: &log };
        let ran = plan
            .backend
            .spawn_worker(gpu, timeouts, Some(sanitizer), crate::sandbox::Mode::Off, plan.compile_memory)
            .map(|mut worker| {
                // Under compute-sanitizer the worker allocates its own buffers (copies of the judge's),
                // so that memcheck sees every access leave its allocation.
                let mut devices = Devices {
                    gate: Some(gate),
                    sharing: Sharing::Copied("compute-sanitizer must see the buffers as the worker's own".into()),
                    ..Devices::new(&mut worker, &mut *reference as &mut dyn Device)
                };
                // The verdict of this run does not count: the tool's report does.
                let _ = review::review_candidate(
                    &mut devices,
                    candidate,
                    &plan.seeds,
                    &options,
                    &sadoku_core::events::Silent,
                );
                worker.close()
            });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        reports.push(match (ran, parse(tool, &text)) {
            (_, Some(r)) => r,
            (Ok(status), None) => SanitizerReport {
                tool: tool.into(),
                errors: 0,
                first: vec![format!("no summary from the tool (worker {status})")],
            },
            (Err(e), None) => {
                return Sanitized::NotRun { why: format!("compute-sanitizer {tool} could not start: {e}") };
            }
        });
    }
    Sanitized::Ran { sizes, reports }
}
