//! The figures of a KernelBench run: per problem and over all of them.

use std::path::Path;

use sadoku_core::report::Report;
use serde_json::Value;

/// The figures of a KernelBench run: per problem, its best accepted candidate against eager
/// PyTorch; over all the problems given (with a candidate or not), how many have an accepted
/// candidate, and one at least 1× and 2× as fast as eager PyTorch. "At least" is said of the
/// speedup's 95 % interval, not of its median: a candidate that ties with eager PyTorch within
/// the noise (1.00× in 0.99–1.01) is not counted faster.
///
/// Part of the report's schema (`docs/REPORT.md`): read back by `sadoku report`, every field
/// defaulting where an older run lacks it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// What the speedups are over: `eager PyTorch`, or `torch.compile (MODE)`.
    #[serde(default = "eager")]
    pub baseline: String,
    #[serde(default)]
    pub problems: usize,
    #[serde(default)]
    pub accepted: usize,
    #[serde(default)]
    pub faster: usize,
    #[serde(default)]
    pub twice: usize,
    #[serde(default)]
    pub per_problem: Vec<ProblemLine>,
}

/// The baseline a run that does not name one was timed against.
fn eager() -> String {
    "eager PyTorch".to_string()
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProblemLine {
    /// The problem's name; `None` only when a record read back lacks it.
    #[serde(default)]
    pub problem: Option<String>,
    #[serde(default)]
    pub candidates: usize,
    /// The accepted candidate with the highest speedup (or accepted untimed), if any.
    #[serde(default)]
    pub best: Option<String>,
    #[serde(default)]
    pub speedup: Option<f64>,
    /// The speedup's 95 % bootstrap interval (a bound written as null, not a number, reads back
    /// as NaN).
    #[serde(default, deserialize_with = "sadoku_core::stats::nan_pair_if_null_opt")]
    pub interval: Option<(f64, f64)>,
}

pub fn rows_of(report: &Report) -> Vec<Row> {
    report
        .candidates
        .iter()
        .map(|c| Row {
            origin: c.origin.clone(),
            name: c.name.clone(),
            problem: c.problem.clone(),
            accepted: c.verdict.is_accepted(),
            speedup: c.findings.timing.as_ref().and_then(|t| t.speedup),
            interval: c.findings.timing.as_ref().and_then(|t| t.speedup_interval),
        })
        .collect()
}

/// The verdicts an `--out` file holds for `origins`, the last of each.
pub fn earlier_rows(path: &Path, origins: &[String]) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut rows: Vec<Row> = Vec::new();
    for v in text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
        let origin = v["origin"].as_str().unwrap_or_default().to_string();
        if !origins.contains(&origin) {
            continue;
        }
        rows.retain(|r| r.origin != origin);
        rows.push(Row {
            origin,
            name: v["name"].as_str().unwrap_or_default().into(),
            problem: v["problem"].as_str().unwrap_or_default().into(),
            accepted: v["verdict"] == "ACCEPTED",
            speedup: v["timing"]["speedup"].as_f64(),
            interval: v["timing"]["speedup_interval"][0].as_f64().zip(v["timing"]["speedup_interval"][1].as_f64()),
        });
    }
    rows
}

/// What the summary needs of one candidate's verdict.
#[derive(Debug, Clone)]
pub struct Row {
    pub origin: String,
    pub name: String,
    pub problem: String,
    pub accepted: bool,
    pub speedup: Option<f64>,
    pub interval: Option<(f64, f64)>,
}

pub fn summarise_rows(problems: &[String], rows: &[Row], baseline: &str) -> Summary {
    let mut s = Summary {
        baseline: baseline.to_string(),
        problems: problems.len(),
        accepted: 0,
        faster: 0,
        twice: 0,
        per_problem: Vec::new(),
    };
    for name in problems {
        let mine: Vec<&Row> = rows.iter().filter(|c| &c.problem == name).collect();
        let best = mine
            .iter()
            .filter(|c| c.accepted)
            .map(|c| (c, c.speedup))
            .max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))
            .map(|(c, _)| c);
        if let Some(c) = best {
            s.accepted += 1;
            // The lower end of the interval, so that noise is not counted as speed. (The fastest
            // by median is also the one judged here: one candidate per problem, as KernelBench.)
            let low = c.interval.map(|(lo, _)| lo);
            s.faster += usize::from(low.is_some_and(|x| x >= 1.0));
            s.twice += usize::from(low.is_some_and(|x| x >= 2.0));
        }
        s.per_problem.push(ProblemLine {
            problem: Some(name.clone()),
            candidates: mine.len(),
            best: best.map(|c| c.name.clone()),
            speedup: best.and_then(|c| c.speedup),
            interval: best.and_then(|c| c.interval),
        });
    }
    s
}

pub fn summary_text(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "\nper problem (best accepted candidate, speedup over {}):", s.baseline);
    for p in &s.per_problem {
        let line = match (&p.best, p.speedup) {
            (None, _) if p.candidates == 0 => "no candidate".to_string(),
            (None, _) => format!("none accepted of {}", p.candidates),
            (Some(c), Some(x)) => match p.interval {
                Some((lo, hi)) => format!("{c} at {x:.2}× ({lo:.2}–{hi:.2})"),
                None => format!("{c} at {x:.2}×"),
            },
            (Some(c), None) => format!("{c} (not timed against {})", s.baseline),
        };
        let _ = writeln!(out, "  {:<32} {line}", p.problem.as_deref().unwrap_or("?"));
    }
    let pct = |k: usize| 100.0 * k as f64 / s.problems.max(1) as f64;
    let _ = writeln!(
        out,
        "{} problem(s): {} with an accepted candidate ({:.0}%), {} at least 1× {} ({:.0}%), {} at least 2× ({:.0}%), \
         by the speedup's 95% interval",
        s.problems,
        s.accepted,
        pct(s.accepted),
        s.faster,
        s.baseline,
        pct(s.faster),
        s.twice,
        pct(s.twice)
    );
    out
}
