//! `sadoku review FILE...`: verify and time candidates (see [`crate::review`]).

use std::time::Instant;

use anyhow::Result;
use sadoku_core::problem::Registry;

use crate::backend::Backend;
use crate::candidates::{self, Loaded};
use crate::cli::ReviewArgs;
use crate::{kernelbench, review};

pub fn run(registry: &mut Registry, args: ReviewArgs, backend: &dyn Backend) -> Result<u8> {
    let started = Instant::now();
    let paths = candidates::expand(&args.candidates)?;
    let loaded = candidates::load_all(registry, &paths);
    // A library problem whose baseline is eager PyTorch: its process runs the bridge, with the
    // interpreter $SADOKU_PYTHON names (else python3).
    let torch = loaded.iter().any(|l| matches!(l, Loaded::Valid(c) if c.problem.torch_baseline().is_some()));
    let bridge = if torch { Some(kernelbench::Bridge::write()?) } else { None };
    let python = bridge.as_ref().map(|b| crate::backend::PythonPlan {
        python: kernelbench::python(None),
        bridge: b.path().to_path_buf(),
        device: backend.python_device().into(),
        headers: args.judging.torch_headers,
    });
    review::review_loaded(backend, &args, started, loaded, python, &|_| (String::new(), serde_json::Value::Null))
}
