//! The worker protocol end to end, without processes: a thread serves a simulated device over
//! pipes, the judge drives it through `RemoteDevice`, exactly as with a `sadoku worker` process.

mod common;

use std::io::pipe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use sadoku_core::checks::accuracy::PrecisionClass;
use sadoku_core::device::sim::SimDevice;
use sadoku_core::device::{Buffer, Device, DeviceError, LibraryOp, Precision, TimedRun, Work};
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::protocol::{RemoteDevice, Timeouts, Worker, serve};
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verdict::{Rejection, Verdict};

/// A worker thread, as the judge sees a process: it can be "killed" and asked how it ended.
struct ThreadWorker {
    killed: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    ended: Arc<Mutex<String>>,
    /// Set while the judge holds it suspended.
    stopped: Arc<AtomicBool>,
}

impl Worker for ThreadWorker {
    fn kill(&mut self) {
        self.killed.store(true, Ordering::SeqCst);
    }

    fn status(&mut self) -> String {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.ended.lock().unwrap().clone()
    }

    fn stderr_tail(&mut self) -> String {
        "last words".into()
    }

    fn suspend(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn resume(&mut self) {
        self.stopped.store(false, Ordering::SeqCst);
    }
}

/// Start a worker thread serving the device `build` makes; return the judge's side of it.
fn start(build: impl FnOnce() -> SimDevice + Send + 'static, timeouts: Timeouts) -> (RemoteDevice, Arc<AtomicBool>) {
    let (from_judge, to_worker) = pipe().unwrap();
    let (from_worker, to_judge) = pipe().unwrap();
    let killed = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(Mutex::new(String::new()));
    let end = ended.clone();
    let handle = std::thread::spawn(move || {
        let (mut r, mut w) = (from_judge, to_judge);
        // A panicking kernel unwinds out of `serve` and drops the pipe: the judge sees the end.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut dev = build();
            serve(&mut dev, &mut r, &mut w)
        }));
        *end.lock().unwrap() = match result {
            Ok(Ok(())) => "exit status 0".into(),
            Ok(Err(e)) => format!("exit status 1 ({e})"),
            Err(_) => "killed by signal 6 (SIGABRT)".into(),
        };
    });
    let worker = ThreadWorker { killed: killed.clone(), handle: Some(handle), ended, stopped: Arc::default() };
    let remote = RemoteDevice::connect(Box::new(from_worker), Box::new(to_worker), Box::new(worker), timeouts).unwrap();
    (remote, killed)
}

fn honest_device() -> SimDevice {
    let mut dev = device();
    register(&mut dev, "honest", trimm_fp32);
    dev
}

fn review_remote(
    remote: &mut RemoteDevice,
    reference: &mut SimDevice,
    name: &str,
    options: &ReviewOptions,
) -> CandidateReport {
    let mut devices = Devices::new(remote, reference);
    review_candidate(&mut devices, &candidate(name), &Seeds { master: 7 }, options, &Silent).unwrap()
}

