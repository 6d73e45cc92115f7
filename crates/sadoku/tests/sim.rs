//! The real binary end to end on the simulated device (the hidden `--device sim`): lanes over
//! `--jobs`, worker processes (each `sadoku worker --device sim`, confined as on a GPU), the
//! journal, `--resume` after the judge is killed, the exports, then `compare` and `report` over
//! what was recorded; `problem check --prove` through the same lanes. No GPU.
//!
//! The simulated worker knows a few examples' kernels by name (see `src/backend/sim.rs`); the
//! examples are reviewed as copies naming `trimm_sim`, the library's `trimm` at sizes the
//! simulator's host loops run in moments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{example, problem, records, repo, sadoku, text, torch};

/// `sadoku ... kernelbench review --json`, its Python workers the bridge's on PyTorch's CPU
/// device (`torch`: PyTorch's directory).
fn kernelbench_review(dir: &Path, torch: &Path) -> Command {
    let mut cmd = sadoku(dir);
    cmd.env("SADOKU_PYTHONPATH", std::env::join_paths([torch.to_path_buf(), repo().join("python")]).unwrap()).args([
        "kernelbench",
        "review",
        "--json",
        "--python",
        "/usr/bin/python3",
    ]);
    cmd
}

/// A ModelNew computing x * 2.
const DOUBLED: &str =
    "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n";

fn by_name(candidates: &[Value]) -> HashMap<String, Value> {
    candidates.iter().map(|c| (c["name"].as_str().unwrap().to_string(), c.clone())).collect()
}

/// `dir/kb`, a KernelBench problem directory holding copies of the bridge's test problems named.
fn kb_problems(dir: &Path, names: &[&str]) -> PathBuf {
    let problems = dir.join("kb");
    std::fs::create_dir_all(&problems).unwrap();
    for p in names {
        std::fs::copy(repo().join("python/tests/problems").join(p), problems.join(p)).unwrap();
    }
    problems
}

