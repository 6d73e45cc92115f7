//! A candidate's spec checked against the problem it names.

use crate::problem::Problem;
use crate::spec::{ArgSpec, Located, Spec, eval, launch_exprs};
use crate::vocab::Expr;

impl Spec {
    /// Check names against the problem, and evaluate every expression at every size the problem
    /// verifies, so that spec mistakes surface before any GPU work.
    pub fn validate(&mut self, problem: &Problem) -> Result<(), Located> {
        let symbols = problem.size_symbols();
        let buffers: Vec<&str> = problem.buffers(&problem.timed_sizes()).iter().map(|b| b.name).collect();
        let known = || {
            let mut k: Vec<String> = buffers.iter().map(|s| s.to_string()).collect();
            k.extend(self.scratch.iter().map(|(n, _)| n.clone()));
            format!("buffers: {}; sizes: {}", k.join(", "), symbols.join(", "))
        };
        for (name, _) in &self.scratch {
            if buffers.contains(&name.as_str()) || symbols.contains(&name.as_str()) {
                return Err((
                    None,
                    format!("scratch buffer `{name}` clashes with a name of problem `{}`", problem.name()),
                ));
            }
        }
        let known_text = known();
        for (i, launch) in self.launches.iter_mut().enumerate() {
            for arg in &mut launch.args {
                if let ArgSpec::Buffer(name) = arg {
                    let is_buffer = buffers.contains(&name.as_str()) || self.scratch.iter().any(|(n, _)| n == name);
                    if !is_buffer {
                        if symbols.contains(&name.as_str()) {
                            *arg = ArgSpec::Int(Expr::parse(name).map_err(|e| (Some(launch.line), e.to_string()))?);
                        } else {
                            return Err((
                                Some(launch.line),
                                format!(
                                    "launch {} (`{}`): unknown argument `{name}` ({known_text})",
                                    i + 1,
                                    launch.kernel
                                ),
                            ));
                        }
                    }
                }
            }
            for e in launch_exprs(launch) {
                if let Some(s) = e.symbols().into_iter().find(|s| !symbols.contains(&s.as_str())) {
                    return Err((
                        Some(launch.line),
                        format!(
                            "launch {} (`{}`): unknown symbol `{s}` in `{e}` (sizes of `{}`: {})",
                            i + 1,
                            launch.kernel,
                            problem.name(),
                            symbols.join(", ")
                        ),
                    ));
                }
            }
        }
        for (name, e) in &self.scratch {
            if let Some(s) = e.symbols().into_iter().find(|s| !symbols.contains(&s.as_str())) {
                return Err((None, format!("scratch `{name}`: unknown symbol `{s}` in `{e}`")));
            }
        }
        for sizes in problem.check_sizes() {
            self.resolve(&sizes).map_err(|(line, m)| (line, format!("at {sizes}: {m}")))?;
            for (name, e) in &self.scratch {
                let bytes = eval(e, &sizes).map_err(|m| (None, format!("at {sizes}: scratch `{name}`: {m}")))?;
                if !(0..=1 << 40).contains(&bytes) {
                    return Err((
                        None,
                        format!("at {sizes}: scratch `{name}` is {bytes} bytes; it must be 0 to 1 TiB"),
                    ));
                }
            }
        }
        Ok(())
    }
}
