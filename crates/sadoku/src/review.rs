//! A review's orchestration, shared by `review`, `kernelbench review` and `problem check --prove`:
//! candidates already judged (`--resume`) or invalid set aside, the rest over lanes on the GPUs
//! (`--gpus`, `--jobs`), each verdict to the journal (`--out`) as it comes, then the report:
//! table or JSON, exports, HTML.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use sadoku_core::candidate::Candidate;
use sadoku_core::device::{DeviceError, DeviceInfo, Precision};
use sadoku_core::judge::GpuGate;
use sadoku_core::problem::Sizes;
use sadoku_core::protocol::Timeouts;
use sadoku_core::report::{CandidateReport, NotReviewed, Report};
use sadoku_core::review::ReviewOptions;
use sadoku_core::seeds::Seeds;
use sadoku_core::time::TimingOptions;
use sha2::{Digest, Sha256};

use crate::VERSION;
use crate::backend::Backend;
use crate::candidates::Loaded;
use crate::cli::{PrecisionArg, ReviewArgs};
use crate::journal::Journal;
use crate::{lanes, output, progress, records, sandbox};

/// Review `loaded` as `args` say: lanes over the GPUs, verdicts to `--out` as they come, then the
/// table (with `summary`'s lines after it) or JSON (with its value as `summary`, unless null).
/// Python workers as `python` says, if any; devices and processes from `backend`.
pub fn review_loaded(
    backend: &dyn Backend,
    args: &ReviewArgs,
    started: Instant,
    loaded: Vec<Loaded>,
    python: Option<crate::backend::PythonPlan>,
    summary: &dyn Fn(&Report) -> (String, serde_json::Value),
) -> Result<u8> {
    let given = loaded.len();
    let loaded: Vec<Loaded> = match args.shard {
        Some(shard) => loaded
            .into_iter()
            .filter(|item| match item {
                Loaded::Valid(c) => shard.holds(&c.sha256),
                Loaded::Invalid(r) => shard.holds(&r.sha256),
            })
            .collect(),
        None => loaded,
    };
    let valid: Vec<&Candidate> =
        loaded.iter().filter_map(|l| if let Loaded::Valid(c) = l { Some(c) } else { None }).collect();
    let timed_sizes = timed_sizes(&args.size, &valid)?;
    let seeds = args.seed.map_or_else(Seeds::fresh, |master| Seeds { master });
    let options = ReviewOptions {
        timing: TimingOptions {
            budget: Duration::from_secs_f64(args.time_budget),
            target_noise: args.target_noise,
            ..TimingOptions::default()
        },
        timed_sizes,
        ..ReviewOptions::default()
    }
    .for_precision(match args.precision {
        PrecisionArg::Fp32 => Precision::F32,
        PrecisionArg::Tf32 => Precision::Tf32,
    });
    let timeouts = Timeouts {
        compile: Duration::from_secs_f64(args.compile_timeout),
        launch: Duration::from_secs_f64(args.launch_timeout),
        candidate: Duration::from_secs_f64(args.candidate_timeout),
        ..Timeouts::default()
    };
    let mut journal = match &args.out {
        Some(path) => Some(Journal::open(path, args.resume)?),
        None => None,
    };
    let progress = progress::Progress::new();
    progress.line(&format!("sadoku {VERSION}: {} candidate(s), seed {}", loaded.len(), seeds.master));
    if let Some(shard) = args.shard {
        progress.line(&format!("  shard {shard}: {} of the {given} candidate(s) given", loaded.len()));
    }
    // Spec errors first, one line each, before any GPU work: they show even without a GPU.
    for item in &loaded {
        if let Loaded::Invalid(r) = item {
            progress.line(&format!("sadoku: {}", r.spec_error_line()));
        }
    }
    // Invalid files and those judged in an earlier run need no GPU; the rest go to the lanes.
    let mut slots: Vec<Option<CandidateReport>> = vec![None; loaded.len()];
    let keys: Vec<String> = loaded
        .iter()
        .map(|item| match item {
            Loaded::Valid(c) => review_key(&format!("{} {}", c.sha256, c.problem.sha256), &options, args.sanitize),
            Loaded::Invalid(r) => review_key(&r.sha256, &options, args.sanitize),
        })
        .collect();
    let (mut skipped, mut skipped_rejected) = (0, 0);
    let mut todo = Vec::new();
    for (index, item) in loaded.iter().enumerate() {
        if let Some(accepted) = journal.as_ref().and_then(|j| j.judged(&keys[index])) {
            skipped += 1;
            skipped_rejected += usize::from(!accepted);
            progress.line(&format!("  skipped   {}: judged in an earlier run", origin(item)));
            continue;
        }
        match item {
            Loaded::Invalid(r) => {
                let mut r = (**r).clone();
                r.key = keys[index].clone();
                if let Some(j) = journal.as_mut() {
                    j.append(&r)?;
                }
                slots[index] = Some(r);
            }
            Loaded::Valid(c) => todo.push((index, c)),
        }
    }
    let gpus = if todo.is_empty() { Vec::new() } else { gpus(backend, args)? };
    let candidates: Vec<&Candidate> = todo.iter().map(|(_, c)| *c).collect();
    // Python candidates' extensions, built before any review is timed.
    if let (Some(py), Some(&gpu), false) = (&python, gpus.first(), args.no_cache) {
        let python_ones: Vec<&Candidate> = candidates.iter().copied().filter(|c| c.is_python()).collect();
        py.prebuild(&python_ones, gpu, args.sandbox, &progress);
    }
    let plan = lanes::Plan {
        backend,
        candidates: &candidates,
        seeds,
        options,
        timeouts,
        sanitize: args.sanitize,
        no_cache: args.no_cache,
        sandbox: args.sandbox,
        compile_memory: args.compile_memory,
        python,
    };
    let mut not_reviewed: Vec<(usize, NotReviewed)> = Vec::new();
    // Verdicts as they come: on disk at once, in the report in input order. An environment error
    // costs its candidate's verdict only (no record: `--resume` reviews it again).
    let (mut environment, stopped) = judge_on_lanes(&plan, &gpus, args.jobs, &progress, |i, result| {
        let (index, c) = todo[i];
        match result {
            Ok(mut r) => {
                r.key = keys[index].clone();
                if let Some(j) = journal.as_mut() {
                    j.append(&r)?;
                }
                slots[index] = Some(r);
            }
            Err(e) => {
                progress.line(&format!("  NOT REVIEWED  {}: {e}", c.origin));
                not_reviewed.push((i, not_reviewed_record(c, e.to_string())));
            }
        }
        Ok(())
    })?;
    progress.finish();
    let failed = not_reviewed.len();
    for (i, (_, c)) in todo.iter().enumerate() {
        if slots[todo[i].0].is_none() && !not_reviewed.iter().any(|(j, _)| *j == i) {
            let why = format!(
                "not started: the batch stopped after {} candidate(s) in a row could not be reviewed",
                lanes::FAILURES_IN_A_ROW
            );
            not_reviewed.push((i, not_reviewed_record(c, why)));
        }
    }
    not_reviewed.sort_by_key(|(i, _)| *i);
    let not_reviewed: Vec<NotReviewed> = not_reviewed.into_iter().map(|(_, r)| r).collect();
    let failure = (!not_reviewed.is_empty()).then(|| {
        let first = &not_reviewed[0];
        let stop = if stopped { "; the batch stopped early" } else { "" };
        anyhow!(
            "{} candidate(s) not reviewed ({failed} failed in the environment{stop}); first, {}: {}{}",
            not_reviewed.len(),
            first.origin,
            first.error,
            if args.out.is_some() { "; run again with --resume to review what is left" } else { "" }
        )
    });
    environment.sort_by_key(|e| e.ordinal);
    // What the workers said engaged (the machine's offer when no worker ran).
    let mut engaged: Vec<String> = Vec::new();
    for c in slots.iter().flatten() {
        if let Some(s) = &c.findings.sandbox {
            if !engaged.contains(s) {
                engaged.push(s.clone());
            }
        }
    }
    let engaged = if engaged.is_empty() { sandbox::probe() } else { engaged.join("; ") };
    for e in &mut environment {
        e.sandbox = Some(match args.sandbox {
            sandbox::Mode::Off => "off (--sandbox off): workers run unconfined".into(),
            mode => format!(
                "{engaged} ({}){}",
                if mode == sandbox::Mode::Require { "required" } else { "what engaged" },
                if args.sanitize { "; workers under compute-sanitizer run unconfined" } else { "" }
            ),
        });
    }
    let report = Report {
        schema: sadoku_core::report::SCHEMA,
        sadoku: VERSION.into(),
        seed: seeds.master.to_string(),
        environment,
        candidates: slots.into_iter().flatten().collect(),
        not_reviewed,
        wall_s: started.elapsed().as_secs_f64(),
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
    }
}

