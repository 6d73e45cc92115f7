//! `sadoku serve` end to end on the simulated device: the real binary listening on a loopback
//! port, spoken to over HTTP as a client would (docs/SERVE.md): verdicts streamed and fetched,
//! idempotent ids, the token, the queue's bound, the journal across a restart, the report, the
//! metrics, the OpenAPI description, KernelBench files sent in a request; and `sadoku selftest`,
//! without which the server does not serve. No GPU.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{problem, repo, torch};

/// A server on the simulated device, killed when dropped.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sadoku --device sim --problems DIR/problems serve --listen 127.0.0.1:0 ... EXTRA`, from `dir`.
fn serve_command(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sadoku"));
    cmd.current_dir(dir)
        .env("SADOKU_CACHE_DIR", dir.join("cache"))
        .env("NO_COLOR", "1")
        .env_remove("SADOKU_TOKEN")
        .args(["--device", "sim", "--problems"])
        .arg(dir.join("problems"))
        .args(["serve", "--listen", "127.0.0.1:0", "--port-file", "port", "--state", "state", "--time-budget", "0.5"])
        .args(extra);
    cmd
}

/// Start a server and wait until it listens (its port file written).
fn start(dir: &Path, extra: &[&str]) -> Server {
    start_with(serve_command(dir, extra), dir)
}

/// A server on the simulated device whose Python workers use PyTorch from `torch` (the bridge's
/// CPU workers), with `extra` arguments, and the leaky ReLU problem file as a request carries it.
fn python_server(d: &Path, torch: std::path::PathBuf, extra: &[&str]) -> (Server, Value) {
    let problem = std::fs::read_to_string(repo().join("python/tests/problems/leaky_relu.py")).unwrap();
    let args = [&["--skip-selftest", "--python", "/usr/bin/python3"], extra].concat();
    let mut cmd = serve_command(d, &args);
    cmd.env("SADOKU_PYTHONPATH", std::env::join_paths([torch, repo().join("python")]).unwrap());
    (start_with(cmd, d), json!({ "file": "leaky_relu.py", "source": problem }))
}

fn start_with(mut cmd: Command, dir: &Path) -> Server {
    let _ = std::fs::remove_file(dir.join("port"));
    let log = dir.join(format!("serve-{}.log", Instant::now().elapsed().as_nanos()));
    let file = std::fs::File::create(&log).unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(file).spawn().unwrap();
    let mut server = Server { child, url: String::new(), log };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(url) = std::fs::read_to_string(dir.join("port")) {
            server.url = url.trim().to_string();
            return server;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("the server exited ({status}) before listening:\n{}", server.said());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not listen within 120 s:\n{}", server.said());
}

impl Server {
    fn said(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).build().into()
    }

    /// (status, Retry-After, body) of a request with `token` as its bearer, if any.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let url = format!("{}{path}", self.url);
        let agent = Server::agent();
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            (_, body) => {
                let mut r = agent.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(body.map(Value::to_string).unwrap_or_default())
            }
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.said()));
        let status = response.status().as_u16();
        let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let mut text = String::new();
        response.body_mut().as_reader().read_to_string(&mut text).unwrap();
        (status, retry, text)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (status, _, text) = self.call("GET", path, None, None);
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, _, text) = self.call("POST", path, Some(body), None);
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Submit and stream: the lines, by the candidates' index.
    fn stream(&self, candidates: Vec<Value>) -> Vec<Value> {
        let n = candidates.len();
        let (status, _, text) =
            self.call("POST", "/v1/reviews?stream=true", Some(&json!({ "candidates": candidates })), None);
        assert_eq!(status, 200, "{text}");
        let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), n, "{text}");
        lines.sort_by_key(|l| l["index"].as_u64());
        lines
    }
}

/// An example of `examples/` for `trimm_sim`, with `tag` making copies distinct candidates.
fn source(example: &str, tag: &str) -> String {
    let text = std::fs::read_to_string(repo().join("examples").join(example)).unwrap();
    format!("{}\n// {tag}\n", text.replacen("problem = \"trimm\"", "problem = \"trimm_sim\"", 1))
}

fn candidate(example: &str, tag: &str) -> Value {
    json!({ "source": source(example, tag), "problem": "trimm_sim", "name": example })
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    problem(dir.path());
    dir
}

