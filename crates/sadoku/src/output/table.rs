//! The human-readable report: one row per candidate, then the evidence, then the environment.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};
use sadoku_core::report::{CandidateReport, Report};
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
        Some(e) if e.normwise.is_finite() => format!("{:.1e} ({})", e.normwise, e.class),
        Some(e) => format!("non-finite ({})", e.class),
        None => "–".into(),
    }
}

pub fn render(report: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header([
        "candidate",
        "verdict",
        "error vs fp64",
        "time (median ± IQR)",
        "baseline",
        "speedup [95% CI]",
        "TFLOP/s",
    ]);
    for c in &report.candidates {
        let timing = c.findings.timing.as_ref();
        let speed = timing.map_or("–".into(), |t| {
            let (lo, hi) = t.speedup_interval;
            format!("{:.2}× [{lo:.2}, {hi:.2}]{}", t.speedup, if t.converged { "" } else { " (noisy)" })
        });
        t.add_row(vec![
            Cell::new(&c.name),
            verdict_cell(c),
            Cell::new(error_cell(c)),
            Cell::new(timing.map_or("–".into(), |t| format!("{} ± {}", ms(t.candidate.median), ms(t.candidate.iqr()))))
                .set_alignment(CellAlignment::Right),
            Cell::new(timing.map_or("–".into(), |t| ms(t.baseline.median))).set_alignment(CellAlignment::Right),
            Cell::new(speed).set_alignment(CellAlignment::Right),
            Cell::new(c.findings.tflops.map_or("–".into(), |f| format!("{f:.1}"))).set_alignment(CellAlignment::Right),
        ]);
    }
    let mut out = String::new();
    let problems: Vec<String> = {
        let mut p: Vec<String> =
            report.candidates.iter().map(|c| format!("{} at {}", c.problem, c.timed_sizes)).collect();
        p.dedup();
        p
    };
    out.push_str(&format!("sadoku review: {}\n", problems.join("; ")));
    out.push_str(&t.to_string());
    out.push('\n');
    if let Some(name) =
        report.candidates.iter().find_map(|c| c.findings.timing.as_ref().map(|t| t.baseline_name.clone()))
    {
        out.push_str(&format!(
            "baseline: {name}, timed interleaved with each candidate; L2 flushed before every sample\n"
        ));
    }
    let rejected: Vec<&CandidateReport> = report.candidates.iter().filter(|c| !c.verdict.is_accepted()).collect();
    if !rejected.is_empty() {
        out.push_str("\nevidence:\n");
        for c in rejected {
            let evidence = c.evidence.clone().unwrap_or_default();
            out.push_str(&format!("  {} — {}:\n", c.name, c.reason.clone().unwrap_or_default()));
            for line in evidence.lines() {
                out.push_str(&format!("    {line}\n"));
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
            ("SM clock", e.sm_clock_mhz.map_or("–".into(), |m| format!("{m:.0} MHz (measured after the run)"))),
        ]);
    }
    rows.extend([
        ("sadoku", report.sadoku.clone()),
        ("seed", format!("{} (replay with --seed {})", report.seed, report.seed)),
        ("wall time", format!("{:.1} s", report.wall_s)),
    ]);
    for (k, v) in rows {
        out.push_str(&format!("  {k:<10} {v}\n"));
    }
    out
}
