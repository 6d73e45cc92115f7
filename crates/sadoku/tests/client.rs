//! The Python package `sadoku` (python/sadoku: verdicts, rewards, the verl, TRL and OpenEnv-style
//! adapters, the HTTP client of `sadoku serve` and the Ray pool) against this build's binary on
//! the simulated device: its tests in python/client_tests, run by the system's Python (the
//! package needs nothing else). The pool's tests need Ray: `scripts/test.sh` installs it into
//! `.ci/ray-root` and sets SADOKU_RAY_PATH; without either, this test fails and says so.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_python_packages_tests_pass_against_this_binary() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ray = std::env::var_os("SADOKU_RAY_PATH").map(PathBuf::from).unwrap_or_else(|| repo.join(".ci/ray-root"));
    assert!(
        ray.join("ray/__init__.py").is_file(),
        "no Ray in {} for python/client_tests/test_pool.py: run scripts/test.sh (it installs Ray there) \
         or set SADOKU_RAY_PATH to a directory holding it",
        ray.display()
    );
    let path = std::env::join_paths([repo.join("python"), ray]).expect("paths without ':'");
    let out = Command::new("python3")
        .args(["-s", "-m", "unittest", "discover", "-s", "python/client_tests", "-t", "python"])
        .current_dir(&repo)
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SADOKU_BIN", env!("CARGO_BIN_EXE_sadoku"))
        .output()
        .expect("python3 runs (the package's tests need it, as CI's machine has it)");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let ran = text.lines().find(|l| l.starts_with("Ran ")).unwrap_or_default().to_string();
    let count: usize = ran.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(count >= 39, "{ran}");
    eprintln!("{ran}: {}", text.lines().last().unwrap_or_default());
}
