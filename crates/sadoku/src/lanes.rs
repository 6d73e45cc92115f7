//! Reviewing many candidates at once: one lane per GPU (`--gpus`), `--jobs` lanes on each. A lane
//! is a thread with its own reference device; each candidate still gets a worker of its own.
//! Lanes on one GPU share a gate: their verification may overlap, timing has the card alone.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, RwLockReadGuard};

use crate::admission::{self, Admission};
use crate::backend::{Backend, Cache, JudgeDevice, PythonPlan};
use crate::batch::Waited;
pub use crate::batch::{Batch, CloseOnDrop};
use crate::processes;
use crate::progress::Progress;
use sadoku_core::candidate::Candidate;
use sadoku_core::device::{Device, DeviceError, DeviceInfo};
use sadoku_core::events::{Event, Observer};
use sadoku_core::judge::{Baselines, Devices, GpuGate, Sharing};
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::Timeouts;
use sadoku_core::report::{CandidateReport, Sanitized};
use sadoku_core::review::{self, ReviewOptions};
use sadoku_core::seeds::Seeds;

/// Everything a lane needs that is the same for all lanes.
pub struct Plan<'a> {
    /// Where the judge's device, the workers and the Model's process come from.
    pub backend: &'a dyn Backend,
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
    /// A lane with nothing to review keeps a native worker started for whatever comes next (a
    /// server's lanes wait for candidates; a batch's lane that is idle is done).
    pub spare_worker: bool,
}

/// One lane's outcome for one candidate (by its index in the [`Batch`]).
pub type Outcome = (usize, Result<CandidateReport, DeviceError>);

/// After this many candidates in a row (over all lanes) could not be reviewed, the batch stops:
/// it is the environment that fails, not one candidate. A card out of memory for a candidate's
/// problem is not counted: that is the problem's size, and the next problem may fit.
pub const FAILURES_IN_A_ROW: usize = 3;

/// The GPUs a batch runs on, each with its gate (see [`GpuGate`]: verification may overlap,
/// timing has the card alone) and the baselines measured on it in this run (`time::memo`: once
/// per problem, size and precision, then re-checked), and host work's hold on all of them.
pub struct Gates {
    cards: Vec<Card>,
    /// Why there are none: no GPU, or a `--gpus` that names none there is.
    error: Option<String>,
    /// The card the next loan ([`Gates::lend`]) is asked of first.
    next_loan: std::sync::atomic::AtomicUsize,
}

/// One GPU of the batch: its gate, the baselines measured on it, and the reviews admitted to its
/// memory.
struct Card {
    gpu: usize,
    gate: GpuGate,
    baselines: Baselines,
    memory: Admission,
}

impl Gates {
    pub fn new(gpus: anyhow::Result<Vec<usize>>) -> Gates {
        match gpus {
            Ok(g) => Gates {
                cards: g
                    .into_iter()
                    .map(|gpu| Card {
                        gpu,
                        gate: GpuGate::with_quiet(std::sync::Arc::new(crate::host_work::HostWork)),
                        baselines: Baselines::default(),
                        memory: Admission::default(),
                    })
                    .collect(),
                error: None,
                next_loan: Default::default(),
            },
            Err(e) => Gates { cards: Vec::new(), error: Some(e.to_string()), next_loan: Default::default() },
        }
    }

    /// The GPUs, or why there are none.
    pub fn gpus(&self) -> anyhow::Result<Vec<usize>> {
        match &self.error {
            Some(e) => Err(anyhow::anyhow!("{e}")),
            None => Ok(self.cards.iter().map(|c| c.gpu).collect()),
        }
    }

    /// `gpu`'s place among the batch's GPUs (what its timings' CPUs are chosen by).
    pub fn rank(&self, gpu: usize) -> usize {
        self.cards.iter().position(|c| c.gpu == gpu).unwrap_or(0)
    }

    fn card(&self, gpu: usize) -> &Card {
        self.cards.iter().find(|c| c.gpu == gpu).expect("a lane's GPU is one of the batch's")
    }

    pub fn gate(&self, gpu: usize) -> &GpuGate {
        &self.card(gpu).gate
    }

