//! Stage 4 of the pipeline: how fast, against the library baseline, measured together.
//!
//! Candidate and baseline samples alternate in one loop, so drifting clocks and temperature hit
//! both alike. Each sample is one cold run of the work: the device flushes L2 with a buffer at
//! least its size, then times the work between events. Warm-up first (module load, clock ramp);
//! then samples until both series are quieter than the target or the budget runs out.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::device::{DeviceError, Work};
use crate::review::{Event, Observer};
use crate::stats::{Summary, speedup_interval};
use crate::verify::Devices;

#[derive(Debug, Clone, PartialEq)]
pub struct TimingOptions {
    /// Untimed runs of each work list before sampling, at least this long together.
    pub warmup: Duration,
    pub min_samples: usize,
    pub max_samples: usize,
    /// Stop once both series' robust relative spread is below this.
    pub target_noise: f64,
    /// Stop sampling after this much wall time, converged or not.
    pub budget: Duration,
}

impl Default for TimingOptions {
    fn default() -> Self {
        TimingOptions {
            warmup: Duration::from_millis(200),
            min_samples: 20,
            max_samples: 2000,
            target_noise: 0.01,
            budget: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// What the baseline is, e.g. "cuBLAS SGEMM (TF32 off) + tril".
    pub baseline_name: String,
    pub candidate: Summary,
    pub baseline: Summary,
    /// median(baseline) / median(candidate).
    pub speedup: f64,
    /// 95 % bootstrap interval of the speedup.
    pub speedup_interval: (f64, f64),
    /// False when the budget ran out before the noise target was met.
    pub converged: bool,
    pub candidate_ms: Vec<f64>,
    pub baseline_ms: Vec<f64>,
}

/// Time `candidate` on its device against `baseline` on the reference device, interleaved.
pub fn compare(
    devices: &mut Devices,
    candidate: &[Work],
    baseline: &[Work],
    baseline_name: &str,
    options: &TimingOptions,
    seed: u64,
    observer: &dyn Observer,
) -> Result<Timing, DeviceError> {
    let start = Instant::now();
    let mut warm_runs = 0;
    while warm_runs < 3 || start.elapsed() < options.warmup {
        devices.candidate.run(candidate)?;
        devices.reference.run(baseline)?;
        warm_runs += 1;
    }
    let start = Instant::now();
    let (mut c, mut b) = (Vec::new(), Vec::new());
    let converged = loop {
        c.push(devices.candidate.time(candidate)?.ms);
        b.push(devices.reference.time(baseline)?.ms);
        let n = c.len();
        let quiet = |s: &[f64]| Summary::of(s).is_some_and(|s| s.noise < options.target_noise);
        let noise = Summary::of(&c).map_or(f64::INFINITY, |s| s.noise);
        observer.event(Event::Sample { samples: n, noise, elapsed: start.elapsed(), budget: options.budget });
        if n >= options.min_samples && quiet(&c) && quiet(&b) {
            break true;
        }
        if n >= options.max_samples || (n >= options.min_samples.min(3) && start.elapsed() >= options.budget) {
            break false;
        }
    };
    let (cs, bs) = (Summary::of(&c).expect("sampled"), Summary::of(&b).expect("sampled"));
    Ok(Timing {
        baseline_name: baseline_name.to_string(),
        speedup: bs.median / cs.median,
        speedup_interval: speedup_interval(&b, &c, seed),
        candidate: cs,
        baseline: bs,
        converged,
        candidate_ms: c,
        baseline_ms: b,
    })
}
