//! The problems sadoku knows: its built-in library, then directories a user adds. A [`Registry`]
//! is a value, passed to whoever looks problems up (candidate loading, the CLI): nothing global.

use std::path::Path;
use std::sync::Arc;

use super::{Problem, ProblemError, format};

/// sadoku's library of problems, built into the binary.
pub(super) static LIBRARY: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../problems");

/// Every problem known: the library's, then those added with [`Registry::add_dir`] or
/// [`Registry::add`], sorted by name; a later problem of a name replaces an earlier one.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    problems: Vec<Arc<Problem>>,
}

impl Registry {
    /// No problems at all.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// sadoku's built-in library of problems.
    pub fn library() -> Registry {
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
                Ok(p) => all.push(Arc::new(p)),
                // The library is tested in CI: a broken entry is a build defect, said loudly.
                Err(e) => eprintln!("sadoku: library problem is invalid and skipped: {e}"),
            }
        }
        all.sort_by_key(|p| p.name);
        Registry { problems: all }
    }

    /// Add a directory of problems (one sub-directory each) or a single problem directory; a
    /// problem of the same name as a library one replaces it. Returns the names added.
    pub fn add_dir(&mut self, dir: &Path) -> Result<Vec<&'static str>, ProblemError> {
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
        Ok(found.into_iter().map(|p| self.add(p).name).collect())
    }

    /// Add a problem built elsewhere (a KernelBench file's); one of the same name is replaced.
    pub fn add(&mut self, problem: Problem) -> Arc<Problem> {
        let p = Arc::new(problem);
        self.problems.retain(|q| q.name != p.name);
        self.problems.push(Arc::clone(&p));
        self.problems.sort_by_key(|p| p.name);
        p
    }

    /// Every problem sadoku knows, sorted by name.
    pub fn all(&self) -> &[Arc<Problem>] {
        &self.problems
    }

    /// A problem by name.
    pub fn find(&self, name: &str) -> Option<&Arc<Problem>> {
        self.problems.iter().find(|p| p.name == name)
    }

    /// For an unknown name: the nearest known one, and where to see them all.
    pub fn suggest(&self, name: &str) -> String {
        let names = self.names();
        let nearest =
            names.iter().map(|n| (strsim::levenshtein(name, n), *n)).filter(|(d, n)| *d <= 2.max(n.len() / 3)).min();
        let all = format!("`sadoku problems` lists all {}; `--problems DIR` adds your own", names.len());
        match nearest {
            Some((_, n)) => format!("did you mean `{n}`? {all}"),
            None => all,
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.problems.iter().map(|p| p.name).collect()
    }
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
