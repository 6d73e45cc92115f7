//! sadoku: a paranoid referee for GPU kernels.

mod candidates;
mod cli;
mod compare;
mod journal;
mod kernelbench;
mod lanes;
mod output;
mod progress;
mod pyworker;
mod report;
mod sandbox;
mod sandbox_check;
mod workers;

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use clap::Parser;
use sadoku_core::candidate::Candidate;
use sadoku_core::checks::signature;
use sadoku_core::compile::{CompileError, CompileRequest, Compiler};
use sadoku_core::device::{DeviceInfo, Precision};
use sadoku_core::judge::GpuGate;
use sadoku_core::problem::{self, Registry, Sizes};
use sadoku_core::report::{CandidateReport, Report};
use sadoku_core::review::ReviewOptions;
use sadoku_core::seeds::Seeds;
use sadoku_core::time::TimingOptions;
use sadoku_core::worker::{Timeouts, serve};
use sadoku_cuda::{CudaDevice, Nvrtc, Role};
use serde::Serialize;
use sha2::{Digest, Sha256};

use candidates::Loaded;
use cli::{
    CheckArgs, Cli, Command, PrecisionArg, ProblemCheckArgs, ProblemCommand, ProblemsArgs, ReviewArgs, WorkerArgs,
};
use journal::Journal;

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SADOKU_COMMIT"), ")");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = registry(&cli.problems).and_then(|mut registry| match cli.command {
        Command::Review(args) => review(&mut registry, args),
        Command::Check(args) => check(&mut registry, args, &cli.problems),
        Command::Problems(args) => problems(&registry, args),
        Command::Compare(args) => compare::run(&args.old, &args.new),
        Command::Report(args) => report::run(&args.files, args.output.as_deref()),
        Command::Problem(ProblemCommand::Check(args)) => problem_check(&mut registry, args),
        Command::Sandbox(args) => sandbox_check::run(args),
        Command::Kernelbench(cli::KernelbenchCommand::Describe(args)) => kernelbench::describe_command(args),
        Command::Kernelbench(cli::KernelbenchCommand::Match(args)) => kernelbench::match_command(args),
        Command::Kernelbench(cli::KernelbenchCommand::Review(args)) => {
            kernelbench::review_command(&mut registry, *args)
        }
        Command::Pyworker(args) => pyworker::run(args),
        Command::Worker(args) => worker(args),
    });
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

fn review(registry: &mut Registry, args: ReviewArgs) -> Result<u8> {
    let started = Instant::now();
    let paths = candidates::expand(&args.candidates)?;
    let loaded = candidates::load_all(registry, &paths);
    // A library problem whose baseline is eager PyTorch: its process runs the bridge, with the
    // interpreter $SADOKU_PYTHON names (else python3).
    let torch = loaded.iter().any(|l| matches!(l, Loaded::Valid(c) if c.problem.torch_baseline().is_some()));
    let bridge = if torch { Some(kernelbench::Bridge::write()?) } else { None };
    let python = bridge.as_ref().map(|b| lanes::PythonPlan {
        python: kernelbench::python(None),
        bridge: b.path().to_path_buf(),
        device: "cuda".into(),
    });
    review_loaded(&args, started, loaded, python, &|_| (String::new(), serde_json::Value::Null))
}