    /// The baselines measured on `gpu` in this run.
    pub fn baselines(&self, gpu: usize) -> &Baselines {
        &self.card(gpu).baselines
    }

    /// The reviews admitted to `gpu`'s memory (see [`crate::admission`]).
    pub fn memory(&self, gpu: usize) -> &Admission {
        &self.card(gpu).memory
    }

    /// Host work (describing a problem, building an extension, starting a Python process) keeps
    /// every core busy for seconds: never while any GPU of the batch is timed.
    pub fn host(&self) -> Vec<RwLockReadGuard<'_, ()>> {
        self.cards.iter().map(|c| c.gate.shared()).collect()
    }
}

/// The share of a card's memory a problem is described in ([`Gates`] as a
/// [`crate::python_sandbox::Lender`]): KernelBench's largest inputs and outputs (1.6 G floats
/// each) fit with room for the file's temporaries; a description that needs more is made on
/// the CPU.
pub const DESCRIBE_SHARE: f64 = 0.4;

/// How long a description waits for a card's memory before it is made on the CPU.
pub const DESCRIBE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The batch's GPUs lend themselves to describing problems: [`DESCRIBE_SHARE`] of a card's
/// memory admitted beside its reviews, and its gate held as verification holds it (no timing on
/// the card until the description is done with it). The cards take turns.
impl crate::python_sandbox::Lender for Gates {
    fn lend(&self) -> Option<crate::python_sandbox::Loan<'_>> {
        if self.cards.is_empty() {
            return None;
        }
        let first = self.next_loan.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let card = &self.cards[first % self.cards.len()];
        let ticket = card.memory.share(DESCRIBE_SHARE, DESCRIBE_WAIT)?;
        let gate = card.gate.shared();
        Some(crate::python_sandbox::Loan {
            device: format!("cuda:{}", card.gpu),
            share: DESCRIBE_SHARE,
            held: Box::new((gate, ticket)),
        })
    }
}

/// Why a review gave no verdict.
enum Failure {
    /// The lane itself cannot work (its GPU does not open): the batch stops.
    Lane(DeviceError),
    /// The environment failed during this candidate's review: it costs this verdict only.
    Candidate(DeviceError),
    /// The card is too small for the problem at its size: not reviewed, said before anything
    /// ran, and the lane goes on as it is.
    TooBig(DeviceError),
}

