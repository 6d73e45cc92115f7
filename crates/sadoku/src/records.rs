//! Recorded runs, as `report` and `compare` read them, and the `sadoku report` command.
//!
//! A recorded run is either `sadoku review --json` output (one JSON object with `sadoku`, `seed`,
//! `environment`, `candidates`, `wall_s`) or an `--out` JSON Lines file (one candidate record a
//! line), either of them optionally gzip-compressed. Every record is read through the typed schema
//! (`sadoku_core::report`, docs/REPORT.md): runs recorded by older versions lack fields, which take
//! their defaults there. Where the HTML page tells a field a record lacks ("not recorded") from one
//! it holds as null ("–") and the typed `Option` does not, the loader notes which it was
//! ([`Recorded`], [`RecordFields`], [`DeviceFields`]).

use std::io::Read;
use std::path::Path;

use anyhow::{Result, anyhow};
use sadoku_core::device::DeviceInfo;
use sadoku_core::report::CandidateReport;
use serde::Deserialize;
use serde_json::Value;

use crate::kernelbench::Summary;

/// One recorded run.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Where it came from, as the report names it.
    pub source: String,
    /// The sadoku version that made it (`--json` output only).
    pub sadoku: Option<String>,
    /// The master seed (`--json` output only).
    pub seed: Option<String>,
    /// Whether the file said anything about the environment (JSON Lines do not).
    pub has_environment: bool,
    pub wall_s: Option<f64>,
    /// The candidate records (each had at least a `name`), through the typed schema.
    pub records: Vec<CandidateReport>,
    /// Which of the fields that the page tells apart each record held, in the same order.
    pub fields: Vec<RecordFields>,
    /// The GPUs used (`--json` output only; older reports hold one object, not a list).
    pub devices: Vec<DeviceInfo>,
    /// Which of the fields that the page tells apart each device held, in the same order.
    pub device_fields: Vec<DeviceFields>,
    /// A KernelBench run's summary (`sadoku kernelbench review --json`): per problem, the best
    /// accepted candidate, and the fractions.
    pub suite: Option<Summary>,
    /// Candidates the run could not review (the environment failed; `--json` output only).
    pub not_reviewed: Vec<sadoku_core::report::NotReviewed>,
}

/// Read a recorded run; every error names the file and fits on one line.
pub fn load(path: &Path) -> Result<Run> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| anyhow!("{shown}: cannot read: {e}"))?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| anyhow!("{shown}: not a readable gzip file: {e}"))?;
        out
    } else {
        bytes
    };
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow!("{shown}: not UTF-8 text (expected JSON or JSON Lines)"))?;
    parse(&shown.to_string(), &text)
}

/// Whether a record held a field: the typed schema reads a missing field and a null one alike (as
/// `None`), and the page says "not recorded" for the first and "–" for the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recorded {
    /// The record lacks the field (written before it existed).
    #[default]
    Missing,
    /// The record holds null: the field existed and had nothing to say.
    Null,
    /// The record holds a value (read through the typed schema).
    Value,
}

impl<'de> Deserialize<'de> for Recorded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Recorded, D::Error> {
        Ok(match Option::<serde::de::IgnoredAny>::deserialize(d)? {
            None => Recorded::Null,
            Some(_) => Recorded::Value,
        })
    }
}

/// The fields of a candidate record whose absence the page tells from null: `ceiling` (missing
/// in records from before it was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct RecordFields {
    pub ceiling: Recorded,
}

/// The fields of a device (`environment`) whose absence the page tells from null: each was added
/// after the first reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct DeviceFields {
    pub cudnn: Recorded,
    pub torch: Recorded,
    pub sandbox: Recorded,
    pub ceilings: Recorded,
}

/// The `environment` of a `--json` report: a list of devices, or (before multi-GPU review) one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Environment {
    Devices(Vec<DeviceInfo>),
    Device(Box<DeviceInfo>),
}

/// A candidate record through the typed schema, and which of the page's fields it held.
fn typed(record: &Value) -> Result<(CandidateReport, RecordFields), String> {
    let typed = CandidateReport::deserialize(record).map_err(|e| format!("not a sadoku candidate record: {e}"))?;
    Ok((typed, RecordFields::deserialize(record).unwrap_or_default()))
}

/// A run from its text: one JSON report, or JSON Lines of candidate records.
pub fn parse(source: &str, text: &str) -> Result<Run> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) if value.get("candidates").is_some() => from_report(source, value),
        _ => {
            let (mut records, mut fields) = (Vec::new(), Vec::new());
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let record: Value =
                    serde_json::from_str(line).map_err(|e| anyhow!("{source}:{}: not a JSON record: {e}", i + 1))?;
                check_record(&record).map_err(|m| anyhow!("{source}:{}: {m}", i + 1))?;
                let (r, f) = typed(&record).map_err(|m| anyhow!("{source}:{}: {m}", i + 1))?;
                records.push(r);
                fields.push(f);
            }
            if records.is_empty() {
                return Err(anyhow!("{source}: no candidate records in it (expected sadoku's --out or --json output)"));
            }
            Ok(Run { source: source.into(), records, fields, ..Run::default() })
        }
    }
}

