//! The human-readable report: one row per candidate, then the evidence, then the environment.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};
use sadoku_core::device::Precision;
use sadoku_core::report::{CandidateReport, Report};
use sadoku_core::time::Timing;
use sadoku_core::verdict::Verdict;

fn ms(v: f64) -> String {
    if v >= 1.0 { format!("{v:.3} ms") } else { format!("{:.1} µs", v * 1e3) }
}

fn verdict_cell(c: &CandidateReport) -> Cell {
    match &c.verdict {
        Verdict::Accepted { .. } => Cell::new("ACCEPTED").fg(Color::Green),
        Verdict::Rejected(r) => Cell::new(format!("REJECTED\n{}", r.reason())).fg(Color::Red),
    }
}

fn error_cell(c: &CandidateReport) -> String {
    match &c.findings.error {
        // Calibrated: also as a multiple of the baseline's error on the same inputs.
        Some(e) if e.normwise.is_finite() => match e.baseline_multiple() {
            Some(m) if m.is_finite() => format!("{:.1e} ({}, {m:.1}× the baseline's)", e.normwise, e.class),
            _ => format!("{:.1e} ({})", e.normwise, e.class),
        },
        Some(e) => format!("non-finite ({})", e.class),
        None => "–".into(),
    }
}

/// The baseline's precision, as the table names it.
fn short(precision: Precision) -> &'static str {
    match precision {
        Precision::F64 => "fp64",
        Precision::F32 => "fp32",
        Precision::Tf32 => "TF32",
        Precision::Bf16 => "bf16",
        Precision::F16 => "fp16",
    }
}

/// How the table is laid out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// Every column, as wide as the terminal allows (or unlimited when piped).
    pub wide: bool,
    /// The terminal's width, when it is known.
    pub terminal: Option<u16>,
    /// No colour (`NO_COLOR`, or not a terminal).
    pub plain: bool,
}

/// The default table's widest: it must read in a 100-column terminal.
const NARROW: u16 = 100;

/// A candidate as the table names it: its file name, prefixed with its problem when the run
/// covers several (every problem's candidates are called honest.cu).
fn label(report: &Report, c: &CandidateReport) -> String {
    let mut problems = report.candidates.iter().map(|o| o.problem.as_str()).filter(|p| !p.is_empty());
    let first = problems.next();
    if c.problem.is_empty() || problems.all(|p| Some(p) == first) {
        c.name.clone()
    } else {
        format!("{}/{}", c.problem, c.name)
    }
}

/// `name` in at most `max` characters, shortened in the middle: "very_lon…rnel.cu".
pub fn shorten_middle(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max || max < 5 {
        return name.to_string();
    }
    let keep = max - 1;
    let (head, tail) = (keep / 2, keep - keep / 2);
    format!("{}…{}", chars[..head].iter().collect::<String>(), chars[chars.len() - tail..].iter().collect::<String>())
}

fn verdict_short(c: &CandidateReport) -> Cell {
    match &c.verdict {
        Verdict::Accepted { class } => Cell::new(format!("ACCEPTED {class}")).fg(Color::Green),
        Verdict::Rejected(r) => Cell::new(format!("REJECTED\n{}", r.reason())).fg(Color::Red),
    }
}

/// Why a timing stopped short of its noise target, in a word or two; None when it met it: "few
/// samples" when the budget ran out before a round had the samples it converges on (whatever
/// their spread), "noisy" when the spread stayed above the target.
fn short_of_target(t: &Timing) -> Option<&'static str> {
    match (t.converged, t.few_samples) {
        (true, _) => None,
        (false, true) => Some("few samples"),
        (false, false) => Some("noisy"),
    }
}

/// Candidate, verdict, time, speedup and % of ceiling: what fits in 100 columns.
fn narrow_table(report: &Report, layout: &Layout) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(layout.terminal.map_or(NARROW, |w| w.min(NARROW)));
    if layout.plain {
        t.force_no_tty();
    }
    t.set_header(["candidate", "verdict", "time (median)", "speedup [95% CI]", "% of ceiling"]);
    for c in &report.candidates {
        let timing = c.findings.timing.as_ref();
        let speed = timing.map_or("–".into(), |t| match (t.speedup, t.speedup_interval, t.call) {
            (Some(s), Some((lo, hi)), Some(call)) => {
                let flag = if !t.reliable {
                    " (unreliable)".to_string()
                } else {
                    short_of_target(t).map_or(String::new(), |why| format!(" ({why})"))
                };
                format!("{s:.2}× [{lo:.2}, {hi:.2}]\n{call}{flag}")
            }
            _ if t.baseline_unavailable.is_some() => "baseline\nunavailable".into(),
            _ => "no baseline".into(),
        });
        let ceiling = c.findings.ceiling.as_ref().map_or("–".into(), |u| format!("{:.0}% {}", u.percent, u.what));
        t.add_row(vec![
            Cell::new(match label(report, c).split_once('/') {
                // Several problems: the file, and its problem on the line below.
                Some((problem, _)) => format!("{}\n{}", shorten_middle(&c.name, 24), shorten_middle(problem, 24)),
                None => shorten_middle(&c.name, 24),
            }),
            verdict_short(c),
            Cell::new(timing.map_or("–".into(), |t| ms(t.candidate.median))).set_alignment(CellAlignment::Right),
            Cell::new(speed).set_alignment(CellAlignment::Right),
            Cell::new(ceiling),
        ]);
    }
    t
}

