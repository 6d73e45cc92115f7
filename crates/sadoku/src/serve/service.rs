//! The server's judge, without HTTP: submissions turned into candidates (or INVALID records),
//! admitted under the queue's bound and fed to the lanes' batch; the lanes' outcomes recorded,
//! journaled and announced. Everything here is synchronous and tested without a socket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sadoku_core::candidate::{Candidate, SpecError};
use sadoku_core::device::DeviceInfo;
use sadoku_core::problem::torch::ModelKind;
use sadoku_core::problem::{Problem, Registry};
use sadoku_core::report::{CandidateReport, NotReviewed};
use sadoku_core::review::ReviewOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::metrics::Metrics;
use super::store::{Queued, Store};
use crate::candidates::Loaded;
use crate::lanes::{Batch, Gates, Outcome};
use crate::selftest::Summary as SelftestSummary;

/// One candidate of a submission, as the API takes it (docs/SERVE.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// The candidate's text.
    pub source: String,
    /// The library problem a native candidate is for: its front matter must name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(default)]
    pub kind: Kind,
    /// A KernelBench problem file the candidate is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernelbench: Option<KernelbenchFile>,
    /// The client's label, kept as the record's origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelbenchFile {
    /// Its file name (`19_ReLU.py`): the problem is named after its stem.
    pub file: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A sadoku `.cu` with front matter, or (with `kernelbench`) an archive `.cu`.
    #[default]
    Cuda,
    /// A `ModelNew` file (with `kernelbench` only).
    Python,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Done,
    /// The environment kept it from a verdict: submitted again, it is reviewed again.
    NotReviewed,
}

/// One review as a client sees it.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub id: String,
    pub state: State,
    pub record: Option<Arc<CandidateReport>>,
    pub error: Option<String>,
}

/// A submission's candidate, taken.
#[derive(Debug, Clone, Serialize)]
pub struct Admitted {
    pub index: usize,
    pub id: String,
    pub state: State,
    pub deduplicated: bool,
}

/// Why a submission was not taken (nothing of it was).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A request no candidate can come from: what to change.
    BadRequest(String),
    /// The queue would pass its bound: try again in `retry_after_s`.
    Full { retry_after_s: u64, waiting: usize, capacity: usize, asked: usize },
    /// The lanes stopped: no review can come.
    Stopped(String),
    /// The state directory could not be written: the server cannot promise to keep it.
    Internal(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::BadRequest(m) => f.write_str(m),
            Refusal::Full { retry_after_s, waiting, capacity, asked } => write!(
                f,
                "the queue is full ({waiting} of {capacity} waiting, {asked} more asked): submit again in {retry_after_s} s"
            ),
            Refusal::Stopped(why) => write!(f, "the judge stopped ({why}): restart the server"),
            Refusal::Internal(why) => write!(f, "the server cannot record the submission: {why}"),
        }
    }
}

/// What decides a review's id and how it is fed, fixed for the server's life.
pub struct Settings {
    pub options: ReviewOptions,
    pub sanitize: bool,
    /// How many candidates may wait.
    pub capacity: usize,
    /// Python candidates' extensions built ahead of their reviews.
    pub build_ahead: bool,
}

/// KernelBench problem files sent by clients: each described once (confined), by content.
pub struct Kernelbench {
    /// Where the files are written to be described (the state directory's `problems/`).
    pub dir: PathBuf,
    pub python: PathBuf,
    pub bridge: crate::kernelbench::Bridge,
    pub sandbox: crate::sandbox::Mode,
    /// Problems are described on the service's GPUs (a card lent as `kernelbench review` lends
    /// it), not the CPU: false where the workers' PyTorch runs on the CPU.
    pub on_gpu: bool,
    described: Mutex<HashMap<String, Result<Arc<Problem>, String>>>,
}

impl Kernelbench {
    pub fn new(
        dir: PathBuf,
        python: PathBuf,
        bridge: crate::kernelbench::Bridge,
        sandbox: crate::sandbox::Mode,
        on_gpu: bool,
    ) -> Self {
        Kernelbench { dir, python, bridge, sandbox, on_gpu, described: Mutex::default() }
    }
}

