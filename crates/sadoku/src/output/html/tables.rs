//! The page's tables and text: the summary table, a KernelBench run's figures, every rejection
//! with its evidence, the environment and the replay command.

use super::*;

/// A KernelBench run's figures: each problem's best accepted candidate against eager PyTorch, and
/// the fractions of all the problems given.
pub(super) fn kernelbench(out: &mut String, suite: &Value) {
    let n = |k: &str| suite.get(k).and_then(Value::as_u64).unwrap_or(0);
    let problems = n("problems");
    let pct = |k: u64| if problems == 0 { 0.0 } else { 100.0 * k as f64 / problems as f64 };
    let baseline = esc(suite.get("baseline").and_then(Value::as_str).unwrap_or("eager PyTorch"));
    out.push_str("<h3>KernelBench problems</h3>\n");
    let _ = writeln!(
        out,
        "<p>{problems} problem(s): {} with an accepted candidate ({:.0} %), {} at least 1× {baseline} ({:.0} %), \
         {} at least 2× ({:.0} %). Every problem given counts, with a candidate or not; a rejected candidate's \
         speed counts for nothing; \"at least\" is said of the speedup's 95 % interval, not of its median.</p>",
        n("accepted"),
        pct(n("accepted")),
        n("faster"),
        pct(n("faster")),
        n("twice"),
        pct(n("twice"))
    );
    let _ = writeln!(
        out,
        "<table class=\"sortable\">\n<thead><tr><th>problem</th><th data-num>candidates</th><th>best accepted</th><th data-num>speedup over {baseline}</th></tr></thead>\n<tbody>"
    );
    for p in suite.get("per_problem").and_then(Value::as_array).into_iter().flatten() {
        let speedup = p.get("speedup").and_then(Value::as_f64);
        out.push_str("<tr>");
        td(out, "", None, None, &esc(p.get("problem").and_then(Value::as_str).unwrap_or(NOT_RECORDED)));
        let count = p.get("candidates").and_then(Value::as_u64).unwrap_or(0);
        td(out, "n", Some(count as f64), None, &count.to_string());
        let best = p.get("best").and_then(Value::as_str);
        td(out, "", None, None, &esc(best.unwrap_or(if count == 0 { "no candidate" } else { "none accepted" })));
        let interval =
            p.get("interval").and_then(Value::as_array).and_then(|a| Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?)));
        let shown = match (best, speedup) {
            (_, Some(x)) => match interval {
                Some((lo, hi)) => format!("{x:.2}× ({lo:.2}–{hi:.2})"),
                None => format!("{x:.2}×"),
            },
            (Some(_), None) => "not timed".to_string(),
            (None, None) => "–".to_string(),
        };
        td(out, "n", speedup, None, &shown);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