#[test]
fn a_review_through_a_worker_matches_a_review_in_process() {
    let (mut remote, killed) = start(honest_device, Timeouts::default());
    let mut reference = SimDevice::new();
    let remote_report = review_remote(&mut remote, &mut reference, "honest", &options());
    assert_eq!(remote_report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    assert_eq!(reference.live_buffers(), 0);
    assert!(reference.launches.is_empty(), "nothing of the candidate's ran on the reference device");

    let mut local = honest_device();
    let mut reference = SimDevice::new();
    let mut devices = Devices::new(&mut local, &mut reference);
    let local_report =
        review_candidate(&mut devices, &candidate("honest"), &Seeds { master: 7 }, &options(), &Silent).unwrap();
    assert_eq!(remote_report.findings.trials, local_report.findings.trials, "same inputs, same errors, bit for bit");
    assert_eq!(remote.info().name, "sadoku simulated GPU");
    assert!(!killed.load(Ordering::SeqCst));
}

/// The judge shares the candidate's inputs, outputs and scratch with the worker, and nothing it
/// computes the truth or the comparison into.
#[test]
fn the_truth_is_never_shared_with_the_worker() {
    let (mut remote, _) = start(honest_device, Timeouts::default());
    let mut reference = SimDevice::new();
    let report = review_remote(&mut remote, &mut reference, "honest", &options());
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    assert!(report.findings.sharing.is_none(), "mapped, not copied: {:?}", report.findings.sharing);
    let exported: std::collections::HashSet<u64> = reference.exports.iter().map(|b| b.id).collect();
    assert!(!exported.is_empty());
    let mut judge_only = Vec::new();
    for op in &reference.library_log {
        match op {
            LibraryOp::Gemm { precision: Precision::F64, a, b, c, .. } => judge_only.extend([a.id, b.id, c.id]),
            LibraryOp::Upcast { dst, .. } => judge_only.push(dst.id),
            LibraryOp::Compare { values, scale, out, .. } => judge_only.extend([values.id, scale.id, out.id]),
            LibraryOp::Diff { first, out, .. } => judge_only.extend([first.id, out.id]),
            LibraryOp::Hash { out, .. } => judge_only.push(out.id),
            _ => {}
        }
    }
    assert!(!judge_only.is_empty());
    for id in judge_only {
        assert!(!exported.contains(&id), "buffer {id} held truth or results and was shared with the worker");
    }
    // Every input the candidate saw was drawn by the judge, fresh for each launch.
    let seeds: Vec<u64> = reference
        .library_log
        .iter()
        .filter_map(|op| if let LibraryOp::Generate { draw, .. } = op { Some(draw.seed) } else { None })
        .collect();
    let distinct: std::collections::HashSet<&u64> = seeds.iter().collect();
    // Only the repeat trial at each of the 3 sizes redraws a seed (both inputs of it).
    assert_eq!(seeds.len() - distinct.len(), 3 * 2, "{} draws", seeds.len());
}

/// Without CUDA IPC the worker holds copies that cross its pipe: the same verdicts, said so.
#[test]
fn without_ipc_buffers_are_copied_and_the_verdicts_stand() {
    let build = || {
        let mut dev = honest_device();
        dev.ipc = false;
        register_raw(&mut dev, "row_zero", |call| {
            let (a, b, n) = inputs(call)?;
            let c = trimm_fp32(&a, &b, n);
            call.write(2, &c[..n])
        });
        dev
    };
    let (mut remote, _) = start(build, Timeouts::default());
    let mut reference = SimDevice::new();
    let honest = review_remote(&mut remote, &mut reference, "honest", &options());
    assert!(honest.verdict.is_accepted(), "{:?}", honest.verdict);
    assert!(
        honest.findings.sharing.as_deref().unwrap_or("").contains("could not map"),
        "{:?}",
        honest.findings.sharing
    );
    assert!(reference.exports.iter().all(|b| b.bytes > 0));
    let (mut remote, _) = start(build, Timeouts::default());
    let lazy = review_remote(&mut remote, &mut reference, "row_zero", &options());
    let Verdict::Rejected(Rejection::Unwritten { evidence, .. }) = &lazy.verdict else { panic!("{:?}", lazy.verdict) };
    assert_eq!(evidence.first, vec![1, 0]);
    assert_eq!(reference.live_buffers(), 0);
}

#[test]
fn the_worker_refuses_library_work_so_the_answer_never_exists_there() {
    let (mut remote, _) = start(honest_device, Timeouts::default());
    let b = remote.alloc(64).unwrap();
    let gemm = Work::Library(LibraryOp::Gemm {
        precision: Precision::F64,
        m: 2,
        n: 2,
        k: 2,
        a: b,
        b,
        c: b,
        transpose_a: false,
        batch: 1,
    });
    let err = remote.run(&[gemm]).unwrap_err();
    assert!(matches!(&err, DeviceError::Environment(m) if m.contains("candidate kernels only")), "{err:?}");
    let tril = Work::Library(LibraryOp::TrilF32 { c: b, n: 2 });
    assert!(remote.time(&TimedRun::plain(&[tril])).is_err());
}

#[test]
fn a_kernel_that_never_returns_is_killed_and_rejected_as_timed_out() {
    let (mut remote, killed) = start(
        || {
            let mut dev = device();
            register_raw(&mut dev, "spins", |_| {
                std::thread::sleep(Duration::from_secs(2));
                Ok(())
            });
            dev
        },
        Timeouts { launch: Duration::from_millis(200), ..Timeouts::default() },
    );
    let mut reference = SimDevice::new();
    let started = Instant::now();
    let report = review_remote(&mut remote, &mut reference, "spins", &options());
    assert!(started.elapsed() < Duration::from_secs(2), "the judge did not wait for the kernel");
    let Verdict::Rejected(Rejection::Timeout { message, at }) = &report.verdict else { panic!("{:?}", report.verdict) };
    assert_eq!(message, "a launch did not finish within 0.2 s; the worker was killed");
    assert_eq!(at.trial, "trial 1 (randn inputs, NaN poison)");
    assert_eq!(report.reason.as_deref(), Some("timed out"));
    assert!(killed.load(Ordering::SeqCst), "the worker was killed");
    // Anything more asked of a dead worker gets the same answer, at once.
    assert!(matches!(remote.alloc(4), Err(DeviceError::Timeout { .. })));
    assert_eq!(reference.live_buffers(), 0);
}

#[test]
fn a_worker_that_dies_is_a_verdict_with_its_last_words() {
    let (mut remote, _) = start(
        || {
            let mut dev = device();
            register_raw(&mut dev, "aborts", |_| panic!("the worker aborts"));
            dev
        },
        Timeouts::default(),
    );
    let mut reference = SimDevice::new();
    let report = review_remote(&mut remote, &mut reference, "aborts", &options());
    let Verdict::Rejected(Rejection::WorkerDied { message, .. }) = &report.verdict else {
        panic!("{:?}", report.verdict)
    };
    assert_eq!(message, "the worker process died (killed by signal 6 (SIGABRT)): last words");
    assert_eq!(report.reason.as_deref(), Some("worker died"));
}

#[test]
fn the_whole_review_has_a_deadline_too() {
    let (mut remote, killed) = start(
        || {
            let mut dev = device();
            register_raw(&mut dev, "slow", |call| {
                std::thread::sleep(Duration::from_millis(60));
                let (a, b, n) = inputs(call)?;
                call.write(2, &trimm_fp32(&a, &b, n))
            });
            dev
        },
        Timeouts { candidate: Duration::from_millis(300), ..Timeouts::default() },
    );
    let mut reference = SimDevice::new();
    let report = review_remote(&mut remote, &mut reference, "slow", &options());
    let Verdict::Rejected(Rejection::Timeout { message, .. }) = &report.verdict else { panic!("{:?}", report.verdict) };
    assert_eq!(message, "the review of this candidate did not finish within 0.3 s; the worker was killed");
    assert!(killed.load(Ordering::SeqCst));
}

/// A process kept from review to review (a problem's Model) or started ahead of one counts each
/// review's deadline from that review's start, not from its own: idle past the deadline, it still
/// serves the next review; without the review's start, its first call is out of time at once.
#[test]
fn a_reviews_deadline_runs_from_its_start_not_from_the_process_start() {
    let deadline = Timeouts { candidate: Duration::from_secs(1), ..Timeouts::default() };
    // Verification only: well within the deadline.
    let options = ReviewOptions { skip_timing: true, ..options() };
    let (mut remote, killed) = start(honest_device, deadline);
    std::thread::sleep(Duration::from_millis(1200));
    Device::start_review(&mut remote);
    let report = review_remote(&mut remote, &mut SimDevice::new(), "honest", &options);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    assert!(!killed.load(Ordering::SeqCst));
    // Kept past that review's deadline: started again, it serves the next review too.
    std::thread::sleep(Duration::from_millis(1200));
    Device::start_review(&mut remote);
    let report = review_remote(&mut remote, &mut SimDevice::new(), "honest", &options);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);

    let (mut stale, killed) = start(honest_device, deadline);
    std::thread::sleep(Duration::from_millis(1200));
    let report = review_remote(&mut stale, &mut SimDevice::new(), "honest", &options);
    // Out of time at once: in its first request, the compile, or (should the worker's answer
    // already be there) the next.
    let said = match &report.verdict {
        Verdict::Rejected(Rejection::Compile { log }) => log,
        Verdict::Rejected(Rejection::Timeout { message, .. }) => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(said, "the review of this candidate did not finish within 1 s; the worker was killed");
    assert!(killed.load(Ordering::SeqCst));
}

#[test]
fn a_compiler_that_hangs_is_the_candidates_problem() {
    let (mut remote, killed) = start(
        || {
            let mut dev = honest_device();
            dev.compile_delay = Duration::from_secs(2);
            dev
        },
        Timeouts { compile: Duration::from_millis(100), ..Timeouts::default() },
    );
    let mut reference = SimDevice::new();
    let report = review_remote(&mut remote, &mut reference, "honest", &options());
    let Verdict::Rejected(Rejection::Compile { log }) = &report.verdict else { panic!("{:?}", report.verdict) };
    assert_eq!(log, "compilation did not finish within 0.1 s; the worker was killed");
    assert!(killed.load(Ordering::SeqCst));
}

#[test]
fn views_and_payloads_cross_the_pipe_intact() {
    let (mut remote, _) = start(honest_device, Timeouts::default());
    let b = remote.alloc(1 << 20).unwrap();
    let data: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
    remote.upload(b, &data).unwrap();
    let view: Buffer = b.view(4096, 8192);
    let mut out = vec![0u8; 8192];
    remote.download(view, &mut out).unwrap();
    assert_eq!(out, data[4096..4096 + 8192]);
    remote.fill_u32(view, 0xDEAD_BEEF).unwrap();
    let mut all = vec![0u8; 1 << 20];
    remote.download(b, &mut all).unwrap();
    assert_eq!(all[..4096], data[..4096]);
    assert_eq!(all[4096..4100], 0xDEAD_BEEFu32.to_le_bytes());
    assert_eq!(all[4096 + 8192..], data[4096 + 8192..]);
    remote.free(b);
}

/// The judge keeps the modules its workers compile (a worker has no cache it could plant one in)
/// and serves a later review of the same source from it, without asking that worker to compile.
#[test]
fn the_judge_keeps_its_workers_modules() {
    let dir = tempfile::tempdir().unwrap();
    let cache = || {
        let store = sadoku_core::cache::Sealed::open(&dir.path().join("modules")).unwrap();
        sadoku_core::compile::ModuleCache::new(store, "simulated compiler".into())
    };
    let (mut first, _) = start(honest_device, Timeouts::default());
    first.cache_modules(cache());
    let mut reference = SimDevice::new();
    let report = review_remote(&mut first, &mut reference, "honest", &options());
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    assert!(!report.findings.compile.as_ref().unwrap().cache_hit);

    // A worker whose compiler would outlive its deadline: only the judge's cache can serve it.
    let slow = || {
        let mut dev = honest_device();
        dev.compile_delay = Duration::from_secs(30);
        dev
    };
    let timeouts = Timeouts { compile: Duration::from_millis(300), ..Timeouts::default() };
    let (mut second, _) = start(slow, timeouts);
    second.cache_modules(cache());
    let report = review_remote(&mut second, &mut reference, "honest", &options());
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    assert!(report.findings.compile.as_ref().unwrap().cache_hit, "served by the judge");

    // Without the judge's cache the same worker times out: the test above proves the cache served it.
    let (mut third, _) = start(slow, timeouts);
    let report = review_remote(&mut third, &mut reference, "honest", &options());
    assert!(!report.verdict.is_accepted(), "{:?}", report.verdict);
}

/// A worker whose device answers its `lie_at`-th launch request (0: its first timed one) with an
/// environment failure, as a Python candidate raising the worker's own failure type does (class 9).
struct Liar {
    inner: SimDevice,
    launches: usize,
    lie_at: usize,
    /// The judge's view of whether this worker is suspended, and how many launches it was asked
    /// for while suspended (none, if the judge resumes it before every request).
    stopped: Arc<AtomicBool>,
    while_stopped: Arc<AtomicUsize>,
}

impl Liar {
    fn new(lie_at: usize, stopped: Arc<AtomicBool>, while_stopped: Arc<AtomicUsize>) -> Liar {
        Liar { inner: honest_device(), launches: 0, lie_at, stopped, while_stopped }
    }

    fn lie(&mut self, timed: bool) -> Result<(), DeviceError> {
        if self.stopped.load(Ordering::SeqCst) {
            self.while_stopped.fetch_add(1, Ordering::SeqCst);
        }
        self.launches += 1;
        if self.launches == self.lie_at || (timed && self.lie_at == 0) {
            return Err(DeviceError::Environment("CUDA driver failure (the candidate says so)".into()));
        }
        Ok(())
    }
}

impl Device for Liar {
    crate::forward_device_basics!();
    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        self.lie(false)?;
        self.inner.run(work)
    }
    fn time(&mut self, run: &TimedRun) -> Result<sadoku_core::device::Sample, DeviceError> {
        self.lie(true)?;
        self.inner.time(run)
    }
}

