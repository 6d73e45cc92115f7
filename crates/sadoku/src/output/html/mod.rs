//! The HTML report: one self-contained page (inline CSS and SVG, one small script that only sorts
//! tables) made from recorded runs, read through the typed schema (docs/REPORT.md); records from
//! older versions lack fields, and still make a report: what is missing says "not recorded".
//!
//! Every string from a record is escaped: candidate names, evidence and compiler logs come from
//! whoever wrote the kernels.

use std::collections::BTreeMap;
use std::fmt::Write;

use sadoku_core::report::CandidateReport;
use sadoku_core::verdict::{At, Rejection, Verdict};
use serde_json::Value;

use super::plots::{self, ForestRow, Roof, RooflinePoint, Samples, SweepLine, SweepPoint};
use crate::kernelbench::Summary;
use crate::records::{Recorded, Run};

mod figures;
mod tables;

use figures::{distributions, forest, roofline, sweep};
use tables::{environment, kernelbench, rejections, replay, summary};

/// Text content, escaped.
fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// A double-quoted attribute value, escaped.
fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

const NOT_RECORDED: &str = "not recorded";

/// A number the page can use: NaN stands for a null the record held where a number goes (a value
/// that was not finite when written).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// An interval whose ends are both numbers.
fn interval(i: Option<(f64, f64)>) -> Option<(f64, f64)> {
    i.filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
}

/// A cell's text for a field the page tells apart: the value, "–" where the record holds null,
/// "not recorded" where it lacks it.
fn shown<T>(recorded: Recorded, value: Option<T>, f: impl FnOnce(T) -> String) -> String {
    match (recorded, value) {
        (_, Some(v)) => f(v),
        (Recorded::Null, None) => "–".into(),
        (_, None) => NOT_RECORDED.into(),
    }
}

/// A word of the schema as the record writes it (a precision class, a call, a check).
fn word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => "?".into(),
    }
}

fn ms(v: f64) -> String {
    if v >= 1.0 { format!("{v:.3} ms") } else { format!("{:.1} µs", v * 1e3) }
}

/// "problem/file", or the file alone when the record names no problem.
fn label(c: &CandidateReport) -> String {
    if c.problem.is_empty() { c.name.clone() } else { format!("{}/{}", c.problem, c.name) }
}

fn accepted(c: &CandidateReport) -> bool {
    c.verdict.is_accepted()
}

/// The rejection, for a rejected candidate.
fn rejection(c: &CandidateReport) -> Option<&Rejection> {
    match &c.verdict {
        Verdict::Rejected(r) => Some(r),
        Verdict::Accepted { .. } => None,
    }
}

/// Where in the verification the rejection's finding was made, for the checks that say.
fn found_at(r: &Rejection) -> Option<&At> {
    match r {
        Rejection::LaunchRefused { at, .. }
        | Rejection::KernelFault { at, .. }
        | Rejection::Timeout { at, .. }
        | Rejection::WorkerDied { at, .. }
        | Rejection::OutOfBounds { at, .. }
        | Rejection::Unwritten { at, .. }
        | Rejection::InputsModified { at, .. }
        | Rejection::Inaccurate { at, .. }
        | Rejection::Nondeterministic { at, .. }
        | Rejection::HiddenWork { at, .. }
        | Rejection::Refused { at, .. } => Some(at),
        Rejection::Spec { .. }
        | Rejection::Compile { .. }
        | Rejection::CallFailed { .. }
        | Rejection::Signature { .. }
        | Rejection::LaunchConfig { .. }
        | Rejection::ModuleLoad { .. }
        | Rejection::Sanitizer { .. }
        | Rejection::Impossible { .. } => None,
    }
}

/// The baseline's name up to ", as torch…" (the whole name is in the cell's title).
fn short_baseline(name: &str) -> &str {
    name.split(", as ").next().unwrap_or(name)
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
    let cs = &run.records;
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
    summary(out, run);
    if let Some(suite) = &run.suite {
        kernelbench(out, suite);
    }
    forest(out, cs, suffix);
    distributions(out, cs, suffix);
    roofline(out, run, suffix);
    sweep(out, cs, suffix);
    rejections(out, cs);
    not_reviewed(out, run);
    environment(out, run);
    replay(out, run);
    out.push_str("</section>\n");
}

