//! The HTML report: one self-contained page (inline CSS and SVG, one small script that only sorts
//! tables) made from recorded runs, read as JSON values so that records from older versions, which
//! lack fields, still make a report: what is missing says "not recorded".
//!
//! Every string from a record is escaped: candidate names, evidence and compiler logs come from
//! whoever wrote the kernels.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::plots::{self, ForestRow, Roof, RooflinePoint, Samples, SweepLine, SweepPoint};
use crate::report::Run;

/// Text content, escaped.
fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// A double-quoted attribute value, escaped.
fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

const NOT_RECORDED: &str = "not recorded";

/// The value at `path`: `None` when a key is missing (not recorded), `Some(Null)` when the record
/// holds null on the way there (the step did not happen: an untimed candidate has no median).
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        match cur {
            Value::Null => return Some(&Value::Null),
            Value::Object(o) => cur = o.get(*key)?,
            _ => return None,
        }
    }
    Some(cur)
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    at(v, path).and_then(Value::as_f64).filter(|x| x.is_finite())
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn numbers(v: &Value, path: &[&str]) -> Vec<f64> {
    at(v, path).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn pair(v: &Value, path: &[&str]) -> Option<(f64, f64)> {
    let p = at(v, path)?;
    Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?))
}

/// A cell's text: the value, "–" where the record holds null, "not recorded" where it lacks it.
fn shown(v: Option<&Value>, f: impl Fn(&Value) -> Option<String>) -> String {
    match v {
        None => NOT_RECORDED.into(),
        Some(Value::Null) => "–".into(),
        Some(x) => f(x).unwrap_or_else(|| NOT_RECORDED.into()),
    }
}

fn ms(v: f64) -> String {
    if v >= 1.0 { format!("{v:.3} ms") } else { format!("{:.1} µs", v * 1e3) }
}

/// "problem/file", or the file alone when the record names no problem.
fn label(c: &Value) -> String {
    let name = text(c, &["name"]).unwrap_or("?");
    match text(c, &["problem"]) {
        Some(p) if !p.is_empty() => format!("{p}/{name}"),
        _ => name.to_string(),
    }
}

fn accepted(c: &Value) -> bool {
    text(c, &["verdict"]) == Some("ACCEPTED")
}