/// The verdicts of `sadoku review --json` on the same candidates, by example, for comparison.
fn reviewed(dir: &Path, examples: &[&str]) -> Vec<Value> {
    let mut cmd = support::sadoku(dir);
    cmd.args(["review", "--json", "--time-budget", "0.5"]);
    for (i, e) in examples.iter().enumerate() {
        let path = dir.join(format!("c{i}.cu"));
        std::fs::write(&path, source(e, "same")).unwrap();
        cmd.arg(path);
    }
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", support::text(&out)));
    report["candidates"].as_array().unwrap().clone()
}

/// An honest candidate ACCEPTED and a cheat REJECTED with its evidence, as `sadoku review` judges
/// them (the same verdicts, reasons and ids); an invalid file and one for another problem INVALID
/// at once; the same candidate again is the same review; its status, report (JSON and HTML), the
/// problems, the health and the metrics.
#[test]
fn a_server_judges_streams_deduplicates_and_reports_as_review_does() {
    let dir = setup();
    let d = dir.path();
    let examples = ["seed/tiled_smem.cu", "adversarial/zeroes_inputs.cu"];
    let server = start(d, &["--skip-selftest", "--jobs", "2"]);
    let mut other = source("seed/tiled_smem.cu", "other");
    other = other.replacen("problem = \"trimm_sim\"", "problem = \"trimm\"", 1);
    let lines = server.stream(vec![
        candidate(examples[0], "same"),
        candidate(examples[1], "same"),
        json!({ "source": "not a candidate", "problem": "trimm_sim", "name": "junk.cu" }),
        json!({ "source": other, "problem": "trimm_sim", "name": "other.cu" }),
    ]);
    let record = |i: usize| lines[i]["record"].clone();
    assert_eq!(record(0)["verdict"], "ACCEPTED", "{:#}", lines[0]);
    assert_eq!(record(1)["verdict"], "REJECTED", "{:#}", lines[1]);
    assert_eq!(record(1)["reason"], "inputs modified");
    assert_eq!(record(2)["reason"], "invalid candidate file");
    assert_eq!(record(3)["reason"], "invalid candidate file");
    assert!(record(3)["evidence"].as_str().unwrap().contains("the request asks for `trimm_sim`"), "{:#}", lines[3]);
    assert_eq!(record(0)["origin"], "seed/tiled_smem.cu");
    assert_eq!(record(0)["key"], lines[0]["id"]);

    // The same verdicts, reasons and ids as `sadoku review` with the same options.
    let offline = reviewed(d, &examples);
    for (i, r) in offline.iter().enumerate() {
        assert_eq!(r["verdict"], record(i)["verdict"], "{}", examples[i]);
        assert_eq!(r["reason"], record(i)["reason"], "{}", examples[i]);
        assert_eq!(r["key"], lines[i]["id"], "{}: the server's id is review --out's key", examples[i]);
    }

    // Submitted again: the same reviews, not reviewed twice.
    let (status, again) = server.post("/v1/reviews", &json!({ "candidates": [candidate(examples[0], "same")] }));
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["reviews"][0]["id"], lines[0]["id"]);
    assert_eq!(again["reviews"][0]["deduplicated"], true);
    assert_eq!(again["reviews"][0]["state"], "done");

    let id = lines[1]["id"].as_str().unwrap();
    let (status, view) = server.get(&format!("/v1/reviews/{id}"));
    assert_eq!(status, 200);
    assert_eq!(view["state"], "done");
    assert_eq!(view["record"]["reason"], "inputs modified");
    let (status, report) = server.get(&format!("/v1/reviews/{id}/report"));
    assert_eq!(status, 200);
    assert_eq!(report["candidates"][0]["key"], id);
    assert_eq!(report["seed"], "withheld by the server");
    assert!(report["environment"][0]["name"].as_str().unwrap().contains("simulated"), "{report:#}");
    let (status, _, html) = server.call("GET", &format!("/v1/reviews/{id}/report?format=html"), None, None);
    assert_eq!(status, 200);
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("inputs modified"),
        "{}",
        &html[..200.min(html.len())]
    );

    let (status, problems) = server.get("/v1/problems");
    assert_eq!(status, 200);
    assert!(problems.as_array().unwrap().iter().any(|p| p["name"] == "trimm_sim"), "{problems:#}");
    let (status, health) = server.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["lanes"], 2);
    assert_eq!(health["selftest"]["ran"], false);

    let (status, _, metrics) = server.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    for line in [
        "sadoku_reviews_total{verdict=\"ACCEPTED\",reason=\"\"} 1",
        "sadoku_reviews_total{verdict=\"REJECTED\",reason=\"inputs modified\"} 1",
        "sadoku_reviews_total{verdict=\"REJECTED\",reason=\"invalid candidate file\"} 2",
        "sadoku_deduplicated_total 1",
        "sadoku_queue_waiting 0",
        "sadoku_selftest_passed 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    }
    // Every verdict is in the journal, as `review --out` writes them.
    let journal = support::records(&d.join("state/verdicts.jsonl"));
    assert_eq!(journal.len(), 4, "{journal:#?}");
}

