//! `sadoku sandbox`: confine a process exactly as a candidate's worker is confined, and try from
//! inside what the sandbox must refuse (the judge's files, caches and results, the network, the
//! judge's process, new processes, root) and what a review needs (the CUDA headers, the private
//! temporary directory). What a machine's kernel offers differs (containers, gVisor, old
//! kernels): this says, with evidence, what holds on this one.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::cli::SandboxArgs;
use crate::sandbox;

/// One thing the confined process tried.
#[derive(Debug, Serialize, Deserialize)]
pub struct Attempt {
    pub what: String,
    /// Whether the sandbox must allow it (a review needs it) or refuse it.
    pub must_allow: bool,
    /// What happened: "refused: ..." or "allowed".
    pub outcome: String,
    /// The outcome is the one the sandbox must give.
    pub ok: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Confined {
    engaged: String,
    complete: bool,
    attempts: Vec<Attempt>,
}

fn attempt(what: impl Into<String>, must_allow: bool, result: std::io::Result<()>) -> Attempt {
    let (outcome, allowed) = match result {
        Ok(()) => ("allowed".to_string(), true),
        Err(e) => (format!("refused: {e}"), false),
    };
    Attempt { what: what.into(), must_allow, outcome, ok: allowed == must_allow }
}

/// A system call's result as an io::Result.
fn sys(ret: i64) -> std::io::Result<()> {
    if ret < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

pub fn run(args: SandboxArgs) -> Result<u8> {
    if args.child {
        return child(&args);
    }
    // What the candidate must not reach: the judge's cache secret and caches, a results file,
    // and whatever the user names.
    let root = sadoku_cuda::nvrtc::cache_root()
        .ok_or_else(|| anyhow!("no cache directory: set SADOKU_CACHE_DIR, XDG_CACHE_HOME or HOME"))?;
    let modules = root.join("modules");
    sadoku_core::cache::Sealed::open(&modules).map_err(|e| anyhow!("{e}"))?;
    let ceilings = root.join("ceilings");
    std::fs::create_dir_all(&ceilings).map_err(|e| anyhow!("cannot make {}: {e}", ceilings.display()))?;
    let results = tempfile::Builder::new().prefix("sadoku-results-").tempdir()?;
    let results_file = results.path().join("run.jsonl");
    std::fs::write(&results_file, "{\"name\":\"honest.cu\",\"verdict\":\"REJECTED\"}\n")?;
    let mut secrets = vec![root.join("secret.key"), PathBuf::from("/etc/passwd")];
    secrets.extend(args.secret.iter().cloned());
    let writable = [modules.join("planted.module"), ceilings.join("planted.json"), results_file.clone()];

    let temp = tempfile::Builder::new().prefix("sadoku-worker-").tempdir()?;
    sandbox::prepare_temp(temp.path())?;
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find sadoku itself: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["sandbox", "--child", "--temp"]).arg(temp.path());
    for s in &secrets {
        cmd.arg("--secret").arg(s);
    }
    for w in &writable {
        cmd.arg("--writable").arg(w);
    }
    crate::child::clear_env(&mut cmd, temp.path());
    let out = cmd.stderr(std::process::Stdio::inherit()).output().map_err(|e| anyhow!("cannot start: {e}"))?;
    let confined: Confined = serde_json::from_slice(&out.stdout)
        .map_err(|e| anyhow!("the confined process did not report ({}): {e}", out.status))?;
    // Nothing the confined process did may remain.
    let mut attempts = confined.attempts;
    let planted: Vec<&PathBuf> = writable[..2].iter().filter(|p| p.exists()).collect();
    let results_now = std::fs::read_to_string(&results_file).unwrap_or_default();
    attempts.push(Attempt {
        what: "after it ended: no planted cache entry, the results file as the judge wrote it".into(),
        must_allow: false,
        outcome: if planted.is_empty() && results_now.lines().count() == 1 {
            "nothing changed".into()
        } else {
            format!("changed: planted {planted:?}; results file has {} line(s)", results_now.lines().count())
        },
        ok: planted.is_empty() && results_now.lines().count() == 1,
    });
    for p in planted {
        let _ = std::fs::remove_file(p);
    }
    let mut python = Vec::new();
    for file in &args.python_attack {
        python.push(python_attack(&args.python, file, &root, &results_file)?);
    }
    let all_ok = attempts.iter().all(|a| a.ok) && python.iter().all(|p| p.attempts.iter().all(|a| a.ok));
    if args.json {
        crate::output::json::print(&serde_json::json!({
            "sandbox": confined.engaged,
            "complete": confined.complete,
            "attempts": attempts,
            "python": python,
            "ok": all_ok,
        }))?;
    } else {
        println!("sandbox: {}", confined.engaged);
        print_attempts(&attempts);
        for p in &python {
            println!("{} in a Python worker ({}):", p.file, p.sandbox);
            print_attempts(&p.attempts);
        }
    }
    Ok(if all_ok { 0 } else { 1 })
}

fn print_attempts(attempts: &[Attempt]) {
    for a in attempts {
        let mark = if a.ok { "ok  " } else { "FAIL" };
        let want = if a.must_allow { "must be allowed" } else { "must be refused or contained" };
        println!("  {mark} {} ({want}): {}", a.what, a.outcome);
    }
    let failed = attempts.iter().filter(|a| !a.ok).count();
    println!("  {} of {} attempts ended as they must", attempts.len() - failed, attempts.len());
}

/// One Python attack file's run in a Python worker.
#[derive(Debug, Serialize)]
struct PythonAttack {
    file: String,
    sandbox: String,
    attempts: Vec<Attempt>,
}

/// Run `file` in a Python worker's confinement (as the PyTorch bridge runs candidates) with the
/// paths an attacker would look for, then check what it did: each attempt it reports must be
/// refused, or, for processes it may start while loading, contained (killed with its group); the
/// judge's results file and caches must be as they were.
fn python_attack(
    python: &std::path::Path,
    file: &std::path::Path,
    root: &std::path::Path,
    results_file: &std::path::Path,
) -> Result<PythonAttack> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("attack.py").to_string();
    let temp = tempfile::Builder::new().prefix("sadoku-pyworker-").tempdir()?;
    let script = temp.path().join(&name);
    std::fs::copy(file, &script).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let bridge = crate::kernelbench::Bridge::write()?;
    let results_before = std::fs::read(results_file)?;
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    // As the bridge does: confine (what pyworker wrote down; no GPU here, so no room for device
    // memory), then run the candidate's code.
    let launcher = "import os, runpy, sys\nimport sadoku_confine\n\
         sadoku_confine.confine_from(os.environ['SADOKU_CONFINE'])\n\
         sys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n";
    let args: Vec<std::ffi::OsString> = vec![
        "-s".into(),
        "-c".into(),
        launcher.into(),
        script.into_os_string(),
        "--results".into(),
        results_file.into(),
        "--cache".into(),
        root.into(),
        "--home".into(),
        home.into(),
    ];
    let read = [bridge.path().to_path_buf()];
    let cmd = crate::python_sandbox::command(python, temp.path(), &read, sandbox::Mode::Require, &args)?;
    let ran = crate::python_sandbox::run_to_end(cmd, std::time::Duration::from_secs(60))?;
    let (out, err) = (ran.stdout, ran.stderr);
    let sandbox = std::fs::read_to_string(temp.path().join("sandbox.txt")).unwrap_or_else(|_| "not reported".into());
    let mut attempts = Vec::new();
    let contained = ran.alive_after_kill == 0;
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let tried = v["tried"].as_str().unwrap_or("?").to_string();
        let outcome = v["outcome"].as_str().unwrap_or("?").to_string();
        // Starting processes while loading is allowed; they die with the worker's group.
        let may_start = tried.starts_with("fork a child") || tried.starts_with("double-fork");
        // What loading a candidate needs (building an extension) must work.
        let needed = tried.starts_with("needed:");
        let ok =
            if needed { outcome == "succeeded" } else { outcome.starts_with("refused") || (may_start && contained) };
        let outcome = if may_start && outcome == "succeeded" {
            format!("started; {}", if contained { "killed with the worker's group" } else { "STILL RUNNING" })
        } else {
            outcome
        };
        attempts.push(Attempt { what: tried.trim_start_matches("needed: ").into(), must_allow: needed, outcome, ok });
    }
    if attempts.is_empty() {
        attempts.push(Attempt {
            what: "run at all".into(),
            must_allow: true,
            outcome: format!("no attempt reported: {}", err.trim()),
            ok: false,
        });
    }
    let results_after = std::fs::read(results_file)?;
    let planted: Vec<PathBuf> = [root.join("modules/planted.module"), root.join("ceilings/planted.json")]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    attempts.push(Attempt {
        what: "after it ended: the results file and caches as they were, nothing of its group left running".into(),
        must_allow: false,
        outcome: format!(
            "results {}; {}; {} process(es) of its group alive at its end, {} after the judge killed the group",
            if results_after == results_before { "unchanged" } else { "CHANGED" },
            if planted.is_empty() { "no cache entry planted".to_string() } else { format!("PLANTED {planted:?}") },
            ran.left_running,
            ran.alive_after_kill
        ),
        ok: results_after == results_before && planted.is_empty() && contained,
    });
    for p in planted {
        let _ = std::fs::remove_file(p);
    }
    Ok(PythonAttack { file: file.display().to_string(), sandbox, attempts })
}