/// An honest candidate ACCEPTED and timed, cheats REJECTED with their evidence, an invalid file
/// REJECTED before any GPU work, over two lanes; the JSON report, the JSON Lines journal, the CSV,
/// Markdown and HTML exports agree; then `compare` and `report` read what was recorded.
#[test]
fn a_simulated_review_over_two_lanes_judges_exports_compares_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let files = [
        example(d, "honest/tiled_dynamic_smem.cu", "honest.cu", "a"),
        example(d, "adversarial/zeroes_inputs.cu", "zeroes_inputs.cu", "a"),
        example(d, "adversarial/tf32_operands.cu", "tf32_operands.cu", "a"),
        repo().join("examples/invalid/bad_expression.cu"),
    ];
    let out = sadoku(d)
        .args(["review", "--json", "--jobs", "2", "--seed", "7", "--time-budget", "0.5"])
        .args(["--out", "run.jsonl", "--export-csv", "run.csv", "--export-markdown", "run.md", "--html", "run.html"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "some rejected: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = by_name(report["candidates"].as_array().unwrap());
    assert_eq!(candidates.len(), 4, "{report:#}");

    let honest = &candidates["honest.cu"];
    assert_eq!(honest["verdict"], "ACCEPTED", "{honest:#}");
    assert!(honest["timing"]["speedup"].as_f64().is_some_and(|s| s > 0.0), "timed: {honest:#}");
    // The worker confined itself and said so.
    assert!(honest["sandbox"].as_str().is_some_and(|s| !s.is_empty()), "{honest:#}");
    let zeroes = &candidates["zeroes_inputs.cu"];
    assert_eq!((&zeroes["verdict"], &zeroes["reason"]), (&"REJECTED".into(), &"inputs modified".into()), "{zeroes:#}");
    assert!(zeroes["evidence"].as_str().unwrap().contains("input A modified"), "{zeroes:#}");
    assert_eq!(candidates["tf32_operands.cu"]["verdict"], "REJECTED", "{:#}", candidates["tf32_operands.cu"]);
    assert_eq!(candidates["bad_expression.cu"]["verdict"], "REJECTED");
    assert!(report["environment"][0]["name"].as_str().unwrap().contains("simulated"), "{:#}", report["environment"]);
    assert_eq!(report["seed"], "7");

    // The journal holds each verdict once, as the report has it.
    let journal = by_name(&records(&d.join("run.jsonl")));
    assert_eq!(journal.len(), 4);
    for (name, c) in &candidates {
        assert_eq!(journal[name]["verdict"], c["verdict"], "{name}");
        assert!(journal[name]["key"].as_str().is_some_and(|k| !k.is_empty()), "{name}: a key for --resume");
    }
    let csv = std::fs::read_to_string(d.join("run.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "a header and a row per candidate: {csv}");
    assert!(csv.lines().any(|l| l.starts_with("honest.cu,") && l.contains("ACCEPTED")), "{csv}");
    let md = std::fs::read_to_string(d.join("run.md")).unwrap();
    assert!(md.contains("| zeroes_inputs.cu | trimm_sim | REJECTED | inputs modified |"), "{md}");
    let html = std::fs::read_to_string(d.join("run.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("honest.cu"), "an HTML page");

    // `compare` of the run with itself: nothing regressed; `report` over the journal and the JSON.
    std::fs::write(d.join("run.json"), &out.stdout).unwrap();
    let compared = sadoku(d).args(["compare", "run.jsonl", "run.json"]).output().unwrap();
    assert_eq!(compared.status.code(), Some(0), "{}", text(&compared));
    let said = String::from_utf8_lossy(&compared.stdout);
    assert!(said.contains("honest.cu") && said.contains("SAME"), "{said}");
    let page = sadoku(d).args(["report", "run.jsonl", "run.json", "-o", "page.html"]).output().unwrap();
    assert_eq!(page.status.code(), Some(0), "{}", text(&page));
    let page = std::fs::read_to_string(d.join("page.html")).unwrap();
    assert!(page.contains("zeroes_inputs.cu") && page.contains("tf32_operands.cu"), "both runs on the page");
}

/// A run killed with SIGKILL mid-way loses nothing it recorded, and `--resume` judges the rest:
/// every candidate in the journal exactly once, the first run's records untouched.
#[test]
fn a_run_killed_mid_way_resumes_with_nothing_lost_and_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let mut files: Vec<PathBuf> =
        (0..5).map(|i| example(d, "honest/tiled_dynamic_smem.cu", &format!("honest_{i}.cu"), &i.to_string())).collect();
    files.push(example(d, "adversarial/zeroes_inputs.cu", "zeroes_inputs.cu", "b"));
    let journal = d.join("run.jsonl");
    let review = |resume: bool| {
        let mut cmd = sadoku(d);
        cmd.args(["review", "--jobs", "2", "--time-budget", "0.5", "--out", "run.jsonl"]);
        if resume {
            cmd.arg("--resume");
        }
        cmd.args(&files);
        cmd
    };
    let mut first = review(false).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while records(&journal).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(300), "no verdict within 5 minutes");
        assert!(first.try_wait().unwrap().is_none(), "the first run ended before it was killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before = std::fs::read_to_string(&journal).unwrap();
    let judged = records(&journal).len();
    assert!(judged < files.len(), "killed mid-way: {judged} of {} judged", files.len());

    let out = review(true).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the cheat is rejected: {}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("skipped: {judged} candidate(s) judged in an earlier run")), "{}", text(&out));
    let after = std::fs::read_to_string(&journal).unwrap();
    // A torn last line (killed mid-write) stays where it was and is judged again.
    assert!(after.starts_with(&before), "the first run's records are kept as they were");
    let all = records(&journal);
    let mut names: Vec<&str> = all.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    let mut want: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into()).collect();
    want.sort();
    assert_eq!(names, want, "each candidate exactly once");
    let verdicts = by_name(&all);
    assert_eq!(verdicts["zeroes_inputs.cu"]["verdict"], "REJECTED");
    assert!((0..5).all(|i| verdicts[&format!("honest_{i}.cu")]["verdict"] == "ACCEPTED"), "{all:#?}");
}

/// `--shard I/N` splits a batch by content, disjointly and completely, whatever the order the files
/// are given in; `merge` joins the shards' journals into one, each review once (a journal given
/// twice adds nothing), and `report` and `compare` take the result.
#[test]
fn shards_split_a_batch_and_merge_joins_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let mut files: Vec<PathBuf> =
        (0..5).map(|i| example(d, "honest/tiled_dynamic_smem.cu", &format!("h{i}.cu"), &format!("s{i}"))).collect();
    files.push(example(d, "adversarial/zeroes_inputs.cu", "zeroes.cu", "s"));
    files.push(repo().join("examples/invalid/bad_expression.cu"));
    let shard = |i: usize, reversed: bool| {
        let mut given = files.clone();
        if reversed {
            given.reverse();
        }
        let out = sadoku(d)
            .args(["review", "--jobs", "2", "--time-budget", "0.2", "--shard", &format!("{i}/2")])
            .args(["--out", &format!("shard{i}.jsonl")])
            .args(&given)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("shard {i}/2:"))
                || String::from_utf8_lossy(&out.stdout).contains(&format!("shard {i}/2:")),
            "{}",
            text(&out)
        );
        records(&d.join(format!("shard{i}.jsonl")))
    };
    let (one, two) = (shard(1, false), shard(2, true));
    let names = |r: &[Value]| r.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (a, b) = (names(&one), names(&two));
    assert!(a.iter().all(|n| !b.contains(n)), "disjoint: {a:?} {b:?}");
    assert_eq!(a.len() + b.len(), files.len(), "complete: {a:?} {b:?}");

    let merged =
        sadoku(d).args(["merge", "shard1.jsonl", "shard2.jsonl", "shard1.jsonl", "-o", "all.jsonl"]).output().unwrap();
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    let said = String::from_utf8_lossy(&merged.stderr);
    assert!(
        said.contains(&format!("{} record(s) from 3 file(s), {} repeated one(s) dropped", files.len(), a.len())),
        "{said}"
    );
    let all = records(&d.join("all.jsonl"));
    let mut got = names(&all);
    got.sort();
    let mut want: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into()).collect();
    want.sort();
    assert_eq!(got, want, "each candidate once");
    assert!(all.iter().all(|r| r["schema"] == 1), "written through the typed schema");
    let report = sadoku(d).args(["report", "all.jsonl", "-o", "all.html"]).output().unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    let compared = sadoku(d).args(["compare", "all.jsonl", "all.jsonl"]).output().unwrap();
    assert_eq!(compared.status.code(), Some(0), "{}", text(&compared));
    // A shard that is no shard is a one-line usage error.
    let bad = sadoku(d).args(["review", "--shard", "3/2"]).arg(&files[0]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected I/N"), "{}", text(&bad));
}

