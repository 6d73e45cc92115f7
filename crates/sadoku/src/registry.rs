//! The problems a run knows: the library built into the binary, then $SADOKU_PROBLEMS, then
//! `--problems DIR`. One [`Registry`] value per process, built here and passed down to whoever
//! looks problems up (candidate loading, `problems`, `problem check`, `kernelbench review`).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use sadoku_core::device::Precision;
use sadoku_core::problem::Registry;
use serde::Serialize;

/// The library, with $SADOKU_PROBLEMS and `dirs` (`--problems`) added, in that order: a problem
/// of the same name as an earlier one replaces it.
pub fn load(dirs: &[PathBuf]) -> Result<Registry> {
    let mut registry = Registry::library();
    let from_env = std::env::var_os("SADOKU_PROBLEMS").map(|v| std::env::split_paths(&v).collect::<Vec<_>>());
    for dir in from_env.iter().flatten().chain(dirs) {
        add_dir(&mut registry, dir)?;
    }
    Ok(registry)
}

/// The problems in `dir` (a problem directory, or a directory of them) join `registry`.
pub fn add_dir(registry: &mut Registry, dir: &Path) -> Result<()> {
    registry.add_dir(dir).map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// One problem as `sadoku problems` lists it.
#[derive(Serialize)]
pub struct ProblemRow {
    pub name: &'static str,
    pub family: &'static str,
    pub dtypes: String,
    pub timed: String,
    /// The flop and byte floors at the timed size.
    pub floors: String,
    pub baseline: String,
    pub kernelbench: Option<&'static str>,
    pub summary: &'static str,
    pub origin: &'static str,
}

/// The problems as `sadoku problems --json` lists them (and `sadoku serve`'s `/v1/problems`).
pub fn listing(registry: &Registry) -> serde_json::Value {
    serde_json::to_value(rows(registry)).unwrap_or_default()
}

pub fn rows(registry: &Registry) -> Vec<ProblemRow> {
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
