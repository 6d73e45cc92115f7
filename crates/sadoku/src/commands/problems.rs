//! `sadoku problems`: the problems sadoku can judge.

use anyhow::Result;
use sadoku_core::problem::Registry;

use crate::cli::ProblemsArgs;
use crate::output;
use crate::registry::rows;

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
