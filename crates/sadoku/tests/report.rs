//! `sadoku report` on the recorded runs in results/ (every format sadoku has written), on hostile
//! and malformed files, and `review --html`; no GPU, no browser (tests/browser.rs opens the pages).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn sadoku() -> Command {
    let mut cmd = Command::cargo_bin("sadoku").unwrap();
    cmd.current_dir(repo());
    cmd
}

/// The candidate records of a recorded run, read independently of sadoku's loader.
fn records(path: &Path) -> (Vec<Value>, bool) {
    let bytes = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut s).unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) if o.contains_key("candidates") => {
            let ceilings = match &o["environment"] {
                Value::Array(a) => a.iter().any(|d| d["ceilings"].is_object()),
                d => d["ceilings"].is_object(),
            };
            (o["candidates"].as_array().unwrap().clone(), ceilings)
        }
        _ => (text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect(), false),
    }
}

fn report(args: &[&Path]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let run = sadoku().arg("report").args(args).arg("-o").arg(&out).output().unwrap();
    assert!(run.status.success(), "{args:?}: {}", String::from_utf8_lossy(&run.stderr));
    std::fs::read_to_string(&out).unwrap()
}

/// The HTML inside the element with this id, up to the next section heading.
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let end = html[at..].find("<h3>").map_or(html.len(), |e| at + e);
    &html[at..end]
}

const RUNS: [&str; 10] = [
    "results/2026-11-28-h200-issue3/batch.json",
    "results/2026-11-28-h200-issue4/run1-batch.json",
    "results/2026-11-30-h200-final/batch.json",
    "results/2026-11-30-h200-dtypes/run2-new-problems.jsonl",
    "results/2026-11-30-h200-dtypes/run4-cudnn.jsonl",
    "results/2026-11-30-h200-dtypes/run5-batch.jsonl.gz",
    "results/2026-11-30-h200-issue10/run2-batch.json",
    "results/2026-11-30-h200-dtypes/run7-seed.json",
    "results/2026-11-30-h200-dtypes/run7-batch.json.gz",
    "results/2026-11-30-h200-dtypes/run7-batch.jsonl.gz",
];

#[test]
fn every_recorded_run_makes_a_report_with_its_plots_and_every_candidate() {
    for run in RUNS {
        let path = repo().join(run);
        if !path.exists() {
            continue; // results/ is kept by another hand; a removed run is not this test's failure
        }
        let html = report(&[&path]);
        let (candidates, ceilings) = records(&path);
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"), "{run}");
        // Nothing from the network: the only URL is SVG's namespace, which is a name, not a fetch.
        let urls = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!urls.contains("http://") && !urls.contains("https://") && !urls.contains("@import"), "{run}");
        assert!(element(&html, "forest").contains("<svg"), "{run}: no forest plot");
        assert!(element(&html, "distributions").contains("<svg"), "{run}: no distributions");
        let roofline = element(&html, "roofline");
        assert_eq!(roofline.contains("<svg"), ceilings, "{run}: roofline drawn iff ceilings recorded");
        let sweeps = candidates.iter().any(|c| c["cases"].as_array().is_some_and(|a| a.len() > 1));
        assert_eq!(html.contains("id=\"sweep\""), sweeps, "{run}: a sweep section iff a candidate has several cases");
        // The summary: one row per candidate, each named.
        let table = &html[html.find("<table class=\"sortable summary\">").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        assert_eq!(table.matches("<tr>").count(), candidates.len() + 1, "{run}: header and a row per candidate");
        for c in &candidates {
            let name = html_escape::encode_text(c["name"].as_str().unwrap()).into_owned();
            assert!(table.contains(&name), "{run}: {name} not in the summary");
        }
        let rejected = candidates.iter().filter(|c| c["verdict"] == "REJECTED").count();
        assert!(html.contains(&format!("<h3>Rejections ({rejected})</h3>")), "{run}");
        if run.ends_with(".json") || run.ends_with(".json.gz") {
            assert!(html.contains("--seed "), "{run}: the replay command");
        } else {
            assert!(html.contains("seed is not recorded in JSON Lines"), "{run}");
        }
    }
}

#[test]
fn the_seed_runs_report_shows_the_unwritten_output_and_the_environment() {
    let html = report(&[&repo().join("results/2026-11-30-h200-final/batch.json")]);
    let at = html.find("trimm/sakana_original.cu — output not written").expect("its rejection");
    assert!(html[at..].contains("never written"), "its evidence");
    for fact in ["NVIDIA H200", "580.159.04", "cuBLAS", "13.1.0", "SM clock", "fp32 64.1", "DRAM 4354 GB/s"] {
        assert!(html[html.find("<h3>Environment</h3>").unwrap()..].contains(fact), "{fact}");
    }
    assert!(html.contains("sadoku review examples/seed/sakana_original.cu"), "replay names the files");
    // Older records without the flop/byte floors: GEMM-like points are left out, and said so.
    assert!(html.contains("no byte floor recorded"));
    // The script marks the page ready for the browser test, and it is the only script.
    assert!(html.contains("document.body.dataset.ready = \"1\"") && html.matches("<script").count() == 1);
}

