//! `sadoku problems`: the problems sadoku can judge.

use anyhow::Result;
use sadoku_core::device::Precision;
use serde::Serialize;

use crate::cli::ProblemsArgs;
use sadoku_core::problem::Registry;

use crate::output;

#[derive(Serialize)]
struct ProblemRow {
    name: &'static str,
    family: &'static str,
    dtypes: String,
    timed: String,
    /// The flop and byte floors at the timed size.
    floors: String,
    baseline: String,
    kernelbench: Option<&'static str>,
    summary: &'static str,
    origin: &'static str,
}

/// The problems as `sadoku problems --json` lists them (and `sadoku serve`'s `/v1/problems`).
pub fn listing(registry: &Registry) -> serde_json::Value {
    serde_json::to_value(rows(registry)).unwrap_or_default()
}

fn rows(registry: &Registry) -> Vec<ProblemRow> {
    registry
        .all()
        .iter()
        .map(|p| {
            let mut dtypes: Vec<&str> = Vec::new();
            for t in &p.tensors {
                if !dtypes.contains(&t.dtype.name()) {
                    dtypes.push(t.dtype.name());
                }
            }
            ProblemRow {
                name: p.name,
                family: p.family,
                dtypes: dtypes.join(", "),
                timed: p.timed_sizes().to_string(),
                floors: format!(
                    "{:.1} GFLOP, {:.2} GB",
                    p.min_flops(&p.timed_sizes()) / 1e9,
                    p.min_bytes(&p.timed_sizes()) / 1e9
                ),
                baseline: if p.has_baseline() { p.baseline_name(Precision::F32) } else { "none (% of ceiling)".into() },
                kernelbench: p.kernelbench,
                summary: p.summary,
                origin: p.origin,
            }
        })
        .collect()
}

pub fn run(registry: &Registry, args: ProblemsArgs) -> Result<u8> {
    let rows = rows(registry);
    if args.json {
        output::json::print(&rows)?;
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["problem", "family", "dtypes", "timed at", "floors", "baseline", "KernelBench"]);
    for r in &rows {
        let baseline = r.baseline.split(", as ").next().unwrap_or(&r.baseline).to_string();
        let task = r.kernelbench.map_or("–".to_string(), |k| k.split(" (").next().unwrap_or(k).to_string());
        table.add_row([r.name, r.family, &r.dtypes, &r.timed, &r.floors, &baseline, &task]);
    }
    println!("{table}");
    println!("{} problems; `sadoku problems --json` for their summaries and origins", rows.len());
    Ok(0)
}