/// Take candidates from the batch until it is closed and empty, or stops; send each verdict as
/// it comes (`deliver` false: no one listens any more). An environment error costs its candidate's verdict only: the lane starts afresh
/// (its judge device and Model process reopened) for the next one, unless
/// [`FAILURES_IN_A_ROW`] candidates in a row failed so, or the lane's GPU would not open.
/// Returns the lane's GPU as it describes itself (SM clock measured at the end), if it opened one.
pub fn run(
    gpu: usize,
    gates: &Gates,
    plan: &Plan,
    batch: &Batch,
    progress: &Progress,
    deliver: impl Fn(Outcome) -> bool,
) -> Option<DeviceInfo> {
    let mut reference: Option<Box<dyn JudgeDevice>> = None;
    let mut model: Option<ModelWorker> = None;
    let mut seen: Option<DeviceInfo> = None;
    let depth = ahead_workers();
    let (requests, inbox) = std::sync::mpsc::channel::<(usize, std::sync::mpsc::Sender<(Started, Option<Cache>)>)>();
    let inbox = Mutex::new(inbox);
    std::thread::scope(|scope| {
        // The lane's starters: workers for the lane's next candidates, started while the current
        // one is reviewed, by threads that live as long as the lane (a worker dies with the
        // thread that started it, PR_SET_PDEATHSIG). Starting a process is host work, as starting
        // it at its review would be: it waits for a timing under way, and holds the next one off
        // until the process is up.
        // A Python candidate's worker is started once its build ahead is done (its extensions are
        // then read-only in the cache) or left to it (then it builds them in its own directory).
        // A build that ends late, or a timing that comes first (host work waits for it), leaves
        // the worker to start while its review waits: started ahead is the usual case, not a
        // promise.
        // With `SADOKU_AHEAD_WORKERS=N`, N starters, each starting one of the lane's next N
        // candidates' workers at once (see `ahead_workers`).
        for _ in 0..depth {
            let inbox = &inbox;
            scope.spawn(move || {
                loop {
                    // One request at a time per starter; the lock is held only while waiting.
                    let request = inbox.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((index, reply)) = request else { break };
                    batch.await_build(index, true);
                    let prebuilt = batch.prebuilt(index);
                    let candidate = batch.candidate(index);
                    // Held, so that the worker is ready when the current review ends (the timing
                    // waits for it) rather than stopped during the timing; see
                    // `ahead_holds_timings`.
                    let _host = ahead_holds_timings(candidate.is_python(), stoppable_ahead()).then(|| gates.host());
                    let _ = reply.send((start_worker(gpu, plan, &candidate, prebuilt), prebuilt));
                }
            });
        }
        // The lane's next candidates, in review order, their workers starting while this one is
        // reviewed.
        let ahead: Mutex<VecDeque<Ahead>> = Mutex::default();
        // Workers started while the lane had nothing to do (`Plan::spare_worker`).
        let mut spares = Spares::default();
        // Take the next `depth` waiting candidates for this lane and have their workers started,
        // unless any is taken already (the starts come together: see `ahead_workers`): when a
        // review starts, and again when it starts verifying (a candidate may have come in the
        // meantime: a batch's first reviews start as it fills).
        let take_ahead = || {
            let mut slot = ahead.lock().unwrap_or_else(|e| e.into_inner());
            if !slot.is_empty() {
                return;
            }
            while slot.len() < depth {
                let Some(next) = batch.try_next() else { break };
                let (reply, start) = std::sync::mpsc::channel();
                if requests.send((next, reply)).is_err() {
                    break;
                }
                slot.push_back((next, start));
            }
        };
        while !batch.stopped() {
            let taken = ahead.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
            let (index, worker) = match taken {
                Some((i, start)) => {
                    let waited = std::time::Instant::now();
                    let (worker, prebuilt) = start.recv().unwrap_or_else(|_| {
                        (Err(DeviceError::Environment("the lane's worker starter stopped".into())), None)
                    });
                    (i, Worker { started: Some((worker, waited.elapsed().as_secs_f64())), prebuilt })
                }
                None => match next_idle(gpu, gates, plan, batch, &mut spares, &mut model) {
                    Some(next) => next,
                    None => break,
                },
            };
            take_ahead();
            let candidate = batch.candidate(index);
            let total = batch.expected.load(Ordering::SeqCst).max(batch.len());
            progress.event(Event::Candidate { index, total, name: &candidate.name() });
            let observer = TakeAhead { progress, take: &take_ahead };
            let lane = Lane { gpu, gates, plan, progress, observer: &observer };
            let prebuilt = worker.prebuilt;
            let footprint = admission::footprint(&candidate, plan.options.timed_sizes.as_ref());
            let (mut result, shared) =
                review_one(lane, &candidate, &mut reference, &mut model, worker, Some(footprint));
            // Out of memory beside another review: the card was short of memory because of the
            // judge's own work. The candidate is reviewed again with the card to itself, the
            // Model's process started afresh (its allocator's cache went with it), and that
            // verdict is the one it earns. (A candidate that says it ran out gains only that.)
            if shared && ran_out_of_memory(&result) {
                progress.line(&format!(
                    "  {}: out of memory while another review shared GPU {gpu}: reviewed again with the card to itself",
                    candidate.name()
                ));
                if matches!(result, Err(Failure::Candidate(_))) {
                    reference = None;
                }
                model = None;
                let fresh = Worker { started: None, prebuilt };
                result = review_one(lane, &candidate, &mut reference, &mut model, fresh, None).0;
            }
            let result = said_in_one_line(result, gpu, gates.memory(gpu), candidate.problem.name, footprint);
            let result = match result {
                Ok(report) => {
                    batch.failures_in_a_row.store(0, Ordering::SeqCst);
                    Ok(report)
                }
                Err(Failure::Lane(e)) => {
                    batch.stop();
                    Err(e)
                }
                // Nothing ran: the lane's judge device and Model process are as they were, and
                // the problem's size says nothing of the next candidate's.
                Err(Failure::TooBig(e)) => Err(e),
                Err(Failure::Candidate(e)) => {
                    // Whatever state the failure left them in, the next candidate gets fresh ones.
                    if let Some(device) = &reference {
                        seen = Some(device.info().clone());
                    }
                    reference = None;
                    model = None;
                    // A card short of memory for this problem's size, or a problem that cannot
                    // be judged in its class, says nothing of the next candidate's: it is not
                    // counted towards stopping the batch.
                    let text = e.to_string();
                    let sized =
                        admission::out_of_memory(&text) || text.contains(sadoku_core::checks::accuracy::UNJUDGEABLE);
                    if !sized && batch.failures_in_a_row.fetch_add(1, Ordering::SeqCst) + 1 >= FAILURES_IN_A_ROW {
                        batch.stop();
                    }
                    Err(e)
                }
            };
            if !deliver((index, result)) {
                break;
            }
        }
        // Candidates taken ahead when the batch stopped: their workers go (killed when dropped),
        // and the run lists them as not started. The starters end with the requests.
        drop(ahead.into_inner());
        drop(requests);
    });
    let Some(device) = reference.as_mut() else { return seen };
    let mut info = {
        // With the card held: the clock's and (where no review measured them) the ceilings'
        // measurement beside another lane's timing would disturb both.
        let _card = gates.gate(gpu).exclusive();
        let _ = device.measure_sm_clock();
        let mut info = device.info().clone();
        info.ceilings = device.ceilings().ok().flatten();
        info
    };
    // Which PyTorch (and its CUDA and cuDNN) computed the truth and the baseline.
    if let Some(m) = &model {
        info.torch = m.info().torch.clone();
    }
    Some(info)
}

