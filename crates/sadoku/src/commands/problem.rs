//! `sadoku problem check DIR... [--prove SOLUTIONS]`: lint problem directories, compile their
//! reference kernels, and (`--prove`) verify every solution of each on the GPU, untimed, through
//! the same lanes as a review.

use anyhow::{Result, anyhow};
use sadoku_core::candidate::Candidate;
use sadoku_core::checks::signature;
use sadoku_core::compile::{CompileError, CompileRequest, Compiler};
use sadoku_core::problem;
use sadoku_core::seeds::Seeds;

use crate::backend::{self, Backend};
use crate::cli::ProblemCheckArgs;
use sadoku_core::problem::Registry;

use crate::{lanes, progress, review, sandbox};

/// Lint each problem directory and compile its reference kernel; exit 1 if any fails.
pub fn check(registry: &mut Registry, args: ProblemCheckArgs, backend: &dyn Backend) -> Result<u8> {
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
    let nvrtc = backend::nvrtc(false)?;
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
                        Err(CompileError::CallFailed { message, .. }) => {
                            Err(format!("reference kernel cannot be called: {message}"))
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
            crate::registry::add_dir(registry, d)?;
        }
        failed += prove(registry, backend, &proved, solutions, args.gpu)?;
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Verify (untimed) every solution of every problem named, on one GPU; count the verdicts that are
/// not the ones the file names promise.
fn prove(
    registry: &mut Registry,
    backend: &dyn Backend,
    names: &[&str],
    solutions: &std::path::Path,
    gpu: usize,
) -> Result<usize> {
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
    let batch = lanes::Batch::of(candidates.into_iter().map(std::sync::Arc::new).collect());
    let (options, timeouts) = review::untimed();
    let plan = lanes::Plan {
        backend,
        seeds: Seeds::fresh(),
        options,
        timeouts,
        sanitize: false,
        no_cache: false,
        sandbox: sandbox::Mode::Auto,
        compile_memory: 4.0,
        python: None,
        spare_worker: false,
    };
    let progress = progress::Progress::new();
    let mut outcomes = Vec::new();
    // One lane on one GPU.
    let gates = lanes::Gates::new(Ok(vec![gpu]));
    review::judge_on_lanes(&plan, &gates, 1, &progress, &batch, |i, result| {
        outcomes.push((i, result));
        Ok(())
    })?;
    progress.finish();
    outcomes.sort_by_key(|(i, _)| *i);
    for (i, result) in outcomes {
        let c = batch.candidate(i);
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