pub fn render(report: &Report, layout: &Layout) -> String {
    let t = if layout.wide { wide_table(report, layout) } else { narrow_table(report, layout) };
    render_with(report, t, layout)
}

/// Every column: error, median ± IQR, baseline, speedup, TFLOP/s and % of peak.
fn wide_table(report: &Report, layout: &Layout) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = layout.terminal {
        t.set_width(w);
    }
    if layout.plain {
        t.force_no_tty();
    }
    t.set_header([
        "candidate",
        "verdict",
        "error vs fp64",
        "time (median ± IQR)",
        "baseline",
        "speedup [95% CI]",
        "TFLOP/s (% of peak)",
    ]);
    for c in &report.candidates {
        let timing = c.findings.timing.as_ref();
        let speed = timing.map_or("–".into(), |t| {
            let (Some(speedup), Some((lo, hi)), Some(call)) = (t.speedup, t.speedup_interval, t.call) else {
                return if t.baseline_unavailable.is_some() { "baseline unavailable" } else { "no baseline" }
                    .to_string();
            };
            let mut flags = Vec::new();
            flags.extend(short_of_target(t));
            if !t.reliable {
                flags.push("unreliable");
            }
            let flags = if flags.is_empty() { String::new() } else { format!("\n({})", flags.join(", ")) };
            format!("{speedup:.2}× [{lo:.2}, {hi:.2}]\n{call}{flags}")
        });
        let rate = match (c.findings.tflops, &c.findings.ceiling) {
            (Some(f), Some(u)) => format!("{f:.1} ({:.0}% of {})", u.percent, u.what),
            (Some(f), None) => format!("{f:.1}"),
            _ => "–".into(),
        };
        t.add_row(vec![
            Cell::new(label(report, c)),
            verdict_cell(c),
            Cell::new(error_cell(c)),
            Cell::new(timing.map_or("–".into(), |t| format!("{} ± {}", ms(t.candidate.median), ms(t.candidate.iqr()))))
                .set_alignment(CellAlignment::Right),
            Cell::new(timing.map_or("–".into(), |t| match &t.baseline {
                Some(b) => format!("{}\n{}", ms(b.median), short(t.baseline_precision)),
                None => "–".into(),
            }))
            .set_alignment(CellAlignment::Right),
            Cell::new(speed).set_alignment(CellAlignment::Right),
            Cell::new(rate).set_alignment(CellAlignment::Right),
        ]);
    }
    t
}