/// Workers a server's lane keeps started while it waits (`Plan::spare_worker`): a native one for
/// whatever comes, and once the batch has had a Python candidate, a Python one for the next
/// candidate whose extensions are all in the store. Each is the same for every such candidate
/// until it starts a review.
#[derive(Default)]
struct Spares {
    native: Option<sadoku_core::protocol::RemoteDevice>,
    python: Option<sadoku_core::protocol::RemoteDevice>,
}

/// A lane with no candidate taken ahead: its next candidate and its worker, if started already
/// (None: the batch is done). While it waits, a server's lane keeps its [`Spares`] started, and
/// once the batch has had a Python candidate, its process for a problem's Model (the same for
/// every problem until a review loads one); any lane does so while its candidate's build ahead
/// runs. A native worker's start holds timings off, a Python process's is host work of its own
/// (`processes::spawn_python`).
fn next_idle(
    gpu: usize,
    gates: &Gates,
    plan: &Plan,
    batch: &Batch,
    spares: &mut Spares,
    model: &mut Option<ModelWorker>,
) -> Option<(usize, Worker)> {
    loop {
        if plan.spare_worker && spares.native.is_none() && batch.try_peek_empty() {
            let _host = gates.host();
            spares.native = native_worker(gpu, plan).ok();
        }
        let python = plan.python.as_ref().filter(|_| plan.spare_worker);
        if let Some(python) = python.filter(|_| batch.python_seen()) {
            if spares.python.is_none() && batch.try_peek_empty() {
                spares.python = python.spawn_store_worker(gpu, plan.timeouts, plan.sandbox).ok();
            }
            if model.is_none() && batch.try_peek_empty() {
                *model = plan.backend.spawn_model(python, gpu, plan.timeouts, plan.sandbox).ok();
            }
        }
        // Woken when the batch's first Python candidate comes (another lane takes it), to start
        // a Python worker for the next.
        let on_python = python.is_some() && !batch.python_seen();
        match batch.next_waking(on_python) {
            Waited::Candidate(i) => {
                // Its extensions are being built ahead, or are next (nvcc over PyTorch's headers:
                // about a minute): meanwhile the lane starts what the review needs besides them, a
                // worker that will load them from the store and a process for the problem's Model,
                // which it would otherwise start one after the other once the build is done.
                let candidate = batch.candidate(i);
                let python = plan.python.as_ref().filter(|_| candidate.is_python() && batch.build_pending(i));
                if let Some(python) = python {
                    if spares.python.is_none() {
                        spares.python = python.spawn_store_worker(gpu, plan.timeouts, plan.sandbox).ok();
                    }
                    if model.is_none() && candidate.problem.baseline_in_python() {
                        *model = plan.backend.spawn_model(python, gpu, plan.timeouts, plan.sandbox).ok();
                    }
                }
                batch.await_build(i, false);
                let prebuilt = batch.prebuilt(i);
                let started = match (candidate.is_python(), prebuilt) {
                    (false, _) => spares.native.take(),
                    (true, Some(Cache::Store)) => spares.python.take(),
                    (true, _) => {
                        // Not built into the store (the review builds it itself): outside a
                        // server, a worker started for the store would only hold its card's
                        // memory until the lane ends.
                        if !plan.spare_worker {
                            spares.python = None;
                        }
                        None
                    }
                };
                return Some((i, Worker { started: started.map(|w| (Ok(w), 0.0)), prebuilt }));
            }
            Waited::Done => return None,
            Waited::PythonCame => continue,
        }
    }
}