/// The GPUs to review on: `--gpus all`, `--gpus 0,2`, or `--gpu N`; each one checked to exist.
pub fn gpus(backend: &dyn Backend, args: &ReviewArgs) -> Result<Vec<usize>> {
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

/// Judge `plan`'s candidates over `jobs` lanes on each of `gpus` (lanes on one GPU share a gate),
/// handing each verdict to `verdict` (with the candidate's index in `plan`) as it comes, or the
/// environment error that kept one from a verdict (see [`lanes::run`] for when the batch stops).
/// The GPUs as their lanes describe them (each once), and whether the batch stopped early.
pub fn judge_on_lanes(
    plan: &lanes::Plan,
    gpus: &[usize],
    jobs: u16,
    progress: &progress::Progress,
    mut verdict: impl FnMut(usize, Result<CandidateReport, DeviceError>) -> Result<()>,
) -> Result<(Vec<DeviceInfo>, bool)> {
    let batch = lanes::Batch::new(plan.candidates.len());
    let mut environment = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel();
        let mut lanes = Vec::new();
        for &gpu in gpus {
            let gate = Arc::new(GpuGate::default());
            for _ in 0..jobs {
                let (gate, tx, batch) = (gate.clone(), tx.clone(), &batch);
                lanes.push(scope.spawn(move || lanes::run(gpu, gate, plan, batch, progress, tx)));
            }
        }
        drop(tx);
        for (i, result) in rx {
            verdict(i, result)?;
        }
        for lane in lanes {
            if let Ok(Some(info)) = lane.join() {
                if !environment.iter().any(|e: &DeviceInfo| e.ordinal == info.ordinal) {
                    environment.push(info);
                }
            }
        }
        Ok(())
    })?;
    Ok((environment, batch.stopped()))
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