/// `problem check --prove` verifies a problem's solutions through the review's lanes: the honest
/// one accepted, the `wrong_` one rejected, as their names promise.
#[test]
fn problem_check_proves_solutions_on_the_simulated_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let solutions = d.join("solutions/trimm_sim");
    std::fs::create_dir_all(&solutions).unwrap();
    example(&solutions, "honest/tiled_dynamic_smem.cu", "honest_tiled.cu", "c");
    example(&solutions, "adversarial/zeroes_inputs.cu", "wrong_wipes_inputs.cu", "c");
    let out = sadoku(d).args(["problem", "check", "problems/trimm_sim", "--prove", "solutions"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("ok     problems/trimm_sim (trimm_sim; built-in GEMM reference)"), "{said}");
    assert!(said.contains("honest_tiled.cu: ACCEPTED") && said.contains("proved"), "{said}");
    assert!(said.contains("wrong_wipes_inputs.cu: REJECTED (inputs modified)"), "{said}");
}

/// `--device sim` is for tests: not in `--help`.
#[test]
fn the_simulated_device_is_hidden_from_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_sadoku")).args(["review", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--jobs") && !help.contains("--device") && !help.contains("sim"), "{help}");
}

/// `kernelbench review` on the simulated device: the problem file's Model and the ModelNew
/// candidates run in confined Python workers on PyTorch's CPU device (a simulated GPU has no
/// CUDA for them), the judge and the lanes as on a GPU. An honest ModelNew accepted and timed
/// against eager PyTorch, one returning its input rejected; the KernelBench summary counts them.
/// Candidates that build CUDA extensions (load_inline) or Triton kernels need a GPU.
/// Without PyTorch it says so and stops, unless SADOKU_REQUIRE_TORCH is set (CI), where it fails.
#[test]
fn kernelbench_review_runs_on_the_simulated_device() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let tests = repo().join("python/tests");
    let out = kernelbench_review(d, &torch)
        .args(["--jobs", "2", "--time-budget", "0.5", "--out", "kb.jsonl"])
        .arg(tests.join("problems/leaky_relu.py"))
        .arg(tests.join("candidates/leaky_relu_honest.py"))
        .arg(tests.join("candidates/leaky_relu_returns_input.py"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one rejected: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = by_name(report["candidates"].as_array().unwrap());
    let honest = &candidates["leaky_relu_honest.py"];
    assert_eq!(honest["verdict"], "ACCEPTED", "{honest:#}");
    assert!(honest["timing"]["baseline_name"].as_str().unwrap().starts_with("eager PyTorch"), "{honest:#}");
    let cheat = &candidates["leaky_relu_returns_input.py"];
    assert_eq!(cheat["verdict"], "REJECTED", "{cheat:#}");
    assert!(cheat["evidence"].as_str().unwrap().contains("aliases an input"), "{cheat:#}");
    assert_eq!(report["summary"]["problems"], 1);
    assert_eq!(report["summary"]["accepted"], 1);
    assert_eq!(records(&d.join("kb.jsonl")).len(), 2);
}

/// `--resume` knows a candidate judged in an earlier run from its file and its problem file
/// alone: it is skipped before its problem is described, and a problem none of whose candidates
/// is left is never described (a resumed archive batch describes only what it still judges). A
/// changed candidate for that problem is another review: the problem is described and it is
/// judged.
#[test]
fn a_resumed_batch_describes_no_problem_whose_candidates_were_all_judged() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let tests = repo().join("python/tests");
    let problems = kb_problems(d, &["leaky_relu.py", "threshold.py"]);
    let honest = tests.join("candidates/leaky_relu_honest.py");
    let run = |resume: bool, candidates: &[PathBuf]| {
        let mut cmd = kernelbench_review(d, &torch);
        cmd.args(["--jobs", "1", "--time-budget", "0.5", "--out", "kb.jsonl"]);
        if resume {
            cmd.arg("--resume");
        }
        let out = cmd.arg(&problems).args(candidates).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (String::from_utf8_lossy(&out.stderr).to_string(), by_name(report["candidates"].as_array().unwrap()))
    };
    let described = |stderr: &str, file: &str| stderr.contains(&format!("{file} ("));
    let (stderr, first) = run(false, std::slice::from_ref(&honest));
    assert_eq!(first["leaky_relu_honest.py"]["verdict"], "ACCEPTED", "{stderr}");
    assert!(described(&stderr, "leaky_relu.py"), "{stderr}");

    let (stderr, second) = run(true, &[honest.clone(), tests.join("candidates/threshold_honest.py")]);
    assert!(stderr.contains("leaky_relu_honest.py: judged in an earlier run"), "{stderr}");
    assert!(!described(&stderr, "leaky_relu.py"), "its only candidate was judged: {stderr}");
    assert!(described(&stderr, "threshold.py"), "{stderr}");
    assert_eq!(second.len(), 1, "{second:#?}");
    assert_eq!(second["threshold_honest.py"]["verdict"], "ACCEPTED", "{stderr}");

    // The same text is the same review; one changed byte is another.
    let changed = d.join("leaky_relu_honest_changed.py");
    std::fs::write(&changed, format!("{}\n# changed\n", std::fs::read_to_string(&honest).unwrap())).unwrap();
    let (stderr, third) = run(true, &[honest.clone(), changed]);
    assert!(stderr.contains("leaky_relu_honest.py: judged in an earlier run"), "{stderr}");
    assert!(described(&stderr, "leaky_relu.py"), "a candidate of it is left: {stderr}");
    assert_eq!(third["leaky_relu_honest_changed.py"]["verdict"], "ACCEPTED", "{stderr}");
    assert_eq!(records(&d.join("kb.jsonl")).len(), 3, "each judged once");
}

