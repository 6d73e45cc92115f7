//! The server's state directory: what it judged and what it was asked to judge, so that a restart
//! loses nothing.
//!
//! - `verdicts.jsonl`: every verdict, one record a line as `sadoku review --out` writes them
//!   (`sadoku report`, `compare` and `merge` read it), synced before the verdict is announced.
//! - `queue.jsonl`: every submission the server took (its id and the request's item), synced
//!   before the server answers 202. On start, those without a verdict are queued again, and the
//!   file is rewritten with them alone.
//! - `seeds.log`: the master seed of each start (withheld from clients; a review is replayed from
//!   it with `sadoku review --seed`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sadoku_core::report::CandidateReport;
use serde::{Deserialize, Serialize};

use super::service::Item;

/// One line of `queue.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub id: String,
    pub item: Item,
}

pub struct Store {
    dir: PathBuf,
    verdicts: File,
    queue: File,
}

/// What a state directory held when the server started.
pub struct Earlier {
    /// Every verdict, by its review's id.
    pub verdicts: HashMap<String, CandidateReport>,
    /// Submissions without a verdict, in the order they came.
    pub pending: Vec<Queued>,
    /// Lines that were not complete records (a server killed mid-write leaves at most one a file).
    pub torn: usize,
}

impl Store {
    /// Open (or create) `dir`, reading back what it holds.
    pub fn open(dir: &Path) -> Result<(Store, Earlier)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--state {}: cannot create the directory", dir.display()))?;
        let mut torn = 0;
        let mut verdicts = HashMap::new();
        for line in lines(&dir.join("verdicts.jsonl"))? {
            match serde_json::from_str::<CandidateReport>(&line) {
                Ok(r) if !r.key.is_empty() => {
                    verdicts.insert(r.key.clone(), r);
                }
                _ => torn += 1,
            }
        }
        let mut pending: Vec<Queued> = Vec::new();
        for line in lines(&dir.join("queue.jsonl"))? {
            match serde_json::from_str::<Queued>(&line) {
                Ok(q) if !verdicts.contains_key(&q.id) && !pending.iter().any(|p| p.id == q.id) => pending.push(q),
                Ok(_) => {}
                Err(_) => torn += 1,
            }
        }
        // The queue keeps only what waits: rewritten whole, then replaced in one rename.
        let fresh = dir.join("queue.jsonl.new");
        {
            let mut f = File::create(&fresh).with_context(|| format!("{}: cannot write", fresh.display()))?;
            for q in &pending {
                writeln!(f, "{}", serde_json::to_string(q)?)?;
            }
            f.sync_all()?;
        }
        std::fs::rename(&fresh, dir.join("queue.jsonl"))?;
        let store = Store {
            dir: dir.to_path_buf(),
            verdicts: append(&dir.join("verdicts.jsonl"))?,
            queue: append(&dir.join("queue.jsonl"))?,
        };
        Ok((store, Earlier { verdicts, pending, torn }))
    }

    /// A verdict, on disk before anyone hears of it.
    pub fn verdict(&mut self, report: &CandidateReport) -> Result<()> {
        write_line(&mut self.verdicts, &serde_json::to_string(report)?)
            .with_context(|| format!("{}: cannot append", self.dir.join("verdicts.jsonl").display()))
    }

    /// A submission taken, on disk before the client is told.
    pub fn queued(&mut self, queued: &Queued) -> Result<()> {
        write_line(&mut self.queue, &serde_json::to_string(queued)?)
            .with_context(|| format!("{}: cannot append", self.dir.join("queue.jsonl").display()))
    }

    /// This start's master seed, for the operator's replays.
    pub fn seed(&self, master: u64) -> Result<()> {
        let mut f = append(&self.dir.join("seeds.log"))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        write_line(&mut f, &format!("{now} seed {master}"))?;
        Ok(())
    }
}

fn lines(path: &Path) -> Result<Vec<String>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let f = File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    BufReader::new(f)
        .lines()
        .map(|l| l.with_context(|| format!("{}: cannot read", path.display())))
        .filter(|l| !matches!(l, Ok(s) if s.trim().is_empty()))
        .collect()
}

fn append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot open for appending", path.display()))
}

fn write_line(f: &mut File, line: &str) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    f.write_all(&bytes)?;
    f.sync_data()
}