/// Start a worker thread serving a `Liar` that lies at `lie_at`; the judge's side, marked as a
/// candidate's worker, with whether it is suspended and how many launches reached it suspended.
fn start_untrusted_watched(lie_at: usize) -> (RemoteDevice, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let stopped: Arc<AtomicBool> = Arc::default();
    let while_stopped: Arc<AtomicUsize> = Arc::default();
    let (stop, seen) = (stopped.clone(), while_stopped.clone());
    let (from_judge, to_worker) = pipe().unwrap();
    let (from_worker, to_judge) = pipe().unwrap();
    let ended = Arc::new(Mutex::new(String::new()));
    let end = ended.clone();
    let handle = std::thread::spawn(move || {
        let (mut r, mut w) = (from_judge, to_judge);
        let mut dev = Liar::new(lie_at, stop, seen);
        *end.lock().unwrap() = match serve(&mut dev, &mut r, &mut w) {
            Ok(()) => "exit status 0".into(),
            Err(e) => format!("exit status 1 ({e})"),
        };
    });
    let worker = ThreadWorker {
        killed: Arc::new(AtomicBool::new(false)),
        handle: Some(handle),
        ended,
        stopped: stopped.clone(),
    };
    let mut remote =
        RemoteDevice::connect(Box::new(from_worker), Box::new(to_worker), Box::new(worker), Timeouts::default())
            .unwrap();
    remote.mark_untrusted();
    (remote, stopped, while_stopped)
}

