//! `sadoku report FILE... [-o OUT]`: one self-contained HTML page for recorded runs.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::records::{load, write};

/// `sadoku report FILE... [-o OUT]`: one HTML page for the runs, on OUT or stdout.
pub fn run(files: &[PathBuf], out: Option<&Path>) -> Result<u8> {
    let runs = files.iter().map(|f| load(f)).collect::<Result<Vec<_>>>()?;
    let html = crate::output::html::render(&runs);
    write(&html, out)?;
    if let Some(path) = out {
        let n: usize = runs.iter().map(|r| r.records.len()).sum();
        eprintln!("sadoku: wrote {} ({n} candidate(s) from {} run(s))", path.display(), runs.len());
    }
    Ok(0)
}
