//! sadoku: a paranoid referee for GPU kernels.

mod candidates;
mod cli;
mod journal;
mod output;
mod progress;
mod workers;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use clap::Parser;
use sadoku_core::candidate::Candidate;
use sadoku_core::checks::sanitizer::{SanitizerReport, TOOLS, parse as parse_sanitizer};
use sadoku_core::checks::signature;
use sadoku_core::compile::{CompileError, CompileRequest, Compiler};
use sadoku_core::device::Device;
use sadoku_core::problem::{self, Sizes};
use sadoku_core::report::{Report, Sanitized};
use sadoku_core::review::{self, Event, Observer, ReviewOptions};
use sadoku_core::seeds::Seeds;
use sadoku_core::time::TimingOptions;
use sadoku_core::verify::{Devices, VerifyOptions};
use sadoku_core::worker::{Timeouts, serve};
use sadoku_cuda::{CudaDevice, Nvrtc, Role};
use serde::Serialize;
use sha2::{Digest, Sha256};

use candidates::Loaded;
use cli::{CheckArgs, Cli, Command, ReviewArgs, WorkerArgs};
use journal::Journal;

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SADOKU_COMMIT"), ")");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Review(args) => review(args),
        Command::Check(args) => check(args),
        Command::Problems => problems(),
        Command::Worker(args) => worker(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sadoku: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn nvrtc(no_cache: bool) -> Result<Nvrtc> {
    Ok(Nvrtc::new(if no_cache { None } else { Nvrtc::default_cache_dir() })?)
}

fn review(args: ReviewArgs) -> Result<u8> {
    let started = Instant::now();
    let paths = candidates::expand(&args.candidates)?;
    let loaded = candidates::load_all(&paths);
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
    };
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
    // Spec errors first, one line each, before any GPU work: they show even without a GPU.
    for item in &loaded {
        if let Loaded::Invalid(r) = item {
            progress.line(&format!("sadoku: {}", r.spec_error_line()));
        }
    }
    // The judge's own device, opened only when there is something to run on it.
    let mut reference: Option<CudaDevice> = None;
    let mut reports = Vec::new();
    let (mut skipped, mut skipped_rejected) = (0, 0);
    let mut failure = None;
    for (index, item) in loaded.iter().enumerate() {
        let (origin, key) = match item {
            Loaded::Valid(c) => (c.origin.clone(), review_key(&c.sha256, &options, args.sanitize)),
            Loaded::Invalid(r) => (r.origin.clone(), review_key(&r.sha256, &options, args.sanitize)),
        };
        if let Some(accepted) = journal.as_ref().and_then(|j| j.judged(&key)) {
            skipped += 1;
            skipped_rejected += usize::from(!accepted);
            progress.line(&format!("  skipped   {origin}: judged in an earlier run"));
            continue;
        }
        let result = match item {
            Loaded::Invalid(r) => Ok((**r).clone()),
            Loaded::Valid(candidate) => {
                if reference.is_none() {
                    let device = CudaDevice::open(args.gpu, nvrtc(args.no_cache)?, Role::Reference)
                        .map_err(|e| anyhow!("{e}"))?;
                    reference = Some(device);
                }
                let reference = reference.as_mut().expect("opened just above");
                progress.event(Event::Candidate { index, total: loaded.len(), name: &candidate.name() });
                let sanitized = match args.sanitize {
                    true => Some(sanitize(candidate, args.gpu, reference, &seeds, timeouts, &progress)),
                    false => None,
                };
                // Condemned by the sanitizer: verify for the record, but time nothing.
                let condemned =
                    matches!(&sanitized, Some(Sanitized::Ran { reports, .. }) if reports.iter().any(|r| r.errors > 0));
                let options = ReviewOptions { skip_timing: condemned, ..options.clone() };
                workers::spawn(args.gpu, args.no_cache, timeouts, None).and_then(|mut worker| {
                    let mut devices = Devices { candidate: &mut worker, reference };
                    let mut report = review::review_candidate(&mut devices, candidate, &seeds, &options, &progress)?;
                    if let Some(s) = sanitized {
                        report.apply_sanitizer(s);
                    }
                    Ok(report)
                })
            }
        };
        match result {
            Ok(mut r) => {
                r.key = key;
                if let Some(j) = journal.as_mut() {
                    j.append(&r)?;
                }
                reports.push(r);
            }
            Err(e) => {
                // The environment failed: keep what was judged, report it, then fail.
                let left = loaded.len() - index;
                failure = Some(anyhow!("while reviewing {origin}: {e}; {left} candidate(s) not reviewed"));
                break;
            }
        }
    }
    if let Some(r) = reference.as_mut() {
        let _ = r.measure_sm_clock();
    }
    progress.finish();
    let report = Report {
        sadoku: VERSION.into(),
        seed: seeds.master.to_string(),
        environment: reference.as_ref().map(|r| r.info().clone()),
        candidates: reports,
        wall_s: started.elapsed().as_secs_f64(),
    };
    if args.json {
        output::json::print(&report)?;
    } else {
        print!("{}", output::table::render(&report));
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

/// What identifies a review for `--resume`: the source, and every option that changes the verdict
/// or the numbers (the seed does not: a resumed run draws new inputs for what is left).
fn review_key(sha256: &str, options: &ReviewOptions, sanitize: bool) -> String {
    let text = format!("{sha256}\n{options:?}\nsanitize={sanitize}\n{VERSION}");
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn timed_sizes(given: &[(String, i64)], candidates: &[&Candidate]) -> Result<Option<Sizes>> {
    if given.is_empty() {
        return Ok(None);
    }
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
    }
    Ok(Some(Sizes::new(given.iter().map(|(k, v)| (k.as_str(), *v)))))
}

#[derive(Serialize)]
struct CheckResult {
    file: String,
    ok: bool,
    arch: String,
    kernels: Vec<String>,
    compile_ms: Option<f64>,
    cache_hit: bool,
    error: Option<String>,
    log: String,
}

fn check(args: CheckArgs) -> Result<u8> {
    if !args.arch.starts_with("sm_") {
        anyhow::bail!("--arch {}: expected a real architecture such as sm_90 or sm_90a", args.arch);
    }
    let nvrtc = nvrtc(args.no_cache)?;
    let mut results = Vec::new();
    for path in candidates::expand(&args.candidates)? {
        let file = path.display().to_string();
        let mut r = CheckResult {
            file: file.clone(),
            ok: false,
            arch: args.arch.clone(),
            kernels: vec![],
            compile_ms: None,
            cache_hit: false,
            error: None,
            log: String::new(),
        };
        match Candidate::load(&path) {
            Err(e) => r.error = Some(e.to_string()),
            Ok(c) => {
                r.kernels = c.spec.launches.iter().map(|l| l.kernel.clone()).collect();
                let arch = if c.spec.arch_specific && !args.arch.ends_with('a') {
                    format!("{}a", args.arch)
                } else {
                    args.arch.clone()
                };
                r.arch = arch.clone();
                let request =
                    CompileRequest { name: c.name(), source: c.source.clone(), arch, options: c.spec.options.clone() };
                match nvrtc.compile(&request) {
                    Err(CompileError::Unavailable(m)) => return Err(anyhow!(m)),
                    Err(CompileError::Rejected { log }) => {
                        r.error = Some(format!("{file}: does not compile"));
                        r.log = log;
                    }
                    Ok(m) => {
                        r.compile_ms = Some(m.compile_ms);
                        r.cache_hit = m.cache_hit;
                        r.log = m.log.clone();
                        r.error = c
                            .spec
                            .launches
                            .iter()
                            .find_map(|l| signature::check(l, &m).err())
                            .map(|e| format!("{file}: {e}"));
                        r.ok = r.error.is_none();
                    }
                }
            }
        }
        results.push(r);
    }
    if args.json {
        output::json::print(&results)?;
    } else {
        for r in &results {
            if r.ok {
                let how = if r.cache_hit { "cached".into() } else { format!("{:.0} ms", r.compile_ms.unwrap_or(0.0)) };
                println!("ok     {} ({}; {}, {how})", r.file, r.kernels.join(", "), r.arch);
            } else {
                println!("FAILED {}", r.error.as_deref().unwrap_or(&r.file));
            }
            for line in r.log.lines().filter(|l| !l.trim().is_empty()) {
                println!("       {line}");
            }
        }
    }
    Ok(if results.iter().all(|r| r.ok) { 0 } else { 1 })
}

/// Run the candidate under each compute-sanitizer tool at a small size, in workers of their own
/// (no guard zones, so that memcheck sees accesses leave their allocation; no timing).
fn sanitize(
    candidate: &Candidate,
    gpu: usize,
    reference: &mut CudaDevice,
    seeds: &Seeds,
    timeouts: Timeouts,
    progress: &progress::Progress,
) -> Sanitized {
    let Some(program) = workers::find_sanitizer() else {
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
    let timeouts = Timeouts { launch: timeouts.launch * 20, ..timeouts };
    let mut reports = Vec::new();
    for tool in TOOLS {
        progress.event(Event::Stage { name: &format!("compute-sanitizer {tool}") });
        let log =
            std::env::temp_dir().join(format!("sadoku-{}-{}-{tool}.log", std::process::id(), &candidate.sha256[..12]));
        let sanitizer = workers::Sanitizer { program: &program, tool, log: &log };
        let ran = workers::spawn(gpu, true, timeouts, Some(sanitizer)).map(|mut worker| {
            let mut devices = Devices { candidate: &mut worker, reference: &mut *reference };
            // The verdict of this run does not count: the tool's report does.
            let _ = review::review_candidate(&mut devices, candidate, seeds, &options, &review::Silent);
            worker.close()
        });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        reports.push(match (ran, parse_sanitizer(tool, &text)) {
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

/// The worker side of a review: one candidate's GPU work, served to the parent over stdin/stdout.
fn worker(args: WorkerArgs) -> Result<u8> {
    let protocol = workers::take_stdout()?;
    let mut device = CudaDevice::open(args.gpu, nvrtc(args.no_cache)?, Role::Candidate).map_err(|e| anyhow!("{e}"))?;
    let mut out = std::io::BufWriter::new(protocol);
    serve(&mut device, &mut std::io::stdin().lock(), &mut out)?;
    Ok(0)
}

fn problems() -> Result<u8> {
    for p in problem::all() {
        let t = p.timed_sizes();
        println!("{:<8} {} (timed at {t}; minimum {:.1} GFLOP)", p.name(), p.summary(), p.min_flops(&t) / 1e9);
    }
    Ok(0)
}