pub struct Service {
    registry: Mutex<Registry>,
    pub batch: Arc<Batch>,
    pub gates: Arc<Gates>,
    jobs: Mutex<Jobs>,
    changed: tokio::sync::watch::Sender<u64>,
    store: Mutex<Store>,
    pub settings: Settings,
    pub metrics: Metrics,
    /// The GPUs, as the judge's device described each at start.
    pub environment: Vec<DeviceInfo>,
    pub selftest: SelftestSummary,
    pub lanes: usize,
    kernelbench: Option<Kernelbench>,
    stopped: Mutex<Option<String>>,
}

#[derive(Default)]
struct Jobs {
    by_id: HashMap<String, Job>,
    /// The review id of each of the batch's candidates, by its index there.
    by_index: Vec<String>,
    waiting: usize,
}

struct Job {
    state: State,
    record: Option<Arc<CandidateReport>>,
    error: Option<String>,
}

/// Everything a service is made of.
pub struct Parts {
    pub registry: Registry,
    pub batch: Arc<Batch>,
    pub gates: Arc<Gates>,
    pub store: Store,
    pub settings: Settings,
    pub environment: Vec<DeviceInfo>,
    pub selftest: SelftestSummary,
    pub lanes: usize,
    pub kernelbench: Option<Kernelbench>,
    /// Verdicts of earlier runs of this state directory, by id.
    pub earlier: HashMap<String, CandidateReport>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Service {
    pub fn new(parts: Parts) -> Service {
        let mut jobs = Jobs::default();
        for (id, record) in parts.earlier {
            jobs.by_id.insert(id, Job { state: State::Done, record: Some(Arc::new(record)), error: None });
        }
        let metrics = Metrics::new(parts.environment.iter().map(|e| e.ordinal).collect());
        Service {
            registry: Mutex::new(parts.registry),
            batch: parts.batch,
            gates: parts.gates,
            jobs: Mutex::new(jobs),
            changed: tokio::sync::watch::Sender::new(0),
            store: Mutex::new(parts.store),
            settings: parts.settings,
            metrics,
            environment: parts.environment,
            selftest: parts.selftest,
            lanes: parts.lanes,
            kernelbench: parts.kernelbench,
            stopped: Mutex::new(None),
        }
    }

    /// Why the lanes stopped, once they did.
    pub fn stopped(&self) -> Option<String> {
        lock(&self.stopped).clone()
    }

    /// (waiting, capacity)
    pub fn queue(&self) -> (usize, usize) {
        (lock(&self.jobs).waiting, self.settings.capacity)
    }

    /// The problems the server's registry holds, as `sadoku problems --json` lists them.
    pub fn problems(&self) -> serde_json::Value {
        crate::registry::listing(&lock(&self.registry))
    }

    /// Take a submission whole or not at all: each candidate prepared (an invalid one judged at
    /// once), then, if the new ones fit the queue, each journaled and fed to the lanes. A
    /// candidate already taken (the same id) is not taken again. Blocking: describing a
    /// KernelBench file takes seconds.
    pub fn submit(&self, items: Vec<Item>) -> Result<Vec<Admitted>, Refusal> {
        self.take(items, true)
    }

    /// What an earlier run of the state directory took and did not judge: taken again, past the
    /// queue's bound if need be (it was within it when taken).
    pub fn resubmit(&self, items: Vec<Item>) -> Result<(), Refusal> {
        self.take(items, false).map(|_| ())
    }

    fn take(&self, items: Vec<Item>, bounded: bool) -> Result<Vec<Admitted>, Refusal> {
        if let Some(why) = self.stopped() {
            return Err(Refusal::Stopped(why));
        }
        if items.is_empty() {
            return Err(Refusal::BadRequest("no candidates: give at least one in `candidates`".into()));
        }
        let mut prepared = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let loaded = self.prepare(&item).map_err(|m| Refusal::BadRequest(format!("candidates[{i}]: {m}")))?;
            let id = self.id_of(&loaded, &item);
            // Unnamed, a candidate is known by its review's id.
            let loaded = if item.name.is_none() { named(loaded, &format!("request:{}", &id[..12])) } else { loaded };
            prepared.push((loaded, id, item));
        }
        let mut jobs = lock(&self.jobs);
        // New: neither taken before (a review the environment kept from a verdict is taken again)
        // nor earlier in this submission. Everything else is answered with the review it repeats.
        let mut new = Vec::with_capacity(prepared.len());
        for (i, (_, id, _)) in prepared.iter().enumerate() {
            let known = jobs.by_id.get(id).is_some_and(|j| j.state != State::NotReviewed);
            new.push(!known && !prepared[..i].iter().any(|(_, earlier, _)| earlier == id));
        }
        let fresh = prepared
            .iter()
            .zip(&new)
            .filter(|((loaded, _, _), new)| **new && matches!(loaded, Loaded::Valid(_)))
            .count();
        if bounded && jobs.waiting + fresh > self.settings.capacity {
            self.metrics.refused("queue_full");
            return Err(Refusal::Full {
                retry_after_s: self.metrics.retry_after(jobs.waiting + fresh - self.settings.capacity, self.lanes),
                waiting: jobs.waiting,
                capacity: self.settings.capacity,
                asked: fresh,
            });
        }
        let mut store = lock(&self.store);
        // Everything new on disk before anything is taken (a candidate's submission, an invalid
        // one's verdict): a journal that cannot be written refuses the submission whole.
        for ((loaded, id, item), _) in prepared.iter_mut().zip(&new).filter(|(_, new)| **new) {
            let wrote = match loaded {
                Loaded::Valid(_) => store.queued(&Queued { id: id.clone(), item: item.clone() }),
                Loaded::Invalid(report) => {
                    report.key = id.clone();
                    store.verdict(report)
                }
                Loaded::Unreviewed(_) => Ok(()),
            };
            wrote.map_err(|e| Refusal::Internal(format!("{e:#}")))?;
        }
        let mut admitted = Vec::with_capacity(prepared.len());
        for (index, ((loaded, id, _), new)) in prepared.into_iter().zip(new).enumerate() {
            if !new {
                let state = jobs.by_id.get(&id).map_or(State::NotReviewed, |j| j.state);
                self.metrics.deduplicated();
                admitted.push(Admitted { index, id, state, deduplicated: true });
                continue;
            }
            match loaded {
                Loaded::Unreviewed(NotReviewed { error: why, .. }) => {
                    self.metrics.not_reviewed();
                    let job = Job { state: State::NotReviewed, record: None, error: Some(why) };
                    jobs.by_id.insert(id.clone(), job);
                    admitted.push(Admitted { index, id, state: State::NotReviewed, deduplicated: false });
                }
                Loaded::Invalid(report) => {
                    self.metrics.verdict(&report);
                    jobs.by_id
                        .insert(id.clone(), Job { state: State::Done, record: Some(Arc::new(*report)), error: None });
                    admitted.push(Admitted { index, id, state: State::Done, deduplicated: false });
                }
                Loaded::Valid(candidate) => {
                    let python = candidate.is_python();
                    let at = self.batch.push(Arc::new(candidate), self.settings.build_ahead && python);
                    if jobs.by_index.len() <= at {
                        jobs.by_index.resize(at + 1, String::new());
                    }
                    jobs.by_index[at] = id.clone();
                    jobs.waiting += 1;
                    jobs.by_id.insert(id.clone(), Job { state: State::Queued, record: None, error: None });
                    admitted.push(Admitted { index, id, state: State::Queued, deduplicated: false });
                }
            }
        }
        drop(jobs);
        self.changed.send_modify(|g| *g += 1);
        Ok(admitted)
    }