/// An environment error costs its own candidate's verdict only: a problem whose `get_inputs()`
/// draws another shape than the one it was described with cannot be judged (the judge's truth
/// cannot be computed, not the candidate's fault), and the batch goes on. The candidate is listed
/// as not reviewed (in the JSON report, never in `--out`'s file), the exit status is 2, and
/// `--resume` takes it up again while skipping what was judged. So is a file that cannot be read
/// when its turn comes (a link to `/proc/self/mem`, which not even root can read from its start).
#[test]
fn an_environment_error_costs_only_its_own_candidates_verdict() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let tests = repo().join("python/tests");
    let problems = kb_problems(d, &["leaky_relu.py", "varying_shape.py"]);
    let doubled = d.join("varying_shape_doubled.py");
    std::fs::write(&doubled, DOUBLED).unwrap();
    // A file that cannot be read when its turn comes is the environment's failure too.
    let unread = d.join("leaky_relu_unread.py");
    std::os::unix::fs::symlink("/proc/self/mem", &unread).unwrap();
    let run = |resume: bool| {
        let mut cmd = kernelbench_review(d, &torch);
        cmd.args(["--jobs", "2", "--time-budget", "0.5", "--out", "kb.jsonl"]);
        if resume {
            cmd.arg("--resume");
        }
        cmd.arg(&problems)
            .arg(tests.join("candidates/leaky_relu_honest.py"))
            .arg(&doubled)
            .arg(tests.join("candidates/leaky_relu_returns_input.py"))
            .arg(&unread)
            .output()
            .unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(2), "a candidate not reviewed: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 candidate(s) not reviewed") && stderr.contains("--resume"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = by_name(report["candidates"].as_array().unwrap());
    assert_eq!(candidates["leaky_relu_honest.py"]["verdict"], "ACCEPTED");
    assert_eq!(candidates["leaky_relu_returns_input.py"]["verdict"], "REJECTED");
    let missing = report["not_reviewed"].as_array().unwrap();
    assert_eq!(missing.len(), 2, "{missing:#?}");
    assert!(missing[0]["origin"].as_str().unwrap().ends_with("varying_shape_doubled.py"));
    assert_eq!(missing[0]["problem"], "varying_shape");
    assert!(missing[0]["error"].as_str().unwrap().contains("get_inputs() returned"), "{missing:#?}");
    assert!(missing[1]["origin"].as_str().unwrap().ends_with("leaky_relu_unread.py"));
    assert_eq!(missing[1]["problem"], "leaky_relu");
    assert!(missing[1]["error"].as_str().unwrap().starts_with("the file could not be read:"), "{missing:#?}");
    assert_eq!(records(&d.join("kb.jsonl")).len(), 2, "no record for what was not reviewed");

    let again = run(true);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(report["candidates"].as_array().unwrap().is_empty(), "the judged ones skipped: {report:#}");
    assert_eq!(report["not_reviewed"].as_array().unwrap().len(), 2);
    assert_eq!(records(&d.join("kb.jsonl")).len(), 2);

    // When it is the environment that fails, candidate after candidate, the batch stops.
    let copies: Vec<PathBuf> = (0..4)
        .map(|i| {
            let copy = d.join(format!("varying_shape_doubled_{i}.py"));
            std::fs::write(&copy, format!("{}# copy {i}\n", std::fs::read_to_string(&doubled).unwrap())).unwrap();
            copy
        })
        .collect();
    let out = kernelbench_review(d, &torch).args(["--jobs", "1"]).arg(&problems).args(&copies).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = report["not_reviewed"].as_array().unwrap();
    assert_eq!(missing.len(), 4);
    let started = missing.iter().filter(|m| m["error"].as_str().unwrap().contains("get_inputs() returned")).count();
    assert_eq!(started, 3, "three in a row, then the batch stops: {missing:#?}");
    assert!(
        missing[3]["error"].as_str().unwrap().starts_with("not started: the batch stopped after 3"),
        "{missing:#?}"
    );
}