/// The confined side: confine as a worker does (no CUDA context: nothing here needs the GPU),
/// then try everything and print what happened.
fn child(args: &SandboxArgs) -> Result<u8> {
    sandbox::die_with_parent();
    let parent = std::process::id();
    // SAFETY: getppid cannot fail.
    let judge = unsafe { libc::getppid() };
    let includes = sadoku_cuda::libs::CudaRoot::find().map(|r| r.include_dirs()).unwrap_or_default();
    let engaged = sandbox::confine(&sandbox::Policy::worker(includes.clone(), args.temp.clone()), 60);
    let mut attempts = Vec::new();

    for s in &args.secret {
        attempts.push(attempt(format!("read {}", s.display()), false, std::fs::read(s).map(|_| ())));
    }
    let judge_environ = PathBuf::from(format!("/proc/{judge}/environ"));
    attempts.push(attempt(
        "read the judge's environment (/proc/<judge>/environ)",
        false,
        std::fs::read(&judge_environ).map(|_| ()),
    ));
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        attempts.push(attempt(
            format!("list the home directory {}", home.display()),
            false,
            std::fs::read_dir(&home).map(|_| ()),
        ));
    }
    for w in &args.writable {
        let what = if w.extension().is_some_and(|e| e == "jsonl") {
            format!("append a forged verdict to the results file {}", w.display())
        } else {
            format!("plant a cache entry {}", w.display())
        };
        let r =
            std::fs::OpenOptions::new().create(true).append(true).open(w).and_then(|mut f| {
                std::io::Write::write_all(&mut f, b"{\"name\":\"evil.cu\",\"verdict\":\"ACCEPTED\"}\n")
            });
        attempts.push(attempt(what, false, r));
    }
    // SAFETY: plain system calls whose results are only inspected; a fork that succeeds exits at once.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let r = sys(fd as i64);
        if fd >= 0 {
            libc::close(fd);
        }
        attempts.push(attempt("open a network socket", false, r));
        attempts.push(attempt("signal the judge (kill)", false, sys(libc::kill(judge, 0) as i64)));
        attempts.push(attempt("signal the judge's process group (kill 0)", false, sys(libc::kill(0, 0) as i64)));
        attempts.push(attempt(
            "trace the judge (ptrace attach)",
            false,
            sys(libc::ptrace(libc::PTRACE_ATTACH, judge, 0, 0)),
        ));
        let pid = libc::fork();
        if pid == 0 {
            libc::_exit(0);
        }
        if pid > 0 {
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        attempts.push(attempt("start a process (fork)", false, sys(pid as i64)));
        attempts.push(attempt("regain root (setuid 0)", false, sys(libc::setuid(0) as i64)));
    }
    attempts.push(attempt(
        "run a program (/bin/sh -c true)",
        false,
        std::process::Command::new("/bin/sh").args(["-c", "true"]).status().map(|_| ()),
    ));
    let outside = PathBuf::from(format!("/tmp/sadoku-sandbox-escape-{parent}"));
    let escaped = std::fs::write(&outside, b"x");
    let _ = std::fs::remove_file(&outside);
    attempts.push(attempt(format!("write outside its directory ({})", outside.display()), false, escaped));
    // What a review needs.
    if let Some(header) = includes.iter().map(|d| d.join("cuda_runtime.h")).find(|h| h.exists()) {
        attempts.push(attempt(format!("read {}", header.display()), true, std::fs::read(&header).map(|_| ())));
    }
    if let Some(temp) = &args.temp {
        attempts.push(attempt(
            "write its temporary directory",
            true,
            std::fs::write(temp.join("scratch"), b"ok").and_then(|()| std::fs::remove_file(temp.join("scratch"))),
        ));
    }
    attempts.push(attempt(
        "signal itself",
        true,
        // SAFETY: signal 0 checks without delivering anything.
        sys(unsafe { libc::kill(parent as i32, 0) } as i64),
    ));
    let confined = Confined { engaged: engaged.describe(), complete: engaged.complete(), attempts };
    println!("{}", serde_json::to_string(&confined)?);
    Ok(0)
}