/// Review `loaded` as `args` say: lanes over the GPUs, verdicts to `--out` as they come, then the
/// table (with `summary`'s lines after it) or JSON (with its value as `summary`, unless null).
/// Python workers as `python` says, if any.
pub(crate) fn review_loaded(
    args: &ReviewArgs,
    started: Instant,
    loaded: Vec<Loaded>,
    python: Option<lanes::PythonPlan>,
    summary: &dyn Fn(&Report) -> (String, serde_json::Value),
) -> Result<u8> {
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
    let gpus = if todo.is_empty() { Vec::new() } else { gpus(args)? };
    let candidates: Vec<&Candidate> = todo.iter().map(|(_, c)| *c).collect();
    // Python candidates' extensions, built before any review is timed.
    if let (Some(py), Some(&gpu), false) = (&python, gpus.first(), args.no_cache) {
        let python_ones: Vec<&Candidate> = candidates.iter().copied().filter(|c| c.is_python()).collect();
        py.prebuild(&python_ones, gpu, args.sandbox, &progress);
    }
    let plan = lanes::Plan {
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
    let queue = Mutex::new((0..candidates.len()).collect::<VecDeque<usize>>());
    let stop = AtomicBool::new(false);
    let mut failure = None;
    let mut environment = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel();
        let mut lanes = Vec::new();
        for &gpu in &gpus {
            let gate = Arc::new(GpuGate::default());
            for _ in 0..args.jobs {
                let (gate, tx, plan, queue, stop, progress) =
                    (gate.clone(), tx.clone(), &plan, &queue, &stop, &progress);
                lanes.push(scope.spawn(move || lanes::run(gpu, gate, plan, queue, stop, progress, tx)));
            }
        }
        drop(tx);
        // Verdicts as they come: on disk at once, in the report in input order.
        for (i, result) in rx {
            let index = todo[i].0;
            match result {
                Ok(mut r) => {
                    r.key = keys[index].clone();
                    if let Some(j) = journal.as_mut() {
                        j.append(&r)?;
                    }
                    slots[index] = Some(r);
                }
                Err(e) => {
                    // The environment failed: keep what was judged, report it, then fail.
                    failure.get_or_insert(anyhow!("while reviewing {}: {e}", todo[i].1.origin));
                }
            }
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
    progress.finish();
    let not_reviewed = slots.iter().filter(|s| s.is_none()).count() - skipped;
    let failure = failure.map(|e| anyhow!("{e}; {not_reviewed} candidate(s) not reviewed"));
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
        sadoku: VERSION.into(),
        seed: seeds.master.to_string(),
        environment,
        candidates: slots.into_iter().flatten().collect(),
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
        let run = report::from_report("this run", value)?;
        report::write(&output::html::render(&[run]), Some(path)).map_err(|e| anyhow!("--html: {e}"))?;
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

/// What identifies a review for `--resume`: the source (and its problem's definition), and every
/// option that changes the verdict or the numbers (the seed does not: a resumed run draws new
/// inputs for what is left).
fn review_key(sha256: &str, options: &ReviewOptions, sanitize: bool) -> String {
    let text = format!("{sha256}\n{options:?}\nsanitize={sanitize}\n{VERSION}");
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `--size` over the timed case of the candidates' problem: the named symbols replaced, the
/// constraints holding, every shape computable.
fn timed_sizes(given: &[(String, i64)], candidates: &[&Candidate]) -> Result<Option<Sizes>> {
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

#[derive(Serialize, serde::Deserialize)]
struct CheckResult {
    file: String,
    ok: bool,
    arch: String,
    kernels: Vec<String>,
    compile_ms: Option<f64>,
    cache_hit: bool,
    error: Option<String>,
    log: String,
    /// The compiled module, from a compile process to the `check` that started it (which keeps
    /// it in the module cache); never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    module: Option<sadoku_core::compile::CompiledModule>,
}

/// `gib` GiB in bytes.
fn gib(gib: f64) -> u64 {
    (gib * (1u64 << 30) as f64) as u64
}

/// `sadoku check` of `files` in this process (a compile process of the `check` below): every file
/// read here, each compiled on a thread of its own that Landlock and seccomp confine to the
/// toolkit's headers, so that an include of anything else fails inside NVRTC. No module cache:
/// the process that started this one keeps it.
fn check_here(registry: &mut Registry, args: &CheckArgs, files: &[std::path::PathBuf]) -> Result<Vec<CheckResult>> {
    let nvrtc = nvrtc(true)?;
    let includes = sadoku_cuda::libs::CudaRoot::find().map(|r| r.include_dirs()).unwrap_or_default();
    let mut results = Vec::new();
    for path in files {
        let file = path.display().to_string();
        let loaded = Candidate::load(registry, path).map_err(|e| e.to_string());
        let (r, engaged) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let engaged = sandbox::confine_thread(&includes);
                    let compiled = loaded.as_ref().ok().map(|c| nvrtc.compile(&check_request(c, &args.arch)));
                    (check_result(&file, &args.arch, &loaded, compiled), engaged)
                })
                .join()
                .map_err(|_| anyhow!("the compile thread panicked"))
        })?;
        if let Err(why) = engaged {
            eprintln!("sadoku: note: {file} compiled without the sandbox ({why})");
        }
        let mut r = r?;
        // Only for the parent to keep, in its cache: a module is never printed.
        r.module = if args.no_cache { None } else { r.module.take().filter(|_| r.ok) };
        results.push(r);
    }
    Ok(results)
}

/// `sadoku check` of one file: from the module cache when a judge compiled the same request
/// before, else in a compile process of its own (this binary, `--in-process`), killed when it
/// outlives `--compile-timeout`, whose module this process then keeps.
fn check_in_child(
    registry: &mut Registry,
    args: &CheckArgs,
    problems: &[std::path::PathBuf],
    cache: Option<&sadoku_core::compile::ModuleCache>,
    path: &std::path::Path,
) -> Result<CheckResult> {
    let file = path.display().to_string();
    let loaded = Candidate::load(registry, path).map_err(|e| e.to_string());
    let request = loaded.as_ref().ok().map(|c| check_request(c, &args.arch));
    if let Some(m) = cache.zip(request.as_ref()).and_then(|(cache, r)| cache.get(r)) {
        return check_result(&file, &args.arch, &loaded, Some(Ok(m)));
    }
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find sadoku itself: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    for dir in problems {
        cmd.arg("--problems").arg(dir);
    }
    cmd.args(["check", "--in-process", "--json", "--arch", &args.arch]);
    cmd.arg("--compile-memory").arg(args.compile_memory.to_string());
    if cache.is_none() {
        cmd.arg("--no-cache");
    }
    let mut child = cmd
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("cannot start a compile process: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs_f64(args.compile_timeout);
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        let _ = std::io::Read::read_to_end(&mut stderr, &mut err);
        (out, err)
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (out, err) = reader.join().map_err(|_| anyhow!("the compile process's reader panicked"))?;
    let failed = |error: String| CheckResult {
        file: file.clone(),
        ok: false,
        arch: args.arch.clone(),
        kernels: vec![],
        compile_ms: None,
        cache_hit: false,
        error: Some(error),
        log: String::new(),
        module: None,
    };
    let Some(status) = status else {
        return Ok(failed(format!(
            "{file}: does not compile: NVRTC did not finish within {} s (--compile-timeout)",
            args.compile_timeout
        )));
    };
    let err = String::from_utf8_lossy(&err);
    for line in err.lines().filter(|l| l.contains("note:")) {
        eprintln!("{line}");
    }
    match serde_json::from_slice::<Vec<CheckResult>>(&out) {
        Ok(mut rs) if rs.len() == 1 => {
            let mut r = rs.remove(0);
            // Say which limit held.
            if !r.ok && r.log.contains("catastrophic error: out of memory") {
                r.error = Some(format!(
                    "{file}: does not compile: NVRTC ran out of memory within {} GiB (--compile-memory)",
                    args.compile_memory
                ));
            }
            if let (Some(cache), Some(request), Some(m)) = (cache, &request, r.module.take()) {
                cache.put(request, &m);
            }
            Ok(r)
        }
        // An environment error (no NVRTC) is the child's one-line error: the run's too.
        _ if status.code() == Some(2) => Err(anyhow!("{}", err.trim().trim_start_matches("sadoku: error: "))),
        _ => Ok(failed(format!("{file}: does not compile: the compiler process ended ({status}): {}", err.trim()))),
    }
}

/// What `sadoku check` compiles for a candidate.
fn check_request(c: &Candidate, arch: &str) -> CompileRequest {
    let arch = if c.spec.arch_specific && !arch.ends_with('a') { format!("{arch}a") } else { arch.to_string() };
    CompileRequest { name: c.name(), source: c.source.clone(), arch, options: c.spec.options.clone() }
}

/// One candidate of `sadoku check`: front matter read, compiled (`None` when the front matter
/// was not valid), arguments checked.
fn check_result(
    file: &str,
    arch: &str,
    loaded: &Result<Candidate, String>,
    compiled: Option<Result<sadoku_core::compile::CompiledModule, CompileError>>,
) -> Result<CheckResult> {
    let mut r = CheckResult {
        file: file.to_string(),
        ok: false,
        arch: arch.to_string(),
        kernels: vec![],
        compile_ms: None,
        cache_hit: false,
        error: None,
        log: String::new(),
        module: None,
    };
    let (c, compiled) = match (loaded, compiled) {
        (Err(e), _) => {
            r.error = Some(e.clone());
            return Ok(r);
        }
        (Ok(c), Some(compiled)) => (c, compiled),
        (Ok(_), None) => unreachable!("a valid candidate is compiled"),
    };
    r.kernels = c.spec.launches.iter().map(|l| l.kernel.clone()).collect();
    r.arch = check_request(c, arch).arch;
    match compiled {
        Err(CompileError::Unavailable(m)) => return Err(anyhow!(m)),
        Err(CompileError::Rejected { log }) => {
            r.error = Some(format!("{file}: does not compile"));
            r.log = log;
        }
        Ok(m) => {
            r.compile_ms = Some(m.compile_ms);
            r.cache_hit = m.cache_hit;
            r.log = m.log.clone();
            r.error =
                c.spec.launches.iter().find_map(|l| signature::check(l, &m).err()).map(|e| format!("{file}: {e}"));
            r.ok = r.error.is_none();
            r.module = Some(m);
        }
    }
    Ok(r)
}

fn check(registry: &mut Registry, args: CheckArgs, problems: &[std::path::PathBuf]) -> Result<u8> {
    if !args.arch.starts_with("sm_") {
        anyhow::bail!("--arch {}: expected a real architecture such as sm_90 or sm_90a", args.arch);
    }
    let files = candidates::expand(&args.candidates)?;
    let mut results = if args.in_process {
        // A compile process holds NVRTC and nothing of CUDA's: its whole address space can be
        // bounded (a worker's cannot, see `Nvrtc::bound_memory`; and this process's compile
        // thread may not read /proc, which that per-compile bound needs).
        let bytes = gib(args.compile_memory);
        let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
        // SAFETY: a plain system call on this process.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
            eprintln!("sadoku: note: no memory limit for compiles: {}", std::io::Error::last_os_error());
        }
        check_here(registry, &args, &files)?
    } else {
        // Each candidate in a process of its own, killed at its deadline: a compile-time bomb
        // (NVRTC compiles one program at a time) costs its own verdict and no other. This
        // process keeps the module cache; compile processes never touch it.
        let nvrtc = nvrtc(args.no_cache)?;
        let mut results = Vec::new();
        for path in &files {
            results.push(check_in_child(registry, &args, problems, nvrtc.module_cache(), path)?);
        }
        results
    };
    if !args.in_process {
        for r in &mut results {
            r.module = None;
        }
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

fn origin(item: &Loaded) -> &str {
    match item {
        Loaded::Valid(c) => &c.origin,
        Loaded::Invalid(r) => &r.origin,
    }
}

/// The GPUs to review on: `--gpus all`, `--gpus 0,2`, or `--gpu N`; each one checked to exist.
fn gpus(args: &ReviewArgs) -> Result<Vec<usize>> {
    let count = sadoku_cuda::device_count().map_err(|e| anyhow!("{e}"))?;
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

/// The worker side of a review: one candidate's GPU work, served to the parent over stdin/stdout.
fn worker(args: WorkerArgs) -> Result<u8> {
    let protocol = workers::take_stdout()?;
    sandbox::die_with_parent();
    // No module cache: a worker could plant a module in one for the next review to load. The
    // judge keeps the modules its workers compile.
    let mut nvrtc = nvrtc(true)?;
    nvrtc.bound_memory(Some(gib(args.compile_memory)));
    let mut device = CudaDevice::open(args.gpu, nvrtc, Role::Candidate).map_err(|e| anyhow!("{e}"))?;
    // Confined once the CUDA context and NVRTC are loaded, before anything of the candidate's.
    let confinement = if args.sandbox == sandbox::Mode::Off {
        "off: --sandbox off, unconfined".to_string()
    } else {
        let includes = sadoku_cuda::libs::CudaRoot::find().map(|r| r.include_dirs()).unwrap_or_default();
        let engaged = sandbox::confine(&sandbox::Policy::worker(includes, args.temp.clone()), args.cpu_s);
        if args.sandbox == sandbox::Mode::Require && !engaged.complete() {
            return Err(anyhow!("--sandbox require: the sandbox could not engage: {}", engaged.describe()));
        }
        if engaged.complete() { engaged.describe() } else { format!("partial: {}", engaged.describe()) }
    };
    // The judge reads what engaged from the worker's Info, and says it in the verdict.
    device.set_sandbox(confinement);
    let mut out = std::io::BufWriter::new(protocol);
    serve(&mut device, &mut std::io::stdin().lock(), &mut out)?;
    Ok(0)
}

/// The library, and `--problems DIR` and $SADOKU_PROBLEMS: user problems join the library.
fn registry(dirs: &[std::path::PathBuf]) -> Result<Registry> {
    let mut registry = Registry::library();
    let from_env = std::env::var_os("SADOKU_PROBLEMS").map(|v| std::env::split_paths(&v).collect::<Vec<_>>());
    for dir in from_env.iter().flatten().chain(dirs) {
        registry.add_dir(dir).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(registry)
}

#[derive(Serialize)]
struct ProblemRow {
    name: &'static str,
    family: &'static str,
    dtypes: String,
    timed: String,
    /// The flop and byte floors at the timed size.
    floors: String,
    baseline: String,
    kernelbench: Option<&'static str>,
    summary: &'static str,
    origin: &'static str,
}

fn problems(registry: &Registry, args: ProblemsArgs) -> Result<u8> {
    let rows: Vec<ProblemRow> = registry
        .all()
        .iter()
        .map(|p| {
            let mut dtypes: Vec<&str> = Vec::new();
            for t in &p.tensors {
                if !dtypes.contains(&t.dtype.name()) {
                    dtypes.push(t.dtype.name());
                }
            }
            ProblemRow {
                name: p.name,
                family: p.family,
                dtypes: dtypes.join(", "),
                timed: p.timed_sizes().to_string(),
                floors: format!(
                    "{:.1} GFLOP, {:.2} GB",
                    p.min_flops(&p.timed_sizes()) / 1e9,
                    p.min_bytes(&p.timed_sizes()) / 1e9
                ),
                baseline: if p.has_baseline() { p.baseline_name(Precision::F32) } else { "none (% of ceiling)".into() },
                kernelbench: p.kernelbench,
                summary: p.summary,
                origin: p.origin,
            }
        })
        .collect();
    if args.json {
        output::json::print(&rows)?;
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["problem", "family", "dtypes", "timed at", "floors", "baseline", "KernelBench"]);
    for r in &rows {
        let baseline = r.baseline.split(", as ").next().unwrap_or(&r.baseline).to_string();
        let task = r.kernelbench.map_or("–".to_string(), |k| k.split(" (").next().unwrap_or(k).to_string());
        table.add_row([r.name, r.family, &r.dtypes, &r.timed, &r.floors, &baseline, &task]);
    }
    println!("{table}");
    println!("{} problems; `sadoku problems --json` for their summaries and origins", rows.len());
    Ok(0)
}

/// Lint each problem directory and compile its reference kernel; exit 1 if any fails.
fn problem_check(registry: &mut Registry, args: ProblemCheckArgs) -> Result<u8> {
    if !args.arch.starts_with("sm_") {
        anyhow::bail!("--arch {}: expected a real architecture such as sm_90", args.arch);
    }
    let mut dirs = Vec::new();
    for d in &args.dirs {
        if d.join("problem.toml").is_file() {
            dirs.push(d.clone());
        } else if d.is_dir() {
            let mut sub: Vec<_> = std::fs::read_dir(d)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("problem.toml").is_file())
                .collect();
            sub.sort();
            if sub.is_empty() {
                anyhow::bail!("{}: no problem.toml in it or in its sub-directories", d.display());
            }
            dirs.extend(sub);
        } else {
            anyhow::bail!("{}: no such directory", d.display());
        }
    }
    let nvrtc = nvrtc(false)?;
    let mut failed = 0;
    let mut proved: Vec<&'static str> = Vec::new();
    for dir in dirs {
        match problem::load_dir(&dir) {
            Err(e) => {
                println!("FAILED {e}");
                failed += 1;
            }
            Ok(p) => match &p.reference {
                problem::ReferenceSpec::Kernel(k) => {
                    let request = CompileRequest {
                        name: k.file.clone(),
                        source: k.source.clone(),
                        arch: args.arch.clone(),
                        options: vec![],
                    };
                    let outcome = match nvrtc.compile(&request) {
                        Err(CompileError::Unavailable(m)) => return Err(anyhow!(m)),
                        Err(CompileError::Rejected { log }) => {
                            Err(format!("reference kernel does not compile:\n{log}"))
                        }
                        Ok(m) => k.launches.iter().try_for_each(|l| signature::check(l, &m).map(drop)),
                    };
                    match outcome {
                        Ok(()) => {
                            println!(
                                "ok     {} ({}; reference {} compiled for {})",
                                dir.display(),
                                p.name,
                                k.file,
                                args.arch
                            );
                            proved.push(p.name);
                        }
                        Err(e) => {
                            println!("FAILED {}: {e}", dir.display());
                            failed += 1;
                        }
                    }
                }
                problem::ReferenceSpec::Gemm(_) => {
                    println!("ok     {} ({}; built-in GEMM reference)", dir.display(), p.name);
                    proved.push(p.name);
                }
                // A problem.toml never makes one: KernelBench files come through `sadoku kernelbench`.
                problem::ReferenceSpec::Torch(_) => {
                    println!("FAILED {}: a PyTorch reference in a problem.toml", dir.display());
                    failed += 1;
                }
            },
        }
    }
    if let Some(solutions) = &args.prove {
        // The definitions checked here are the ones proved: they join the registry.
        for d in &args.dirs {
            registry.add_dir(d).map_err(|e| anyhow!("{e}"))?;
        }
        failed += prove(registry, &proved, solutions, args.gpu)?;
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Verify (untimed) every solution of every problem named, on one GPU; count the verdicts that are
/// not the ones the file names promise.
fn prove(registry: &mut Registry, names: &[&str], solutions: &std::path::Path, gpu: usize) -> Result<usize> {
    let mut missing = 0;
    let mut files = Vec::new();
    for name in names {
        let dir = solutions.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("skip   {name}: no solutions in {} (nothing to prove)", dir.display());
            continue;
        };
        let mut found: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cu"))
            .collect();
        found.sort();
        if found.is_empty() {
            println!("FAILED {name}: no .cu solutions in {}", dir.display());
            missing += 1;
        }
        files.extend(found);
    }
    let mut failed = missing;
    let mut candidates = Vec::new();
    for path in files {
        match Candidate::load(registry, &path) {
            Ok(c) => candidates.push(c),
            Err(e) => {
                println!("FAILED {e}");
                failed += 1;
            }
        }
    }
    let refs: Vec<&Candidate> = candidates.iter().collect();
    let plan = lanes::Plan {
        candidates: &refs,
        seeds: Seeds::fresh(),
        options: ReviewOptions { skip_timing: true, ..ReviewOptions::default() },
        timeouts: Timeouts::default(),
        sanitize: false,
        no_cache: false,
        sandbox: sandbox::Mode::Auto,
        compile_memory: 4.0,
        python: None,
    };
    let queue = Mutex::new((0..refs.len()).collect::<VecDeque<usize>>());
    let stop = AtomicBool::new(false);
    let progress = progress::Progress::new();
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| lanes::run(gpu, Arc::new(GpuGate::default()), &plan, &queue, &stop, &progress, tx));
    });
    progress.finish();
    let mut outcomes: Vec<_> = rx.into_iter().collect();
    outcomes.sort_by_key(|(i, _)| *i);
    for (i, result) in outcomes {
        let c = refs[i];
        let report = result.map_err(|e| anyhow!("while proving with {}: {e}", c.origin))?;
        let name = c.name();
        let must_accept = name.starts_with("honest") || name.starts_with("correct");
        let ok = report.verdict.is_accepted() == must_accept && (must_accept || name.starts_with("wrong"));
        let what = match (&report.reason, &report.evidence) {
            (Some(r), Some(e)) => format!("REJECTED ({r}): {e}"),
            _ => "ACCEPTED".to_string(),
        };
        println!("{} {}: {what}", if ok { "proved" } else { "FAILED" }, c.origin);
        failed += usize::from(!ok);
    }
    Ok(failed)
}
