//! `--out results.jsonl`: every verdict appended as one JSON line the moment it exists, so that
//! killing a run loses nothing already judged; `--resume` reads it back to skip those.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sadoku_core::report::CandidateReport;

pub struct Journal {
    path: PathBuf,
    file: File,
    /// Keys of reviews already in the file, and whether each was accepted.
    judged: HashMap<String, bool>,
}

impl Journal {
    pub fn open(path: &Path, resume: bool) -> Result<Journal> {
        let judged = if resume { read_judged(path, true)? } else { HashMap::new() };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{}: cannot open for appending", path.display()))?;
        Ok(Journal { path: path.to_path_buf(), file, judged })
    }

    /// `Some(accepted)` when this review is already in the file.
    pub fn judged(&self, key: &str) -> Option<bool> {
        self.judged.get(key).copied()
    }

    /// Every review already in the file (its key), and whether each was accepted.
    /// The keys of the reviews `path` holds, and whether each was accepted, read without
    /// opening it for the run (empty where it cannot be read: [`Journal::open`] says why).
    pub fn judged_in(path: &Path) -> HashMap<String, bool> {
        read_judged(path, false).unwrap_or_default()
    }

    pub fn earlier(&self) -> HashMap<String, bool> {
        self.judged.clone()
    }

    pub fn append(&mut self, report: &CandidateReport) -> Result<()> {
        let mut line = serde_json::to_string(report)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("{}: cannot append", self.path.display()))
    }
}

/// The keys of the reviews in `path` (none if it does not exist), and whether each was accepted;
/// `warn`: say which lines are not complete records.
fn read_judged(path: &Path, warn: bool) -> Result<HashMap<String, bool>> {
    let mut judged = HashMap::new();
    if !path.exists() {
        return Ok(judged);
    }
    let f = File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("{}: cannot read", path.display()))?;
        // A run killed mid-write leaves at most one torn last line: skip it, it is re-judged.
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            if warn {
                eprintln!(
                    "sadoku: {}:{}: not a complete record; that candidate is judged again",
                    path.display(),
                    i + 1
                );
            }
            continue;
        };
        if let Some(key) = v["key"].as_str() {
            judged.insert(key.to_string(), v["verdict"] == "ACCEPTED");
        }
    }
    Ok(judged)
}