/// A problem whose own Model answers differently on the same inputs (a dropout in training mode)
/// gives no candidate a verdict: its own Model as `ModelNew` and a deterministic candidate alike
/// are NOT REVIEWED with the one line that says why (its two calls' difference), and neither is
/// REJECTED as a wrong answer against one random draw of the truth.
#[test]
fn a_problem_whose_model_answers_at_random_judges_no_candidate() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let problems = kb_problems(d, &["dropout_leaky_relu.py"]);
    let own = std::fs::read_to_string(problems.join("dropout_leaky_relu.py")).unwrap();
    let self_candidate = d.join("dropout_leaky_relu_self.py");
    std::fs::write(&self_candidate, format!("{own}\n\nclass ModelNew(Model):\n    pass\n")).unwrap();
    let plain = d.join("dropout_leaky_relu_plain.py");
    std::fs::write(
        &plain,
        "import torch\nclass ModelNew(torch.nn.Module):\n    def __init__(self, p):\n        super().__init__()\n\n    \
         def forward(self, x):\n        return torch.nn.functional.leaky_relu(x, 0.05)\n",
    )
    .unwrap();
    let out = kernelbench_review(d, &torch)
        .args(["--jobs", "1", "--time-budget", "0.5"])
        .arg(&problems)
        .args([&self_candidate, &plain])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "not reviewed, never rejected: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["candidates"].as_array().unwrap().is_empty(), "no verdict: {report:#}");
    let missing = report["not_reviewed"].as_array().unwrap();
    assert_eq!(missing.len(), 2, "{missing:#?}");
    for m in missing {
        let error = m["error"].as_str().unwrap();
        assert!(error.starts_with("`dropout_leaky_relu` cannot be judged in the fp32 class"), "{error}");
        assert!(error.contains(sadoku_core::checks::accuracy::BASELINE_RANDOM) && !error.contains('\n'), "{error}");
    }
}

/// A review that ran out of memory while another review shared its card is reviewed again with
/// the card to itself, and the verdict it earns there is its verdict: here a candidate whose first
/// call in a review, ever, raises PyTorch's out-of-memory error (a marker file says it has),
/// beside an honest one on the other lane. The two first calls wait for each other (marker files),
/// so the two reviews share the card however the lanes' processes start. Unconfined (`--sandbox
/// off`), so that the candidates can leave their markers.
#[test]
fn a_review_out_of_memory_beside_another_is_reviewed_again_with_the_card_alone() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let problems = kb_problems(d, &["leaky_relu.py"]);
    let (mine, other) = (d.join("once-in-its-first-call"), d.join("honest-in-its-first-call"));
    // Its first call in a review (never while the store records what it loads): say so, and
    // wait (at most a minute) for the other candidate's first call.
    let source = r#"import os
import time
import torch
import torch.nn as nn


def meet(mine, other):
    if os.environ.get("SADOKU_EXTENSIONS") == "record" or os.path.exists(mine):
        return False
    open(mine, "w").close()
    deadline = time.time() + 60
    while not os.path.exists(other) and time.time() < deadline:
        time.sleep(0.05)
    return True


class ModelNew(nn.Module):
    def __init__(self, negative_slope):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        if meet(MINE, OTHER) and RUNS_OUT:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 12.00 GiB")
        return torch.where(x >= 0, x, x * self.negative_slope)
"#;
    let write = |name: &str, mine: &Path, other: &Path, runs_out: bool| {
        let text = source.replace("MINE", &format!("{mine:?}")).replace("OTHER", &format!("{other:?}"));
        let path = d.join(name);
        std::fs::write(&path, text.replace("RUNS_OUT", if runs_out { "True" } else { "False" })).unwrap();
        path
    };
    let once = write("leaky_relu_out_of_memory_once.py", &mine, &other, true);
    let honest = write("leaky_relu_honest.py", &other, &mine, false);
    let out = kernelbench_review(d, &torch)
        .args(["--jobs", "2", "--time-budget", "0.5", "--sandbox", "off"])
        .arg(&problems)
        .arg(&honest)
        .arg(&once)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(mine.exists() && other.exists(), "both came to their first calls");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "leaky_relu_out_of_memory_once.py: out of memory while another review shared GPU 0: reviewed again with the \
             card to itself"
        ),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = by_name(report["candidates"].as_array().unwrap());
    assert_eq!(candidates["leaky_relu_honest.py"]["verdict"], "ACCEPTED");
    assert_eq!(candidates["leaky_relu_out_of_memory_once.py"]["verdict"], "ACCEPTED", "{:#}", report);
}

