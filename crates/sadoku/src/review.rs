//! A review's orchestration, shared by `review`, `kernelbench review` and `problem check --prove`:
//! candidates already judged (`--resume`) or invalid set aside, the rest over lanes on the GPUs
//! (`--gpus`, `--jobs`), each verdict to the journal (`--out`) as it comes, then the report:
//! table or JSON, exports, HTML.

use std::sync::{Arc, mpsc};

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use sadoku_core::candidate::Candidate;
use sadoku_core::device::{DeviceError, DeviceInfo, Precision};
use sadoku_core::problem::Sizes;
use sadoku_core::protocol::Timeouts;
use sadoku_core::report::{CandidateReport, NotReviewed, Report};
use sadoku_core::review::ReviewOptions;
use sadoku_core::seeds::Seeds;
use sadoku_core::time::TimingOptions;
use sha2::{Digest, Sha256};

use crate::VERSION;
use crate::backend::Backend;
use crate::candidates::{Fed, Loaded};
use crate::cli::{JudgingArgs, PrecisionArg, ReviewArgs};
use crate::journal::Journal;
use crate::{lanes, output, progress, records, sandbox};

/// Where a batch's candidates come from: one at a time, in order. A KernelBench review describes
/// its problems while the first candidates are already under review.
pub struct Feed<'a> {
    pub items: Box<dyn Iterator<Item = Fed> + Send + 'a>,
    /// How many items there will be (for progress).
    pub total: usize,
    /// `--size` over the candidates' problem, checked before the feed starts.
    pub timed_sizes: Option<Sizes>,
}

/// Review `loaded` as `args` say (see [`review_stream`]); `--size` checked over them all first.
pub fn review_loaded(
    backend: &dyn Backend,
    args: &ReviewArgs,
    started: Instant,
    loaded: Vec<Loaded>,
    python: Option<crate::backend::PythonPlan>,
    summary: &dyn Fn(&Report) -> (String, serde_json::Value),
) -> Result<u8> {
    let held = |sha: &str| args.shard.is_none_or(|s| s.holds(sha));
    let valid: Vec<&Candidate> = loaded
        .iter()
        .filter_map(|l| if let Loaded::Valid(c) = l { Some(c) } else { None })
        .filter(|c| held(&c.sha256))
        .collect();
    let timed_sizes = timed_sizes(&args.size, &valid)?;
    // The GPUs only when some candidate needs one: a batch of invalid files needs none.
    let gates = lanes::Gates::new(if valid.is_empty() { Ok(Vec::new()) } else { gpus(backend, &args.judging) });
    let feed = Feed { total: loaded.len(), items: Box::new(loaded.into_iter().map(Fed::Loaded)), timed_sizes };
    review_stream(backend, args, started, feed, python, &gates, summary)
}

/// What the batch's producer and lanes tell the run, in the order they happen.
enum Arrival {
    /// Judged in an earlier run (`--resume`): accepted or not.
    Skipped {
        ordinal: usize,
        origin: String,
        accepted: bool,
    },
    /// Not a valid candidate: its record, made before any GPU work.
    Invalid {
        ordinal: usize,
        report: Box<CandidateReport>,
    },
    /// Kept from review by the environment before any GPU work.
    Unreviewed {
        ordinal: usize,
        record: NotReviewed,
    },
    /// Queued for the lanes as the batch's `index`-th candidate.
    Queued {
        ordinal: usize,
        index: usize,
        key: String,
    },
    Outcome(Box<lanes::Outcome>),
    /// The feed is exhausted: how many items it gave, how many this shard holds.
    Fed {
        given: usize,
        held: usize,
    },
}