fn start_untrusted(lie_at: usize) -> RemoteDevice {
    start_untrusted_watched(lie_at).0
}

/// Class 9: a candidate's worker that reports an environment failure in the middle of a review
/// (during verification, and during timing) speaks for itself only: that candidate is REJECTED
/// with the worker's words as the evidence, the review does not stop, and the next candidate,
/// reviewed against the same judge's device, is judged as usual.
#[test]
fn a_candidates_worker_cannot_claim_to_be_the_environment() {
    let mut reference = SimDevice::new();
    // A verification launch, and the first timed one.
    for lie_at in [2, 0] {
        let mut liar = start_untrusted(lie_at);
        assert!(liar.is_untrusted());
        let mut devices = Devices::new(&mut liar, &mut reference);
        let report = review_candidate(&mut devices, &candidate("honest"), &Seeds { master: 7 }, &options(), &Silent)
            .expect("a candidate's worker is never the environment");
        let Verdict::Rejected(Rejection::Refused { reason, evidence, .. }) = &report.verdict else {
            panic!("launch {lie_at}: {:?}", report.verdict)
        };
        assert_eq!(reason, sadoku_core::protocol::REPORTED);
        assert!(evidence.contains("CUDA driver failure (the candidate says so)"), "{evidence}");
        assert_eq!(reference.live_buffers(), 0);
    }
    // The next candidate, in a worker of its own, is judged.
    let mut honest = start_untrusted(usize::MAX);
    let mut devices = Devices::new(&mut honest, &mut reference);
    let report =
        review_candidate(&mut devices, &candidate("honest"), &Seeds { master: 7 }, &options(), &Silent).unwrap();
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    // A trusted worker's (the Model's process's) environment failure stays one.
    let (mut trusted, _) = start(honest_device, Timeouts::default());
    let b = trusted.alloc(64).unwrap();
    let tril = Work::Library(LibraryOp::TrilF32 { c: b, n: 2 });
    assert!(matches!(trusted.run(std::slice::from_ref(&tril)), Err(DeviceError::Environment(_))));
    // ... and the same answer from a candidate's worker is the candidate's.
    let mut untrusted = start_untrusted(usize::MAX);
    let b = untrusted.alloc(64).unwrap();
    let tril = Work::Library(LibraryOp::TrilF32 { c: b, n: 2 });
    let err = untrusted.run(&[tril]).unwrap_err();
    assert!(err.is_candidates_fault(), "{err:?}");
}