/// A KernelBench batch does not wait for every problem to be described: a later problem's
/// description here does not finish until the first candidate's verdict has been printed (the
/// test watches the judge's stderr and lets it go on), and would give up after 120 s were the
/// verdict to wait for it. The first candidate is rejected in verification, which (unlike timing)
/// may overlap describing. Unconfined (`--sandbox off`), so that the problem file sees the signal.
#[test]
fn the_first_verdict_comes_before_the_last_problem_is_described() {
    use std::io::BufRead;
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let tests = repo().join("python/tests");
    let problems = kb_problems(d, &["leaky_relu.py"]);
    let signal = d.join("first-verdict-seen");
    // x * 2, whose description (`python -m sadoku_bridge.describe`) waits for the signal.
    std::fs::write(
        problems.join("waits.py"),
        format!(
            "import os, sys, time\nimport torch\nimport torch.nn as nn\n\
             if sys.argv and sys.argv[0].endswith('describe.py'):\n\
             \x20   deadline = time.time() + 120\n\
             \x20   while not os.path.exists({signal:?}) and time.time() < deadline:\n\
             \x20       time.sleep(0.1)\n\
             class Model(nn.Module):\n    def forward(self, x):\n        return x * 2\n\
             def get_inputs():\n    return [torch.randn(64)]\n\
             def get_init_inputs():\n    return []\n"
        ),
    )
    .unwrap();
    let doubled = d.join("waits_doubled.py");
    std::fs::write(&doubled, DOUBLED).unwrap();
    let started = Instant::now();
    let mut child = kernelbench_review(d, &torch)
        .args(["--time-budget", "0.5", "--sandbox", "off"])
        .arg(&problems)
        .arg(tests.join("candidates/leaky_relu_returns_input.py"))
        .arg(&doubled)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let watcher = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("REJECTED  leaky_relu_returns_input.py") {
                std::fs::write(&signal, "seen").unwrap();
            }
            lines.push(line);
        }
        lines
    });
    let out = child.wait_with_output().unwrap();
    let lines = watcher.join().unwrap();
    let stderr = lines.join("\n");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let verdict = stderr.find("REJECTED  leaky_relu_returns_input.py").expect("the first verdict");
    let described = stderr.find("waits.py (").expect("the last problem described");
    assert!(verdict < described, "the first verdict waited for every problem: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(110), "the description waited out its 120 s: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = by_name(report["candidates"].as_array().unwrap());
    assert_eq!(candidates["waits_doubled.py"]["verdict"], "ACCEPTED", "{report:#}");
    // The judge says when its first verdict came: before the run's end, by the held description.
    let (first, wall) = (report["first_verdict_s"].as_f64().unwrap(), report["wall_s"].as_f64().unwrap());
    assert!(first > 0.0 && first < wall, "first verdict after {first} s of {wall} s");
}

/// `kernelbench review` of `n` copies of the bridge's honest leaky ReLU `ModelNew` (each a file
/// of its own) with `args` and `env`, exiting 0: its JSON report. None without PyTorch.
fn review_honest_copies(n: usize, args: &[&str], env: &[(&str, &str)]) -> Option<Value> {
    let torch = torch()?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let tests = repo().join("python/tests");
    let honest = std::fs::read_to_string(tests.join("candidates/leaky_relu_honest.py")).unwrap();
    let copies: Vec<PathBuf> = (0..n)
        .map(|i| {
            let copy = d.join(format!("leaky_relu_honest_{i}.py"));
            std::fs::write(&copy, format!("{honest}\n# copy {i}\n")).unwrap();
            copy
        })
        .collect();
    let out = kernelbench_review(d, &torch)
        .envs(env.iter().copied())
        .args(args)
        .arg(tests.join("problems/leaky_relu.py"))
        .args(&copies)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// A lane starts its next candidate's worker while it reviews the current one: with one lane and
/// one worker ahead (`SADOKU_AHEAD_WORKERS=1`), the second and third Python candidates find theirs
/// started (their review waits for no interpreter, no PyTorch import), and still get a worker
/// each. `--no-cache`: with builds ahead of reviews, a worker is started once its candidate's
/// build is done, which may come late.
#[test]
fn the_next_candidates_worker_starts_while_the_current_one_is_reviewed() {
    let one = [("SADOKU_AHEAD_WORKERS", "1")];
    let Some(report) = review_honest_copies(3, &["--jobs", "1", "--time-budget", "0.5", "--no-cache"], &one) else {
        return;
    };
    let start = |name: &str| {
        by_name(report["candidates"].as_array().unwrap())[name]["phases"]["worker_start_s"].as_f64().unwrap()
    };
    let first = start("leaky_relu_honest_0.py");
    assert!(first > 0.5, "the first worker started at its review: {first} s");
    for later in ["leaky_relu_honest_1.py", "leaky_relu_honest_2.py"] {
        assert!(start(later) < 0.2, "{later}'s worker was not started ahead: {} s {report:#}", start(later));
    }
}

/// `SADOKU_AHEAD_STOPPABLE=1`: a lane's next Python worker starts as host work of its own,
/// stopped while a card is timed, rather than holding timings off until it is up. Two lanes,
/// four candidates: every review gets its own worker (none lost while stopped) and its verdict.
/// What it saves the card is for a GPU to measure (BENCHMARKS.md).
#[test]
fn workers_started_ahead_as_stoppable_host_work_give_every_review_its_worker() {
    let stoppable = [("SADOKU_AHEAD_STOPPABLE", "1")];
    let Some(report) = review_honest_copies(4, &["--jobs", "2", "--time-budget", "0.5"], &stoppable) else { return };
    let candidates = by_name(report["candidates"].as_array().unwrap());
    assert_eq!(candidates.len(), 4, "{report:#}");
    for (name, c) in &candidates {
        assert_eq!(c["verdict"], "ACCEPTED", "{name}: {c:#}");
    }
}

/// `SADOKU_AHEAD_WORKERS=3`: a lane starts its next three candidates' workers together, once it
/// has none left. One lane, five candidates: every review gets a worker of its own and its
/// verdict, none is lost or shared, and the batch ends (the starters with it). What it saves
/// the card was measured on a GPU (BENCHMARKS.md).
#[test]
fn workers_started_ahead_several_at_once_give_every_review_its_own_worker() {
    let Some(report) = review_honest_copies(
        5,
        &["--jobs", "1", "--time-budget", "0.5", "--no-cache"],
        &[("SADOKU_AHEAD_WORKERS", "3")],
    ) else {
        return;
    };
    let candidates = by_name(report["candidates"].as_array().unwrap());
    assert_eq!(candidates.len(), 5, "{report:#}");
    for (name, c) in &candidates {
        assert_eq!(c["verdict"], "ACCEPTED", "{name}: {c:#}");
    }
    // The first review starts its worker itself; the next four wait, all together, for less.
    let start = |name: &str| candidates[name]["phases"]["worker_start_s"].as_f64().unwrap();
    let first = start("leaky_relu_honest_0.py");
    let later: f64 = (1..5).map(|i| start(&format!("leaky_relu_honest_{i}.py"))).sum();
    assert!(first > 0.5 && later < first, "first {first} s, the next four {later} s: {report:#}");
}

/// In a batch the baseline is measured in full once per problem, size and card, then only
/// re-checked: the first review of `trimm_sim` measures it, the next two use it, and say so.
#[test]
fn a_batch_measures_each_baseline_once_and_rechecks_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let files: Vec<PathBuf> =
        ["a", "b", "c"].iter().map(|t| example(d, "honest/tiled_dynamic_smem.cu", &format!("{t}.cu"), t)).collect();
    // A budget that a loaded machine's debug build cannot run out of: the baseline converges.
    let review = ["review", "--jobs", "1", "--seed", "7", "--time-budget", "60"];
    let out = sadoku(d).args(review).arg("--json").args(&files).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = report["candidates"].as_array().unwrap();
    let memo: Vec<&Value> = candidates.iter().map(|c| &c["timing"]["baseline_memo"]).collect();
    assert_eq!(memo.iter().filter(|m| m.is_null()).count(), 1, "one review measured it in full: {memo:?}");
    for m in memo.iter().filter(|m| !m.is_null()) {
        assert_eq!(m["used"], true, "{m}");
        assert!(m["fresh"].as_u64().unwrap() < m["remembered"].as_u64().unwrap(), "{m}");
    }
    let table = sadoku(d).args(review).args(&files[..2]).output().unwrap();
    let said = String::from_utf8_lossy(&table.stdout);
    assert!(said.contains("remembered from an earlier review on this card"), "{}", text(&table));
}