/// The baseline's name up to ", as torch…" (the whole name is in the cell's title).
fn short_baseline(name: &str) -> &str {
    name.split(", as ").next().unwrap_or(name)
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
table.sortable th { cursor: pointer; }
th[aria-sort=ascending]::after { content: " ▲"; } th[aria-sort=descending]::after { content: " ▼"; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ACCEPTED { color: #1e8c3c; font-weight: 600; } .REJECTED { color: #c81e1e; font-weight: 600; }
.FASTER { color: #1e8c3c; } .SLOWER { color: #c81e1e; } .SAME { color: #777; }
.note { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; border: 1px solid #e4e4e4; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
svg { max-width: 100%; height: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid > div { flex: 0 1 440px; }
.legend span { margin-right: 1.4em; white-space: nowrap; }
.legend svg { vertical-align: middle; }
.rejection { border-left: 4px solid #c81e1e; padding-left: 0.8em; margin: 1em 0; }
.rejection h4 { margin: 0.2em 0; }
dl.env { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1.2em; }
dl.env dt { font-weight: 600; } dl.env dd { margin: 0; }
"#;

/// Sorts every `table.sortable` by the clicked header (numbers by their `data-v`, cells without
/// one last); marks the page ready for the browser test.
const SCRIPT: &str = r#"(function () {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var up = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        var key = function (row) {
          var cell = row.cells[i], v = cell.getAttribute("data-v");
          if (th.hasAttribute("data-num")) { return v === null ? null : parseFloat(v); }
          return cell.textContent.trim().toLowerCase();
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
          var order = typeof x === "number" ? x - y : x.localeCompare(y);
          return up ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.body.dataset.ready = "1";
})();"#;

/// The page for these runs, one section each, in order.
pub fn render(runs: &[Run]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>sadoku report: {}</title>", esc(&sources(runs)));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>sadoku report</h1>");
    let _ = writeln!(
        out,
        "<p class=\"note\">Made by sadoku {} from {} recorded run(s). Every number is from the records; \
         nothing was measured to make this page.</p>",
        esc(crate::VERSION),
        runs.len()
    );
    if runs.len() > 1 {
        out.push_str("<ul>\n");
        for (i, run) in runs.iter().enumerate() {
            let _ = writeln!(out, "<li><a href=\"#run{}\">{}</a></li>", i + 1, esc(&run.source));
        }
        out.push_str("</ul>\n");
    }
    for (i, run) in runs.iter().enumerate() {
        let suffix = if i == 0 { String::new() } else { format!("-{}", i + 1) };
        section(&mut out, run, i + 1, &suffix);
    }
    let _ = writeln!(out, "<script>\n{SCRIPT}\n</script>\n</body>\n</html>");
    out
}

fn sources(runs: &[Run]) -> String {
    runs.iter().map(|r| r.source.as_str()).collect::<Vec<_>>().join(", ")
}

fn section(out: &mut String, run: &Run, number: usize, suffix: &str) {
    let cs = &run.candidates;
    let accepted_n = cs.iter().filter(|c| accepted(c)).count();
    let _ = writeln!(out, "<section id=\"run{number}\">\n<h2>{}</h2>", esc(&run.source));
    let _ = writeln!(
        out,
        "<p>{} candidate(s): {accepted_n} accepted, {} rejected. sadoku {}; seed {}; wall time {}.</p>",
        cs.len(),
        cs.len() - accepted_n,
        esc(run.sadoku.as_deref().unwrap_or(NOT_RECORDED)),
        esc(run.seed.as_deref().unwrap_or(NOT_RECORDED)),
        run.wall_s.map_or(NOT_RECORDED.to_string(), |w| format!("{w:.1} s")),
    );
    summary(out, cs);
    if let Some(suite) = &run.suite {
        kernelbench(out, suite);
    }
    forest(out, cs, suffix);
    distributions(out, cs, suffix);
    roofline(out, run, suffix);
    sweep(out, cs, suffix);
    rejections(out, cs);
    environment(out, run);
    replay(out, run);
    out.push_str("</section>\n");
}

/// A KernelBench run's figures: each problem's best accepted candidate against eager PyTorch, and
/// the fractions of all the problems given.
fn kernelbench(out: &mut String, suite: &Value) {
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

/// A table cell; `sort` is its numeric key for the sorting script.
fn td(out: &mut String, class: &str, sort: Option<f64>, title: Option<&str>, html: &str) {
    out.push_str("<td");
    if !class.is_empty() {
        let _ = write!(out, " class=\"{class}\"");
    }
    if let Some(v) = sort {
        let _ = write!(out, " data-v=\"{v}\"");
    }
    if let Some(t) = title {
        let _ = write!(out, " title=\"{}\"", attr(t));
    }
    let _ = write!(out, ">{html}</td>");
}

fn summary(out: &mut String, cs: &[Value]) {
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

fn forest(out: &mut String, cs: &[Value], suffix: &str) {
    out.push_str("<h3>Speedups</h3>\n");
    // Grouped by problem and baseline; within a group, by name.
    let mut rows: Vec<(String, String, String, ForestRow)> = Vec::new();
    let mut without = 0;
    for c in cs.iter().filter(|c| accepted(c)) {
        let Some(speedup) = num(c, &["timing", "speedup"]).filter(|s| *s > 0.0) else {
            without += 1;
            continue;
        };
        let interval = pair(c, &["timing", "speedup_interval"])
            .filter(|(lo, hi)| *lo > 0.0 && lo <= hi && hi.is_finite())
            .unwrap_or((speedup, speedup));
        let problem = text(c, &["problem"]).unwrap_or("").to_string();
        let baseline = short_baseline(text(c, &["timing", "baseline_name"]).unwrap_or("")).to_string();
        let call = text(c, &["timing", "call"]).map(str::to_string);
        rows.push((problem, baseline, label(c), ForestRow { label: label(c), speedup, interval, call }));
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "<p id=\"forest{suffix}\">No accepted candidate has a speedup over a baseline: no forest plot.</p>"
        );
        return;
    }
    rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    // A problem timed against more than one baseline names the baseline on each row.
    let mut baselines: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, b, _, _) in &rows {
        let list = baselines.entry(p).or_default();
        if !list.contains(&b.as_str()) {
            list.push(b);
        }
    }
    let several: Vec<String> = baselines.iter().filter(|(_, b)| b.len() > 1).map(|(p, _)| p.to_string()).collect();
    let rows: Vec<ForestRow> = rows
        .into_iter()
        .map(|(p, b, _, mut r)| {
            if several.contains(&p) {
                r.label = format!("{} ({b})", r.label);
            }
            r
        })
        .collect();
    out.push_str(
        "<p class=\"note\">Each accepted candidate with a baseline: its speedup (the point) and 95 % interval \
         (the bar), on a log scale, grouped by problem and baseline. Green: FASTER, red: SLOWER, grey: SAME \
         (the interval holds 1×).</p>\n",
    );
    figure(out, &format!("forest{suffix}"), "forest plot of speedups", plots::forest(&rows));
    if without > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{without} accepted candidate(s) have no speedup (no baseline, or untimed); \
             the summary gives their % of ceiling.</p>"
        );
    }
}

fn figure(out: &mut String, id: &str, what: &str, svg: anyhow::Result<String>) {
    match svg {
        Ok(svg) => {
            let _ = writeln!(out, "<figure id=\"{id}\" aria-label=\"{what}\">\n{svg}\n</figure>");
        }
        Err(e) => {
            let _ = writeln!(out, "<p id=\"{id}\">The {what} could not be drawn: {}</p>", esc(&format!("{e:#}")));
        }
    }
}

fn swatch(shape: &str) -> String {
    format!("<svg width=\"14\" height=\"14\" viewBox=\"0 0 14 14\" aria-hidden=\"true\">{shape}</svg>")
}

fn distributions(out: &mut String, cs: &[Value], suffix: &str) {
    out.push_str("<h3>Timing distributions</h3>\n");
    let timed: Vec<&Value> = cs.iter().filter(|c| !numbers(c, &["timing", "candidate_ms"]).is_empty()).collect();
    let id = format!("distributions{suffix}");
    if timed.is_empty() {
        let _ = writeln!(out, "<p id=\"{id}\">No candidate was timed (or no samples were recorded).</p>");
        return;
    }
    let _ = writeln!(
        out,
        "<p class=\"note legend\">Each timed candidate's samples in the order they were taken; a baseline sample \
         was taken next to each candidate sample (interleaved). \
         <span>{} candidate</span><span>{} baseline</span><span>{} dropped: SM clock throttled (drawn after the kept samples)</span>\
         <span>{} round boundary</span></p>",
        swatch("<circle cx=\"7\" cy=\"7\" r=\"4\" fill=\"#1f77b4\"/>"),
        swatch("<circle cx=\"7\" cy=\"7\" r=\"4\" fill=\"#e67e22\"/>"),
        swatch("<path d=\"M3 3L11 11M11 3L3 11\" stroke=\"#c81e1e\" stroke-width=\"2\"/>"),
        swatch("<path d=\"M7 0V14\" stroke=\"#783ca0\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>"),
    );
    let _ = writeln!(out, "<div id=\"{id}\" class=\"grid\">");
    let mut unrecorded_throttle = Vec::new();
    for c in timed {
        let candidate = numbers(c, &["timing", "candidate_ms"]);
        let baseline = numbers(c, &["timing", "baseline_ms"]);
        let throttled = numbers(c, &["timing", "throttled_ms"]);
        let dropped = num(c, &["timing", "throttled"]).unwrap_or(0.0) as usize;
        if dropped > throttled.len() {
            unrecorded_throttle.push(format!("{} ({dropped})", label(c)));
        }
        let rounds: Vec<usize> = at(c, &["timing", "rounds"])
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|r| r.get("samples")?.as_u64()).map(|n| n as usize).collect())
            .unwrap_or_default();
        let rounds = if rounds.iter().sum::<usize>() == candidate.len() { rounds } else { Vec::new() };
        let name = label(c);
        let samples = Samples {
            label: &name,
            candidate: &candidate,
            baseline: &baseline,
            throttled: &throttled,
            rounds: &rounds,
        };
        match plots::distribution(&samples) {
            Ok(svg) => {
                let _ = writeln!(out, "<div>{svg}</div>");
            }
            Err(e) => {
                let _ = writeln!(out, "<div><p>{}: {}</p></div>", esc(&name), esc(&format!("{e:#}")));
            }
        }
    }
    out.push_str("</div>\n");
    if !unrecorded_throttle.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Samples dropped at a throttled clock whose times were not recorded (older records): {}.</p>",
            esc(&unrecorded_throttle.join(", "))
        );
    }
}

