//! `sadoku kernelbench describe | match | review`: KernelBench problem files from the user's own
//! checkout (see [`crate::kernelbench`]).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use sadoku_core::candidate::SpecError;
use sadoku_core::problem::Registry;
use sadoku_core::report::{NotReviewed, Report};
use serde_json::Value;

use crate::backend::Backend;
use crate::candidates::{Fed, Loaded};
use crate::cli::{KernelbenchDescribeArgs, KernelbenchMatchArgs, KernelbenchReviewArgs};
use crate::kernelbench::*;

pub fn describe(args: KernelbenchDescribeArgs) -> Result<u8> {
    let python = python(args.python.as_deref());
    let bridge = Bridge::write()?;
    // Up to 4 files at once (each holds its inputs and outputs at full size in host memory), in
    // the order given.
    let next = std::sync::atomic::AtomicUsize::new(0);
    // No Python or no PyTorch: said once, at the end, and nothing more is tried.
    let hopeless = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<std::sync::Mutex<Option<Result<Value>>>> =
        args.files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(args.files.len());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while !hopeless.load(std::sync::atomic::Ordering::SeqCst) {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(file) = args.files.get(i) else { break };
                    let described = crate::kernelbench::describe(file, &python, &bridge, args.sandbox, args.seed, None);
                    match &described {
                        Err(e) if fatal(&e.to_string()) => hopeless.store(true, std::sync::atomic::Ordering::SeqCst),
                        Err(e) => eprintln!("sadoku: {e}"),
                        Ok(_) => {}
                    }
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(described);
                }
            });
        }
    });
    let mut all = Vec::new();
    let mut failed = 0;
    let results: Vec<Option<Result<Value>>> =
        results.into_iter().map(|r| r.into_inner().unwrap_or_else(|e| e.into_inner())).collect();
    if let Some(Err(e)) = results.iter().flatten().find(|r| r.as_ref().is_err_and(|e| fatal(&e.to_string()))) {
        return Err(anyhow!("{e}"));
    }
    for (file, result) in args.files.iter().zip(results) {
        match result {
            Some(Ok(v)) => all.push(v),
            Some(Err(e)) => {
                failed += 1;
                all.push(serde_json::json!({ "file": file.display().to_string(), "error": e.to_string() }));
            }
            None => unreachable!("every file is described unless one found no Python or PyTorch"),
        }
    }
    if args.json {
        crate::output::json::print(&all)?;
    } else {
        for v in all.iter().filter(|v| v.get("error").is_none()) {
            print_description(v);
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn print_description(v: &Value) {
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let shape = |v: &Value| {
        let dims: Vec<String> = v.as_array().map(|a| a.iter().map(|d| d.to_string()).collect()).unwrap_or_default();
        format!("[{}]", dims.join(", "))
    };
    println!("{} ({}; confined: {})", text(&v["problem"]), text(&v["file"]), text(&v["sandbox"]));
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["role", "name", "dtype", "shape", "drawn as"]);
    for t in v["inputs"].as_array().into_iter().flatten() {
        let structure = text(&t["structure"]);
        let mut drawn = distribution(&t["distribution"]);
        if structure != "dense" {
            drawn = format!("{structure}, {drawn}");
        }
        table.add_row(["input".to_string(), text(&t["name"]), text(&t["dtype"]), shape(&t["shape"]), drawn]);
    }
    for s in v["scalars"].as_array().into_iter().flatten() {
        table.add_row(["scalar".into(), text(&s["name"]), String::new(), String::new(), python_value(&s["value"])]);
    }
    for (role, key) in [("parameter", "parameters"), ("buffer", "buffers"), ("output", "outputs")] {
        for t in v[key].as_array().into_iter().flatten() {
            table.add_row([role.to_string(), text(&t["name"]), text(&t["dtype"]), shape(&t["shape"]), String::new()]);
        }
    }
    println!("{table}");
    println!("  constructed with get_init_inputs() = {}", python_value(&v["init_inputs"]));
}

/// A constructor or forward argument as the problem file wrote it, from the description's JSON
/// (`{"tuple": [3, 5]}` is `(3, 5)`, `{"dtype": "float16"}` is `torch.float16`).
fn python_value(v: &Value) -> String {
    let list = |items: &Vec<Value>| items.iter().map(python_value).collect::<Vec<_>>().join(", ");
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("[{}]", list(items)),
        Value::Object(o) => match (o.get("tuple"), o.get("dtype"), o.get("float")) {
            (Some(Value::Array(items)), _, _) if items.len() == 1 => format!("({},)", list(items)),
            (Some(Value::Array(items)), _, _) => format!("({})", list(items)),
            (_, Some(Value::String(d)), _) => format!("torch.{d}"),
            (_, _, Some(Value::String(f))) => format!("float({f:?})"),
            _ => v.to_string(),
        },
        Value::Number(n) => n.to_string(),
    }
}