    /// A lane's outcome: the verdict journaled, then announced; or why there is none.
    pub fn outcome(&self, (index, result): Outcome) {
        let mut jobs = lock(&self.jobs);
        let id = jobs.by_index.get(index).cloned().unwrap_or_default();
        let job = match result {
            Ok(mut report) => {
                report.key = id.clone();
                if let Err(e) = lock(&self.store).verdict(&report) {
                    // Still announced: the client has it; the journal said why it does not.
                    eprintln!("sadoku serve: {e:#}");
                }
                self.metrics.verdict(&report);
                Job { state: State::Done, record: Some(Arc::new(report)), error: None }
            }
            Err(e) => {
                self.metrics.not_reviewed();
                Job { state: State::NotReviewed, record: None, error: Some(e.to_string()) }
            }
        };
        jobs.by_id.insert(id, job);
        jobs.waiting = jobs.waiting.saturating_sub(1);
        drop(jobs);
        self.batch.release(index);
        self.changed.send_modify(|g| *g += 1);
    }

    /// The lanes ended (`why`): what still waits will not be reviewed by this server; it stays in
    /// the queue's journal for the next one.
    pub fn lanes_stopped(&self, why: String) {
        *lock(&self.stopped) = Some(why.clone());
        let mut jobs = lock(&self.jobs);
        for job in jobs.by_id.values_mut().filter(|j| j.state == State::Queued) {
            job.state = State::NotReviewed;
            job.error = Some(format!("not reviewed: the judge stopped ({why}); submit it again to a running server"));
        }
        jobs.waiting = 0;
        drop(jobs);
        self.changed.send_modify(|g| *g += 1);
    }