/// A candidate's worker, started (or why not).
type Started = Result<sadoku_core::protocol::RemoteDevice, DeviceError>;

/// A candidate a lane took ahead, and where its worker (and whether its extensions were built
/// ahead) will come from.
type Ahead = (usize, std::sync::mpsc::Receiver<(Started, Option<Cache>)>);

/// How a review gets its worker: started ahead (and what the review waited for it, s), or not;
/// and whether a Python candidate's extensions were built ahead (read-only in the cache).
struct Worker {
    started: Option<(Started, f64)>,
    prebuilt: Option<Cache>,
}

/// Start the worker that will serve `candidate`: a Python worker for a Python candidate (its
/// extensions read-only from the cache when `prebuilt`, else built in its own directory), else a
/// native one.
/// Whether starting a lane's next worker holds every timing off until it is up. A native worker
/// does (a short start, not registered as host work). A Python worker's start (its interpreter,
/// PyTorch's import, its CUDA context: seconds of a core) does too, unless `stoppable`: it is then
/// host work of its own, stopped while any card is timed, as builds are
/// (`processes::spawn_python`). Held, a lane's start keeps every other lane's timing waiting
/// (sessions 5, 11 and 12 measured a median 4.1–6.2 s of `card_wait_s` per review with two
/// lanes); stopped, the lanes' timings go on and the next review waits for its worker instead.
/// `SADOKU_AHEAD_STOPPABLE=1` turns the second on. On an H100 (session 13) the two took the same
/// time: the wait moved from the card to the next review, since a start outlasts a review (see
/// [`ahead_workers`] and BENCHMARKS.md).
fn ahead_holds_timings(python: bool, stoppable: bool) -> bool {
    !(python && stoppable)
}

/// `SADOKU_AHEAD_STOPPABLE` is set: see [`ahead_holds_timings`].
fn stoppable_ahead() -> bool {
    std::env::var_os("SADOKU_AHEAD_STOPPABLE").is_some()
}

/// How many of a lane's next candidates have their workers started together while it reviews:
/// `SADOKU_AHEAD_WORKERS` (1 to [`MAX_AHEAD_WORKERS`]; anything else is the default,
/// [`DEFAULT_AHEAD_WORKERS`]). A Python worker takes about 5 s to start and a `ModelNew` review
/// about 1.2 s of the card (an H100 in session 13): one worker ahead leaves every review waiting
/// about 4 s for the next. N started together, in parallel and only once the lane has none left,
/// cost that wait once per N reviews, for N CUDA contexts (and N interpreters) held a while
/// longer. On an H100 (session 14, 16 archive reviews, `--jobs 2`) four took 46.5 s and one 70.6 s,
/// with the same verdicts: the card's wait per review fell from a median 5.2 s to 1.0 s. One
/// (`SADOKU_AHEAD_WORKERS=1`) leaves the most memory to a problem that needs nearly all of a card's.
fn ahead_workers() -> usize {
    ahead_workers_from(std::env::var("SADOKU_AHEAD_WORKERS").ok().as_deref())
}