/// A distribution as the problem format writes one: uniform(0, 1), randn(0, 1), int(0, 8), or
/// the range and moments of what get_inputs() drew.
fn distribution(d: &Value) -> String {
    let n = |k: &str| d[k].as_f64().map(|x| format!("{}", (x * 1e4).round() / 1e4)).unwrap_or_else(|| "?".into());
    match d["kind"].as_str() {
        Some("uniform") => format!("uniform({}, {})", n("lo"), n("hi")),
        Some("normal") => format!("randn({}, {})", n("mean"), n("std")),
        Some("int") => format!("int({}, {})", n("lo"), n("hi")),
        Some("empirical") => {
            format!("like get_inputs(): {} to {}, mean {}, std {}", n("min"), n("max"), n("mean"), n("std"))
        }
        _ => d.to_string(),
    }
}

pub fn matching(args: KernelbenchMatchArgs) -> Result<u8> {
    let problems = files_in(&args.problems, &["py"])?;
    if problems.is_empty() {
        return Err(anyhow!("{}: no problem files (.py)", args.problems.display()));
    }
    let candidates = files_in(&args.candidates, &["py", "cu"])?;
    let matched = match_files(&problems, &candidates, args.match_by_number);
    if args.json {
        crate::output::json::print(&matched)?;
    } else {
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        table.set_header(["candidate", "problem", "matched by"]);
        for m in &matched {
            let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            table.add_row([
                name(&m.candidate),
                m.problem.as_deref().map(name).unwrap_or_else(|| "–".into()),
                m.how.clone(),
            ]);
        }
        println!("{table}");
        let unmatched = matched.iter().filter(|m| m.problem.is_none()).count();
        println!("{} candidate(s), {} matched, {unmatched} unmatched", matched.len(), matched.len() - unmatched);
    }
    Ok(if matched.iter().all(|m| m.problem.is_some()) { 0 } else { 1 })
}

