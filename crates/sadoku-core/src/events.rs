//! Progress events: what the pipeline tells whoever is watching (a terminal's spinner, a test).

use std::time::Duration;

use crate::problem::Sizes;
use crate::verdict::Verdict;

/// Progress, for people watching a terminal.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Candidate { index: usize, total: usize, name: &'a str },
    Stage { name: &'a str },
    Trial { sizes: &'a Sizes, trial: &'a str },
    Sample { samples: usize, noise: f64, elapsed: Duration, budget: Duration },
    Verdict { name: &'a str, verdict: &'a Verdict },
}

pub trait Observer {
    fn event(&self, _event: Event<'_>) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}
