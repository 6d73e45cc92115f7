//! What the tests of the binary on the simulated device share: the repository, PyTorch for the
//! bridge's CPU workers, `sadoku --device sim`, and the `trimm_sim` problem and its examples.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// PyTorch's directory for the bridge's CPU workers, or None (the test skips, said on stderr)
/// unless SADOKU_REQUIRE_TORCH is set (CI), where it fails.
pub fn torch() -> Option<PathBuf> {
    let found = std::env::var_os("SADOKU_TORCH_PATH").map(PathBuf::from).or_else(|| {
        let p = repo().join(".ci/torch-root");
        p.join("torch").exists().then_some(p)
    });
    if found.is_none() {
        assert!(std::env::var_os("SADOKU_REQUIRE_TORCH").is_none(), "SADOKU_REQUIRE_TORCH is set but no PyTorch");
        eprintln!("skipped: no PyTorch (scripts/test.sh installs it into .ci/torch-root)");
    }
    found
}

/// `sadoku --device sim --problems DIR/problems`, run from `dir`.
pub fn sadoku(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sadoku"));
    cmd.current_dir(dir).env("SADOKU_CACHE_DIR", dir.join("cache")).env("NO_COLOR", "1");
    cmd.args(["--device", "sim", "--problems"]).arg(dir.join("problems"));
    cmd
}

pub fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `trimm_sim` in `dir/problems`: the library's `trimm`, checked at N = 1, 17, 40 and timed at 64.
pub fn problem(dir: &Path) {
    let trimm = std::fs::read_to_string(repo().join("problems/trimm/problem.toml")).unwrap();
    let small: Vec<String> = trimm
        .lines()
        .filter(|l| !l.starts_with("kernelbench"))
        .map(|l| match l {
            "name = \"trimm\"" => "name = \"trimm_sim\"".into(),
            l if l.starts_with("timed =") => "timed = [{ N = 64 }]".into(),
            l if l.starts_with("check =") => "check = [{ N = 1 }, { N = 17 }, { N = 40 }]".into(),
            l => l.to_string(),
        })
        .collect();
    let at = dir.join("problems/trimm_sim");
    std::fs::create_dir_all(&at).unwrap();
    std::fs::write(at.join("problem.toml"), small.join("\n")).unwrap();
}

/// A copy of `examples/EXAMPLE` for `trimm_sim`, as `dir/NAME`; `tag` (a comment) makes copies of
/// one example distinct reviews.
pub fn example(dir: &Path, example: &str, name: &str, tag: &str) -> PathBuf {
    let source = std::fs::read_to_string(repo().join("examples").join(example)).unwrap();
    assert!(source.contains("problem = \"trimm\""), "{example} is a trimm example");
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("{}\n// {tag}\n", source.replacen("problem = \"trimm\"", "problem = \"trimm_sim\"", 1)),
    )
    .unwrap();
    path
}

/// The complete records of a JSON Lines file (a torn last line left out).
pub fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}