    pub fn view(&self, id: &str) -> Option<View> {
        let jobs = lock(&self.jobs);
        let job = jobs.by_id.get(id)?;
        Some(View { id: id.to_string(), state: job.state, record: job.record.clone(), error: job.error.clone() })
    }

    /// The review's view once it is no longer queued, or when `wait` has passed.
    pub async fn wait(&self, id: &str, wait: Duration) -> Option<View> {
        let mut changes = self.changed.subscribe();
        let until = tokio::time::Instant::now() + wait;
        loop {
            let view = self.view(id)?;
            if view.state != State::Queued {
                return Some(view);
            }
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return Some(view),
            }
        }
    }

    /// A review as a report document (`sadoku review --json`'s schema): its record, the server's
    /// GPUs; the seed withheld (the server's master seed would tell a client the inputs of later
    /// reviews; the operator finds it in the state directory's `seeds.log`).
    pub fn report(&self, record: &CandidateReport) -> serde_json::Value {
        let report = sadoku_core::report::Report {
            schema: sadoku_core::report::SCHEMA,
            sadoku: crate::VERSION.into(),
            seed: "withheld by the server".into(),
            environment: self.environment.clone(),
            candidates: vec![record.clone()],
            not_reviewed: Vec::new(),
            wall_s: record.review_s,
            first_verdict_s: None,
        };
        serde_json::to_value(report).unwrap_or_default()
    }

    /// Something changed (a review ended, a submission came): for waiters.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The review's id: `sadoku review --out`'s key for the same candidate and options. An invalid
    /// one's says what made it invalid too (the problem asked, the KernelBench file).
    fn id_of(&self, loaded: &Loaded, item: &Item) -> String {
        let what = match loaded {
            Loaded::Valid(c) => crate::review::reviewed(&c.sha256, c.problem.sha256),
            Loaded::Invalid(_) | Loaded::Unreviewed(_) => {
                let mut what = hex::encode(Sha256::digest(item.source.as_bytes()));
                if let Some(p) = &item.problem {
                    what.push_str(&format!(" asked {p}"));
                }
                if let Some(kb) = &item.kernelbench {
                    what.push_str(&format!(" kernelbench {}", file_digest(kb)));
                }
                what
            }
        };
        crate::review::review_key(&what, &self.settings.options, self.settings.sanitize)
    }

    /// The candidate an item holds, its INVALID record, or why the environment cannot review it
    /// (no Python or PyTorch to describe its KernelBench file: no verdict; submitted again, it is
    /// tried again); `Err`: a request no candidate can come from.
    fn prepare(&self, item: &Item) -> Result<Loaded, String> {
        let origin = item.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "request".into());
        if origin.len() > 512 || origin.contains(['\n', '\r']) {
            return Err("`name` must be one line of at most 512 bytes".into());
        }
        let invalid = |problem: &str, message: String| {
            let mut r = CandidateReport::invalid(
                &SpecError { origin: origin.clone(), line: None, message },
                item.source.as_bytes(),
            );
            r.problem = problem.to_string();
            Loaded::Invalid(Box::new(r))
        };
        let asked = |c: Candidate| match &item.problem {
            Some(p) if p != c.problem.name => invalid(
                c.problem.name,
                format!("its front matter names problem `{}`, the request asks for `{p}`", c.problem.name),
            ),
            _ => Loaded::Valid(c),
        };
        let Some(kb) = &item.kernelbench else {
            if item.kind == Kind::Python {
                return Err("a Python candidate is for a KernelBench problem: give its file as `kernelbench`".into());
            }
            // A problem of the registry only: a problem named by a path is never looked up on the
            // server's disk.
            return Ok(match Candidate::from_source(&lock(&self.registry), origin.clone(), item.source.clone()) {
                Ok(c) => asked(c),
                Err(e) => Loaded::Invalid(Box::new(CandidateReport::invalid(&e, item.source.as_bytes()))),
            });
        };
        let problem = match self.kernelbench_problem(kb)? {
            Ok(p) => p,
            Err(why) if crate::kernelbench::fatal(&why) => {
                return Ok(Loaded::Unreviewed(NotReviewed {
                    origin: origin.clone(),
                    problem: kb.file.trim_end_matches(".py").to_string(),
                    error: format!("this server cannot describe KernelBench files: {why}"),
                }));
            }
            Err(why) => {
                let stem = kb.file.trim_end_matches(".py");
                return Ok(invalid(stem, format!("its problem cannot be judged: {why}")));
            }
        };
        if item.kind == Kind::Cuda && item.source.trim_start().starts_with("/* sadoku") {
            return Ok(match Candidate::from_source(&lock(&self.registry), origin.clone(), item.source.clone()) {
                Ok(c) if c.problem.sha256 != problem.sha256 => invalid(
                    c.problem.name,
                    format!("its front matter names problem `{}`, not the KernelBench file sent", c.problem.name),
                ),
                Ok(c) => asked(c),
                Err(e) => Loaded::Invalid(Box::new(CandidateReport::invalid(&e, item.source.as_bytes()))),
            });
        }
        let kind = if item.kind == Kind::Cuda { ModelKind::Archive } else { ModelKind::ModelNew };
        Ok(match Candidate::python(origin.clone(), item.source.clone(), problem, kind) {
            Ok(c) => asked(c),
            Err(e) => Loaded::Invalid(Box::new(CandidateReport::invalid(&e, item.source.as_bytes()))),
        })
    }

    /// A KernelBench file's problem, described once per content (confined, as host work); the
    /// inner `Err`: why it cannot be judged (an INVALID record); the outer: a bad request.
    fn kernelbench_problem(&self, kb: &KernelbenchFile) -> Result<Result<Arc<Problem>, String>, String> {
        let Some(k) = &self.kernelbench else {
            return Err("this server reviews no KernelBench candidates (it has no Python bridge)".into());
        };
        let name = &kb.file;
        let plain = !name.is_empty()
            && name.len() <= 200
            && name.ends_with(".py")
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !plain {
            return Err(format!(
                "kernelbench.file `{name}` must be a plain file name ending in .py (letters, digits, `_`, `-`, `.`)"
            ));
        }
        let digest = file_digest(kb);
        if let Some(done) = lock(&k.described).get(&digest) {
            return Ok(done.clone());
        }
        let dir = k.dir.join(&digest[..16]);
        let path = dir.join(name);
        let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &kb.source));
        if let Err(e) = written {
            return Err(format!("cannot write {}: {e}", path.display()));
        }
        // Host work, stopped while a card is timed (`crate::host_work`).
        let lender = k.on_gpu.then_some(&*self.gates as &dyn crate::python_sandbox::Lender);
        let prepared = crate::kernelbench::prepare_problem(&path, &k.python, &k.bridge, k.sandbox, None, lender)
            .map(|p| p.problem);
        let result = prepared
            .map(|p| lock(&self.registry).add(p))
            .map_err(|e| format!("{e:#}").replace(&dir.display().to_string(), "").replace("//", "/"));
        if let Err(e) = &result {
            eprintln!("sadoku serve: {name}: {e}");
        }
        // No Python or PyTorch is the server's state, not the file's: tried again next time.
        if !matches!(&result, Err(e) if crate::kernelbench::fatal(e)) {
            lock(&k.described).insert(digest, result.clone());
        }
        Ok(result)
    }
}

/// `loaded` known by `origin` (its record's origin and name).
fn named(loaded: Loaded, origin: &str) -> Loaded {
    match loaded {
        Loaded::Valid(mut c) => {
            c.origin = origin.to_string();
            Loaded::Valid(c)
        }
        Loaded::Invalid(mut r) => {
            r.origin = origin.to_string();
            r.name = origin.to_string();
            Loaded::Invalid(r)
        }
        Loaded::Unreviewed(mut n) => {
            n.origin = origin.to_string();
            Loaded::Unreviewed(n)
        }
    }
}

/// A KernelBench file's identity: its name and its text.
fn file_digest(kb: &KernelbenchFile) -> String {
    let mut h = Sha256::new();
    h.update((kb.file.len() as u64).to_le_bytes());
    h.update(kb.file.as_bytes());
    h.update(kb.source.as_bytes());
    hex::encode(h.finalize())
}