/// Review the feed's candidates as `args` say: those judged in an earlier run (`--resume`) or not
/// valid set aside, the rest over lanes on `gates`' GPUs (`--jobs` each) as they come, Python
/// candidates' extensions built ahead of their reviews (`--build-jobs`); each verdict to the
/// journal (`--out`) as it comes; then the report: table (with `summary`'s lines after it) or
/// JSON (with its value as `summary`, unless null), exports, HTML. An environment error costs
/// its candidate's verdict only (see [`lanes::run`]).
pub fn review_stream(
    backend: &dyn Backend,
    args: &ReviewArgs,
    started: Instant,
    feed: Feed,
    python: Option<crate::backend::PythonPlan>,
    gates: &lanes::Gates,
    summary: &dyn Fn(&Report) -> (String, serde_json::Value),
) -> Result<u8> {
    let seeds = args.seed.map_or_else(Seeds::fresh, |master| Seeds { master });
    let options = review_options(&args.judging, feed.timed_sizes.clone());
    let mut journal = match &args.out {
        Some(path) => Some(Journal::open(path, args.resume)?),
        None => None,
    };
    let earlier = journal.as_ref().map(Journal::earlier).unwrap_or_default();
    let progress = progress::Progress::new();
    progress.line(&format!("sadoku {VERSION}: {} candidate(s), seed {}", feed.total, seeds.master));
    let build_ahead = python.is_some() && !args.judging.no_cache;
    let plan = plan(backend, &args.judging, seeds, options.clone(), python);
    let batch = lanes::Batch::default();
    batch.expected.store(feed.total, std::sync::atomic::Ordering::SeqCst);
    let builders = args.judging.build_jobs.map_or_else(build_jobs, usize::from);
    // How far the feed runs ahead of the lanes: enough for every builder to build twice ahead and
    // every lane to take its next, no further (a KernelBench problem is described when its first
    // candidate is fed, not all at the start).
    let lanes_n = gates.gpus().map_or(1, |g| g.len()) * usize::from(args.judging.jobs);
    let ahead = 2 * lanes_n + if build_ahead { 2 * builders } else { 0 };

    let mut slots: Vec<Option<CandidateReport>> = Vec::new();
    let mut queued: Vec<(usize, String)> = Vec::new();
    let (mut skipped, mut skipped_rejected) = (0, 0);
    let mut not_reviewed: Vec<(usize, NotReviewed)> = Vec::new();
    let mut setup: Option<anyhow::Error> = None;
    let mut environment: Vec<DeviceInfo> = Vec::new();
    let mut fed = (0, 0);
    let mut first_verdict_s: Option<f64> = None;
    let Feed { items, .. } = feed;
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel::<Arrival>();
        let producer_tx = tx.clone();
        let (batch, options, earlier) = (&batch, &options, &earlier);
        // The producer: the feed's items, set aside or queued as they come.
        scope.spawn(move || {
            // Closed however the feed ends (a panic in it included): lanes wait on an open batch.
            let _close = lanes::CloseOnDrop(batch);
            let (mut given, mut ordinal) = (0, 0);
            let mut items = items;
            while let Some(item) = {
                batch.wait_for_room(ahead);
                items.next()
            } {
                given += 1;
                if batch.stopped() {
                    break;
                }
                let sha = match &item {
                    Fed::Loaded(Loaded::Valid(c)) => c.sha256.clone(),
                    Fed::Loaded(Loaded::Invalid(r)) => r.sha256.clone(),
                    // Unread, so its text cannot say its shard: its name does.
                    Fed::Loaded(Loaded::Unreviewed(n)) => crate::shard::digest(n.origin.as_bytes()),
                    Fed::Judged(j) => j.sha256.clone(),
                };
                if args.shard.is_some_and(|s| !s.holds(&sha)) {
                    continue;
                }
                let key = match &item {
                    Fed::Loaded(Loaded::Valid(c)) => {
                        Some(review_key(&reviewed(&c.sha256, c.problem.sha256), options, args.judging.sanitize))
                    }
                    Fed::Loaded(Loaded::Invalid(r)) => Some(review_key(&r.sha256, options, args.judging.sanitize)),
                    // No verdict, so nothing to resume from: it is tried again every run.
                    Fed::Loaded(Loaded::Unreviewed(_)) => None,
                    Fed::Judged(j) => Some(j.key.clone()),
                };
                let arrival = match (key.as_ref().and_then(|k| earlier.get(k)), item) {
                    (Some(&accepted), Fed::Loaded(item)) => {
                        Arrival::Skipped { ordinal, origin: origin(&item).to_string(), accepted }
                    }
                    (Some(&accepted), Fed::Judged(j)) => Arrival::Skipped { ordinal, origin: j.origin, accepted },
                    // Found in --out's file by the feed, not by the journal: the two read the same
                    // file, so only a file changed in between (by another run) comes here.
                    (None, Fed::Judged(j)) => Arrival::Unreviewed {
                        ordinal,
                        record: NotReviewed {
                            origin: j.origin,
                            problem: j.problem,
                            error: "its verdict was in --out's file as the run began, and is not now (another run changed the file): run it again".into(),
                        },
                    },
                    (None, Fed::Loaded(Loaded::Unreviewed(record))) => Arrival::Unreviewed { ordinal, record },
                    (None, Fed::Loaded(Loaded::Invalid(mut report))) => {
                        report.key = key.unwrap_or_default();
                        Arrival::Invalid { ordinal, report }
                    }
                    (None, Fed::Loaded(Loaded::Valid(c))) => {
                        let index = batch.len();
                        let python = c.is_python();
                        // Said before the lanes can take it, so its outcome cannot come first.
                        let key = key.unwrap_or_default();
                        let _ = producer_tx.send(Arrival::Queued { ordinal, index, key });
                        batch.push(Arc::new(c), build_ahead && python);
                        ordinal += 1;
                        continue;
                    }
                };
                ordinal += 1;
                let _ = producer_tx.send(arrival);
            }
            batch.close();
            let _ = producer_tx.send(Arrival::Fed { given, held: ordinal });
        });
        let mut tx = Some(tx);
        let mut lanes = Vec::new();
        for arrival in rx {
            match arrival {
                Arrival::Skipped { ordinal, origin, accepted } => {
                    skipped += 1;
                    skipped_rejected += usize::from(!accepted);
                    progress.line(&format!("  skipped   {origin}: judged in an earlier run"));
                    place(&mut slots, ordinal, None);
                }
                Arrival::Invalid { ordinal, report } => {
                    progress.line(&format!("sadoku: {}", report.spec_error_line()));
                    if let Some(j) = journal.as_mut() {
                        j.append(&report)?;
                    }
                    place(&mut slots, ordinal, Some(*report));
                }
                Arrival::Unreviewed { ordinal, record } => {
                    progress.line(&format!("  NOT REVIEWED  {}: {}", record.origin, record.error));
                    place(&mut slots, ordinal, None);
                    not_reviewed.push((ordinal, record));
                }
                Arrival::Queued { ordinal, index, key } => {
                    place(&mut slots, ordinal, None);
                    queued.resize(queued.len().max(index + 1), (0, String::new()));
                    queued[index] = (ordinal, key);
                    // The first candidate to review starts the lanes and the builders.
                    let Some(sender) = tx.take() else { continue };
                    match gates.gpus() {
                        Ok(gpus) => {
                            if build_ahead {
                                batch.add_builders(builders);
                                let (py, gpu) = (plan.python.as_ref().expect("build_ahead"), gpus[0]);
                                progress.line(&format!(
                                    "  building Python candidates' extensions ahead of their reviews, {builders} at once"
                                ));
                                let urgent = gpus.len() * usize::from(args.judging.jobs);
                                for _ in 0..builders {
                                    let (progress, plan) = (&progress, &plan);
                                    scope.spawn(move || lanes::build(gpu, gates, plan, py, batch, progress, urgent));
                                }
                            }
                            for &gpu in &gpus {
                                for _ in 0..args.judging.jobs {
                                    let (sender, progress, plan) = (sender.clone(), &progress, &plan);
                                    let lane = batch.lane();
                                    lanes.push(scope.spawn(move || {
                                        let _lane = lane;
                                        lanes::run(gpu, gates, plan, batch, progress, |o| {
                                            sender.send(Arrival::Outcome(Box::new(o))).is_ok()
                                        })
                                    }));
                                }
                            }
                        }
                        Err(e) => {
                            setup = Some(e);
                            batch.stop();
                        }
                    }
                }
                Arrival::Outcome(outcome) => {
                    let (index, result) = *outcome;
                    if result.is_ok() {
                        first_verdict_s.get_or_insert(started.elapsed().as_secs_f64());
                    }
                    let (ordinal, key) = queued[index].clone();
                    let c = batch.candidate(index);
                    match result {
                        Ok(mut r) => {
                            r.key = key;
                            if let Some(j) = journal.as_mut() {
                                j.append(&r)?;
                            }
                            slots[ordinal] = Some(r);
                        }
                        Err(e) => {
                            progress.line(&format!("  NOT REVIEWED  {}: {e}", c.origin));
                            not_reviewed.push((ordinal, not_reviewed_record(&c, e.to_string())));
                        }
                    }
                }
                Arrival::Fed { given, held } => {
                    fed = (given, held);
                    // No candidate to review: nothing else will speak.
                    tx = None;
                }
            }
        }
        environment = gpus_described(lanes);
        Ok(())
    })?;
    progress.finish();
    if let Some(shard) = args.shard {
        progress.line(&format!("  shard {shard}: {} of the {} candidate(s) given", fed.1, fed.0));
    }
    let failed = not_reviewed.len();
    for (index, (ordinal, _)) in queued.iter().enumerate() {
        if slots[*ordinal].is_none() && !not_reviewed.iter().any(|(o, _)| o == ordinal) {
            let why = match &setup {
                Some(e) => format!("not started: {e}"),
                None => format!(
                    "not started: the batch stopped after {} candidate(s) in a row could not be reviewed",
                    lanes::FAILURES_IN_A_ROW
                ),
            };
            not_reviewed.push((*ordinal, not_reviewed_record(&batch.candidate(index), why)));
        }
    }
    not_reviewed.sort_by_key(|(o, _)| *o);
    let not_reviewed: Vec<NotReviewed> = not_reviewed.into_iter().map(|(_, r)| r).collect();
    let failure = match setup {
        Some(e) => Some(e),
        None => (!not_reviewed.is_empty()).then(|| {
            let first = &not_reviewed[0];
            let stop = if batch.stopped() { "; the batch stopped early" } else { "" };
            anyhow!(
                "{} candidate(s) not reviewed ({failed} failed in the environment{stop}); first, {}: {}{}",
                not_reviewed.len(),
                first.origin,
                first.error,
                if args.out.is_some() { "; run again with --resume to review what is left" } else { "" }
            )
        }),
    };
    environment.sort_by_key(|e| e.ordinal);
    let engaged: Vec<&str> = slots.iter().flatten().filter_map(|c| c.findings.sandbox.as_deref()).collect();
    describe_sandbox(&mut environment, &args.judging, &engaged);
    let report = Report {
        schema: sadoku_core::report::SCHEMA,
        sadoku: VERSION.into(),
        seed: seeds.master.to_string(),
        environment,
        candidates: slots.into_iter().flatten().collect(),
        not_reviewed,
        wall_s: started.elapsed().as_secs_f64(),
        first_verdict_s,
    };
    if let Some(path) = &args.export_markdown {
        std::fs::write(path, output::export::markdown(&report))
            .map_err(|e| anyhow!("--export-markdown {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.export_csv {
        output::export::csv(&report, path).map_err(|e| anyhow!("--export-csv {}: {e}", path.display()))?;
    }
    let (summary_lines, summary_value) = summary(&report);
    if let Some(path) = &args.html {
        let mut value = serde_json::to_value(&report)?;
        if !summary_value.is_null() {
            value["summary"] = summary_value.clone();
        }
        let run = records::from_report("this run", value)?;
        records::write(&output::html::render(&[run]), Some(path)).map_err(|e| anyhow!("--html: {e}"))?;
    }
    if args.json && !summary_value.is_null() {
        let mut v = serde_json::to_value(&report)?;
        v["summary"] = summary_value;
        output::json::print(&v)?;
    } else if args.json {
        output::json::print(&report)?;
    } else {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let layout = output::table::Layout {
            wide: args.wide,
            terminal: if tty { comfy_table::Table::new().width() } else { None },
            plain: !tty || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        };
        print!("{}", output::table::render(&report, &layout));
        for n in &report.not_reviewed {
            println!("NOT REVIEWED  {}: {}", n.origin, n.error);
        }
        print!("{summary_lines}");
        if skipped > 0 {
            println!(
                "skipped: {skipped} candidate(s) judged in an earlier run ({skipped_rejected} rejected); see --out's file"
            );
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(if report.exit_code() == 0 && skipped_rejected == 0 { 0 } else { 1 }),
    }
}

fn not_reviewed_record(c: &Candidate, error: String) -> NotReviewed {
    NotReviewed { origin: c.origin.clone(), problem: c.problem.name().to_string(), error }
}

/// What a review of a loaded candidate is of: its text and its problem's definition (their
/// SHA-256s), as [`review_key`] takes it. `kernelbench review --resume` forms it from the files
/// before loading them (`kernelbench::judged_before`), so every key of a candidate comes from here.
pub fn reviewed(candidate_sha256: &str, problem_sha256: &str) -> String {
    format!("{candidate_sha256} {problem_sha256}")
}

/// What identifies a review for `--resume`: the source (and its problem's definition), and every
/// option that changes the verdict or the numbers (the seed does not: a resumed run draws new
/// inputs for what is left). Hashed from a stable serialization (JSON, fields in declaration
/// order), never from a `Debug` string, whose form no one promises.
pub fn review_key(sha256: &str, options: &ReviewOptions, sanitize: bool) -> String {
    let identity = serde_json::json!({
        "source_sha256": sha256,
        "options": options,
        "sanitize": sanitize,
        "sadoku": VERSION,
    });
    hex::encode(Sha256::digest(identity.to_string().as_bytes()))
}

/// `--size` over the timed case of the candidates' problem: the named symbols replaced, the
/// constraints holding, every shape computable.
pub fn timed_sizes(given: &[(String, i64)], candidates: &[&Candidate]) -> Result<Option<Sizes>> {
    if given.is_empty() {
        return Ok(None);
    }
    let mut timed: Option<(Sizes, &str)> = None;
    for c in candidates {
        for (k, _) in given {
            if !c.problem.size_symbols().contains(&k.as_str()) {
                anyhow::bail!(
                    "--size {k}=…: problem `{}` of {} has no size `{k}` (sizes: {})",
                    c.problem.name(),
                    c.origin,
                    c.problem.size_symbols().join(", ")
                );
            }
        }
        let mut sizes = c.problem.timed_sizes();
        for (k, v) in given {
            sizes.0.insert(k.clone(), *v);
        }
        c.problem.validate_sizes(&sizes).map_err(|m| anyhow!("--size: {m}"))?;
        match &timed {
            Some((t, name)) if *t != sizes => anyhow::bail!(
                "--size applies to one problem at a time: {} is `{}`, another candidate is `{name}`; review them separately",
                c.origin,
                c.problem.name()
            ),
            _ => timed = Some((sizes, c.problem.name())),
        }
    }
    Ok(timed.map(|(s, _)| s))
}

pub fn origin(item: &Loaded) -> &str {
    match item {
        Loaded::Valid(c) => &c.origin,
        Loaded::Invalid(r) => &r.origin,
        Loaded::Unreviewed(n) => &n.origin,
    }
}

/// The review's options as the judging flags say (`timed_sizes`: `--size`'s).
pub fn review_options(judging: &JudgingArgs, timed_sizes: Option<Sizes>) -> ReviewOptions {
    ReviewOptions {
        timing: TimingOptions {
            budget: Duration::from_secs_f64(judging.time_budget),
            target_noise: judging.target_noise,
            ..TimingOptions::default()
        },
        timed_sizes,
        ..ReviewOptions::default()
    }
    .for_precision(match judging.precision {
        PrecisionArg::Fp32 => Precision::F32,
        PrecisionArg::Tf32 => Precision::Tf32,
    })
}

/// The workers' timeouts as the judging flags say.
pub fn timeouts(judging: &JudgingArgs) -> Timeouts {
    Timeouts {
        compile: Duration::from_secs_f64(judging.compile_timeout),
        launch: Duration::from_secs_f64(judging.launch_timeout),
        candidate: Duration::from_secs_f64(judging.candidate_timeout),
        ..Timeouts::default()
    }
}

/// What every lane of a run shares, as the judging flags say.
pub fn plan<'a>(
    backend: &'a dyn Backend,
    judging: &JudgingArgs,
    seeds: Seeds,
    options: ReviewOptions,
    python: Option<crate::backend::PythonPlan>,
) -> lanes::Plan<'a> {
    lanes::Plan {
        backend,
        seeds,
        options,
        timeouts: timeouts(judging),
        sanitize: judging.sanitize,
        no_cache: judging.no_cache,
        sandbox: judging.sandbox,
        compile_memory: judging.compile_memory,
        python,
        spare_worker: false,
    }
}