/// A run from a `--json` report (parsed, or made by this process).
pub fn from_report(source: &str, mut value: Value) -> Result<Run> {
    let candidates = match value.get_mut("candidates").map(Value::take) {
        Some(Value::Array(list)) => list,
        _ => return Err(anyhow!("{source}: `candidates` is not a list (expected sadoku's --json output)")),
    };
    let (mut records, mut fields) = (Vec::new(), Vec::new());
    for (i, record) in candidates.iter().enumerate() {
        check_record(record).map_err(|m| anyhow!("{source}: candidate {}: {m}", i + 1))?;
        let (r, f) = typed(record).map_err(|m| anyhow!("{source}: candidate {}: {m}", i + 1))?;
        records.push(r);
        fields.push(f);
    }
    let original = value.get_mut("environment").map(Value::take).unwrap_or(Value::Null);
    let devices = match Option::<Environment>::deserialize(&original) {
        Ok(Some(Environment::Devices(d))) => d,
        Ok(Some(Environment::Device(d))) => vec![*d],
        Ok(None) => Vec::new(),
        Err(e) => return Err(anyhow!("{source}: `environment` is not sadoku's GPU list: {e}")),
    };
    let device_fields = |d: &Value| DeviceFields::deserialize(d).unwrap_or_default();
    let (device_fields, has_environment) = match &original {
        Value::Array(list) => (list.iter().map(device_fields).collect(), true),
        Value::Null => (Vec::new(), false),
        // Reports before multi-GPU review held one device.
        one => (vec![device_fields(one)], true),
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let not_reviewed = match value.get("not_reviewed") {
        Some(v) => Vec::<sadoku_core::report::NotReviewed>::deserialize(v)
            .map_err(|e| anyhow!("{source}: `not_reviewed` is not sadoku's list: {e}"))?,
        None => Vec::new(),
    };
    let suite = match value.get("summary").filter(|v| v.is_object()) {
        Some(s) => Some(Summary::deserialize(s).map_err(|e| anyhow!("{source}: its KernelBench summary: {e}"))?),
        None => None,
    };
    Ok(Run {
        source: source.into(),
        sadoku: value.get("sadoku").and_then(text),
        seed: value.get("seed").and_then(text),
        devices,
        device_fields,
        has_environment,
        wall_s: value.get("wall_s").and_then(Value::as_f64),
        suite,
        not_reviewed,
        records,
        fields,
    })
}

fn check_record(record: &Value) -> Result<(), String> {
    match record {
        Value::Object(o) if o.get("name").is_some_and(Value::is_string) => Ok(()),
        Value::Object(_) => Err("a JSON object with no candidate `name` (not a sadoku record)".into()),
        _ => Err("not a JSON object (expected one candidate record)".into()),
    }
}

/// The page on OUT, or stdout without one.
pub fn write(html: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, html).map_err(|e| anyhow!("{}: cannot write: {e}", path.display())),
        None => {
            use std::io::Write;
            match std::io::stdout().write_all(html.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least a record holds: its name and its verdict.
    const A: &str = r#"{"name":"a.cu","verdict":"ACCEPTED","class":"fp32"}"#;

    #[test]
    fn json_lines_and_reports_both_load() {
        let lines = parse("a.jsonl", &format!("{A}\n\n{}\n", A.replace("a.cu", "b.cu"))).unwrap();
        assert_eq!(lines.records.len(), 2);
        assert!(!lines.has_environment && lines.seed.is_none());
        let report = parse(
            "r.json",
            &format!(r#"{{"sadoku":"0.1","seed":"7","environment":{{"name":"GPU"}},"candidates":[{A}]}}"#),
        )
        .unwrap();
        assert_eq!(report.seed.as_deref(), Some("7"));
        assert_eq!(report.devices.len(), 1, "one device object is a list of one");
        assert_eq!(report.device_fields[0], DeviceFields::default(), "its later fields are not recorded");
    }

    #[test]
    fn malformed_runs_are_one_line_errors_naming_the_file() {
        for (text, want) in [
            ("not json\n", "x.jsonl:1: not a JSON record"),
            (&format!("{A}\n[1]\n"), "x.jsonl:2: not a JSON object"),
            ("{\"name\":\"a.cu\"}\n", "x.jsonl:1: not a sadoku candidate record: missing field `verdict`"),
            ("{\"verdict\":\"ACCEPTED\"}\n", "x.jsonl:1: a JSON object with no candidate `name`"),
            ("\n\n", "x.jsonl: no candidate records"),
            ("{\"candidates\":3}", "x.jsonl: `candidates` is not a list"),
        ] {
            let e = format!("{:#}", parse("x.jsonl", text).unwrap_err());
            assert!(e.starts_with(want) && !e.contains('\n'), "{text:?}: {e}");
        }
    }
}