/// A candidate's place on the roofline: flop/byte and TFLOP/s, or why it has none.
fn roofline_point(c: &Value) -> Result<(f64, f64), &'static str> {
    let median_s = num(c, &["timing", "candidate", "median"]).filter(|m| *m > 0.0).ok_or("no median time")? * 1e-3;
    let (flops, bytes) = match (num(c, &["floors", "flops"]), num(c, &["floors", "bytes"])) {
        (Some(f), Some(b)) => (f, b),
        _ => {
            // Older records: the rate, and the bandwidth when the ceiling was DRAM's.
            let flops = num(c, &["tflops"]).ok_or("no flop count recorded")? * 1e12 * median_s;
            let bytes = match (text(c, &["ceiling", "unit"]), num(c, &["ceiling", "achieved"])) {
                (Some("GB/s"), Some(gbs)) => gbs * 1e9 * median_s,
                _ => return Err("no byte floor recorded (an older record, judged against a TFLOP/s ceiling)"),
            };
            (flops, bytes)
        }
    };
    if flops <= 0.0 || bytes <= 0.0 {
        return Err("no flops or no bytes to place it (zero arithmetic intensity)");
    }
    Ok((flops / bytes, flops / median_s / 1e12))
}

fn roofline(out: &mut String, run: &Run, suffix: &str) {
    out.push_str("<h3>Roofline</h3>\n");
    let id = format!("roofline{suffix}");
    if !run.has_environment {
        let _ = writeln!(
            out,
            "<p id=\"{id}\">No roofline: this file does not record the environment (JSON Lines from --out hold the \
             candidates only); the card and its measured ceilings are in <code>sadoku review --json</code> output.</p>"
        );
        return;
    }
    let Some(device) = run.environment.iter().find(|d| d.get("ceilings").is_some_and(Value::is_object)) else {
        let _ = writeln!(
            out,
            "<p id=\"{id}\">No roofline: the environment has no measured ceilings (not recorded by the sadoku that made this run).</p>"
        );
        return;
    };
    let roofs: Vec<Roof> =
        [("fp32_tflops", "fp32 SIMT"), ("tf32_tflops", "TF32 tensor cores"), ("bf16_tflops", "BF16 tensor cores")]
            .iter()
            .filter_map(|(key, name)| {
                num(device, &["ceilings", key]).map(|t| Roof { label: name.to_string(), tflops: t })
            })
            .collect();
    let dram = num(device, &["ceilings", "dram_gbs"]);
    let mut points = Vec::new();
    let mut placed = Vec::new();
    let mut left_out = Vec::new();
    for c in run.candidates.iter().filter(|c| accepted(c)) {
        match roofline_point(c) {
            Ok((intensity, tflops)) => {
                points.push(RooflinePoint { number: points.len() + 1, intensity, tflops });
                placed.push(c);
            }
            Err(why) => left_out.push(format!("{}: {why}", label(c))),
        }
    }
    let gpu = text(device, &["name"]).unwrap_or("the GPU");
    let _ = writeln!(
        out,
        "<p class=\"note\">{}'s measured ceilings (flat roofs) and DRAM bandwidth (the slope); each accepted candidate \
         at its arithmetic intensity (the problem's flop floor over its byte floor) and achieved rate (the flop floor \
         over its median time).{}</p>",
        esc(gpu),
        if run.environment.len() > 1 { " The run used several GPUs: these are the first one's ceilings." } else { "" }
    );
    figure(out, &id, "roofline", plots::roofline(dram, &roofs, &points));
    if !placed.is_empty() {
        out.push_str("<details><summary>The points</summary>\n<table class=\"sortable\"><thead><tr><th data-num>#</th><th>candidate</th><th data-num>flop/byte</th><th data-num>TFLOP/s</th><th data-num>% of ceiling</th></tr></thead><tbody>\n");
        for (p, c) in points.iter().zip(&placed) {
            out.push_str("<tr>");
            td(out, "n", Some(p.number as f64), None, &p.number.to_string());
            td(out, "", None, None, &esc(&label(c)));
            td(out, "n", Some(p.intensity), None, &format!("{:.3}", p.intensity));
            td(out, "n", Some(p.tflops), None, &format!("{:.3}", p.tflops));
            let percent = num(c, &["ceiling", "percent"]);
            let what = text(c, &["ceiling", "what"]).unwrap_or("?");
            td(out, "n", percent, None, &esc(&percent.map_or(NOT_RECORDED.into(), |p| format!("{p:.0} % of {what}"))));
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n</details>\n");
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Not on the roofline ({}): {}.</p>",
            left_out.len(),
            esc(&left_out.join("; "))
        );
    }
}

