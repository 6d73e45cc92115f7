//! The problems a run knows: the library built into the binary, then $SADOKU_PROBLEMS, then
//! `--problems DIR`. One [`Registry`] value per process, built here and passed down to whoever
//! looks problems up (candidate loading, `problems`, `problem check`, `kernelbench review`).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use sadoku_core::problem::Registry;

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