/// `kernelbench review` of the leaky ReLU problem, for candidates with C++ extensions built by the
/// system's compiler (PyTorch's `bin` first on the path, for ninja), one at a time (`--jobs 1
/// --build-jobs 1`). The store lives under the judge's temporary directory, `d`, which the
/// workers' user may traverse; the candidates follow.
fn extension_review(d: &Path, torch: &Path) -> Command {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
    problem(d);
    let path = std::env::join_paths(
        std::iter::once(torch.join("bin")).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut cmd = kernelbench_review(d, torch);
    cmd.env("TMPDIR", d)
        .env("PATH", path)
        .args(["--jobs", "1", "--build-jobs", "1", "--time-budget", "0.5"])
        .arg(repo().join("python/tests/problems/leaky_relu.py"));
    cmd
}

/// The extension store: candidates are built once per extension, not once per file. Two honest
/// ModelNew files whose C++ extension (load_inline, built by the system's compiler, no GPU) is the
/// same but whose Python differs: the first builds it into the store, the second finds it there
/// and builds nothing; both are ACCEPTED from what the store holds (their reviews build nothing).
/// A third file with the same extension tries, from its own code, to plant an entry in the store
/// while it is recorded and reviewed: it is refused (read-only), and the store holds the one
/// entry the judge built. `--build-jobs 1`, so that the second is recorded after the first is
/// built. The first one's review starts its worker and its problem's Model while the build runs.
#[test]
fn candidates_sharing_an_extension_build_it_once_and_cannot_write_the_store() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tests = repo().join("python/tests");
    let honest = std::fs::read_to_string(tests.join("candidates/leaky_relu_extension.py")).unwrap();
    let a = d.join("leaky_relu_ext_a.py");
    std::fs::write(&a, &honest).unwrap();
    let b = d.join("leaky_relu_ext_b.py");
    std::fs::write(&b, format!("# the same extension, other Python\n{honest}\nUNUSED = 1\n")).unwrap();
    let plants = d.join("leaky_relu_ext_plants.py");
    // It names the store it was given (a KeyError if none: it does not load, and the test fails).
    let plant = "import os as _os\n\
        try:\n\
        \x20   _os.makedirs(_os.path.join(_os.environ['SADOKU_EXTENSION_STORE'], 'planted'))\n\
        except OSError:\n\
        \x20   pass\n";
    std::fs::write(&plants, format!("{honest}\n{plant}")).unwrap();
    let out = extension_review(d, &torch).args([&a, &b, &plants]).output().unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = by_name(report["candidates"].as_array().unwrap());
    for name in ["leaky_relu_ext_a.py", "leaky_relu_ext_b.py", "leaky_relu_ext_plants.py"] {
        assert_eq!(candidates[name]["verdict"], "ACCEPTED", "{name}: {:#}\n{said}", candidates[name]);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = |name: &str| stderr.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_default().to_string();
    assert!(line("leaky_relu_ext_a.py").contains("built 1 into the store"), "{stderr}");
    assert!(line("leaky_relu_ext_b.py").contains("in the store ("), "{stderr}");
    assert!(line("leaky_relu_ext_plants.py").contains("in the store ("), "{stderr}");
    // The first review's worker and its problem's Model process were started while its build ran:
    // its review waited for neither (before, each was started after the build, one after the
    // other).
    let phases = &candidates["leaky_relu_ext_a.py"]["phases"];
    assert_eq!(phases["worker_start_s"].as_f64(), Some(0.0), "{phases:#}\n{said}");
    assert_eq!(phases["model_start_s"].as_f64(), Some(0.0), "{phases:#}\n{said}");
    // One store, one entry: the judge's build, nothing planted.
    let root = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("sadoku-extensions-"));
    let root = root.expect("the judge's extension directory").path();
    let stores: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("store-"))
        .collect();
    assert_eq!(stores.len(), 1);
    let entries: Vec<String> = std::fs::read_dir(&stores[0])
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].len() == 32 && entries[0].chars().all(|c| c.is_ascii_hexdigit()), "{entries:?}");
    // Built with the judge's lean <torch/extension.h> (the default): the extension needs nothing
    // of the C++ frontend.
    let built_with = std::fs::read_to_string(stores[0].join(&entries[0]).join(".sadoku-build.json")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&built_with).unwrap()["torch_headers"], "lean", "{built_with}");
}

