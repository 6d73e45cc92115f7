//! `sadoku selftest`: the built-in known hacks and reference solutions reviewed on this machine
//! (see [`crate::selftest`]).

use anyhow::Result;
use sadoku_core::problem::Registry;
use sadoku_core::seeds::Seeds;

use crate::backend::{Backend, PythonPlan};
use crate::cli::SelftestArgs;
use crate::lanes::Gates;
use crate::progress::Progress;
use crate::selftest::{self, Suite};
use crate::{kernelbench, output, review};

pub fn run(registry: &Registry, args: SelftestArgs, backend: &dyn Backend) -> Result<u8> {
    let suite = match &args.suite {
        Some(dir) => Suite::load(dir)?,
        None => Suite::builtin()?,
    };
    let gates = Gates::new(review::gpus(backend, &args.judging));
    gates.gpus()?;
    let bridge = kernelbench::Bridge::write()?;
    let python = PythonPlan {
        python: kernelbench::python(args.python.as_deref()),
        bridge: bridge.path().to_path_buf(),
        device: backend.python_device().into(),
        headers: args.judging.torch_headers,
    };
    let options = review::review_options(&args.judging, None);
    let plan = review::plan(backend, &args.judging, Seeds::fresh(), options, Some(python));
    let progress = Progress::lines_only();
    let summary = selftest::run(&suite, registry, &plan, &gates, args.judging.jobs, &progress)?;
    if args.json {
        output::json::print(&summary)?;
    } else {
        for line in &summary.lines {
            println!("{line}");
        }
        let good = summary.cases - summary.failures.len();
        println!("selftest: {good} of {} case(s) judged as they must be (seed {})", summary.cases, plan.seeds.master);
    }
    Ok(if summary.passed == Some(true) { 0 } else { 1 })
}