fn render_with(report: &Report, t: Table, layout: &Layout) -> String {
    let mut out = String::new();
    let problems: Vec<String> = {
        let mut p: Vec<String> = report
            .candidates
            .iter()
            .filter(|c| !c.problem.is_empty())
            .map(|c| format!("{} at {}", c.problem, c.timed_sizes))
            .collect();
        p.sort();
        p.dedup();
        p
    };
    if problems.is_empty() {
        out.push_str("sadoku review\n");
    } else if problems.len() > 3 {
        out.push_str(&format!("sadoku review: {} problems\n", problems.len()));
    } else {
        out.push_str(&format!("sadoku review: {}\n", problems.join("; ")));
    }
    out.push_str(&t.to_string());
    out.push('\n');
    let mut baselines: Vec<(Precision, String)> = report
        .candidates
        .iter()
        .filter_map(|c| c.findings.timing.as_ref().filter(|t| t.baseline.is_some()))
        .map(|t| (t.baseline_precision, t.baseline_name.clone()))
        .collect();
    baselines.dedup();
    let mut missing: Vec<(String, String)> = report
        .candidates
        .iter()
        .filter_map(|c| c.findings.timing.as_ref())
        .filter_map(|t| t.baseline_unavailable.clone().map(|why| (t.baseline_name.clone(), why)))
        .collect();
    missing.dedup();
    for (name, why) in missing {
        out.push_str(&format!("baseline unavailable: {name}: {why}\n"));
    }
    for (precision, name) in baselines {
        out.push_str(&format!(
            "baseline ({}): {name}, timed interleaved with each candidate; L2 flushed before every sample\n",
            short(precision)
        ));
    }
    // The size each review drew at run time, named only now that the verdict is in.
    let drawn: Vec<String> = report
        .candidates
        .iter()
        .filter_map(|c| match (&c.findings.drawn_sizes, &c.findings.drawn_note) {
            (Some(sizes), _) => Some(format!("  {}: {sizes}\n", label(report, c))),
            (None, Some(why)) => Some(format!("  {}: none ({why})\n", label(report, c))),
            _ => None,
        })
        .collect();
    if !drawn.is_empty() {
        out.push_str("\nverified also at a size drawn at run time (in no problem file):\n");
        out.extend(drawn);
    }
    let timed: Vec<&CandidateReport> = report.candidates.iter().filter(|c| c.findings.timing.is_some()).collect();
    if !timed.is_empty() {
        out.push_str("\ntimed launches:\n");
    }
    for c in timed {
        let t = c.findings.timing.as_ref().expect("filtered");
        out.push_str(&format!(
            "  {}: {} launches verified, each on fresh inputs, over {} buffer sets; {} samples kept, {} \
             dropped (throttled), SM clock {}\n",
            label(report, c),
            t.verified_launches,
            t.sets,
            t.candidate.samples,
            t.throttled,
            t.sm_clock_mhz.map_or("unknown".into(), |m| format!("{m:.0} MHz")),
        ));
        if !layout.wide {
            let baseline = t
                .baseline
                .as_ref()
                .map_or("none".into(), |b| format!("{} ({})", ms(b.median), short(t.baseline_precision)));
            out.push_str(&format!(
                "    error vs fp64 {}; {:.1} TFLOP/s; baseline {baseline}\n",
                error_cell(c),
                c.findings.tflops.unwrap_or(0.0)
            ));
        }
        out.push_str(&format!(
            "    timed by: {}; host wall clock {} per sample; fp64 truth and comparison {} per launch\n",
            t.method,
            ms(t.wall_ms),
            ms(t.truth_ms)
        ));
        if let Some(m) = &t.baseline_memo {
            out.push_str(&format!("    baseline's samples: {}\n", m.describe()));
        }
        if let Some(trip) = t.judge_round_trip_ms {
            let baseline = t.baseline_round_trip_ms.map_or("no process of its own".into(), ms);
            out.push_str(&format!(
                "    judge's clock per timed request: candidate's worker {}, baseline {baseline}\n",
                ms(trip)
            ));
        }
        if !c.findings.cases.is_empty() {
            let parts: Vec<String> = c
                .findings
                .cases
                .iter()
                .map(|k| match (k.timing.speedup, k.timing.speedup_interval) {
                    (Some(s), Some((lo, hi))) => format!("{}: {s:.2}× [{lo:.2}, {hi:.2}]", k.sizes),
                    _ => format!("{}: {}", k.sizes, ms(k.timing.candidate.median)),
                })
                .collect();
            let mean = c.findings.speedup_geomean.map_or(String::new(), |g| format!("; geometric mean {g:.2}×"));
            out.push_str(&format!("    timed cases: {}{mean}\n", parts.join(", ")));
        }
        if let Some(u) = &c.findings.ceiling {
            out.push_str(&format!(
                "    ceiling: {} at {:.1} {}, because {}; {:.0}% of it\n",
                u.what, u.ceiling, u.unit, u.why, u.percent
            ));
        }
        for k in &t.kernels {
            out.push_str(&format!("    {k}\n"));
        }
        if let (Some(busy), Some(b)) = (t.baseline_busy_ms, &t.baseline) {
            out.push_str(&format!(
                "    baseline's traced work: busy {} of its {} median; the rest is the device idle between its records\n",
                ms(busy),
                ms(b.median)
            ));
        }
        for k in &t.baseline_kernels {
            out.push_str(&format!("      baseline: {k}\n"));
        }
        let rounds: Vec<String> = t
            .rounds
            .iter()
            .map(|r| match (r.speedup, r.speedup_interval) {
                (Some(s), Some((lo, hi))) => format!("{s:.3}× [{lo:.3}, {hi:.3}] ({} samples)", r.samples),
                _ => format!(
                    "{} [{}, {}] ({} samples)",
                    ms(r.median_ms),
                    ms(r.median_interval.0),
                    ms(r.median_interval.1),
                    r.samples
                ),
            })
            .collect();
        out.push_str(&format!("    rounds: {}\n", rounds.join(", then ")));
        if let Some(why) = &t.unreliable {
            out.push_str(&format!("    UNRELIABLE: {why}\n"));
        }
    }
    let rejected: Vec<&CandidateReport> = report.candidates.iter().filter(|c| !c.verdict.is_accepted()).collect();
    if !rejected.is_empty() {
        out.push_str("\nevidence:\n");
        for c in rejected {
            let evidence = c.evidence.clone().unwrap_or_default();
            out.push_str(&format!("  {} — {}:\n", label(report, c), c.reason.clone().unwrap_or_default()));
            for line in evidence.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    let weak: Vec<&CandidateReport> =
        report.candidates.iter().filter(|c| c.findings.weak_sandbox().is_some()).collect();
    if !weak.is_empty() {
        out.push_str("\nsandbox (less than all of it held; the verdicts stand, the confinement was weaker):\n");
        for c in weak {
            out.push_str(&format!("  {}: {}\n", label(report, c), c.findings.weak_sandbox().unwrap_or_default()));
        }
    }
    let reviewed: Vec<&CandidateReport> = report.candidates.iter().filter(|c| c.review_s > 0.0).collect();
    if !reviewed.is_empty() {
        out.push_str("\nreview time:\n");
        for c in reviewed {
            let p = &c.findings.phases;
            let mut parts = vec![
                format!("worker {:.2}", p.worker_start_s),
                format!("compile {:.2}", p.compile_s),
                format!("verify {:.2}", p.verify_s),
                format!("time {:.2}", p.time_s),
            ];
            if p.model_start_s > 0.0 {
                parts.insert(1, format!("model {:.2}", p.model_start_s));
            }
            if p.card_wait_s > 0.0 {
                parts.insert(parts.len() - 1, format!("card wait {:.2}", p.card_wait_s));
            }
            if p.sanitize_s > 0.0 {
                parts.push(format!("sanitize {:.2}", p.sanitize_s));
            }
            out.push_str(&format!("  {}: {:.2} s ({} s)\n", label(report, c), c.review_s, parts.join(", ")));
            if let Some(why) = &c.findings.sharing {
                out.push_str(&format!("    buffers copied through the worker's pipe: {why}\n"));
            }
        }
    }
    out.push_str("\nenvironment:\n");
    if report.environment.is_empty() {
        out.push_str("  GPU        none used\n");
    }
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    let mut rows = Vec::new();
    for e in &report.environment {
        rows.extend([
            (
                "GPU",
                format!(
                    "{} (GPU {}, {}, {} SMs, {:.0} MiB L2, {:.1} GiB)",
                    e.name,
                    e.ordinal,
                    e.arch(),
                    e.multiprocessors,
                    mib(e.l2_bytes),
                    mib(e.memory_bytes) / 1024.0
                ),
            ),
            (
                "driver",
                format!("{} (CUDA driver API {})", e.driver.clone().unwrap_or_else(|| "unknown".into()), e.cuda_driver),
            ),
            ("NVRTC", e.nvrtc.clone().unwrap_or_else(|| "–".into())),
            ("cuBLAS", e.cublas.clone().unwrap_or_else(|| "–".into())),
            ("cuDNN", e.cudnn.clone().unwrap_or_else(|| "–".into())),
            ("PyTorch", e.torch.clone().unwrap_or_else(|| "–".into())),
            ("sandbox", e.sandbox.clone().unwrap_or_else(|| "–".into())),
            ("SM clock", e.sm_clock_mhz.map_or("–".into(), |m| format!("{m:.0} MHz (measured after the run)"))),
            (
                "ceilings",
                e.ceilings.map_or("–".into(), |c| {
                    format!(
                        "fp32 {:.1}, TF32 {:.0}, BF16 {:.0} TFLOP/s; DRAM {:.0} GB/s (measured, cached per GPU)",
                        c.fp32_tflops, c.tf32_tflops, c.bf16_tflops, c.dram_gbs
                    )
                }),
            ),
        ]);
    }
    rows.extend([
        ("sadoku", report.sadoku.clone()),
        ("seed", format!("{} (replay with --seed {})", report.seed, report.seed)),
        ("wall time", format!("{:.1} s", report.wall_s)),
    ]);
    if let Some(first) = report.first_verdict_s {
        rows.push(("first", format!("verdict after {first:.1} s")));
    }
    for (k, v) in rows {
        out.push_str(&format!("  {k:<10} {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(converged: bool, few_samples: bool) -> Timing {
        serde_json::from_value(serde_json::json!({
            "candidate": {"samples": 6, "median": 130.0},
            "converged": converged,
            "few_samples": few_samples,
        }))
        .unwrap()
    }

    #[test]
    fn a_timing_short_of_its_target_says_whether_its_samples_were_few_or_spread() {
        assert_eq!(short_of_target(&timing(true, false)), None);
        // Converged wins (the sampler never records both: a round stopped short is not converged).
        assert_eq!(short_of_target(&timing(true, true)), None);
        assert_eq!(short_of_target(&timing(false, true)), Some("few samples"));
        assert_eq!(short_of_target(&timing(false, false)), Some("noisy"));
        // A record from before `few_samples` reads as it did.
        let old: Timing = serde_json::from_str(r#"{"candidate":{"median":1.0},"converged":false}"#).unwrap();
        assert_eq!(short_of_target(&old), Some("noisy"));
    }
}