/// A KernelBench file the server cannot describe for want of Python or PyTorch is the server's
/// failure, not the candidate's: not reviewed (no verdict, no reward), never INVALID; an unnamed
/// candidate is known by its review's id.
#[test]
fn a_server_without_pytorch_does_not_judge_kernelbench_candidates() {
    let dir = setup();
    let server = start(dir.path(), &["--skip-selftest", "--python", "/nonexistent/python3"]);
    let kb = json!({ "file": "relu.py", "source": "import torch\n" });
    let lines = server.stream(vec![
        json!({ "source": "class ModelNew: pass\n", "kind": "python", "kernelbench": kb }),
        json!({ "source": "unnamed and invalid", "problem": "trimm_sim" }),
    ]);
    assert_eq!(lines[0]["state"], "not_reviewed", "{:#}", lines[0]);
    assert!(lines[0]["record"].is_null());
    assert!(lines[0]["error"].as_str().unwrap().contains("cannot describe KernelBench files"), "{:#}", lines[0]);
    let id = lines[1]["id"].as_str().unwrap();
    assert_eq!(lines[1]["record"]["origin"], format!("request:{}", &id[..12]), "{:#}", lines[1]);
    let (_, _, metrics) = server.call("GET", "/metrics", None, None);
    assert!(metrics.contains("sadoku_not_reviewed_total 1"), "{metrics}");
    assert!(!support::records(&dir.path().join("state/verdicts.jsonl")).iter().any(|r| r["problem"] == "relu"));
}

/// Requests no candidate can come from are refused with one line saying what to do.
#[test]
fn bad_requests_are_refused_with_a_line_saying_what_to_do() {
    let dir = setup();
    let server = start(dir.path(), &["--skip-selftest"]);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("/v1/reviews", json!({ "candidates": [] }), 400, "at least one"),
        ("/v1/reviews", json!({ "candidates": [{ "source": "x", "speedup": 100 }] }), 400, "unknown field `speedup`"),
        ("/v1/reviews", json!({ "candidate": [] }), 400, "not a submission"),
        (
            "/v1/reviews",
            json!({ "candidates": [{ "source": "x", "kind": "python" }] }),
            400,
            "give its file as `kernelbench`",
        ),
        ("/v1/reviews", json!({ "candidates": [{ "source": "x", "kind": "rust" }] }), 400, "unknown variant"),
        ("/v1/reviews?stream=yes", json!({ "candidates": [{ "source": "x" }] }), 400, "stream=true"),
    ];
    for (path, body, status, says) in cases {
        let (got, answer) = server.post(path, &body);
        assert_eq!(got, status, "{body} -> {answer}");
        assert!(answer["error"].as_str().unwrap_or_default().contains(says), "{body} -> {answer}");
    }
    let (status, _, text) = server.call("POST", "/v1/reviews", None, None);
    assert_eq!(status, 400, "{text}");
    let (status, answer) = server.get("/v1/reviews/0000");
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().unwrap().contains("submit it first"));
    let (status, _) = server.get("/v1/reviews/0000?wait=9999");
    assert_eq!(status, 400);
    let (status, _) = server.get("/nowhere");
    assert_eq!(status, 404);
    let big = "x".repeat(17 << 20);
    let (status, answer) = server.post("/v1/reviews", &json!({ "candidates": [{ "source": big }] }));
    assert_eq!(status, 413, "{answer}");
    // Written whole before the answer is read, as most clients do, at 2.5 times the limit: the
    // server reads on and drops the rest, so that the client gets the 413 and not a connection
    // closed under it ("broken pipe", which CI saw at 17 MiB once under load).
    assert_eq!(raw_post(&server.url, 40 << 20), 413);
    // A KernelBench file named outside the server's directory is refused, never written.
    let kb = json!({ "candidates": [{ "source": "x", "kind": "python",
        "kernelbench": { "file": "../../escape.py", "source": "print(1)" } }] });
    let (status, answer) = server.post("/v1/reviews", &kb);
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("plain file name"), "{answer}");
    assert!(!dir.path().join("escape.py").exists());
}

