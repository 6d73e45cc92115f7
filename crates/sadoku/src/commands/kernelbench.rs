//! `sadoku kernelbench describe | match | review`: KernelBench problem files from the user's own
//! checkout (see [`crate::kernelbench`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use sadoku_core::candidate::SpecError;
use sadoku_core::problem::{Problem, Registry};
use sadoku_core::report::Report;
use serde_json::Value;

use crate::backend::Backend;
use crate::candidates::Loaded;
use crate::cli::{KernelbenchDescribeArgs, KernelbenchMatchArgs, KernelbenchReviewArgs};
use crate::kernelbench::*;

pub fn describe(args: KernelbenchDescribeArgs) -> Result<u8> {
    let python = python(args.python.as_deref());
    let bridge = Bridge::write()?;
    let mut all = Vec::new();
    let mut failed = 0;
    for file in &args.files {
        match crate::kernelbench::describe(file, &python, &bridge, args.sandbox, args.seed) {
            Ok(v) => all.push(v),
            Err(e) if e.to_string().starts_with("no PyTorch") => return Err(e),
            Err(e) => {
                failed += 1;
                eprintln!("sadoku: {e}");
                all.push(serde_json::json!({ "file": file.display().to_string(), "error": e.to_string() }));
            }
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
    let bridge = Bridge::write()?;
    let progress = crate::progress::Progress::new();
    // Each problem with a candidate, described once (confined: a problem file is code too).
    let mut loaded_problems: Vec<(PathBuf, std::result::Result<Arc<Problem>, String>)> = Vec::new();
    for m in &matched {
        let Some(p) = &m.problem else { continue };
        if loaded_problems.iter().any(|(q, _)| q == p) {
            continue;
        }
        progress.line(&format!("  describing {}", p.display()));
        let r = load_problem(registry, p, &python, &bridge, args.review.sandbox, args.torch_compile.as_deref());
        if let Err(e) = &r {
            // No interpreter, or no PyTorch in it: no problem can be judged; said once.
            let text = e.to_string();
            if text.starts_with("no PyTorch") || text.starts_with("cannot run the Python interpreter") {
                return Err(anyhow!("{e}"));
            }
            progress.line(&format!("sadoku: {e}"));
        }
        loaded_problems.push((p.clone(), r.map_err(|e| e.to_string())));
    }
    progress.finish();
    let loaded: Vec<Loaded> = matched
        .iter()
        .map(|m| {
            let said = |message: String| SpecError { origin: m.candidate.display().to_string(), line: None, message };
            let Some(p) = &m.problem else {
                let why = format!("matches no problem file in {} ({})", args.problems.display(), m.how);
                return invalid(&m.candidate, "", &said(why));
            };
            match loaded_problems.iter().find(|(q, _)| q == p).map(|(_, r)| r) {
                Some(Ok(problem)) => match load_candidate(registry, &m.candidate, problem) {
                    Ok(c) => Loaded::Valid(c),
                    Err(e) => invalid(&m.candidate, problem.name, &e),
                },
                Some(Err(e)) => invalid(&m.candidate, &stem(p), &said(format!("its problem cannot be judged: {e}"))),
                None => invalid(&m.candidate, &stem(p), &said("its problem was not loaded".into())),
            }
        })
        .collect();
    let plan = crate::backend::PythonPlan {
        python,
        bridge: bridge.path().to_path_buf(),
        device: backend.python_device().into(),
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
    crate::review::review_loaded(backend, &args.review, started, loaded, Some(plan), &summary)
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_read_as_the_file_wrote_them() {
        let v =
            serde_json::json!([3, 0.5, {"tuple": [3, 5]}, {"tuple": [1]}, {"dtype": "float16"}, null, true, "mean"]);
        assert_eq!(super::python_value(&v), r#"[3, 0.5, (3, 5), (1,), torch.float16, None, True, "mean"]"#);
    }
}