/// Say in each GPU's environment how the workers were confined: what they said engaged
/// (`engaged`; the machine's offer when no worker ran) and whether it was required.
pub fn describe_sandbox(environment: &mut [DeviceInfo], judging: &JudgingArgs, engaged: &[&str]) {
    let mut said: Vec<&str> = Vec::new();
    for s in engaged {
        if !said.contains(s) {
            said.push(s);
        }
    }
    let engaged = if said.is_empty() { sandbox::probe() } else { said.join("; ") };
    for e in environment {
        e.sandbox = Some(match judging.sandbox {
            sandbox::Mode::Off => "off (--sandbox off): workers run unconfined".into(),
            mode => format!(
                "{engaged} ({}){}",
                if mode == sandbox::Mode::Require { "required" } else { "what engaged" },
                if judging.sanitize { "; workers under compute-sanitizer run unconfined" } else { "" }
            ),
        });
    }
}

/// The GPUs to review on: `--gpus all`, `--gpus 0,2`, or `--gpu N`; each one checked to exist.
pub fn gpus(backend: &dyn Backend, args: &JudgingArgs) -> Result<Vec<usize>> {
    let count = backend.device_count().map_err(|e| anyhow!("{e}"))?;
    let wanted: Vec<usize> = match args.gpus.as_deref() {
        None => vec![args.gpu],
        Some("all") => (0..count).collect(),
        Some(list) => {
            let mut out = Vec::new();
            for part in list.split(',') {
                let g =
                    part.trim().parse::<usize>().map_err(|_| anyhow!("--gpus {list}: `{part}` is not a GPU number"))?;
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            out
        }
    };
    if wanted.is_empty() {
        anyhow::bail!("no CUDA GPU is visible");
    }
    if let Some(g) = wanted.iter().find(|&&g| g >= count) {
        anyhow::bail!("GPU {g} does not exist: this machine has {count} CUDA device(s)");
    }
    Ok(wanted)
}

/// Judge `batch`'s candidates (all known) over `jobs` lanes on each of `gates`' GPUs, handing
/// each verdict to `verdict` (with the candidate's index in `batch`) as it comes, or the
/// environment error that kept one from a verdict (see [`lanes::run`] for when the batch stops).
/// The GPUs as their lanes describe them (each once).
pub fn judge_on_lanes(
    plan: &lanes::Plan,
    gates: &lanes::Gates,
    jobs: u16,
    progress: &progress::Progress,
    batch: &lanes::Batch,
    mut verdict: impl FnMut(usize, Result<CandidateReport, DeviceError>) -> Result<()>,
) -> Result<Vec<DeviceInfo>> {
    let gpus = gates.gpus()?;
    let mut environment = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel();
        let mut lanes = Vec::new();
        for &gpu in &gpus {
            for _ in 0..jobs {
                let tx = tx.clone();
                lanes.push(scope.spawn(move || lanes::run(gpu, gates, plan, batch, progress, |o| tx.send(o).is_ok())));
            }
        }
        drop(tx);
        for (i, result) in rx {
            verdict(i, result)?;
        }
        environment = gpus_described(lanes);
        Ok(())
    })?;
    Ok(environment)
}

