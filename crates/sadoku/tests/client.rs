//! The Python package `sadoku` (python/sadoku: verdicts, rewards, the verl, TRL and OpenEnv-style
//! adapters) against this build's binary on the simulated device: its tests in
//! python/client_tests, run by the system's Python (the package needs nothing else).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_python_packages_tests_pass_against_this_binary() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .args(["-s", "-m", "unittest", "discover", "-s", "python/client_tests", "-t", "python"])
        .current_dir(&repo)
        .env("PYTHONPATH", repo.join("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SADOKU_BIN", env!("CARGO_BIN_EXE_sadoku"))
        .output()
        .expect("python3 runs (the package's tests need it, as CI's machine has it)");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let ran = text.lines().find(|l| l.starts_with("Ran ")).unwrap_or_default().to_string();
    let count: usize = ran.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(count >= 15, "{ran}");
    eprintln!("{ran}: {}", text.lines().last().unwrap_or_default());
}