/// Speedup against size for candidates timed at several sizes; no section without any.
fn sweep(out: &mut String, cs: &[Value], suffix: &str) {
    // Per problem: its candidates' cases.
    let mut problems: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for c in cs {
        if at(c, &["cases"]).and_then(Value::as_array).is_some_and(|a| a.len() > 1) {
            problems.entry(text(c, &["problem"]).unwrap_or("").to_string()).or_default().push(c);
        }
    }
    if problems.is_empty() {
        return;
    }
    out.push_str("<h3>Size sweeps</h3>\n");
    let _ = writeln!(out, "<div id=\"sweep{suffix}\">");
    for (problem, list) in &problems {
        let cases = |c: &Value| at(c, &["cases"]).and_then(Value::as_array).cloned().unwrap_or_default();
        // The symbols whose values differ between cases: the x axis is their product.
        let mut values: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for c in list {
            for case in cases(c) {
                for (k, v) in case.get("sizes").and_then(Value::as_object).into_iter().flatten() {
                    if let Some(v) = v.as_i64() {
                        values.entry(k.clone()).or_default().push(v);
                    }
                }
            }
        }
        let varying: Vec<&String> =
            values.iter().filter(|(_, v)| v.iter().any(|x| *x != v[0])).map(|(k, _)| k).collect();
        let axis = if varying.is_empty() {
            "size".to_string()
        } else {
            varying.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("·")
        };
        let mut lines = Vec::new();
        let mut untimed = 0;
        for c in list {
            let mut points = Vec::new();
            for case in cases(c) {
                let values: Vec<f64> = varying
                    .iter()
                    .filter_map(|k| case.get("sizes").and_then(|s| s.get(k.as_str())).and_then(Value::as_f64))
                    .collect();
                let size: f64 = values.iter().product();
                let sizes = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("·");
                match num(&case, &["timing", "speedup"]) {
                    Some(s) if size > 0.0 && s > 0.0 => {
                        let interval = pair(&case, &["timing", "speedup_interval"])
                            .filter(|(lo, hi)| *lo > 0.0 && lo <= hi && hi.is_finite())
                            .unwrap_or((s, s));
                        points.push(SweepPoint { size, sizes, speedup: s, interval });
                    }
                    _ => untimed += 1,
                }
            }
            if !points.is_empty() {
                lines.push(SweepLine { label: label(c), points });
            }
        }
        let _ = writeln!(out, "<h4>{}</h4>", esc(if problem.is_empty() { "?" } else { problem }));
        if lines.is_empty() {
            let _ = writeln!(out, "<p>No speedups to plot (no baseline, or untimed cases).</p>");
            continue;
        }
        match plots::sweep(&axis, &lines) {
            Ok(svg) => {
                let _ = writeln!(out, "<figure>{svg}</figure>");
            }
            Err(e) => {
                let _ = writeln!(out, "<p>The sweep could not be drawn: {}</p>", esc(&format!("{e:#}")));
            }
        }
        if untimed > 0 {
            let _ = writeln!(out, "<p class=\"note\">{untimed} case(s) without a speedup are not drawn.</p>");
        }
    }
    out.push_str("</div>\n");
}

