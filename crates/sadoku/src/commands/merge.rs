//! `sadoku merge FILE... -o OUT`: the `--out` files of many shards (or runs) as one JSON Lines
//! file, each record once, read and written through the report's typed schema; `report`,
//! `compare` and `--resume` take the result like any `--out` file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use sadoku_core::report::CandidateReport;

/// Every record of `files`, in order, each review (its `key`: source, problem and options) once:
/// the first kept, later copies dropped and counted, and a later copy whose verdict differs said
/// on stderr (the same review judged twice, differently, is worth a look).
pub fn merge(files: &[PathBuf]) -> Result<(Vec<CandidateReport>, usize)> {
    let mut kept: Vec<CandidateReport> = Vec::new();
    let mut first: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut dropped = 0;
    for file in files {
        let run = crate::records::load(file)?;
        for record in run.records {
            let key =
                if record.key.is_empty() { format!("{} {}", record.sha256, record.name) } else { record.key.clone() };
            match first.get(&key) {
                Some((index, source)) => {
                    dropped += 1;
                    let (was, now) = (said(&kept[*index]), said(&record));
                    if was != now {
                        eprintln!(
                            "sadoku: note: {} was judged twice, differently: {was} in {source}, {now} in {}; the first is kept",
                            record.name,
                            file.display()
                        );
                    }
                }
                None => {
                    first.insert(key, (kept.len(), file.display().to_string()));
                    kept.push(record);
                }
            }
        }
    }
    Ok((kept, dropped))
}

/// A verdict in a word or two: ACCEPTED, or REJECTED and its reason.
fn said(r: &CandidateReport) -> String {
    match &r.verdict {
        sadoku_core::verdict::Verdict::Accepted { .. } => "ACCEPTED".to_string(),
        sadoku_core::verdict::Verdict::Rejected(why) => format!("REJECTED ({})", why.reason()),
    }
}

pub fn run(files: &[PathBuf], output: Option<&Path>) -> Result<u8> {
    let (records, dropped) = merge(files)?;
    let mut text = String::new();
    for r in &records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    match output {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("{}: cannot write", path.display()))?,
        None => std::io::stdout().write_all(text.as_bytes()).map_err(|e| anyhow!("stdout: {e}"))?,
    }
    let accepted = records.iter().filter(|r| r.verdict.is_accepted()).count();
    eprintln!(
        "sadoku merge: {} record(s) from {} file(s), {dropped} repeated one(s) dropped; {accepted} accepted, {} rejected",
        records.len(),
        files.len(),
        records.len() - accepted
    );
    Ok(0)
}