fn ahead_workers_from(value: Option<&str>) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .map_or(DEFAULT_AHEAD_WORKERS, |n| n.min(MAX_AHEAD_WORKERS))
}

/// See [`ahead_workers`].
const DEFAULT_AHEAD_WORKERS: usize = 4;

/// See [`ahead_workers`].
const MAX_AHEAD_WORKERS: usize = 8;

fn start_worker(gpu: usize, plan: &Plan, candidate: &Candidate, prebuilt: Option<Cache>) -> Started {
    if candidate.is_python() {
        let python = plan.python.as_ref().ok_or_else(|| {
            DeviceError::Environment(format!("{} needs a Python worker, and none was set up", candidate.origin))
        })?;
        python.spawn_candidate(gpu, plan.timeouts, plan.sandbox, &candidate.source, prebuilt.unwrap_or(Cache::Private))
    } else {
        native_worker(gpu, plan)
    }
}

/// A native candidate's worker: the same for every native candidate until it starts a review.
fn native_worker(gpu: usize, plan: &Plan) -> Started {
    plan.backend.spawn_worker(gpu, plan.timeouts, None, plan.sandbox, plan.compile_memory)
}

/// How much lower a build runs than the judge (`nice`), unless a lane is to take its candidate
/// first (see [`build`]'s `urgent`).
pub const BUILD_NICE: i32 = 10;

/// Build the extensions of the batch's Python candidates ahead of their reviews, in review order,
/// while lanes review: one builder of `--build-jobs`. A build is host work: what runs the
/// candidate's Python holds timings off (see [`Gates::host`]), the compilers are stopped while a
/// card is timed (see [`crate::host_work`]); its failure is left for the review to report. The
/// batch's first `urgent` candidates (one per lane) are built at the judge's priority, the rest
/// [`BUILD_NICE`] steps lower, so that the first verdicts wait for one build, not for a wave of
/// them sharing the cores.
pub fn build(
    gpu: usize,
    gates: &Gates,
    plan: &Plan,
    python: &PythonPlan,
    batch: &Batch,
    progress: &Progress,
    urgent: usize,
) {
    let (sandbox, warm) = (plan.sandbox, plan.spare_worker);
    // With `warm` (a server's builders), once the batch has had a Python candidate, the builders
    // keep one recording worker started while they wait (the batch's spare, taken by whichever
    // builder takes the next build): the next candidate is recorded without a worker's start.
    let mut next = None;
    loop {
        if next.is_none() {
            if warm && batch.python_seen() && !batch.stopped() {
                batch.keep_recorder(|| python.recorder(gpu, sandbox).ok());
            }
            next = batch.next_build();
        }
        let Some(index) = next else { break };
        let candidate = batch.candidate(index);
        // A review its card cannot hold is not reviewed (see `Admission::too_small`): nothing to
        // build for it. (Known once a lane has opened the card.)
        if too_small(gpu, gates, plan, &candidate).is_some() {
            progress.line(&format!("  {} not built: too big for GPU {gpu}", candidate.name()));
            next = batch.built_then_next(index, None);
            continue;
        }
        let started = std::time::Instant::now();
        let recorder = if warm { batch.take_recorder() } else { None };
        let ahead = if recorder.is_some() { ", recorded by a worker started ahead" } else { "" };
        let nice = if index < urgent { 0 } else { BUILD_NICE };
        let built = python.build(&candidate, gpu, sandbox, || gates.host(), recorder, nice);
        let took = started.elapsed().as_secs_f64();
        progress.line(&format!("  {} {} ({took:.1} s{ahead})", candidate.name(), built.said));
        next = batch.built_then_next(index, built.cache);
    }
}