/// The GPUs as their lanes describe them, each once, from the lanes' threads as they end.
fn gpus_described(lanes: Vec<std::thread::ScopedJoinHandle<'_, Option<DeviceInfo>>>) -> Vec<DeviceInfo> {
    let mut environment: Vec<DeviceInfo> = Vec::new();
    for info in lanes.into_iter().filter_map(|lane| lane.join().ok().flatten()) {
        if !environment.iter().any(|e| e.ordinal == info.ordinal) {
            environment.push(info);
        }
    }
    environment
}

/// `slots[ordinal] = report`, growing `slots` as the feed goes.
fn place(slots: &mut Vec<Option<CandidateReport>>, ordinal: usize, report: Option<CandidateReport>) {
    if slots.len() <= ordinal {
        slots.resize(ordinal + 1, None);
    }
    slots[ordinal] = report;
}

/// `--build-jobs` unless given: the machine's cores.
pub fn build_jobs() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get())
}

/// The options of an untimed review (`problem check --prove`): verification only.
pub fn untimed() -> (ReviewOptions, Timeouts) {
    (ReviewOptions { skip_timing: true, ..ReviewOptions::default() }, Timeouts::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `--resume` key is the same for the same review and changes with anything that changes
    /// the verdict or the numbers: the source, an option, the sanitizer.
    #[test]
    fn the_resume_key_is_stable_and_says_what_changed() {
        let options = ReviewOptions::default();
        let key = review_key("abc", &options, false);
        assert_eq!(key, review_key("abc", &options.clone(), false));
        assert_eq!(key.len(), 64);
        assert_ne!(key, review_key("abd", &options, false));
        assert_ne!(key, review_key("abc", &options, true));
        let tf32 = options.clone().for_precision(Precision::Tf32);
        assert_ne!(key, review_key("abc", &tf32, false));
        let mut budget = options.clone();
        budget.timing.budget *= 2;
        assert_ne!(key, review_key("abc", &budget, false));
    }
}
