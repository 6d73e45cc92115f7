//! Results as Markdown (for pull requests) and CSV (for spreadsheets), as hyperfine exports them:
//! one row per candidate, the numbers a reader compares.

use std::path::Path;

use sadoku_core::report::{CandidateReport, Report};

/// The row every exporter writes.
struct Row {
    candidate: String,
    problem: String,
    verdict: String,
    reason: String,
    class: String,
    error: String,
    median_ms: String,
    baseline_ms: String,
    speedup: String,
    speedup_low: String,
    speedup_high: String,
    call: String,
    tflops: String,
    ceiling_percent: String,
    ceiling: String,
}

const HEADER: [&str; 15] = [
    "candidate",
    "problem",
    "verdict",
    "reason",
    "class",
    "error vs fp64",
    "median ms",
    "baseline ms",
    "speedup",
    "speedup low",
    "speedup high",
    "call",
    "TFLOP/s",
    "% of ceiling",
    "ceiling",
];

fn row(c: &CandidateReport) -> Row {
    let t = c.findings.timing.as_ref();
    let num = |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    let interval = t.and_then(|t| t.speedup_interval);
    Row {
        candidate: c.name.clone(),
        problem: c.problem.clone(),
        verdict: if c.verdict.is_accepted() { "ACCEPTED".into() } else { "REJECTED".into() },
        reason: c.reason.clone().unwrap_or_default(),
        class: c.findings.error.as_ref().map_or(String::new(), |e| e.class.to_string()),
        error: c.findings.error.as_ref().map_or(String::new(), |e| format!("{:.2e}", e.normwise)),
        median_ms: num(t.map(|t| t.candidate.median), 4),
        baseline_ms: num(t.and_then(|t| t.baseline.as_ref()).map(|b| b.median), 4),
        speedup: num(t.and_then(|t| t.speedup), 3),
        speedup_low: num(interval.map(|i| i.0), 3),
        speedup_high: num(interval.map(|i| i.1), 3),
        call: t.and_then(|t| t.call).map_or(String::new(), |c| c.to_string()),
        tflops: num(c.findings.tflops, 2),
        ceiling_percent: num(c.findings.ceiling.as_ref().map(|u| u.percent), 1),
        ceiling: c.findings.ceiling.as_ref().map_or(String::new(), |u| u.what.clone()),
    }
}

impl Row {
    fn fields(&self) -> [&str; 15] {
        [
            &self.candidate,
            &self.problem,
            &self.verdict,
            &self.reason,
            &self.class,
            &self.error,
            &self.median_ms,
            &self.baseline_ms,
            &self.speedup,
            &self.speedup_low,
            &self.speedup_high,
            &self.call,
            &self.tflops,
            &self.ceiling_percent,
            &self.ceiling,
        ]
    }
}

/// A GitHub-flavoured Markdown table.
pub fn markdown(report: &Report) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!("| {} |\n|{}|\n", HEADER.join(" | "), HEADER.map(|_| "---").join("|"));
    for c in &report.candidates {
        let fields: Vec<String> = row(c).fields().iter().map(|f| cell(f)).collect();
        out.push_str(&format!("| {} |\n", fields.join(" | ")));
    }
    out
}

pub fn csv(report: &Report, path: &Path) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(HEADER)?;
    for c in &report.candidates {
        w.write_record(row(c).fields())?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            not_reviewed: Vec::new(),
            first_verdict_s: None,
            schema: sadoku_core::report::SCHEMA,
            sadoku: "test".into(),
            seed: "1".into(),
            environment: Vec::new(),
            candidates: Vec::new(),
            wall_s: 0.0,
        }
    }

    #[test]
    fn an_empty_run_exports_its_header() {
        let md = markdown(&report());
        assert!(md.starts_with("| candidate | problem | verdict |"), "{md}");
        assert_eq!(md.lines().count(), 2);
    }
}
