//! Turning command-line paths into candidates (and the embedded seed case).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use sadoku_core::candidate::Candidate;
use sadoku_core::problem::Registry;
use sadoku_core::report::{CandidateReport, NotReviewed};

/// The write-up's kernels and sadoku's own, built into the binary: `sadoku review` with no files.
pub const SEED_CASE: [(&str, &str); 4] = [
    ("examples/seed/sakana_original.cu", include_str!("../../../examples/seed/sakana_original.cu")),
    ("examples/seed/fix_16x16.cu", include_str!("../../../examples/seed/fix_16x16.cu")),
    ("examples/seed/fix_32x32.cu", include_str!("../../../examples/seed/fix_32x32.cu")),
    ("examples/seed/tiled_smem.cu", include_str!("../../../examples/seed/tiled_smem.cu")),
];

/// Files named, with directories expanded to the `.cu` files in them (sorted). A path that does
/// not exist is a usage error.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "cu") && f.is_file())
                .collect();
            if found.is_empty() {
                bail!("{}: no .cu files in this directory", p.display());
            }
            found.sort();
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file", p.display());
        }
    }
    Ok(out)
}

/// A candidate ready for review, a file already judged invalid, or one the environment kept from review.
pub enum Loaded {
    Valid(Candidate),
    Invalid(Box<CandidateReport>),
    /// Not reviewed for a failure of the environment, not of the candidate (a file listed for the
    /// batch that could not be read when its turn came): no verdict; `--resume` tries it again.
    Unreviewed(NotReviewed),
}

/// One item of a review's feed (`review::Feed`): a candidate loaded, or one known to be judged in
/// an earlier run without loading it (see [`Judged`]).
pub enum Fed {
    Loaded(Loaded),
    Judged(Judged),
}

/// A candidate whose verdict `--out`'s file held when the run began, found by its key alone,
/// before its problem was described or its text loaded (`kernelbench review --resume`): skipped,
/// with no work of its own. `key` is `review::review_key` of the candidate's and its problem's
/// identities under this run's options, as the loaded candidate's would be.
pub struct Judged {
    pub origin: String,
    pub problem: String,
    /// The candidate file's SHA-256, for `--shard`.
    pub sha256: String,
    pub key: String,
}

/// A listed candidate file's bytes, or why it is not reviewed (for `problem`, where known).
pub fn read(path: &Path, problem: &str) -> std::result::Result<Vec<u8>, NotReviewed> {
    std::fs::read(path).map_err(|e| NotReviewed {
        origin: path.display().to_string(),
        problem: problem.to_string(),
        error: format!("the file could not be read: {e}"),
    })
}

/// Every file parsed and validated; invalid ones become rejections, not errors, so that one bad
/// file in a batch of thousands costs only its own verdict.
pub fn load_all(registry: &mut Registry, paths: &[PathBuf]) -> Vec<Loaded> {
    if paths.is_empty() {
        return SEED_CASE
            .iter()
            .map(|(origin, text)| match Candidate::from_source(registry, *origin, text.to_string()) {
                Ok(c) => Loaded::Valid(c),
                Err(e) => Loaded::Invalid(Box::new(CandidateReport::invalid(&e, text.as_bytes()))),
            })
            .collect();
    }
    paths
        .iter()
        .map(|p| match read(p, "") {
            Err(unread) => Loaded::Unreviewed(unread),
            Ok(bytes) => match Candidate::from_file(registry, p, &bytes) {
                Ok(c) => Loaded::Valid(c),
                Err(e) => Loaded::Invalid(Box::new(CandidateReport::invalid(&e, &bytes))),
            },
        })
        .collect()
}