/// Class 10: a candidate's worker runs only while the judge waits on it. It is suspended from
/// the moment it connects, resumed before each request and suspended again at each reply, so
/// no request (no launch, timed or not) reaches it suspended, and it is left suspended while the
/// judge compares; closing it resumes it, so that it can read the end of its input and exit.
#[test]
fn a_candidates_worker_runs_only_while_the_judge_waits_on_it() {
    let (mut remote, stopped, while_stopped) = start_untrusted_watched(usize::MAX);
    assert!(stopped.load(Ordering::SeqCst), "suspended once connected");
    let mut reference = SimDevice::new();
    let mut devices = Devices::new(&mut remote, &mut reference);
    let report =
        review_candidate(&mut devices, &candidate("honest"), &Seeds { master: 7 }, &options(), &Silent).unwrap();
    assert_eq!(report.verdict, Verdict::Accepted { class: PrecisionClass::Fp32 });
    assert_eq!(while_stopped.load(Ordering::SeqCst), 0, "a launch reached a suspended worker");
    assert!(stopped.load(Ordering::SeqCst), "suspended after its last reply");
    assert_eq!(remote.close(), "exit status 0", "a suspended worker is resumed to exit");
    assert!(!stopped.load(Ordering::SeqCst));
    // A trusted worker (the Model's process) is never suspended.
    let (trusted, _) = start(honest_device, Timeouts::default());
    assert!(!trusted.is_untrusted());
}