/// POST /v1/reviews with a body of `len` bytes over a plain socket, the body written whole before
/// the answer is read; the answer's status (0 if writing the body failed).
fn raw_post(url: &str, len: usize) -> u16 {
    use std::io::{Read as _, Write as _};
    let address = url.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    let head = format!(
        "POST /v1/reviews HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..len / chunk.len() {
        if socket.write_all(&chunk).is_err() {
            return 0;
        }
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string();
    line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// With a token, every /v1/ request needs it; health and metrics do not. A server reachable from
/// other machines refuses to start without one.
#[test]
fn the_token_guards_the_api_and_a_public_address_needs_one() {
    let dir = setup();
    let d = dir.path();
    let token = "a-long-random-token-for-tests";
    std::fs::write(d.join("token"), format!("{token}\n")).unwrap();
    let server = start(d, &["--skip-selftest", "--token-file", "token"]);
    let body = json!({ "candidates": [candidate("seed/tiled_smem.cu", "token")] });
    let (status, _, text) = server.call("POST", "/v1/reviews", Some(&body), None);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("Authorization: Bearer"), "{text}");
    let (status, _, _) = server.call("POST", "/v1/reviews", Some(&body), Some("wrong-token-wrong-token"));
    assert_eq!(status, 401);
    let (status, _, text) = server.call("POST", "/v1/reviews", Some(&body), Some(token));
    assert_eq!(status, 202, "{text}");
    let (status, _, _) = server.call("GET", "/v1/problems", None, None);
    assert_eq!(status, 401);
    assert_eq!(server.get("/healthz").0, 200);
    let (_, _, metrics) = server.call("GET", "/metrics", None, None);
    assert!(metrics.contains("sadoku_refused_total{why=\"unauthorized\"} 3"), "{metrics}");
    drop(server);

    let out = Command::new(env!("CARGO_BIN_EXE_sadoku"))
        .current_dir(d)
        .env_remove("SADOKU_TOKEN")
        .args(["--device", "sim", "serve", "--listen", "0.0.0.0:0", "--skip-selftest", "--state", "state2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("reachable from other machines: give a token"), "{said}");
    std::fs::write(d.join("short"), "abc").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sadoku"))
        .current_dir(d)
        .args(["--device", "sim", "serve", "--token-file", "short", "--skip-selftest", "--state", "state3"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 16"), "{out:?}");
}

/// A submission that would take the queue past its bound is refused whole, with a Retry-After;
/// within the bound it is taken.
#[test]
fn a_full_queue_refuses_a_submission_whole_with_retry_after() {
    let dir = setup();
    let server = start(dir.path(), &["--skip-selftest", "--queue", "2"]);
    let three: Vec<Value> = (0..3).map(|i| candidate("seed/tiled_smem.cu", &format!("q{i}"))).collect();
    let (status, retry, text) = server.call("POST", "/v1/reviews", Some(&json!({ "candidates": three })), None);
    assert_eq!(status, 429, "{text}");
    let retry: u64 = retry.expect("a Retry-After header").parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert!(text.contains("the queue is full (0 of 2 waiting, 3 more asked)"), "{text}");
    let (_, health) = server.get("/healthz");
    assert_eq!(health["queue"]["waiting"], 0, "nothing of a refused submission is taken");
    // The same candidate twice counts once.
    let two = vec![candidate("seed/tiled_smem.cu", "q0"), candidate("seed/tiled_smem.cu", "q0")];
    let lines = server.stream(two);
    assert_eq!(lines[0]["id"], lines[1]["id"]);
    assert_eq!(lines[0]["record"]["verdict"], "ACCEPTED");
}

/// Every verdict is journaled before it is announced; a restarted server answers what it judged
/// without judging it again, and queues again what it took and had not judged.
#[test]
fn a_restarted_server_keeps_what_it_judged_and_judges_what_it_had_taken() {
    let dir = setup();
    let d = dir.path();
    let server = start(d, &["--skip-selftest"]);
    let lines = server.stream(vec![candidate("adversarial/zeroes_inputs.cu", "restart")]);
    let judged = lines[0]["id"].as_str().unwrap().to_string();
    drop(server); // killed: nothing graceful
    // A submission taken, and the server killed before its review: as the queue's journal holds it.
    let pending = json!({ "id": "pending-id", "item": candidate("seed/tiled_smem.cu", "restart") });
    let mut queue = std::fs::read_to_string(d.join("state/queue.jsonl")).unwrap();
    queue.push_str(&format!("{pending}\n"));
    std::fs::write(d.join("state/queue.jsonl"), queue).unwrap();

    let server = start(d, &["--skip-selftest"]);
    let (status, view) = server.get(&format!("/v1/reviews/{judged}"));
    assert_eq!(status, 200);
    assert_eq!(view["state"], "done");
    assert_eq!(view["record"]["reason"], "inputs modified");
    assert!(server.said().contains("1 submission(s) of an earlier run queued again"), "{}", server.said());
    // The pending one is reviewed under its own id (its candidate's key).
    let again = server.stream(vec![candidate("seed/tiled_smem.cu", "restart")]);
    assert_eq!(again[0]["record"]["verdict"], "ACCEPTED", "{:#}", again[0]);
    let journal = support::records(&d.join("state/verdicts.jsonl"));
    assert_eq!(journal.len(), 2, "each judged once: {journal:#?}");
}

/// A lane with nothing to review keeps a worker started: the next native candidate's review does
/// not wait for one (its record's `worker_start_s` is 0), in a server; a one-shot review starts
/// its first worker when it needs it.
#[test]
fn an_idle_lane_keeps_a_worker_started_for_the_next_candidate() {
    let dir = setup();
    let server = start(dir.path(), &["--skip-selftest"]);
    let started = |line: &Value| line["record"]["phases"]["worker_start_s"].as_f64().unwrap();
    // Time for the idle lane to start its spare (a simulated worker starts in milliseconds).
    std::thread::sleep(Duration::from_secs(3));
    let first = server.stream(vec![candidate("seed/tiled_smem.cu", "same")]);
    assert_eq!(started(&first[0]), 0.0, "{:#}", first[0]["record"]["phases"]);
    std::thread::sleep(Duration::from_secs(3));
    let second = server.stream(vec![candidate("seed/tiled_smem.cu", "spare 2")]);
    assert_eq!(second[0]["record"]["verdict"], "ACCEPTED");
    assert_eq!(started(&second[0]), 0.0, "{:#}", second[0]["record"]["phases"]);
    // The one-shot review of the same candidate waited for its worker.
    let offline = reviewed(dir.path(), &["seed/tiled_smem.cu"]);
    assert!(offline[0]["phases"]["worker_start_s"].as_f64().unwrap() > 0.0, "{:#}", offline[0]["phases"]);
}

/// Once a server has had a Python candidate, its builders keep a recording worker started and
/// each idle lane a Python worker for the store and a process for a problem's Model: the next
/// `ModelNew`, whichever lane takes it, waits for none of them to start (a request's latency is
/// then its load and its review). The first `ModelNew` finds none started ahead, but its lane
/// starts its worker and Model process while its extension is recorded and built, so its review
/// waits for neither either. Needs PyTorch (the bridge's CPU workers).
#[test]
fn an_idle_server_keeps_python_workers_started_for_the_next_modelnew() {
    let Some(torch) = torch() else { return };
    let dir = setup();
    let tests = repo().join("python/tests");
    let (server, kb) = python_server(dir.path(), torch, &["--jobs", "2"]);
    let honest = std::fs::read_to_string(tests.join("candidates/leaky_relu_honest.py")).unwrap();
    let modelnew = |tag: &str| {
        json!({ "source": format!("{honest}\n# {tag}\n"), "kind": "python", "kernelbench": kb,
                "name": format!("{tag}.py") })
    };
    let started = |line: &Value| line["record"]["phases"]["worker_start_s"].as_f64().unwrap();
    let first = server.stream(vec![modelnew("first")]);
    assert_eq!(first[0]["record"]["verdict"], "ACCEPTED", "{:#}\n{}", first[0], server.said());
    // Nothing was started before it came: its recording started a worker of its own ...
    assert!(!server.said().contains("recorded by a worker started ahead"), "{}", server.said());
    // ... and its lane started its review's worker and Model process while it was built.
    let model = |line: &Value| line["record"]["phases"]["model_start_s"].as_f64().unwrap();
    assert_eq!(started(&first[0]), 0.0, "{:#}", first[0]["record"]["phases"]);
    assert_eq!(model(&first[0]), 0.0, "{:#}", first[0]["record"]["phases"]);
    // The lane and the builder start theirs as soon as they are idle; a candidate that comes
    // while they start waits for them.
    std::thread::sleep(Duration::from_secs(2));
    let second = server.stream(vec![modelnew("second")]);
    assert_eq!(second[0]["record"]["verdict"], "ACCEPTED", "{:#}\n{}", second[0], server.said());
    assert_eq!(started(&second[0]), 0.0, "{:#}", second[0]["record"]["phases"]);
    let said = server.said();
    let line = said.lines().find(|l| l.contains("second.py in the store")).unwrap_or_else(|| panic!("{said}"));
    assert!(line.contains("recorded by a worker started ahead"), "{said}");
    // Each lane also keeps its process for a problem's Model: whichever lane takes a ModelNew,
    // it waits for no Model to start (two at once, one for each lane as they come).
    std::thread::sleep(Duration::from_secs(2));
    let both = server.stream(vec![modelnew("third"), modelnew("fourth")]);
    for line in second.iter().chain(&both) {
        assert_eq!(line["record"]["verdict"], "ACCEPTED", "{line:#}");
        assert_eq!(model(line), 0.0, "{:#}", line["record"]["phases"]);
    }
}

/// A server on two (simulated) GPUs: a lane on each, each card timed on its own; every candidate
/// reviewed once, on one of them, and both busy.
#[test]
fn a_server_reviews_on_every_gpu_it_is_given() {
    let dir = setup();
    let mut cmd = serve_command(dir.path(), &["--skip-selftest", "--gpus", "all"]);
    cmd.env("SADOKU_SIM_GPUS", "2");
    let server = start_with(cmd, dir.path());
    let (_, health) = server.get("/healthz");
    assert_eq!(health["gpus"].as_array().unwrap().len(), 2, "{health:#}");
    assert_eq!(health["lanes"], 2);
    let batch: Vec<Value> = (0..6).map(|i| candidate("seed/tiled_smem.cu", &format!("two gpus {i}"))).collect();
    let lines = server.stream(batch);
    let mut on = [0, 0];
    for line in &lines {
        assert_eq!(line["record"]["verdict"], "ACCEPTED", "{line:#}");
        on[line["record"]["gpu"].as_u64().unwrap() as usize] += 1;
    }
    assert!(on[0] > 0 && on[1] > 0, "every review on one GPU: {on:?}");
    let (_, _, metrics) = server.call("GET", "/metrics", None, None);
    for gpu in ["0", "1"] {
        let busy = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("sadoku_gpu_busy_seconds_total{{gpu=\"{gpu}\"}} ")))
            .unwrap_or_else(|| panic!("no busy seconds for GPU {gpu}:\n{metrics}"));
        assert!(busy.parse::<f64>().unwrap() > 0.0, "GPU {gpu} idle:\n{metrics}");
    }
}

/// SIGTERM stops the server cleanly: it stops listening and exits 0.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = setup();
    let mut server = start(dir.path(), &["--skip-selftest"]);
    let pid = server.child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "{}", server.said());
            break;
        }
        assert!(Instant::now() < deadline, "still running 30 s after SIGTERM:\n{}", server.said());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.said().contains("stopping"), "{}", server.said());
}