#[test]
fn several_files_make_one_page_with_a_section_each() {
    let a = repo().join("results/2026-11-28-h200-issue4/run1-batch.json");
    let b = repo().join("results/2026-11-30-h200-dtypes/run4-cudnn.jsonl");
    let html = report(&[&a, &b]);
    for id in ["run1", "run2", "forest", "forest-2", "distributions", "distributions-2", "roofline", "roofline-2"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(html.find("run1-batch.json").unwrap() < html.find("run4-cudnn.jsonl").unwrap());
}

#[test]
fn names_and_evidence_from_records_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.jsonl");
    let accepted = r#"{"name":"<script>alert(1)</script>.cu","problem":"<b>p</b>","verdict":"ACCEPTED","class":"fp32","timing":{"baseline_name":"<i>b</i>","candidate":{"median":1.0},"speedup":2.0,"speedup_interval":[1.9,2.1],"call":"FASTER","candidate_ms":[1.0,1.1],"baseline_ms":[2.0,2.1]}}"#;
    let rejected = r#"{"name":"x\"><img src=x onerror=alert(2)>.cu","verdict":"REJECTED","check":"signature","message":"<script>alert(4)</script>","reason":"wrong answer","evidence":"</pre><script>alert(3)</script>"}"#;
    // (`call` is typed, one of three words: a hostile one is refused by the loader, not escaped.)
    std::fs::write(&file, format!("{accepted}\n{rejected}\n")).unwrap();
    let html = report(&[&file]);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>p</b>") && !html.contains("<i>b</i>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.cu"));
    assert_eq!(html.matches("<script>").count(), 1, "only the page's own script");
}

#[test]
fn a_malformed_run_is_a_one_line_error_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("junk.jsonl", &b"not json\n"[..], "junk.jsonl:1: not a JSON record"),
        ("empty.jsonl", b"", "empty.jsonl: no candidate records"),
        ("other.json", b"{\"candidates\": {\"a\": 1}}", "other.json: `candidates` is not a list"),
        ("bad.jsonl.gz", b"\x1f\x8b\x08\x00garbage", "bad.jsonl.gz: not a readable gzip file"),
        ("missing.jsonl", b"", "missing.jsonl: cannot read"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        if name != "missing.jsonl" {
            std::fs::write(&path, bytes).unwrap();
        }
        let out = sadoku().arg("report").arg(&path).arg("-o").arg(dir.path().join("r.html")).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.starts_with("sadoku: error: ") && err.contains(want), "{name}: {err}");
        assert!(!dir.path().join("r.html").exists(), "{name}: no page for a bad run");
    }
}

#[test]
fn review_writes_the_same_report_with_html() {
    // An invalid candidate needs no GPU: its review is a rejection found before any GPU work.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("review.html");
    let out = sadoku()
        .env("SADOKU_CACHE_DIR", dir.path())
        .args(["review", "examples/invalid/malformed_toml.cu", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("malformed_toml.cu — invalid candidate file"), "{html}");
    assert!(html.contains("--seed "), "a review knows its seed");
    assert!(html.contains("id=\"forest\"") && html.contains("id=\"distributions\""));
}

/// Every recorded run under results/ (JSON, JSON Lines, gzip or not) that holds candidate records
/// loads through the typed schema, every record of it.
#[test]
fn every_recorded_run_loads_through_the_typed_schema() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if [".json", ".jsonl", ".json.gz", ".jsonl.gz"].iter().any(|e| path.to_string_lossy().ends_with(e)) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("results"), &mut files);
    files.sort();
    let (mut runs, mut records, mut failed) = (0, 0, Vec::new());
    for path in &files {
        let expected = records_of(path);
        if expected.is_empty() {
            continue; // not a recorded run (a problem description, a trace, ...)
        }
        match sadoku::records::load(path) {
            Ok(run) => {
                assert_eq!(run.records.len(), expected.len(), "{}", path.display());
                for (typed, raw) in run.records.iter().zip(&expected) {
                    assert_eq!(typed.name, raw["name"].as_str().unwrap());
                    assert_eq!(typed.verdict.is_accepted(), raw["verdict"] == "ACCEPTED", "{}", typed.name);
                }
                runs += 1;
                records += run.records.len();
            }
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    assert!(failed.is_empty(), "{} run(s) do not load:\n{}", failed.len(), failed.join("\n"));
    assert!(runs >= 90 && records >= 1600, "{runs} runs, {records} records");
}

/// A file's candidate records, if it is a recorded run at all (an empty list if not).
fn records_of(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        bytes
    };
    let Ok(text) = String::from_utf8(bytes) else { return Vec::new() };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) if o.contains_key("candidates") => o["candidates"].as_array().cloned().unwrap_or_default(),
        _ => {
            let lines: Option<Vec<Value>> =
                text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).ok()).collect();
            lines.unwrap_or_default().into_iter().take_while(|v| v["name"].is_string()).collect()
        }
    }
}