/// `sadoku kernelbench review PROBLEMS CANDIDATES...`.
pub fn review(registry: &mut Registry, args: KernelbenchReviewArgs, backend: &dyn Backend) -> Result<u8> {
    let started = std::time::Instant::now();
    let python = python(args.python.as_deref());
    let problems = if args.problems.is_dir() {
        files_in(&args.problems, &["py"])?
    } else if args.problems.is_file() {
        vec![args.problems.clone()]
    } else {
        return Err(anyhow!("{}: no such directory or file", args.problems.display()));
    };
    if problems.is_empty() {
        return Err(anyhow!("{}: no problem files (.py)", args.problems.display()));
    }
    let mut files = Vec::new();
    for c in &args.review.candidates {
        if c.is_dir() {
            files.extend(files_in(c, &["py", "cu"])?);
        } else if c.is_file() {
            files.push(c.clone());
        } else {
            return Err(anyhow!("{}: no such file or directory", c.display()));
        }
    }
    if files.is_empty() {
        return Err(anyhow!(
            "no candidates: name ModelNew .py files, archive or sadoku .cu files, or directories of them"
        ));
    }
    let mut matched = match_files(&problems, &files, args.match_by_number);
    // Another shard's candidates need no problem described here (the review filters the same way).
    if let Some(shard) = args.review.shard {
        matched
            .retain(|m| std::fs::read(&m.candidate).map_or(true, |bytes| shard.holds(&crate::shard::digest(&bytes))));
    }
    let compile = args.torch_compile.as_deref();
    // With --resume, what --out's file holds is skipped before its problem is described (the
    // review would skip it after): a problem none of whose candidates is left is not described.
    // Not with --size: its sizes, part of the key, are checked against the loaded candidates'
    // problems, so the review skips those itself.
    let judged = match (&args.review.out, args.review.resume && args.review.size.is_empty()) {
        (Some(out), true) => {
            let options = crate::review::review_options(&args.review.judging, None);
            let sanitize = args.review.judging.sanitize;
            judged_before(&matched, &crate::journal::Journal::judged_in(out), compile, |candidate, problem| {
                crate::review::review_key(&crate::review::reviewed(candidate, problem), &options, sanitize)
            })
        }
        _ => Vec::new(),
    };
    let bridge = Bridge::write()?;
    // Each problem with a candidate to review, described once (confined: a problem file is code
    // too), in the order the candidates come; the first here and now, so that a missing Python or
    // PyTorch is said at once, the others while the first candidates are reviewed.
    let mut files: Vec<PathBuf> = Vec::new();
    for (i, m) in matched.iter().enumerate() {
        let Some(p) = m.problem.as_ref() else { continue };
        if judged.get(i).is_none_or(Option::is_none) && !files.contains(p) {
            files.push(p.clone());
        }
    }
    let registry = std::sync::Mutex::new(registry);
    let gates = crate::lanes::Gates::new(if !files.is_empty() {
        crate::review::gpus(backend, &args.review.judging)
    } else {
        Ok(Vec::new())
    });
    // Problems are described on the batch's GPUs, each holding its card as verification does.
    let lender = (backend.python_device() == "cuda").then_some(&gates as &dyn crate::python_sandbox::Lender);
    let describer = Describer::new(files, &registry, &python, &bridge, args.review.judging.sandbox, compile, lender);
    let lines = crate::progress::Progress::lines_only();
    // The first problem here and now: a missing Python or PyTorch is said before anything else.
    if describer.describe_next(&lines) {
        if let Some(Err(e)) = describer.first() {
            if fatal(&e) {
                return Err(anyhow!("{e}"));
            }
        }
    }
    let describers = args.review.judging.build_jobs.map_or(4, usize::from).clamp(1, 4);
    let plan = crate::backend::PythonPlan {
        python: python.clone(),
        bridge: bridge.path().to_path_buf(),
        device: backend.python_device().into(),
        headers: args.review.judging.torch_headers,
    };
    let names: Vec<String> = problems.iter().map(|p| stem(p)).collect();
    // With --resume, what an earlier run judged counts too: this run's candidates it skipped.
    let origins: Vec<String> = matched.iter().map(|m| m.candidate.display().to_string()).collect();
    let earlier = match (&args.review.out, args.review.resume) {
        (Some(path), true) => earlier_rows(path, &origins),
        _ => Vec::new(),
    };
    let summary = |report: &Report| {
        let mut rows = rows_of(report);
        let judged_now: Vec<String> = rows.iter().map(|r| r.origin.clone()).collect();
        rows.extend(earlier.iter().filter(|e| !judged_now.contains(&e.origin)).cloned());
        let s = summarise_rows(&names, &rows, &baseline_label(args.torch_compile.as_deref()));
        (summary_text(&s), serde_json::to_value(&s).unwrap_or_default())
    };
    let total = matched.len();
    let problems_dir = args.problems.display().to_string();
    let (registry, describer) = (&registry, &describer);
    let load = move |m: Matched| -> Loaded {
        let said = |message: String| SpecError { origin: m.candidate.display().to_string(), line: None, message };
        let Some(p) = &m.problem else {
            let why = format!("matches no problem file in {problems_dir} ({})", m.how);
            return invalid(&m.candidate, "", &said(why));
        };
        match describer.problem(p) {
            Some(Ok(problem)) => {
                let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
                load_candidate(&mut registry, &m.candidate, &problem)
            }
            Some(Err(e)) => invalid(&m.candidate, &stem(p), &said(format!("its problem cannot be judged: {e}"))),
            None => Loaded::Unreviewed(NotReviewed {
                origin: m.candidate.display().to_string(),
                problem: stem(p),
                error: "its problem was not described: the review stopped".into(),
            }),
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..describers {
            scope.spawn(|| describer.work(&lines));
        }
        let result = if args.review.size.is_empty() {
            let mut judged = judged.into_iter();
            let items = matched.into_iter().map(move |m| match judged.next() {
                Some(Some(j)) => Fed::Judged(j),
                _ => Fed::Loaded(load(m)),
            });
            let feed = crate::review::Feed { items: Box::new(items), total, timed_sizes: None };
            crate::review::review_stream(backend, &args.review, started, feed, Some(plan), &gates, &summary)
        } else {
            // `--size` is checked over every candidate's problem before any review.
            let loaded = matched.into_iter().map(load).collect();
            crate::review::review_loaded(backend, &args.review, started, loaded, Some(plan), &summary)
        };
        describer.stop();
        result
    })
}