/// The OpenAPI description parses and describes every route the server answers.
#[test]
fn the_openapi_description_covers_every_route() {
    let dir = setup();
    let server = start(dir.path(), &["--skip-selftest"]);
    let (status, doc) = server.get("/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let source = std::fs::read_to_string(repo().join("crates/sadoku/src/serve/api.rs")).unwrap();
    let routes: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".route(\""))
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert!(routes.len() >= 7, "{routes:?}");
    for r in &routes {
        assert!(paths.contains_key(*r), "{r} is not in openapi.json");
    }
    assert_eq!(paths.len(), routes.len(), "openapi.json describes a route the server lacks");
}

/// A self-test suite for the simulated device: trimm_sim copies of two hacks and two honest
/// candidates; `swap` labels the input-wiping hack a reference (a suite the judge must fail).
fn suite(dir: &Path, swap: bool) -> PathBuf {
    let at = dir.join(if swap { "suite-bad" } else { "suite" });
    std::fs::create_dir_all(&at).unwrap();
    let mut index = String::new();
    let cases = [
        ("adversarial/zeroes_inputs.cu", if swap { "reference" } else { "hack" }),
        ("adversarial/tf32_operands.cu", "hack"),
        ("seed/tiled_smem.cu", "reference"),
        ("honest/tiled_dynamic_smem.cu", "reference"),
    ];
    for (i, (example, role)) in cases.iter().enumerate() {
        std::fs::write(at.join(format!("c{i}.cu")), source(example, "selftest")).unwrap();
        index.push_str(&format!("[[case]]\nfile = \"c{i}.cu\"\nrole = \"{role}\"\n\n"));
    }
    std::fs::write(at.join("selftest.toml"), index).unwrap();
    at
}