/// What one lane works with: its GPU, the batch's gates, the plan, the progress, and the observer
/// of its reviews (the progress, and the lane taking its next candidate ahead).
#[derive(Clone, Copy)]
struct Lane<'a> {
    gpu: usize,
    gates: &'a Gates,
    plan: &'a Plan<'a>,
    progress: &'a Progress,
    observer: &'a dyn Observer,
}

/// The progress, and at the start of verification, the lane's chance to take its next candidate
/// and start its worker.
struct TakeAhead<'a> {
    progress: &'a Progress,
    take: &'a dyn Fn(),
}

impl Observer for TakeAhead<'_> {
    fn event(&self, event: Event<'_>) {
        if matches!(event, Event::Stage { name: "verifying" }) {
            (self.take)();
        }
        self.progress.event(event);
    }
}

/// Review one candidate, admitted to its card's memory with its estimated `footprint` (see
/// [`crate::admission`]; None: with the card to itself). Also says whether another review shared
/// the card meanwhile.
fn review_one(
    lane: Lane,
    candidate: &Candidate,
    reference: &mut Option<Box<dyn JudgeDevice>>,
    model: &mut Option<ModelWorker>,
    worker: Worker,
    footprint: Option<u64>,
) -> (Result<CandidateReport, Failure>, bool) {
    let Lane { gpu, gates, plan, .. } = lane;
    if reference.is_none() {
        match plan.backend.open_judge(gpu, plan.no_cache) {
            Ok(r) => *reference = Some(r),
            Err(e) => return (Err(Failure::Lane(e)), false),
        }
    }
    let reference = reference.as_mut().expect("opened just above");
    // Admitted before any gate is held: a lane waiting here holds no other lane's timing off.
    let memory = gates.memory(gpu);
    memory.set_memory(reference.info().memory_bytes as u64);
    if let Some(line) = too_small(gpu, gates, lane.plan, candidate) {
        return (Err(Failure::TooBig(DeviceError::Environment(line))), false);
    }
    let ticket = match footprint {
        Some(bytes) => memory.admit(bytes),
        None => memory.alone(),
    };
    let result = review_on(lane, candidate, reference, model, worker).map_err(Failure::Candidate);
    (result, ticket.shared())
}

/// Why `candidate`'s review cannot fit `gpu` at its timed size, whatever it does (see
/// [`Admission::too_small`]); never for an untimed review (`problem check --prove`), which does
/// not go to that size.
fn too_small(gpu: usize, gates: &Gates, plan: &Plan, candidate: &Candidate) -> Option<String> {
    if plan.options.skip_timing {
        return None;
    }
    gates.memory(gpu).too_small(gpu, candidate, plan.options.timed_sizes.as_ref())
}

/// The judge's side out of memory (its own buffers, the Model's float64 truth): NOT REVIEWED as
/// any environment failure, said in one line (the card, the problem, its estimate against the
/// card, what ran out, what to do) instead of PyTorch's traceback. A candidate's own report of
/// running out stays its rejection: what its process says is its testimony.
fn said_in_one_line(
    result: Result<CandidateReport, Failure>,
    gpu: usize,
    memory: &Admission,
    problem: &str,
    footprint: u64,
) -> Result<CandidateReport, Failure> {
    match result {
        Err(Failure::Candidate(e)) if admission::out_of_memory(&e.to_string()) => {
            let line = admission::not_reviewed(gpu, problem, &memory.estimate(footprint), &e.to_string());
            Err(Failure::Candidate(DeviceError::Environment(line)))
        }
        other => other,
    }
}

/// Whether a review failed for want of memory on its card: a rejection whose evidence says so
/// (the candidate's process ran out, or says it did: this decides only a second review alone),
/// or an environment failure that does (the judge's side ran out).
fn ran_out_of_memory(result: &Result<CandidateReport, Failure>) -> bool {
    match result {
        Ok(report) => !report.verdict.is_accepted() && report.evidence.as_deref().is_some_and(admission::out_of_memory),
        Err(Failure::Candidate(e)) => admission::out_of_memory(&e.to_string()),
        Err(Failure::Lane(_) | Failure::TooBig(_)) => false,
    }
}

