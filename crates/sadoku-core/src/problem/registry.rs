//! The problems sadoku knows: its built-in library, then directories a user adds.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use super::{Problem, ProblemError, format};

/// sadoku's library of problems, built into the binary.
pub(super) static LIBRARY: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../problems");

/// Every problem known: the library's, then those added with [`add_dir`].
fn registry() -> &'static Mutex<Vec<&'static Problem>> {
    static REGISTRY: OnceLock<Mutex<Vec<&'static Problem>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all = Vec::new();
        for dir in LIBRARY.dirs() {
            let Some(toml) = dir.get_file(dir.path().join("problem.toml")) else { continue };
            let origin = format!("library:{}", dir.path().display());
            let text = toml.contents_utf8().unwrap_or_default();
            let read = |file: &str| {
                dir.get_file(dir.path().join(file))
                    .and_then(|f| f.contents_utf8())
                    .map(str::to_string)
                    .ok_or_else(|| "not in the library".to_string())
            };
            match format::parse(&origin, text, &read) {
                Ok(p) => all.push(&*Box::leak(Box::new(p))),
                // The library is tested in CI: a broken entry is a build defect, said loudly.
                Err(e) => eprintln!("sadoku: library problem is invalid and skipped: {e}"),
            }
        }
        all.sort_by_key(|p| p.name);
        Mutex::new(all)
    })
}

/// Load a problem directory (its `problem.toml`).
pub fn load_dir(dir: &Path) -> Result<Problem, ProblemError> {
    let toml_path = dir.join("problem.toml");
    let origin = toml_path.display().to_string();
    let text = std::fs::read_to_string(&toml_path).map_err(|e| ProblemError {
        origin: origin.clone(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    let read = |file: &str| {
        if file.contains("..") || Path::new(file).is_absolute() {
            return Err("must be a file in the problem's directory".to_string());
        }
        std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())
    };
    format::parse(&origin, &text, &read)
}

/// Add a directory of problems (one sub-directory each) or a single problem directory; a problem
/// of the same name as a library one replaces it. Returns the names added.
pub fn add_dir(dir: &Path) -> Result<Vec<&'static str>, ProblemError> {
    let mut found = Vec::new();
    if dir.join("problem.toml").is_file() {
        found.push(load_dir(dir)?);
    } else {
        let entries = std::fs::read_dir(dir).map_err(|e| ProblemError {
            origin: dir.display().to_string(),
            line: None,
            message: format!("cannot read the problems directory: {e}"),
        })?;
        let mut dirs: Vec<_> =
            entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("problem.toml").is_file()).collect();
        dirs.sort();
        for d in dirs {
            found.push(load_dir(&d)?);
        }
    }
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut names = Vec::new();
    for p in found {
        let p: &'static Problem = Box::leak(Box::new(p));
        reg.retain(|q| q.name != p.name);
        reg.push(p);
        names.push(p.name);
    }
    reg.sort_by_key(|p| p.name);
    Ok(names)
}

/// Add a problem built elsewhere (a KernelBench file's); one of the same name is replaced.
pub fn add(problem: Problem) -> &'static Problem {
    let p: &'static Problem = Box::leak(Box::new(problem));
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.retain(|q| q.name != p.name);
    reg.push(p);
    reg.sort_by_key(|p| p.name);
    p
}

/// Every problem sadoku knows.
pub fn all() -> Vec<&'static Problem> {
    registry().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A problem by name.
pub fn find(name: &str) -> Option<&'static Problem> {
    all().into_iter().find(|p| p.name == name)
}

/// For an unknown name: the nearest known one, and where to see them all.
pub fn suggest(name: &str) -> String {
    let names = names();
    let nearest =
        names.iter().map(|n| (strsim::levenshtein(name, n), *n)).filter(|(d, n)| *d <= 2.max(n.len() / 3)).min();
    let all = format!("`sadoku problems` lists all {}; `--problems DIR` adds your own", names.len());
    match nearest {
        Some((_, n)) => format!("did you mean `{n}`? {all}"),
        None => all,
    }
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name).collect()
}
