//! `sadoku check FILE...`: front matter validated and compiled with NVRTC for an architecture,
//! each file in a compile process of its own; needs no GPU.

use sadoku_core::problem::Registry;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use sadoku_core::candidate::Candidate;
use sadoku_core::checks::signature;
use sadoku_core::compile::{CompileError, CompileRequest, Compiler};
use serde::Serialize;

use crate::backend::{self, gib};
use crate::cli::CheckArgs;
use crate::{candidates, output, sandbox};

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

/// `sadoku check` of `files` in this process (a compile process of the `check` below): every file
/// read here, each compiled on a thread of its own that Landlock and seccomp confine to the
/// toolkit's headers, so that an include of anything else fails inside NVRTC. No module cache:
/// the process that started this one keeps it.
fn check_here(registry: &mut Registry, args: &CheckArgs, files: &[std::path::PathBuf]) -> Result<Vec<CheckResult>> {
    let nvrtc = backend::nvrtc(true)?;
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
        Err(CompileError::CallFailed { message, log }) => {
            r.error = Some(format!("{file}: call failed: {message}"));
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

pub fn run(registry: &mut Registry, args: CheckArgs, problems: &[std::path::PathBuf]) -> Result<u8> {
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
        let nvrtc = backend::nvrtc(args.no_cache)?;
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