fn review_on(
    lane: Lane,
    candidate: &Candidate,
    reference: &mut Box<dyn JudgeDevice>,
    model: &mut Option<ModelWorker>,
    worker: Worker,
) -> Result<CandidateReport, DeviceError> {
    let Worker { started: ahead, prebuilt } = worker;
    let Lane { gpu, gates, plan, progress, observer } = lane;
    let gate = gates.gate(gpu);
    let reference = &mut **reference;
    let started = std::time::Instant::now();
    let sanitized = plan.sanitize.then(|| sanitize(gpu, gate, plan, candidate, reference));
    let sanitize_s = started.elapsed().as_secs_f64();
    // Condemned by the sanitizer: verify for the record, but time nothing.
    let condemned = matches!(&sanitized, Some(Sanitized::Ran { reports, .. }) if reports.iter().any(|r| r.errors > 0));
    let mut options = ReviewOptions { skip_timing: condemned, ..plan.options.clone() };
    options.timing.cpus = crate::placement::timing_cpus(gates.rank(gpu));
    let python = || {
        plan.python.as_ref().ok_or_else(|| {
            DeviceError::Environment(format!("{} needs a Python worker, and none was set up", candidate.origin))
        })
    };
    // A KernelBench problem's Model: one process per lane, kept from candidate to candidate.
    // Starting a Python process (importing PyTorch) is host work: never during another's timing.
    let starting = gates.host();
    let mut model_start_s = 0.0;
    if candidate.problem.baseline_in_python() && model.is_none() {
        let model_started = std::time::Instant::now();
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
        model_start_s = model_started.elapsed().as_secs_f64();
    }
    let spawned = std::time::Instant::now();
    // Started ahead of this review (the time it was waited for), or now.
    let (worker, worker_start_s) = match ahead {
        Some((worker, waited_s)) => (worker, waited_s),
        None => (start_worker(gpu, plan, candidate, prebuilt), spawned.elapsed().as_secs_f64()),
    };
    let mut worker = worker?;
    worker.start_review();
    // The Model's process is kept from review to review: this review's deadline is its own too.
    if let Some(m) = model.as_mut() {
        m.start_review();
    }
    // The judge keeps a native worker's modules: a worker has no cache it could plant one in. (A
    // Python worker's "module" is its loaded candidate: never cached.)
    if !candidate.is_python() {
        if let Some(cache) = reference.module_cache() {
            worker.cache_modules(cache);
        }
    }
    drop(starting);
    let reference: &mut dyn Device = reference;
    let mut devices = Devices {
        gate: Some(gate),
        model: model.as_mut(),
        baselines: Some(gates.baselines(gpu)),
        ..Devices::new(&mut worker, reference)
    };
    let mut report = review::review_candidate(&mut devices, candidate, &plan.seeds, &options, observer)?;
    report.findings.phases.worker_start_s = worker_start_s;
    report.findings.phases.model_start_s = model_start_s;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `SADOKU_AHEAD_WORKERS`: a number from 1 to the cap, else the default (four).
    #[test]
    fn workers_ahead_are_four_unless_asked_and_never_more_than_the_cap() {
        assert_eq!(ahead_workers_from(None), 4);
        assert_eq!(ahead_workers_from(Some("1")), 1);
        assert_eq!(ahead_workers_from(Some("3")), 3);
        assert_eq!(ahead_workers_from(Some(" 2 ")), 2);
        assert_eq!(ahead_workers_from(Some("0")), 4);
        assert_eq!(ahead_workers_from(Some("100")), MAX_AHEAD_WORKERS);
        assert_eq!(ahead_workers_from(Some("many")), 4);
    }

    /// A native worker's start always holds timings off; a Python worker's does unless asked to
    /// be stopped with every other host work while a card is timed.
    #[test]
    fn only_a_python_workers_start_ahead_can_be_stopped_instead_of_holding_timings_off() {
        assert!(ahead_holds_timings(false, false));
        assert!(ahead_holds_timings(false, true), "a native start is not registered as host work");
        assert!(ahead_holds_timings(true, false), "held unless asked");
        assert!(!ahead_holds_timings(true, true));
    }
}