/// A candidate whose extension the compiler refuses: the judge's builder tries the lean header,
/// then PyTorch's own, and the compiler refuses both; no third build is tried ahead of the review
/// (each is a minute of every core on a GPU machine), and the review's own build gives the
/// verdict with the compiler's error.
#[test]
fn an_extension_the_compiler_refuses_is_built_no_third_time_before_its_review() {
    let Some(torch) = torch() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tests = repo().join("python/tests");
    let honest = std::fs::read_to_string(tests.join("candidates/leaky_relu_extension.py")).unwrap();
    let broken = d.join("leaky_relu_ext_broken.py");
    std::fs::write(&broken, honest.replace("auto y = torch::empty_like(x);", "auto y = torch::empty_like(x)")).unwrap();
    let out = extension_review(d, &torch).arg(&broken).output().unwrap();
    let said = text(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidate = &report["candidates"][0];
    assert_eq!(candidate["verdict"], "REJECTED", "{said}");
    assert_eq!(candidate["reason"], "does not compile", "{said}");
    assert!(candidate["evidence"].as_str().unwrap_or_default().contains("error"), "{said}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.trim_start().starts_with("leaky_relu_ext_broken.py")).unwrap_or_default();
    assert!(line.contains("does not build (its review builds it again and says why)"), "{stderr}");
    assert!(line.contains("does not build: "), "the compiler's first error: {stderr}");
    // Before, a build the way before the store came next, and said so.
    assert!(!line.contains("not in the store"), "{stderr}");
}

/// A review that cannot fit its card whatever the candidate does (the judge's own buffers at the
/// timed size are more than the card's usable memory) is NOT REVIEWED in one line before anything
/// runs, and costs the batch nothing: four such candidates in a row do not stop it, and the
/// honest one after them, at a size that fits, is ACCEPTED.
#[test]
fn a_review_too_big_for_its_card_is_not_reviewed_in_one_line_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    problem(d);
    let honest = example(d, "honest/tiled_dynamic_smem.cu", "honest.cu", "a");
    // 100,000² floats a matrix: 40 GB each, more than the simulated card's 80 GiB together.
    let big: Vec<PathBuf> = (0..4)
        .map(|i| {
            let copy = d.join(format!("honest_big_{i}.cu"));
            std::fs::write(&copy, format!("{}// copy {i}\n", std::fs::read_to_string(&honest).unwrap())).unwrap();
            copy
        })
        .collect();
    let out = sadoku(d)
        .args(["review", "--json", "--jobs", "1", "--time-budget", "0.3", "--size", "N=100000"])
        .args(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "not reviewed: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = report["not_reviewed"].as_array().unwrap();
    assert_eq!(missing.len(), 4, "none stops the batch: {missing:#?}");
    for m in missing {
        let error = m["error"].as_str().unwrap();
        assert!(
            error.starts_with("GPU 0 has too little memory to review `trimm_sim`: it needs at least ")
                && error.contains("GiB usable of the card; review it on a card with more memory")
                && !error.contains('\n'),
            "{error}"
        );
    }
    let out = sadoku(d).args(["review", "--json", "--time-budget", "0.3"]).arg(&honest).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
