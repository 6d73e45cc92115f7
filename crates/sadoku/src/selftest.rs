//! `sadoku selftest`: the judge proves itself on this machine before anyone trusts its verdicts.
//! Known hacks must be REJECTED (or gain nothing), reference solutions ACCEPTED; `sadoku serve`
//! runs it before it serves and refuses to serve when it fails.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use sadoku_core::candidate::Candidate;
use sadoku_core::problem::Registry;
use sadoku_core::report::CandidateReport;
use sadoku_core::verdict::Verdict;
use serde::{Deserialize, Serialize};

use crate::lanes::{Batch, Gates, Plan};
use crate::progress::Progress;

/// The built-in suite: `examples/selftest.toml` and the examples it names.
const SUITE: &str = include_str!("../../../examples/selftest.toml");

macro_rules! example {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../examples/", $path)))
    };
}

/// The built-in suite's files (a test checks that they are exactly those `SUITE` names).
const FILES: [(&str, &str); 15] = [
    example!("seed/sakana_original.cu"),
    example!("adversarial/zeroes_inputs.cu"),
    example!("adversarial/tf32_operands.cu"),
    example!("adversarial/timed_size_only.cu"),
    example!("adversarial/lazy_after_warmup.cu"),
    example!("adversarial/call_counter.cu"),
    example!("adversarial/oob_write.cu"),
    example!("adversarial/cache_by_content.cu"),
    example!("problems/relu/wrong_positive_only.cu"),
    example!("problems/gemm_bf16/wrong_bf16_accumulate.cu"),
    example!("seed/fix_16x16.cu"),
    example!("seed/tiled_smem.cu"),
    example!("honest/split_k_scratch.cu"),
    example!("problems/relu/honest.cu"),
    example!("problems/gemm_bf16/honest.cu"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Must be REJECTED, or gain nothing.
    Hack,
    /// Must be ACCEPTED.
    Reference,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    case: Vec<CaseEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseEntry {
    file: String,
    role: Role,
}

/// One case: a candidate's text and what it must be judged.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub role: Role,
    pub source: String,
}

/// The cases, and where they came from.
#[derive(Debug, Clone)]
pub struct Suite {
    pub origin: String,
    pub cases: Vec<Case>,
}

impl Suite {
    /// The suite built into the binary.
    pub fn builtin() -> Result<Suite> {
        let entries = parse(SUITE, "the built-in examples/selftest.toml")?;
        let cases = entries
            .into_iter()
            .map(|e| {
                let (_, text) = FILES
                    .iter()
                    .find(|(path, _)| *path == e.file)
                    .ok_or_else(|| anyhow!("the built-in self-test names {}, which the binary lacks", e.file))?;
                Ok(Case { file: e.file, role: e.role, source: text.to_string() })
            })
            .collect::<Result<_>>()?;
        Ok(Suite { origin: "built-in".into(), cases })
    }

    /// `DIR/selftest.toml` and the files it names, relative to `DIR`.
    pub fn load(dir: &Path) -> Result<Suite> {
        let index = dir.join("selftest.toml");
        let text = std::fs::read_to_string(&index)
            .with_context(|| format!("{}: cannot read (a suite is a directory with selftest.toml)", index.display()))?;
        let entries = parse(&text, &index.display().to_string())?;
        let cases = entries
            .into_iter()
            .map(|e| {
                let path = dir.join(&e.file);
                let source =
                    std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
                Ok(Case { file: e.file, role: e.role, source })
            })
            .collect::<Result<_>>()?;
        Ok(Suite { origin: dir.display().to_string(), cases })
    }
}

fn parse(text: &str, origin: &str) -> Result<Vec<CaseEntry>> {
    let suite: SuiteFile = toml::from_str(text).map_err(|e| anyhow!("{origin}: {}", e.message()))?;
    let hacks = suite.case.iter().filter(|c| c.role == Role::Hack).count();
    if hacks == 0 || hacks == suite.case.len() {
        anyhow::bail!("{origin}: a suite needs at least one hack and one reference");
    }
    Ok(suite.case)
}

/// What the self-test found, as `/healthz` and `--json` say it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ran: bool,
    /// None: skipped (`--skip-selftest`).
    pub passed: Option<bool>,
    pub suite: String,
    pub cases: usize,
    /// One line per case judged otherwise than it must be.
    pub failures: Vec<String>,
    /// One line per case.
    pub lines: Vec<String>,
}

impl Summary {
    pub fn skipped() -> Summary {
        Summary { ran: false, passed: None, suite: String::new(), cases: 0, failures: Vec::new(), lines: Vec::new() }
    }
}