pub(super) fn summary(out: &mut String, cs: &[Value]) {
    out.push_str("<h3>Summary</h3>\n");
    out.push_str(
        "<p class=\"note\">Time is the median of the candidate's timed samples. The speedup is the \
         baseline's median over the candidate's, with its 95 % interval; FASTER or SLOWER only when the \
         interval excludes 1. Click a header to sort.</p>\n",
    );
    out.push_str("<table class=\"sortable summary\">\n<thead><tr><th data-num>#</th><th>candidate</th><th>verdict</th><th>reason</th><th>error class</th><th data-num>time (median)</th><th data-num>speedup [95 % CI]</th><th>baseline</th><th data-num>% of ceiling</th></tr></thead>\n<tbody>\n");
    for (i, c) in cs.iter().enumerate() {
        out.push_str("<tr>");
        td(out, "n", Some((i + 1) as f64), None, &(i + 1).to_string());
        td(out, "", None, text(c, &["origin"]), &esc(&label(c)));
        let verdict = text(c, &["verdict"]).unwrap_or(NOT_RECORDED);
        td(out, if accepted(c) { "ACCEPTED" } else { "REJECTED" }, None, None, &esc(verdict));
        td(out, "", None, None, &esc(&shown(c.get("reason"), |v| v.as_str().map(str::to_string))));
        // The class of the error against the fp64 truth; older records kept it at the top level.
        let class = match c.get("error") {
            Some(Value::Object(_)) => shown(at(c, &["error", "class"]), |v| v.as_str().map(str::to_string)),
            _ => shown(c.get("class").or(c.get("error")), |v| v.as_str().map(str::to_string)),
        };
        td(out, "", None, None, &esc(&class));
        let median = num(c, &["timing", "candidate", "median"]);
        td(out, "n", median, None, &esc(&shown(at(c, &["timing", "candidate", "median"]), |v| v.as_f64().map(ms))));
        let speedup = num(c, &["timing", "speedup"]);
        let speedup_html = match (at(c, &["timing"]), speedup) {
            (_, Some(s)) => {
                let interval = pair(c, &["timing", "speedup_interval"])
                    .map_or(String::new(), |(lo, hi)| format!(" [{lo:.2}, {hi:.2}]"));
                let call = text(c, &["timing", "call"])
                    .map_or(String::new(), |k| format!(" <span class=\"{}\">{}</span>", attr(k), esc(k)));
                format!("{s:.2}×{interval}{call}")
            }
            (None, None) => NOT_RECORDED.into(),
            (Some(_), None) => "–".into(),
        };
        td(out, "n", speedup, None, &speedup_html);
        let baseline = match at(c, &["timing"]) {
            None => NOT_RECORDED.to_string(),
            Some(Value::Null) => "–".into(),
            Some(t) => match (text(t, &["baseline_unavailable"]), text(t, &["baseline_name"])) {
                (Some(why), _) => format!("none: {why}"),
                (None, Some(name)) => short_baseline(name).to_string(),
                (None, None) => NOT_RECORDED.into(),
            },
        };
        td(out, "", None, text(c, &["timing", "baseline_name"]), &esc(&baseline));
        let percent = num(c, &["ceiling", "percent"]);
        let ceiling = shown(c.get("ceiling"), |u| {
            Some(format!(
                "{:.0} % of {}",
                u.get("percent")?.as_f64()?,
                u.get("what").and_then(Value::as_str).unwrap_or("?")
            ))
        });
        td(out, "n", percent, text(c, &["ceiling", "why"]), &esc(&ceiling));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

pub(super) fn rejections(out: &mut String, cs: &[Value]) {
    let rejected: Vec<&Value> = cs.iter().filter(|c| !accepted(c)).collect();
    let _ = writeln!(out, "<h3>Rejections ({})</h3>", rejected.len());
    if rejected.is_empty() {
        out.push_str("<p>None: every candidate was accepted.</p>\n");
        return;
    }
    for c in rejected {
        let reason = shown(c.get("reason"), |v| v.as_str().map(str::to_string));
        let _ = writeln!(out, "<div class=\"rejection\">\n<h4>{} — {}</h4>", esc(&label(c)), esc(&reason));
        let mut facts = Vec::new();
        if let Some(o) = text(c, &["origin"]) {
            facts.push(format!("file {o}"));
        }
        if let Some(check) = text(c, &["check"]) {
            facts.push(format!("check {check}"));
        }
        if let Some(trial) = text(c, &["at", "trial"]) {
            let sizes = at(c, &["at", "sizes"])
                .and_then(Value::as_object)
                .map_or(String::new(), |s| s.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", "));
            facts.push(format!("at {sizes}, {trial}"));
        }
        if let Some(line) = num(c, &["line"]) {
            facts.push(format!("line {line}"));
        }
        if !facts.is_empty() {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&facts.join("; ")));
        }
        let evidence = shown(c.get("evidence"), |v| v.as_str().map(str::to_string));
        let _ = writeln!(out, "<pre>{}</pre>", esc(&evidence));
        if let Some(findings) = at(c, &["sanitizer"]).filter(|v| !v.is_null()) {
            let _ = writeln!(
                out,
                "<details><summary>sanitizer</summary><pre>{}</pre></details>",
                esc(&serde_json::to_string_pretty(findings).unwrap_or_default())
            );
        }
        out.push_str("</div>\n");
    }
}