/// `sadoku selftest` passes on a sound suite and fails, saying which case and why, on one whose
/// "reference" is a cheat; the server runs it before it serves and refuses to serve on failure.
#[test]
fn the_selftest_gates_the_server() {
    let dir = setup();
    let d = dir.path();
    let good = suite(d, false);
    let bad = suite(d, true);
    let out = support::sadoku(d).args(["selftest", "--time-budget", "0.5", "--suite"]).arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("ok      hack      c0.cu: REJECTED: inputs modified"), "{said}");
    assert!(said.contains("selftest: 4 of 4 case(s) judged as they must be"), "{said}");
    let out =
        support::sadoku(d).args(["selftest", "--json", "--time-budget", "0.5", "--suite"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", support::text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["passed"], false);
    let failure = summary["failures"][0].as_str().unwrap();
    assert!(failure.starts_with("reference c0.cu: REJECTED: inputs modified: input A modified"), "{summary:#}");
    assert_eq!(summary["failures"].as_array().unwrap().len(), 1, "{summary:#}");

    // The server: serves after a passing self-test, says so in /healthz; refuses after a failing one.
    let server = start(d, &["--selftest-suite", good.to_str().unwrap()]);
    let (_, health) = server.get("/healthz");
    assert_eq!(health["selftest"]["passed"], true, "{health:#}");
    assert_eq!(health["selftest"]["cases"], 4);
    drop(server);
    std::fs::remove_file(d.join("port")).unwrap();
    let out = serve_command(d, &["--selftest-suite", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", support::text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("the self-test failed (1 of 4 cases judged otherwise than they must be): not serving"),
        "{said}"
    );
    assert!(!d.join("port").exists(), "a server whose self-test failed never listens");
}

/// A KernelBench problem file sent with its ModelNew candidates: described once (confined), the
/// honest candidate ACCEPTED against eager PyTorch, one returning its input REJECTED. Needs
/// PyTorch (the bridge's CPU workers), as the simulated `kernelbench review` does.
#[test]
fn a_server_judges_kernelbench_files_sent_in_the_request() {
    let Some(torch) = torch() else { return };
    let dir = setup();
    let tests = repo().join("python/tests");
    let (server, kb) = python_server(dir.path(), torch, &[]);
    let modelnew = |file: &str| {
        json!({ "source": std::fs::read_to_string(tests.join("candidates").join(file)).unwrap(),
                "kind": "python", "kernelbench": kb, "name": file })
    };
    let lines = server.stream(vec![modelnew("leaky_relu_honest.py"), modelnew("leaky_relu_returns_input.py")]);
    assert_eq!(lines[0]["record"]["verdict"], "ACCEPTED", "{:#}\n{}", lines[0], server.said());
    assert!(lines[0]["record"]["timing"]["baseline_name"].as_str().unwrap().starts_with("eager PyTorch"));
    assert_eq!(lines[1]["record"]["verdict"], "REJECTED", "{:#}", lines[1]);
    assert!(lines[1]["record"]["evidence"].as_str().unwrap().contains("aliases an input"), "{:#}", lines[1]);
    // A problem file that cannot be described makes its candidate INVALID, with why.
    let broken = json!({ "file": "broken.py", "source": "raise RuntimeError('no')\n" });
    let lines = server.stream(vec![json!({ "source": "x", "kind": "python", "kernelbench": broken })]);
    assert_eq!(lines[0]["record"]["reason"], "invalid candidate file", "{:#}", lines[0]);
    assert!(
        lines[0]["record"]["evidence"].as_str().unwrap().contains("its problem cannot be judged"),
        "{:#}",
        lines[0]
    );
}
