//! Stage 1 of the pipeline: a candidate is one self-contained `.cu` file whose TOML front matter
//! says which problem it solves and how to launch it.
//!
//! ```text
//! /* sadoku
//! problem = "trimm"
//! [[launch]]
//! kernel = "trimm_kernel"
//! grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
//! block  = [16, 16, 1]
//! args   = ["A", "B", "C", "N"]
//! */
//! ```

mod validate;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use crate::spec::{ArgSpec, KeyLines, LaunchSpec, ResolvedArg, ResolvedLaunch, Spec, is_identifier};
pub use crate::vocab::expr;
pub use crate::vocab::{Expr, ExprError};

use std::sync::Arc;

use crate::problem::{self, Problem, Registry};

/// A candidate kernel under review.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where it came from, as the user named it (or `seed:NAME` for embedded examples).
    pub origin: String,
    pub source: String,
    /// Hex SHA-256 of the source: identifies the candidate across runs.
    pub sha256: String,
    pub spec: Spec,
    pub problem: Arc<Problem>,
}

/// A problem with a candidate file, found before any GPU work. Displays as one line naming the
/// file (and line, where there is one) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct SpecError {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

impl SpecError {
    fn new(origin: &str, line: Option<usize>, message: String) -> SpecError {
        // One line, always: user text quoted in a message (a name, an expression) may hold line breaks.
        let message = message.replace('\r', "\\r").replace('\n', "\\n");
        SpecError { origin: origin.to_string(), line, message }
    }
}

/// A candidate file's text, or why it is not text sadoku can read.
pub fn utf8(origin: &str, bytes: &[u8]) -> Result<String, SpecError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => Err(SpecError::new(
            origin,
            None,
            format!("not UTF-8 text (invalid byte at offset {}); save the file as UTF-8", e.valid_up_to()),
        )),
    }
}

impl Candidate {
    /// Read and validate a candidate file; a problem directory it names joins `registry`.
    pub fn load(registry: &mut Registry, path: &Path) -> Result<Candidate, SpecError> {
        let err = |message: String| SpecError::new(&path.display().to_string(), None, message);
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => err("no such file".into()),
            std::io::ErrorKind::IsADirectory => err("is a directory; name the .cu files in it".into()),
            _ => err(format!("cannot read: {e}")),
        })?;
        Candidate::from_file(registry, path, &bytes)
    }

    /// Validate `bytes`, read from the candidate file `path` (see [`Candidate::load`]).
    pub fn from_file(registry: &mut Registry, path: &Path, bytes: &[u8]) -> Result<Candidate, SpecError> {
        let origin = path.display().to_string();
        let source = utf8(&origin, bytes)?;
        // A problem named by a path is found relative to the candidate's own directory.
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Candidate::from_source_in(registry, origin, source, &base)
    }

    /// Validate a candidate given as text; a problem named by a relative path is looked up under
    /// `base` and joins `registry`.
    pub fn from_source_in(
        registry: &mut Registry,
        origin: String,
        source: String,
        base: &Path,
    ) -> Result<Candidate, SpecError> {
        let spec = Spec::parse(&source).map_err(|(line, message)| SpecError::new(&origin, line, message))?;
        // Not a known problem's name: a problem directory, relative to the candidate's own.
        if registry.find(&spec.problem).is_none() {
            let dir = base.join(&spec.problem);
            if dir.join("problem.toml").is_file() {
                let names =
                    registry.add_dir(&dir).map_err(|e| SpecError::new(&origin, spec.problem_line, e.to_string()))?;
                let name = names.first().copied().unwrap_or_default();
                return Candidate::with_problem(registry, origin, source, spec, name);
            }
        }
        Candidate::from_source(registry, origin, source)
    }

    fn with_problem(
        registry: &Registry,
        origin: String,
        source: String,
        mut spec: Spec,
        name: &str,
    ) -> Result<Candidate, SpecError> {
        let problem = registry.find(name).cloned().ok_or_else(|| {
            SpecError::new(&origin, spec.problem_line, format!("problem directory `{}` did not load", spec.problem))
        })?;
        spec.validate(&problem).map_err(|(line, message)| SpecError::new(&origin, line, message))?;
        let sha256 = hex::encode(Sha256::digest(source.as_bytes()));
        Ok(Candidate { origin, source, sha256, spec, problem })
    }

    /// Validate a candidate given as text, naming a problem of `registry`.
    pub fn from_source(registry: &Registry, origin: impl Into<String>, source: String) -> Result<Candidate, SpecError> {
        let origin = origin.into();
        let mut spec = Spec::parse(&source).map_err(|(line, message)| SpecError::new(&origin, line, message))?;
        let problem = registry.find(&spec.problem).cloned().ok_or_else(|| {
            SpecError::new(
                &origin,
                spec.problem_line,
                format!("unknown problem `{}` ({})", spec.problem, registry.suggest(&spec.problem)),
            )
        })?;
        spec.validate(&problem).map_err(|(line, message)| SpecError::new(&origin, line, message))?;
        let sha256 = hex::encode(Sha256::digest(source.as_bytes()));
        Ok(Candidate { origin, source, sha256, spec, problem })
    }

    /// A short display name: the file name without directories.
    pub fn name(&self) -> String {
        display_name(&self.origin)
    }
}

/// The file name of an origin, without directories (the origin itself when it has none).
pub fn display_name(origin: &str) -> String {
    PathBuf::from(origin).file_name().map_or_else(|| origin.to_string(), |s| s.to_string_lossy().into_owned())
}

impl Candidate {
    /// A Python candidate for a KernelBench problem: a `ModelNew` file or an archive kernel,
    /// called once per launch on every tensor of the problem (`forward`), in a Python worker.
    pub fn python(
        origin: impl Into<String>,
        source: String,
        problem: Arc<Problem>,
        kind: problem::torch::ModelKind,
    ) -> Result<Candidate, SpecError> {
        let origin = origin.into();
        let torch = problem.torch().ok_or_else(|| {
            SpecError::new(&origin, None, format!("problem `{}` is not a KernelBench file", problem.name))
        })?;
        let one = || [Expr::constant(1), Expr::constant(1), Expr::constant(1)];
        let launch = LaunchSpec {
            kernel: "forward".into(),
            grid: one(),
            block: one(),
            shared_mem: Expr::constant(0),
            args: problem.tensors.iter().map(|t| ArgSpec::Buffer(t.name.to_string())).collect(),
            line: 0,
            key_lines: KeyLines { grid: 0, block: 0, shared_mem: 0 },
        };
        let mut spec = Spec {
            problem: problem.name.to_string(),
            problem_line: None,
            options: vec![torch.option(&problem, &problem.timed_sizes(), kind, false)],
            arch_specific: false,
            scratch: Vec::new(),
            launches: vec![launch],
        };
        spec.validate(&problem).map_err(|(line, message)| SpecError::new(&origin, line, message))?;
        let sha256 = hex::encode(Sha256::digest(source.as_bytes()));
        Ok(Candidate { origin, source, sha256, spec, problem })
    }

    /// A Python candidate (a `ModelNew` file or an archive kernel), judged in a Python worker.
    pub fn is_python(&self) -> bool {
        self.spec.options.iter().any(|o| o.starts_with(problem::torch::OPTION))
    }
}