fn rejections(out: &mut String, cs: &[Value]) {
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

fn environment(out: &mut String, run: &Run) {
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
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=,:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn replay(out: &mut String, run: &Run) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse;

    #[test]
    fn strings_from_records_are_escaped() {
        let run = parse(
            "x.jsonl",
            r#"{"name":"<script>alert(1)</script>.cu","problem":"p\"><img src=x onerror=alert(2)>","origin":"a'b\".cu","verdict":"REJECTED","reason":"<b>r</b>","evidence":"</pre><script>alert(3)</script>"}"#,
        )
        .unwrap();
        let html = render(&[run]);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.cu"));
        assert_eq!(html.matches("<script>").count(), 1, "only the page's own script");
    }

    #[test]
    fn a_kernelbench_runs_figures_are_on_the_page_escaped() {
        let report = serde_json::json!({
            "candidates": [{"name": "a_fast.cu", "problem": "a", "verdict": "ACCEPTED"}],
            "summary": {"problems": 2, "accepted": 1, "faster": 1, "twice": 0, "per_problem": [
                {"problem": "a", "candidates": 1, "best": "a_fast.cu", "speedup": 1.5, "interval": [1.4, 1.6]},
                {"problem": "<b>b</b>", "candidates": 0, "best": null, "speedup": null}]}
        });
        let html = render(&[crate::report::from_report("kb.json", report).unwrap()]);
        assert!(html.contains("<h3>KernelBench problems</h3>"), "{html}");
        assert!(html.contains("2 problem(s): 1 with an accepted candidate (50 %)"), "{html}");
        assert!(html.contains("1.50× (1.40–1.60)") && html.contains("no candidate"), "{html}");
        assert!(html.contains("&lt;b&gt;b&lt;/b&gt;") && !html.contains("<b>b</b>"));
        // A plain review has no such section.
        let plain = serde_json::json!({"candidates": [{"name": "a.cu", "verdict": "ACCEPTED"}]});
        assert!(!render(&[crate::report::from_report("r.json", plain).unwrap()]).contains("KernelBench problems"));
    }

    #[test]
    fn missing_fields_say_not_recorded() {
        let run = parse("x.jsonl", r#"{"name":"a.cu","verdict":"ACCEPTED"}"#).unwrap();
        let html = render(&[run]);
        assert!(html.contains(NOT_RECORDED));
        assert!(html.contains("No roofline"));
        assert!(html.contains("id=\"forest\"") && html.contains("id=\"distributions\""));
    }

    /// Every field of a full record replaced, one at a time, by a value of another type (or
    /// removed): the page is still made.
    #[test]
    fn odd_values_in_any_field_make_a_page_not_a_panic() {
        let full: Value = serde_json::from_str(
            r#"{"name":"a.cu","origin":"x/a.cu","problem":"gemm","verdict":"ACCEPTED","reason":null,"evidence":null,
            "error":{"class":"fp32"},"tflops":2.0,"floors":{"flops":1e9,"bytes":1e6},
            "ceiling":{"what":"fp32 SIMT","unit":"TFLOP/s","achieved":2.0,"percent":3.0},
            "timing":{"baseline_name":"b","candidate":{"median":0.5},"speedup":1.2,"speedup_interval":[1.1,1.3],
              "call":"FASTER","candidate_ms":[0.5,0.51],"baseline_ms":[0.6,0.61],"throttled":1,"throttled_ms":[0.7],
              "rounds":[{"samples":1},{"samples":1}]},
            "cases":[{"sizes":{"N":1},"timing":{"speedup":1.0,"speedup_interval":[0.9,1.1]}},
                     {"sizes":{"N":2},"timing":{"speedup":2.0,"speedup_interval":[0.0,-1.0]}}]}"#,
        )
        .unwrap();
        let odd = [
            Value::Null,
            Value::from("x"),
            Value::from(-1.0),
            Value::from(0),
            serde_json::json!([]),
            serde_json::json!({}),
        ];
        let mut paths: Vec<Vec<String>> = Vec::new();
        for (k, v) in full.as_object().unwrap() {
            paths.push(vec![k.clone()]);
            for k2 in v.as_object().into_iter().flat_map(|o| o.keys()) {
                paths.push(vec![k.clone(), k2.clone()]);
            }
        }
        for path in paths {
            for value in odd.iter().map(Some).chain([None]) {
                let mut record = full.clone();
                let mut slot = &mut record;
                for k in &path[..path.len() - 1] {
                    slot = slot.get_mut(k).unwrap();
                }
                let last = path.last().unwrap();
                match value {
                    Some(v) => slot[last] = v.clone(),
                    None => drop(slot.as_object_mut().unwrap().remove(last)),
                }
                if record.get("name").is_none_or(|n| !n.is_string()) {
                    continue; // not a record: the loader refuses it
                }
                let run = Run {
                    source: "x".into(),
                    has_environment: true,
                    environment: vec![serde_json::json!({"ceilings":{"fp32_tflops":60.0,"dram_gbs":4000.0}})],
                    candidates: vec![record, full.clone()],
                    ..Run::default()
                };
                let html = render(&[run]);
                assert!(html.ends_with("</html>\n"), "{path:?} = {value:?}");
            }
        }
    }

    #[test]
    fn a_roofline_point_from_floors_or_from_an_older_record() {
        let new: Value = serde_json::from_str(
            r#"{"timing":{"candidate":{"median":2.0}},"floors":{"flops":4e9,"bytes":1e9},"tflops":2.0}"#,
        )
        .unwrap();
        let (i, t) = roofline_point(&new).unwrap();
        assert!((i - 4.0).abs() < 1e-9 && (t - 2.0).abs() < 1e-9, "{i} {t}");
        let old: Value = serde_json::from_str(
            r#"{"timing":{"candidate":{"median":1.0}},"tflops":0.5,"ceiling":{"unit":"GB/s","achieved":1000.0}}"#,
        )
        .unwrap();
        let (i, t) = roofline_point(&old).unwrap();
        assert!((i - 0.5).abs() < 1e-9 && (t - 0.5).abs() < 1e-9);
        let gemm: Value = serde_json::from_str(
            r#"{"timing":{"candidate":{"median":1.0}},"tflops":20.0,"ceiling":{"unit":"TFLOP/s","achieved":20.0}}"#,
        )
        .unwrap();
        assert!(roofline_point(&gemm).is_err());
    }
}