pub(super) fn environment(out: &mut String, run: &Run) {
    out.push_str("<h3>Environment</h3>\n");
    if !run.has_environment {
        out.push_str(
            "<p>Not recorded: JSON Lines files (<code>--out</code>) hold the candidates only; the GPU, driver, \
             libraries, clock and ceilings are in <code>sadoku review --json</code> output.</p>\n",
        );
    }
    for d in &run.environment {
        let s = |path: &[&str]| shown(at(d, path), |v| v.as_str().map(str::to_string));
        let gpu = {
            let name = text(d, &["name"]).unwrap_or(NOT_RECORDED);
            let mut parts = Vec::new();
            if let Some(o) = num(d, &["ordinal"]) {
                parts.push(format!("GPU {o}"));
            }
            if let Some(cc) = at(d, &["compute_capability"]).and_then(Value::as_array) {
                parts.push(format!("sm_{}", cc.iter().map(|v| v.to_string()).collect::<String>()));
            }
            if let Some(sms) = num(d, &["multiprocessors"]) {
                parts.push(format!("{sms} SMs"));
            }
            if let Some(l2) = num(d, &["l2_bytes"]) {
                parts.push(format!("{:.0} MiB L2", l2 / 1048576.0));
            }
            if let Some(m) = num(d, &["memory_bytes"]) {
                parts.push(format!("{:.1} GiB", m / 1073741824.0));
            }
            format!("{name} ({})", parts.join(", "))
        };
        let ceilings = shown(d.get("ceilings"), |c| {
            let t = |k: &str| c.get(k).and_then(Value::as_f64);
            Some(format!(
                "fp32 {:.1}, TF32 {:.0}, BF16 {:.0} TFLOP/s; DRAM {:.0} GB/s (measured)",
                t("fp32_tflops")?,
                t("tf32_tflops")?,
                t("bf16_tflops")?,
                t("dram_gbs")?
            ))
        });
        let clock =
            shown(d.get("sm_clock_mhz"), |v| v.as_f64().map(|m| format!("{m:.0} MHz (measured after the run)")));
        let rows = [
            ("GPU", gpu),
            ("driver", s(&["driver"])),
            ("CUDA driver API", s(&["cuda_driver"])),
            ("NVRTC", s(&["nvrtc"])),
            ("cuBLAS", s(&["cublas"])),
            ("cuDNN", s(&["cudnn"])),
            ("PyTorch", s(&["torch"])),
            ("SM clock", clock),
            ("ceilings", ceilings),
            ("sandbox", s(&["sandbox"])),
        ];
        out.push_str("<dl class=\"env\">\n");
        for (k, v) in rows {
            let _ = writeln!(out, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
        }
        out.push_str("</dl>\n");
    }
    // Candidates whose worker held less than the whole sandbox: their verdicts stand, weaker confined.
    let weak: Vec<(String, String)> = run
        .candidates
        .iter()
        .filter_map(|c| {
            let s = c.get("sandbox")?.as_str()?;
            (s.starts_with("partial") || s.starts_with("off"))
                .then(|| (text(c, &["name"]).unwrap_or(NOT_RECORDED).to_string(), s.to_string()))
        })
        .collect();
    if !weak.is_empty() {
        out.push_str("<p>Reviewed with less than the whole sandbox (the verdicts stand; the confinement was weaker):</p>\n<ul>\n");
        for (name, how) in weak {
            let _ = writeln!(out, "<li><code>{}</code>: {}</li>", esc(&name), esc(&how));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<dl class=\"env\">\n");
    let _ = writeln!(out, "<dt>sadoku</dt><dd>{}</dd>", esc(run.sadoku.as_deref().unwrap_or(NOT_RECORDED)));
    let _ = writeln!(out, "<dt>seed</dt><dd>{}</dd>", esc(run.seed.as_deref().unwrap_or(NOT_RECORDED)));
    let _ = writeln!(
        out,
        "<dt>wall time</dt><dd>{}</dd>",
        run.wall_s.map_or(NOT_RECORDED.to_string(), |w| format!("{w:.1} s"))
    );
    out.push_str("</dl>\n");
}

/// A word as a shell reads it.
pub(super) fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=,:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub(super) fn replay(out: &mut String, run: &Run) {
    out.push_str("<h3>Replay</h3>\n");
    let mut files: Vec<&str> = Vec::new();
    for c in &run.candidates {
        let f = text(c, &["origin"]).filter(|o| !o.is_empty()).or(text(c, &["name"])).unwrap_or("?");
        if !files.contains(&f) {
            files.push(f);
        }
    }
    let files = files.iter().map(|f| shell_word(f)).collect::<Vec<_>>().join(" ");
    match &run.seed {
        Some(seed) => {
            let _ = writeln!(
                out,
                "<p>The same inputs and poisons again (add the run's <code>--precision</code> and <code>--size</code> \
                 if it had them):</p>\n<pre>sadoku review {} --seed {}</pre>",
                esc(&files),
                esc(&shell_word(seed))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<p>The seed is not recorded in JSON Lines files (<code>sadoku review --json</code> prints it), so the \
                 inputs cannot be replayed; this reviews the files again on fresh inputs:</p>\n<pre>sadoku review {}</pre>",
                esc(&files)
            );
        }
    }
}
