//! compute-sanitizer's findings (`--sanitize`): memory errors, shared-memory races, reads of
//! uninitialised memory and barrier misuse that happened not to change the answer this time.
//! sadoku runs the candidate under each tool at a small size; this reads the tool's log.

use serde::Serialize;

/// The tools run, in order.
pub const TOOLS: [&str; 4] = ["memcheck", "racecheck", "initcheck", "synccheck"];

/// Report lines kept as evidence per tool.
const KEPT_LINES: usize = 6;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SanitizerReport {
    #[serde(default)]
    pub tool: String,
    /// Errors (racecheck: hazards) the tool counted; 0 is clean.
    #[serde(default)]
    pub errors: usize,
    /// The first lines of its first report, e.g. "Invalid __global__ write of size 4 bytes".
    #[serde(default)]
    pub first: Vec<String>,
}

impl std::fmt::Display for SanitizerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "compute-sanitizer {}: {} error(s)", self.tool, self.errors)?;
        if !self.first.is_empty() {
            write!(f, ": {}", self.first.join(" / "))?;
        }
        Ok(())
    }
}

/// Read a compute-sanitizer log. `None` when the log has no summary (the tool did not finish).
pub fn parse(tool: &str, log: &str) -> Option<SanitizerReport> {
    let body: Vec<&str> =
        log.lines().filter_map(|l| l.strip_prefix("=========")).map(str::trim).filter(|l| !l.is_empty()).collect();
    let summary = body.iter().rev().find_map(|l| {
        let rest = l.strip_prefix("ERROR SUMMARY:").or_else(|| l.strip_prefix("RACECHECK SUMMARY:"))?;
        rest.split_whitespace().next()?.parse::<usize>().ok()
    })?;
    let first = body
        .iter()
        .filter(|l| !l.starts_with("COMPUTE-SANITIZER") && !l.contains("SUMMARY"))
        .take(KEPT_LINES)
        .map(|l| l.to_string())
        .collect();
    Some(SanitizerReport {
        tool: tool.to_string(),
        errors: summary,
        first: if summary > 0 { first } else { Vec::new() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMCHECK: &str = "========= COMPUTE-SANITIZER
========= Invalid __global__ write of size 4 bytes
=========     at trimm_overrun+0x1d0
=========     by thread (0,1,0) in block (0,0,0)
=========     Address 0x7f1c5e000004 is out of bounds
=========     and is 1 bytes after the nearest allocation at 0x7f1c5e000000 of size 4 bytes
=========
========= ERROR SUMMARY: 15 errors
";

    #[test]
    fn reads_memcheck_errors_and_the_first_report() {
        let r = parse("memcheck", MEMCHECK).unwrap();
        assert_eq!(r.errors, 15);
        assert_eq!(r.first[0], "Invalid __global__ write of size 4 bytes");
        assert_eq!(r.first[1], "at trimm_overrun+0x1d0");
        assert!(r.to_string().starts_with("compute-sanitizer memcheck: 15 error(s): Invalid __global__ write"));
    }

    #[test]
    fn a_clean_run_has_no_findings() {
        let r = parse("memcheck", "========= COMPUTE-SANITIZER\n========= ERROR SUMMARY: 0 errors\n").unwrap();
        assert_eq!((r.errors, r.first.len()), (0, 0));
    }

    #[test]
    fn racecheck_summary_counts_hazards() {
        let log = "========= COMPUTE-SANITIZER\n========= Error: Race reported between Write access at k+0x90\n=========     and Read access at k+0xb0 [4 hazards]\n========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)\n";
        let r = parse("racecheck", log).unwrap();
        assert_eq!(r.errors, 1);
        assert!(r.first[0].starts_with("Error: Race reported"));
    }

    #[test]
    fn an_unfinished_log_says_nothing() {
        assert_eq!(parse("memcheck", "========= COMPUTE-SANITIZER\n========= Invalid __global__ write\n"), None);
        assert_eq!(parse("memcheck", ""), None);
    }
}
