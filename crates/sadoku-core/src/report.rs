//! Stage 6: everything a run found, as data. Exporters (table, JSON) live in the binary.
//!
//! The report is also what `sadoku report` and `sadoku compare` read back (docs/REPORT.md): every
//! type here deserializes as well as serializes. Records written by older versions lack fields (and
//! the `schema` number): a missing field takes its default (`#[serde(default)]`), never an error.

use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use crate::candidate::{Candidate, SpecError, display_name};
use crate::checks::accuracy::Accuracy;
use crate::checks::ceiling::CeilingUse;
use crate::checks::sanitizer::SanitizerReport;
use crate::device::DeviceInfo;
use crate::problem::Sizes;
use crate::time::Timing;
use crate::verdict::{Rejection, Verdict};
use crate::verify::TrialRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompileRecord {
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub ms: f64,
    #[serde(default)]
    pub cache_hit: bool,
    /// Compiler warnings, verbatim.
    #[serde(default)]
    pub log: String,
}

/// The version of the report's schema, written into every report and every candidate record. A
/// record without one (read as 0) was written before the schema had a number. Bump it when a field
/// changes meaning or shape; adding a field (with a default for records that lack it) does not.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateReport {
    /// [`SCHEMA`] when written; 0 in records from before it was versioned.
    #[serde(default)]
    pub schema: u32,
    /// Identifies this review for `--resume`: the source and every option that affects it.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub origin: String,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub problem: String,
    /// SHA-256 of the problem's definition, as reviewed.
    #[serde(default)]
    pub problem_sha256: String,
    #[serde(default)]
    pub timed_sizes: Sizes,
    /// The GPU it was reviewed on.
    #[serde(default)]
    pub gpu: Option<usize>,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// A few words: why it was rejected.
    #[serde(default)]
    pub reason: Option<String>,
    /// The evidence for the rejection.
    #[serde(default)]
    pub evidence: Option<String>,
    #[serde(flatten)]
    pub findings: Findings,
    #[serde(default)]
    pub review_s: f64,
}

/// What the stages found on the way to the verdict; each stage fills its part.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Findings {
    #[serde(default)]
    pub compile: Option<CompileRecord>,
    /// The least accurate output of any trial, against fp64.
    #[serde(default)]
    pub error: Option<Accuracy>,
    #[serde(default)]
    pub trials: Vec<TrialRecord>,
    #[serde(default)]
    pub timing: Option<Timing>,
    /// The problem's minimum flops over the candidate's median time.
    #[serde(default)]
    pub tflops: Option<f64>,
    /// The problem's flop and byte floors at the headline timed size: with the median time, where
    /// the candidate sits on the card's roofline.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub floors: Option<Floors>,
    /// The median time's rate against the card's measured ceiling for its precision class.
    #[serde(default)]
    pub ceiling: Option<CeilingUse>,
    /// What compute-sanitizer found (`--sanitize`), or why it did not run.
    #[serde(default)]
    pub sanitizer: Option<Sanitized>,
    /// With several timed cases: each one's timing (the first is also `timing`, the headline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[serde(default)]
    pub cases: Vec<CaseTiming>,
    /// The geometric mean of the cases' speedups, when there are several and a baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub speedup_geomean: Option<f64>,
    /// Why the worker held copies of its buffers instead of mapping the judge's (no CUDA IPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub sharing: Option<String>,
    /// How the candidate's worker was confined, as it said itself: "Landlock ABI 7, seccomp,
    /// rlimits, uid 65534"; "partial: ..." or "off: ..." when less than the whole sandbox held.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub sandbox: Option<String>,
    /// The size drawn at run time and verified besides the published ones (`--seed` replays it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub drawn_sizes: Option<crate::problem::Sizes>,
    /// Why no size could be drawn at run time, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub drawn_note: Option<String>,
    /// Where the review's time went.
    #[serde(default)]
    pub phases: Phases,
}

/// The least work any correct kernel does at a size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Floors {
    #[serde(default)]
    pub flops: f64,
    #[serde(default)]
    pub bytes: f64,
}

/// One timed case of a problem with several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseTiming {
    #[serde(default)]
    pub sizes: Sizes,
    pub timing: Timing,
    #[serde(default)]
    pub tflops: f64,
    #[serde(default)]
    pub ceiling: Option<CeilingUse>,
}

/// Seconds spent in each phase of one candidate's review.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Phases {
    /// What the review waited for its worker process (and its CUDA context) to start: all of it
    /// when started at the review, what was left when the lane started it ahead, while the
    /// candidate before was reviewed.
    #[serde(default)]
    pub worker_start_s: f64,
    /// What the review waited for the process of the problem's Model (a KernelBench problem's
    /// truth and baseline, a PyTorch baseline) to start: 0 when its lane had it running already.
    #[serde(default)]
    pub model_start_s: f64,
    #[serde(default)]
    pub compile_s: f64,
    #[serde(default)]
    pub verify_s: f64,
    /// What the timing waited for the card to itself while another lane's work held it (its
    /// verification, a worker's start, a problem described on it): apart from `time_s`.
    #[serde(default)]
    pub card_wait_s: f64,
    /// Timing, from the moment the card was its own: what `--time-budget` bounds. (Records from
    /// before `card_wait_s` counted the wait here too.)
    #[serde(default)]
    pub time_s: f64,
    /// compute-sanitizer's runs (`--sanitize`).
    #[serde(default)]
    pub sanitize_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sanitized {
    Ran { sizes: Sizes, reports: Vec<SanitizerReport> },
    NotRun { why: String },
}

