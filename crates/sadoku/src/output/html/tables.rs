//! The page's tables and text: the summary table, a KernelBench run's figures, every rejection
//! with its evidence, the environment and the replay command.

use super::*;

/// A KernelBench run's figures: each problem's best accepted candidate against eager PyTorch, and
/// the fractions of all the problems given.
pub(super) fn kernelbench(out: &mut String, suite: &Summary) {
    let problems = suite.problems;
    let pct = |k: usize| if problems == 0 { 0.0 } else { 100.0 * k as f64 / problems as f64 };
    let baseline = esc(&suite.baseline);
    out.push_str("<h3>KernelBench problems</h3>\n");
    let _ = writeln!(
        out,
        "<p>{problems} problem(s): {} with an accepted candidate ({:.0} %), {} at least 1× {baseline} ({:.0} %), \
         {} at least 2× ({:.0} %). Every problem given counts, with a candidate or not; a rejected candidate's \
         speed counts for nothing; \"at least\" is said of the speedup's 95 % interval, not of its median.</p>",
        suite.accepted,
        pct(suite.accepted),
        suite.faster,
        pct(suite.faster),
        suite.twice,
        pct(suite.twice)
    );
    let _ = writeln!(
        out,
        "<table class=\"sortable\">\n<thead><tr><th>problem</th><th data-num>candidates</th><th>best accepted</th><th data-num>speedup over {baseline}</th></tr></thead>\n<tbody>"
    );
    for p in &suite.per_problem {
        let speedup = p.speedup.filter(|x| x.is_finite());
        out.push_str("<tr>");
        td(out, "", None, None, &esc(p.problem.as_deref().unwrap_or(NOT_RECORDED)));
        let count = p.candidates;
        td(out, "n", Some(count as f64), None, &count.to_string());
        let best = p.best.as_deref();
        td(out, "", None, None, &esc(best.unwrap_or(if count == 0 { "no candidate" } else { "none accepted" })));
        let interval = p.interval.filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
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

pub(super) fn summary(out: &mut String, run: &Run) {
    out.push_str("<h3>Summary</h3>\n");
    out.push_str(
        "<p class=\"note\">Time is the median of the candidate's timed samples. The speedup is the \
         baseline's median over the candidate's, with its 95 % interval; FASTER or SLOWER only when the \
         interval excludes 1. Click a header to sort.</p>\n",
    );
    out.push_str("<table class=\"sortable summary\">\n<thead><tr><th data-num>#</th><th>candidate</th><th>verdict</th><th>reason</th><th>error class</th><th data-num>time (median)</th><th data-num>speedup [95 % CI]</th><th>baseline</th><th data-num>% of ceiling</th></tr></thead>\n<tbody>\n");
    for (i, (c, fields)) in run.records.iter().zip(&run.fields).enumerate() {
        out.push_str("<tr>");
        td(out, "n", Some((i + 1) as f64), None, &(i + 1).to_string());
        td(out, "", None, Some(c.origin.as_str()).filter(|o| !o.is_empty()), &esc(&label(c)));
        let (class, verdict) = if accepted(c) { ("ACCEPTED", "ACCEPTED") } else { ("REJECTED", "REJECTED") };
        td(out, class, None, None, verdict);
        td(out, "", None, None, &esc(&reason(c)));
        // The class of the error against the fp64 truth; older records kept it at the top level
        // only, beside the verdict (an acceptance's class, or a wrong answer's).
        let class = match (&c.findings.error, &c.verdict) {
            (Some(e), _) => word(&e.class),
            (None, Verdict::Accepted { class } | Verdict::Rejected(Rejection::Inaccurate { class, .. })) => word(class),
            (None, _) => "–".into(),
        };
        td(out, "", None, None, &esc(&class));
        let timing = c.findings.timing.as_ref();
        let median = timing.map(|t| t.candidate.median);
        td(out, "n", median.and_then(finite), None, &esc(&median.map_or("–".into(), ms)));
        let speedup = timing.and_then(|t| t.speedup).and_then(finite);
        let speedup_html = match (timing, speedup) {
            (Some(t), Some(s)) => {
                let interval =
                    interval(t.speedup_interval).map_or(String::new(), |(lo, hi)| format!(" [{lo:.2}, {hi:.2}]"));
                let call = t.call.map_or(String::new(), |k| {
                    let k = word(&k);
                    format!(" <span class=\"{}\">{}</span>", attr(&k), esc(&k))
                });
                format!("{s:.2}×{interval}{call}")
            }
            _ => "–".into(),
        };
        td(out, "n", speedup, None, &speedup_html);
        let baseline = match timing {
            None => "–".into(),
            Some(t) => match &t.baseline_unavailable {
                Some(why) => format!("none: {why}"),
                None => short_baseline(&t.baseline_name).to_string(),
            },
        };
        td(out, "", None, timing.map(|t| t.baseline_name.as_str()), &esc(&baseline));
        let ceiling = c.findings.ceiling.as_ref();
        let shown_ceiling = shown(fields.ceiling, ceiling, |u| format!("{:.0} % of {}", u.percent, what(&u.what)));
        let why = ceiling.map(|u| u.why.as_str()).filter(|w| !w.is_empty());
        td(out, "n", ceiling.and_then(|u| finite(u.percent)), why, &esc(&shown_ceiling));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A ceiling's name, "?" in a record without it.
pub(super) fn what(name: &str) -> &str {
    if name.is_empty() { "?" } else { name }
}

/// Why it was rejected, in a few words: "–" for an accepted candidate.
fn reason(c: &CandidateReport) -> String {
    match (&c.reason, accepted(c)) {
        (Some(r), _) => r.clone(),
        (None, true) => "–".into(),
        (None, false) => NOT_RECORDED.into(),
    }
}

pub(super) fn rejections(out: &mut String, cs: &[CandidateReport]) {
    let rejected: Vec<(&CandidateReport, &Rejection)> = cs.iter().filter_map(|c| Some((c, rejection(c)?))).collect();
    let _ = writeln!(out, "<h3>Rejections ({})</h3>", rejected.len());
    if rejected.is_empty() {
        out.push_str("<p>None: every candidate was accepted.</p>\n");
        return;
    }
    for (c, r) in rejected {
        let _ = writeln!(out, "<div class=\"rejection\">\n<h4>{} — {}</h4>", esc(&label(c)), esc(&reason(c)));
        let mut facts = Vec::new();
        if !c.origin.is_empty() {
            facts.push(format!("file {}", c.origin));
        }
        facts.push(format!("check {}", check(r)));
        if let Some(at) = found_at(r) {
            let sizes = at.sizes.0.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ");
            facts.push(format!("at {sizes}, {}", at.trial));
        }
        if let Rejection::Spec { line: Some(line), .. } = r {
            facts.push(format!("line {line}"));
        }
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&facts.join("; ")));
        let evidence = c.evidence.as_deref().unwrap_or(NOT_RECORDED);
        let _ = writeln!(out, "<pre>{}</pre>", esc(evidence));
        if let Some(findings) = &c.findings.sanitizer {
            // Through a JSON value, whose keys are in order, as the record's own were shown.
            let findings = serde_json::to_value(findings).and_then(|v| serde_json::to_string_pretty(&v));
            let _ = writeln!(
                out,
                "<details><summary>sanitizer</summary><pre>{}</pre></details>",
                esc(&findings.unwrap_or_default())
            );
        }
        out.push_str("</div>\n");
    }
}

/// The check that failed, as the record names it.
fn check(r: &Rejection) -> String {
    match serde_json::to_value(r) {
        Ok(v) => v.get("check").and_then(Value::as_str).unwrap_or("?").to_string(),
        Err(_) => "?".into(),
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
    for (d, fields) in run.devices.iter().zip(&run.device_fields) {
        // A version the device always says; "–" where it said null.
        let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
        let recorded = |r: Recorded, v: &Option<String>| shown(r, v.clone(), |s| s);
        let gpu = {
            let name = if d.name.is_empty() { NOT_RECORDED } else { &d.name };
            let (major, minor) = d.compute_capability;
            let parts = [
                format!("GPU {}", d.ordinal),
                format!("sm_{major}{minor}"),
                format!("{} SMs", d.multiprocessors),
                format!("{:.0} MiB L2", d.l2_bytes as f64 / 1048576.0),
                format!("{:.1} GiB", d.memory_bytes as f64 / 1073741824.0),
            ];
            format!("{name} ({})", parts.join(", "))
        };
        let ceilings = shown(fields.ceilings, d.ceilings, |c| {
            format!(
                "fp32 {:.1}, TF32 {:.0}, BF16 {:.0} TFLOP/s; DRAM {:.0} GB/s (measured)",
                c.fp32_tflops, c.tf32_tflops, c.bf16_tflops, c.dram_gbs
            )
        });
        let clock = d.sm_clock_mhz.map_or("–".into(), |m| format!("{m:.0} MHz (measured after the run)"));
        let cuda_driver = if d.cuda_driver.is_empty() { NOT_RECORDED.to_string() } else { d.cuda_driver.clone() };
        let rows = [
            ("GPU", gpu),
            ("driver", version(&d.driver)),
            ("CUDA driver API", cuda_driver),
            ("NVRTC", version(&d.nvrtc)),
            ("cuBLAS", version(&d.cublas)),
            ("cuDNN", recorded(fields.cudnn, &d.cudnn)),
            ("PyTorch", recorded(fields.torch, &d.torch)),
            ("SM clock", clock),
            ("ceilings", ceilings),
            ("sandbox", recorded(fields.sandbox, &d.sandbox)),
        ];
        out.push_str("<dl class=\"env\">\n");
        for (k, v) in rows {
            let _ = writeln!(out, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
        }
        out.push_str("</dl>\n");
    }
    // Candidates whose worker held less than the whole sandbox: their verdicts stand, weaker confined.
    let weak: Vec<(&str, &str)> =
        run.records.iter().filter_map(|c| Some((c.name.as_str(), c.findings.weak_sandbox()?))).collect();
    if !weak.is_empty() {
        out.push_str("<p>Reviewed with less than the whole sandbox (the verdicts stand; the confinement was weaker):</p>\n<ul>\n");
        for (name, how) in weak {
            let _ = writeln!(out, "<li><code>{}</code>: {}</li>", esc(name), esc(how));
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
    for c in &run.records {
        let f = if c.origin.is_empty() { c.name.as_str() } else { c.origin.as_str() };
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
