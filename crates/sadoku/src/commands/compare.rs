//! `sadoku compare OLD NEW`: did a change make candidates faster? Two recorded runs (the `--out`
//! JSON Lines, or a `--json` report) matched by candidate name and problem; each match's old and
//! new speedups with their intervals, and FASTER, SLOWER or SAME decided by the intervals, never by
//! the point estimates. A verdict that changed is flagged; an accepted candidate now rejected makes
//! the exit status 1, so CI can gate on it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use sadoku_core::report::CandidateReport;

/// What a recorded review says, as far as comparing goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub accepted: bool,
    pub reason: Option<String>,
    /// The speedup and its 95 % interval, when there was a baseline.
    pub speedup: Option<(f64, (f64, f64))>,
    /// The median time and its 95 % interval (from the recorded samples), ms.
    pub median: Option<(f64, (f64, f64))>,
}

/// Read a run (JSON Lines of candidate records, or one JSON report; gzip-compressed or not), keyed
/// by candidate name and problem.
pub fn load(path: &Path) -> Result<BTreeMap<(String, String), Recorded>> {
    let mut out = BTreeMap::new();
    for r in crate::records::load(path)?.records {
        out.insert((r.name.clone(), r.problem.clone()), recorded(&r));
    }
    Ok(out)
}

fn recorded(r: &CandidateReport) -> Recorded {
    // A number that was not finite was written as null, and is not a figure to compare.
    let finite = |p: (f64, f64)| p.0.is_finite() && p.1.is_finite();
    let t = r.findings.timing.as_ref();
    let speedup = t.and_then(|t| t.speedup.zip(t.speedup_interval.filter(|i| finite(*i))));
    let median = t.filter(|t| t.candidate_ms.len() >= 3 && t.candidate.median.is_finite()).map(|t| {
        // A fixed seed: the same file always compares the same way.
        (t.candidate.median, sadoku_core::stats::median_interval(&t.candidate_ms, 1))
    });
    Recorded { accepted: r.verdict.is_accepted(), reason: r.reason.clone(), speedup, median }
}

/// FASTER, SLOWER or SAME for a pair of intervals of something where bigger is better.
fn call(old: (f64, f64), new: (f64, f64)) -> &'static str {
    if new.0 > old.1 {
        "FASTER"
    } else if new.1 < old.0 {
        "SLOWER"
    } else {
        "SAME"
    }
}

/// One matched candidate, as a line; and whether it regressed (accepted, now rejected).
pub fn compare_one(old: &Recorded, new: &Recorded) -> (String, bool) {
    let verdict = |r: &Recorded| {
        if r.accepted { "ACCEPTED".to_string() } else { format!("REJECTED ({})", r.reason.as_deref().unwrap_or("?")) }
    };
    if old.accepted != new.accepted {
        let flag = if old.accepted { "VERDICT CHANGED (now rejected)" } else { "VERDICT CHANGED (now accepted)" };
        return (format!("{flag}: {} → {}", verdict(old), verdict(new)), old.accepted);
    }
    if !new.accepted {
        return (format!("still {}", verdict(new)), false);
    }
    match (old.speedup, new.speedup, old.median, new.median) {
        (Some((a, ai)), Some((b, bi)), _, _) => (
            format!("{a:.3}× [{:.3}, {:.3}] → {b:.3}× [{:.3}, {:.3}]  {}", ai.0, ai.1, bi.0, bi.1, call(ai, bi)),
            false,
        ),
        // No baseline: the median times, where smaller is faster.
        (_, _, Some((a, ai)), Some((b, bi))) => (
            format!(
                "{a:.4} ms [{:.4}, {:.4}] → {b:.4} ms [{:.4}, {:.4}]  {}",
                ai.0,
                ai.1,
                bi.0,
                bi.1,
                call((-ai.1, -ai.0), (-bi.1, -bi.0))
            ),
            false,
        ),
        _ => ("accepted in both; untimed in one of them".into(), false),
    }
}

/// Compare two runs; print a line per candidate; the exit status.
pub fn run(old: &Path, new: &Path) -> Result<u8> {
    let (a, b) = (load(old)?, load(new)?);
    let mut regressed = 0;
    let mut out = String::new();
    let width = b.keys().chain(a.keys()).map(|(n, _)| n.chars().count()).max().unwrap_or(0).min(40);
    let pwidth = b.keys().chain(a.keys()).map(|(_, p)| p.chars().count()).max().unwrap_or(0);
    let label = |key: &(String, String)| {
        format!("{:<width$}  {:<pwidth$}", crate::output::table::shorten_middle(&key.0, 40), key.1)
    };
    for (key, n) in &b {
        match a.get(key) {
            Some(o) => {
                let (line, bad) = compare_one(o, n);
                regressed += usize::from(bad);
                out.push_str(&format!("{}  {line}\n", label(key)));
            }
            None => out.push_str(&format!("{}  new in {}\n", label(key), new.display())),
        }
    }
    for key in a.keys().filter(|k| !b.contains_key(*k)) {
        out.push_str(&format!("{}  only in {}\n", label(key), old.display()));
    }
    if regressed > 0 {
        out.push_str(&format!(
            "{regressed} candidate(s) accepted in {} are rejected in {}\n",
            old.display(),
            new.display()
        ));
    }
    // A reader that stops early (`| head`) is not an error.
    use std::io::Write;
    match std::io::stdout().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(if regressed > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(s: f64, lo: f64, hi: f64) -> Recorded {
        Recorded { accepted: true, reason: None, speedup: Some((s, (lo, hi))), median: None }
    }

    #[test]
    fn intervals_decide_not_point_estimates() {
        assert!(compare_one(&timed(1.0, 0.98, 1.02), &timed(1.1, 1.05, 1.15)).0.ends_with("FASTER"));
        assert!(compare_one(&timed(1.0, 0.98, 1.02), &timed(0.9, 0.88, 0.92)).0.ends_with("SLOWER"));
        // A higher point estimate whose interval overlaps the old one claims nothing.
        assert!(compare_one(&timed(1.0, 0.95, 1.05), &timed(1.04, 1.01, 1.07)).0.ends_with("SAME"));
    }

    #[test]
    fn an_accepted_candidate_now_rejected_is_a_regression() {
        let rejected = Recorded { accepted: false, reason: Some("wrong answer".into()), speedup: None, median: None };
        let (line, bad) = compare_one(&timed(1.0, 0.9, 1.1), &rejected);
        assert!(bad && line.starts_with("VERDICT CHANGED (now rejected)"), "{line}");
        let (line, bad) = compare_one(&rejected, &timed(1.0, 0.9, 1.1));
        assert!(!bad && line.starts_with("VERDICT CHANGED (now accepted)"), "{line}");
    }

    #[test]
    fn without_a_baseline_a_shorter_time_is_faster() {
        let t = |m: f64, lo: f64, hi: f64| Recorded {
            accepted: true,
            reason: None,
            speedup: None,
            median: Some((m, (lo, hi))),
        };
        assert!(compare_one(&t(2.0, 1.9, 2.1), &t(1.0, 0.95, 1.05)).0.ends_with("FASTER"));
        assert!(compare_one(&t(1.0, 0.95, 1.05), &t(2.0, 1.9, 2.1)).0.ends_with("SLOWER"));
    }
}