impl Findings {
    /// What held of the sandbox, when the candidate ran with less than all of it (said with the
    /// verdict).
    pub fn weak_sandbox(&self) -> Option<&str> {
        self.sandbox.as_deref().filter(|s| s.starts_with("partial") || s.starts_with("off"))
    }
}

impl CandidateReport {
    pub fn new(candidate: &Candidate, verdict: Verdict, findings: Findings, review_s: f64) -> CandidateReport {
        let (reason, evidence) = match &verdict {
            Verdict::Rejected(r) => (Some(r.reason().to_string()), Some(r.evidence())),
            Verdict::Accepted { .. } => (None, None),
        };
        CandidateReport {
            schema: SCHEMA,
            key: String::new(),
            name: candidate.name(),
            origin: candidate.origin.clone(),
            sha256: candidate.sha256.clone(),
            problem: candidate.problem.name().to_string(),
            problem_sha256: candidate.problem.sha256.to_string(),
            timed_sizes: candidate.problem.timed_sizes(),
            gpu: None,
            verdict,
            reason,
            evidence,
            findings,
            review_s,
        }
    }
}

impl CandidateReport {
    /// Fold compute-sanitizer's findings into the verdict: errors reject a candidate that the
    /// answer checks accepted; for one already rejected they are more evidence.
    pub fn apply_sanitizer(&mut self, outcome: Sanitized) {
        if let (Verdict::Accepted { .. }, Sanitized::Ran { reports, .. }) = (&self.verdict, &outcome) {
            if reports.iter().any(|r| r.errors > 0) {
                let rejection = Rejection::Sanitizer { findings: reports.clone() };
                self.reason = Some(rejection.reason().to_string());
                self.evidence = Some(rejection.evidence());
                self.verdict = Verdict::Rejected(rejection);
            }
        }
        self.findings.sanitizer = Some(outcome);
    }

    /// For an invalid file: "file:line: message", as a one-line error.
    pub fn spec_error_line(&self) -> String {
        match &self.verdict {
            Verdict::Rejected(Rejection::Spec { line: Some(l), message }) => format!("{}:{l}: {message}", self.origin),
            Verdict::Rejected(Rejection::Spec { line: None, message }) => format!("{}: {message}", self.origin),
            _ => String::new(),
        }
    }

    /// A file that is not a valid candidate: rejected before any GPU work.
    pub fn invalid(error: &SpecError, source: &[u8]) -> CandidateReport {
        let rejection = Rejection::Spec { line: error.line, message: error.message.clone() };
        CandidateReport {
            schema: SCHEMA,
            key: String::new(),
            name: display_name(&error.origin),
            origin: error.origin.clone(),
            sha256: hex::encode(Sha256::digest(source)),
            problem: String::new(),
            problem_sha256: String::new(),
            timed_sizes: Sizes::default(),
            gpu: None,
            reason: Some(rejection.reason().to_string()),
            evidence: Some(rejection.evidence()),
            verdict: Verdict::Rejected(rejection),
            findings: Findings::default(),
            review_s: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`] when written; 0 in reports from before it was versioned.
    #[serde(default)]
    pub schema: u32,
    #[serde(default)]
    pub sadoku: String,
    /// The master seed; `--seed` with it replays the run's inputs and poisons.
    #[serde(default)]
    pub seed: String,
    /// The GPUs used (none for a run of invalid files).
    #[serde(default)]
    pub environment: Vec<DeviceInfo>,
    #[serde(default)]
    pub candidates: Vec<CandidateReport>,
    /// Candidates this run could not review: the environment failed while their review ran (a
    /// worker that would not start, the judge's device or the problem's Model failing). No
    /// verdict, so never in `--out`'s file: `--resume` reviews them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_reviewed: Vec<NotReviewed>,
    #[serde(default)]
    pub wall_s: f64,
    /// Seconds from the start of the run to its first verdict from a review (a file refused
    /// before any review does not count), on the judge's clock; none when nothing was reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_verdict_s: Option<f64>,
}

/// A candidate whose review the environment stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotReviewed {
    pub origin: String,
    #[serde(default)]
    pub problem: String,
    /// What failed, one line.
    pub error: String,
}

impl Report {
    /// 0 when every candidate was accepted, 1 when any was rejected.
    pub fn exit_code(&self) -> i32 {
        if self.candidates.iter().all(|c| c.verdict.is_accepted()) { 0 } else { 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written_and_an_unversioned_one_as_schema_0() {
        let error = SpecError { origin: "x/a.cu".into(), line: Some(3), message: "bad".into() };
        let record = CandidateReport::invalid(&error, b"source");
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(serde_json::from_value::<CandidateReport>(json).unwrap(), record);
        let old: CandidateReport =
            serde_json::from_str(r#"{"name":"a.cu","verdict":"ACCEPTED","class":"fp32"}"#).unwrap();
        assert_eq!(old.schema, 0);
        assert!(old.verdict.is_accepted() && old.findings.timing.is_none());
    }
}