/// How a case's outcome stands against its role: `Ok(what happened)` when as it must be.
pub fn judge_case(
    role: Role,
    outcome: &std::result::Result<CandidateReport, String>,
) -> std::result::Result<String, String> {
    let report = match outcome {
        Ok(r) => r,
        Err(e) => return Err(format!("not reviewed: {e}")),
    };
    let reason = report.reason.clone().unwrap_or_default();
    let evidence = report.evidence.clone().unwrap_or_default();
    let interval = report.findings.timing.as_ref().and_then(|t| t.speedup.zip(t.speedup_interval));
    match (role, &report.verdict) {
        (Role::Hack, Verdict::Rejected(_)) => Ok(format!("REJECTED: {reason}")),
        (Role::Hack, Verdict::Accepted { .. }) => match interval {
            Some((s, (lo, hi))) if lo <= 1.0 => Ok(format!("ACCEPTED, gains nothing: {s:.2}× [{lo:.2}, {hi:.2}]")),
            Some((s, (lo, hi))) => Err(format!("ACCEPTED and {s:.2}× [{lo:.2}, {hi:.2}] faster than its baseline")),
            None => Err("ACCEPTED with no speedup measured against a baseline".into()),
        },
        (Role::Reference, Verdict::Accepted { class }) => Ok(format!("ACCEPTED ({class})")),
        (Role::Reference, Verdict::Rejected(_)) => Err(format!("REJECTED: {reason}: {evidence}")),
    }
}

/// Review the suite on `gates`' GPUs (`jobs` lanes each) as `plan` says; the verdict on each case
/// against its role. The baselines it measures stay with `gates` (a server starts warm).
pub fn run(
    suite: &Suite,
    registry: &Registry,
    plan: &Plan,
    gates: &Gates,
    jobs: u16,
    progress: &Progress,
) -> Result<Summary> {
    let mut outcomes: Vec<Option<std::result::Result<CandidateReport, String>>> = vec![None; suite.cases.len()];
    let mut valid = Vec::new();
    let mut at = Vec::new();
    for (i, case) in suite.cases.iter().enumerate() {
        match Candidate::from_source(registry, format!("selftest/{}", case.file), case.source.clone()) {
            Ok(c) => {
                valid.push(std::sync::Arc::new(c));
                at.push(i);
            }
            Err(e) => outcomes[i] = Some(Ok(CandidateReport::invalid(&e, case.source.as_bytes()))),
        }
    }
    progress.line(&format!("sadoku selftest: {} case(s) from the {} suite", suite.cases.len(), suite.origin));
    let batch = Batch::of(valid);
    crate::review::judge_on_lanes(plan, gates, jobs, progress, &batch, |index, result| {
        outcomes[at[index]] = Some(result.map_err(|e| e.to_string()));
        Ok(())
    })?;
    let mut summary = Summary {
        ran: true,
        passed: Some(true),
        suite: suite.origin.clone(),
        cases: suite.cases.len(),
        ..Summary::skipped()
    };
    for (case, outcome) in suite.cases.iter().zip(outcomes) {
        let outcome = outcome.unwrap_or_else(|| Err("not started: the lanes stopped".into()));
        let role = match case.role {
            Role::Hack => "hack",
            Role::Reference => "reference",
        };
        match judge_case(case.role, &outcome) {
            Ok(what) => summary.lines.push(format!("ok      {role:9} {}: {what}", case.file)),
            Err(what) => {
                summary.lines.push(format!("FAILED  {role:9} {}: {what}", case.file));
                summary.failures.push(format!("{role} {}: {what}", case.file));
                summary.passed = Some(false);
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_suite_is_the_files_the_binary_carries_and_each_is_valid() {
        let suite = Suite::builtin().unwrap();
        assert_eq!(suite.cases.len(), FILES.len(), "examples/selftest.toml and FILES must list the same files");
        let registry = Registry::library();
        for case in &suite.cases {
            Candidate::from_source(&registry, case.file.as_str(), case.source.clone())
                .unwrap_or_else(|e| panic!("{}: {}", case.file, e.message));
        }
    }

    /// Each case's role agrees with what examples/expected.toml says sadoku must judge it.
    #[test]
    fn the_built_in_suites_roles_agree_with_the_examples_expectations() {
        let expected: toml::Value = toml::from_str(include_str!("../../../examples/expected.toml")).unwrap();
        let cases = expected["case"].as_array().unwrap();
        for case in Suite::builtin().unwrap().cases {
            let e = cases
                .iter()
                .find(|c| c["file"].as_str() == Some(&case.file))
                .unwrap_or_else(|| panic!("{}", case.file));
            let verdict = e["verdict"].as_str().unwrap();
            match case.role {
                Role::Reference => assert_eq!(verdict, "ACCEPTED", "{}", case.file),
                // A hack is expected rejected, or accepted only where it gains nothing.
                Role::Hack => assert!(verdict == "REJECTED" || e.get("speedup").is_none(), "{}", case.file),
            }
        }
    }

    #[test]
    fn a_suite_without_both_roles_or_with_unknown_fields_is_refused() {
        let only = "[[case]]\nfile = \"a.cu\"\nrole = \"hack\"\n";
        assert!(parse(only, "t").unwrap_err().to_string().contains("at least one hack and one reference"));
        let unknown = "[[case]]\nfile = \"a.cu\"\nrole = \"hack\"\nverdict = \"X\"\n";
        assert!(parse(unknown, "t").is_err());
        let role = "[[case]]\nfile = \"a.cu\"\nrole = \"cheat\"\n";
        assert!(parse(role, "t").is_err());
    }
}
