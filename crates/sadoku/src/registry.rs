//! The problem library as this crate uses it: every use of sadoku-core's registry goes through
//! here, so that a change to how the registry is held (a global today) touches this file alone.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use sadoku_core::problem::{self, Problem};

/// `--problems DIR` and $SADOKU_PROBLEMS: user problems join the library.
pub fn add_user_dirs(dirs: &[PathBuf]) -> Result<()> {
    let from_env = std::env::var_os("SADOKU_PROBLEMS").map(|v| std::env::split_paths(&v).collect::<Vec<_>>());
    for dir in from_env.iter().flatten().chain(dirs) {
        add_dir(dir)?;
    }
    Ok(())
}

/// The problems in `dir` (a problem directory, or a directory of them) join the library.
pub fn add_dir(dir: &Path) -> Result<()> {
    problem::add_dir(dir).map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// A problem made here (a KernelBench file's) joins the library.
pub fn add(p: Problem) -> &'static Problem {
    problem::add(p)
}

/// Every problem in the library.
pub fn all() -> Vec<&'static Problem> {
    problem::all()
}