/// Candidates the run could not review: no verdict, so they are in no table above.
fn not_reviewed(out: &mut String, run: &Run) {
    if run.not_reviewed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3>Not reviewed ({})</h3>\n<p class=\"note\">The environment failed during these reviews: no verdict, \
         and no record in the run's file, so <code>--resume</code> reviews them again.</p>\n<ul>",
        run.not_reviewed.len()
    );
    for n in &run.not_reviewed {
        let _ = writeln!(out, "<li>{} ({}): {}</li>", esc(&n.origin), esc(&n.problem), esc(&n.error));
    }
    out.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::figures::roofline_point;
    use super::*;
    use crate::records::parse;

    #[test]
    fn strings_from_records_are_escaped() {
        let run = parse(
            "x.jsonl",
            r#"{"name":"<script>alert(1)</script>.cu","problem":"p\"><img src=x onerror=alert(2)>","origin":"a'b\".cu","verdict":"REJECTED","check":"compile","log":"","reason":"<b>r</b>","evidence":"</pre><script>alert(3)</script>"}"#,
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
            "candidates": [{"name": "a_fast.cu", "problem": "a", "verdict": "ACCEPTED", "class": "fp32"}],
            "summary": {"problems": 2, "accepted": 1, "faster": 1, "twice": 0, "per_problem": [
                {"problem": "a", "candidates": 1, "best": "a_fast.cu", "speedup": 1.5, "interval": [1.4, 1.6]},
                {"problem": "<b>b</b>", "candidates": 0, "best": null, "speedup": null}]}
        });
        let html = render(&[crate::records::from_report("kb.json", report).unwrap()]);
        assert!(html.contains("<h3>KernelBench problems</h3>"), "{html}");
        assert!(html.contains("2 problem(s): 1 with an accepted candidate (50 %)"), "{html}");
        assert!(html.contains("1.50× (1.40–1.60)") && html.contains("no candidate"), "{html}");
        assert!(html.contains("&lt;b&gt;b&lt;/b&gt;") && !html.contains("<b>b</b>"));
        // A plain review has no such section.
        let plain = serde_json::json!({"candidates": [{"name": "a.cu", "verdict": "ACCEPTED", "class": "fp32"}]});
        assert!(!render(&[crate::records::from_report("r.json", plain).unwrap()]).contains("KernelBench problems"));
    }

    #[test]
    fn candidates_not_reviewed_are_listed_with_their_error_escaped() {
        let report = serde_json::json!({
            "candidates": [{"name": "a.cu", "verdict": "ACCEPTED", "class": "fp32"}],
            "not_reviewed": [{"origin": "x/<b>.py", "problem": "p", "error": "the Model's process died"}]
        });
        let html = render(&[crate::records::from_report("r.json", report).unwrap()]);
        assert!(html.contains("<h3>Not reviewed (1)</h3>"), "{html}");
        assert!(html.contains("x/&lt;b&gt;.py (p): the Model's process died"), "{html}");
        let plain = serde_json::json!({"candidates": [{"name": "a.cu", "verdict": "ACCEPTED", "class": "fp32"}]});
        assert!(!render(&[crate::records::from_report("r.json", plain).unwrap()]).contains("Not reviewed"));
    }

    #[test]
    fn missing_fields_say_not_recorded() {
        let run = parse("x.jsonl", r#"{"name":"a.cu","verdict":"ACCEPTED","class":"fp32"}"#).unwrap();
        let html = render(&[run]);
        assert!(html.contains(NOT_RECORDED));
        assert!(html.contains("No roofline"));
        assert!(html.contains("id=\"forest\"") && html.contains("id=\"distributions\""));
    }

    /// Every field of a full record replaced, one at a time, by a value of another type (or
    /// removed): the run loads and the page is made, or the loader refuses it in one line.
    #[test]
    fn odd_values_in_any_field_make_a_page_or_a_one_line_error() {
        let full: Value = serde_json::from_str(
            r#"{"name":"a.cu","origin":"x/a.cu","problem":"gemm","verdict":"ACCEPTED","class":"fp32","reason":null,"evidence":null,
            "error":{"class":"fp32"},"tflops":2.0,"floors":{"flops":1e9,"bytes":1e6},
            "ceiling":{"what":"fp32 SIMT","unit":"TFLOP/s","achieved":2.0,"percent":3.0},
            "timing":{"baseline_name":"b","candidate":{"median":0.5},"speedup":1.2,"speedup_interval":[1.1,1.3],
              "call":"FASTER","candidate_ms":[0.5,0.51],"baseline_ms":[0.6,0.61],"throttled":1,"throttled_ms":[0.7],
              "rounds":[{"samples":1},{"samples":1}]},
            "cases":[{"sizes":{"N":1},"timing":{"candidate":{"median":0.5},"speedup":1.0,"speedup_interval":[0.9,1.1]}},
                     {"sizes":{"N":2},"timing":{"candidate":{"median":0.5},"speedup":2.0,"speedup_interval":[0.0,-1.0]}}]}"#,
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
        let (mut pages, mut refused) = (0, 0);
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
                let report = serde_json::json!({
                    "environment": [{"ceilings": {"fp32_tflops": 60.0, "tf32_tflops": 400.0, "bf16_tflops": 800.0, "dram_gbs": 4000.0}}],
                    "candidates": [record, full.clone()],
                });
                match crate::records::from_report("x", report) {
                    Ok(run) => {
                        let html = render(&[run]);
                        assert!(html.ends_with("</html>\n"), "{path:?} = {value:?}");
                        pages += 1;
                    }
                    Err(e) => {
                        let e = format!("{e:#}");
                        assert!(e.starts_with("x: candidate 1: ") && !e.contains('\n'), "{path:?} = {value:?}: {e}");
                        refused += 1;
                    }
                }
            }
        }
        assert!(pages > 0 && refused > 0, "{pages} pages, {refused} refused");
    }

    /// What a record lacks says "not recorded"; what it holds as null, "–": for the candidate's
    /// ceiling and the device's cuDNN, PyTorch, sandbox and ceilings alike.
    #[test]
    fn missing_and_null_fields_read_differently() {
        let cell = |html: &str, dt: &str| {
            let at = html.find(&format!("<dt>{dt}</dt><dd>")).unwrap() + dt.len() + 13;
            html[at..at + html[at..].find("</dd>").unwrap()].to_string()
        };
        let a = r#"{"name":"a.cu","verdict":"ACCEPTED","class":"fp32","reason":null,"timing":null,"error":null}"#;
        let missing: Value =
            serde_json::from_str(&format!(r#"{{"environment":{{"name":"GPU"}},"candidates":[{a}]}}"#)).unwrap();
        let html = render(&[crate::records::from_report("old.json", missing).unwrap()]);
        for dt in ["cuDNN", "PyTorch", "sandbox", "ceilings"] {
            assert_eq!(cell(&html, dt), NOT_RECORDED, "{dt}");
        }
        assert!(html.contains("<td class=\"n\">not recorded</td></tr>"), "the ceiling cell: {html}");
        let null = serde_json::json!({
            "environment": [{"name": "GPU", "cudnn": null, "torch": null, "sandbox": null, "ceilings": null}],
            "candidates": [serde_json::from_str::<Value>(&a.replace("\"error\"", "\"ceiling\":null,\"error\"")).unwrap()],
        });
        let html = render(&[crate::records::from_report("new.json", null).unwrap()]);
        for dt in ["cuDNN", "PyTorch", "sandbox", "ceilings"] {
            assert_eq!(cell(&html, dt), "–", "{dt}");
        }
        assert!(html.contains("<td class=\"n\">–</td></tr>"), "the ceiling cell: {html}");
        // The class of an older record's error, kept beside its verdict.
        assert!(html.contains("<td>fp32</td>"), "{html}");
    }

    #[test]
    fn a_roofline_point_from_floors_or_from_an_older_record() {
        let record = |fields: &str| -> CandidateReport {
            serde_json::from_str(&format!(r#"{{"name":"a.cu","verdict":"ACCEPTED","class":"fp32",{fields}}}"#)).unwrap()
        };
        let new = record(r#""timing":{"candidate":{"median":2.0}},"floors":{"flops":4e9,"bytes":1e9},"tflops":2.0"#);
        let (i, t) = roofline_point(&new).unwrap();
        assert!((i - 4.0).abs() < 1e-9 && (t - 2.0).abs() < 1e-9, "{i} {t}");
        let old =
            record(r#""timing":{"candidate":{"median":1.0}},"tflops":0.5,"ceiling":{"unit":"GB/s","achieved":1000.0}"#);
        let (i, t) = roofline_point(&old).unwrap();
        assert!((i - 0.5).abs() < 1e-9 && (t - 0.5).abs() < 1e-9);
        let gemm = record(
            r#""timing":{"candidate":{"median":1.0}},"tflops":20.0,"ceiling":{"unit":"TFLOP/s","achieved":20.0}"#,
        );
        assert!(roofline_point(&gemm).is_err());
    }
}
