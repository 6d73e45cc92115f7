//! The server's counters, and their Prometheus text exposition (format 0.0.4).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sadoku_core::report::CandidateReport;
use sadoku_core::verdict::Verdict;

/// The window over which `sadoku_reviews_per_second` is measured.
const WINDOW: Duration = Duration::from_secs(60);

pub struct Metrics {
    started: Instant,
    inner: Mutex<Inner>,
    not_reviewed: AtomicU64,
    deduplicated: AtomicU64,
}

struct Inner {
    /// Verdicts by (verdict, reason).
    verdicts: BTreeMap<(String, String), u64>,
    refused: BTreeMap<String, u64>,
    review_seconds_sum: f64,
    review_count: u64,
    /// Seconds each GPU's lanes spent reviewing.
    busy: BTreeMap<usize, f64>,
    /// When recent reviews ended (over the last [`WINDOW`]).
    recent: VecDeque<Instant>,
}

impl Metrics {
    pub fn new(gpus: Vec<usize>) -> Metrics {
        Metrics {
            started: Instant::now(),
            inner: Mutex::new(Inner {
                verdicts: BTreeMap::new(),
                refused: BTreeMap::new(),
                review_seconds_sum: 0.0,
                review_count: 0,
                busy: gpus.into_iter().map(|g| (g, 0.0)).collect(),
                recent: VecDeque::new(),
            }),
            not_reviewed: AtomicU64::new(0),
            deduplicated: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A verdict given (a review's, or an invalid candidate's, judged without one).
    pub fn verdict(&self, report: &CandidateReport) {
        let verdict = match report.verdict {
            Verdict::Accepted { .. } => "ACCEPTED",
            Verdict::Rejected(_) => "REJECTED",
        };
        let mut m = self.lock();
        *m.verdicts.entry((verdict.to_string(), report.reason.clone().unwrap_or_default())).or_default() += 1;
        if let Some(gpu) = report.gpu {
            m.review_seconds_sum += report.review_s;
            m.review_count += 1;
            *m.busy.entry(gpu).or_default() += report.review_s;
            let now = Instant::now();
            m.recent.push_back(now);
            while m.recent.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
                m.recent.pop_front();
            }
        }
    }

    pub fn not_reviewed(&self) {
        self.not_reviewed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn deduplicated(&self) {
        self.deduplicated.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, why: &str) {
        *self.lock().refused.entry(why.to_string()).or_default() += 1;
    }

    /// Reviews ended per second over the last minute (over the uptime, while shorter).
    pub fn per_second(&self) -> f64 {
        let m = self.lock();
        let now = Instant::now();
        let n = m.recent.iter().filter(|t| now.duration_since(**t) <= WINDOW).count();
        let span = self.started.elapsed().min(WINDOW).as_secs_f64().max(1.0);
        n as f64 / span
    }

    /// Seconds until `behind` candidates more could be reviewed at the recent rate.
    /// (Before any review ended, half a review per second a lane.)
    pub fn retry_after(&self, behind: usize, lanes: usize) -> u64 {
        let per_second = self.per_second();
        let rate = if per_second > 0.0 { per_second } else { 0.5 * lanes.max(1) as f64 };
        ((behind as f64 / rate).ceil() as u64).clamp(1, 600)
    }

    /// Everything, as Prometheus scrapes it.
    pub fn render(&self, waiting: usize, capacity: usize, selftest_passed: Option<bool>) -> String {
        let per_second = self.per_second();
        let m = self.lock();
        let mut out = String::new();
        let verdicts: Vec<String> = m
            .verdicts
            .iter()
            .map(|((verdict, reason), count)| {
                format!("{{verdict=\"{}\",reason=\"{}\"}} {count}", escape(verdict), escape(reason))
            })
            .collect();
        let refused: Vec<String> =
            m.refused.iter().map(|(why, count)| format!("{{why=\"{}\"}} {count}", escape(why))).collect();
        let busy: Vec<String> = m.busy.iter().map(|(gpu, s)| format!("{{gpu=\"{gpu}\"}} {s}")).collect();
        let one = |v: String| vec![format!(" {v}")];
        family(
            &mut out,
            "sadoku_queue_waiting",
            "gauge",
            "Candidates taken and not yet reviewed.",
            &one(waiting.to_string()),
        );
        family(
            &mut out,
            "sadoku_queue_capacity",
            "gauge",
            "How many candidates may wait (--queue).",
            &one(capacity.to_string()),
        );
        family(&mut out, "sadoku_reviews_total", "counter", "Verdicts given, by verdict and reason.", &verdicts);
        let not_reviewed = self.not_reviewed.load(Ordering::Relaxed).to_string();
        family(
            &mut out,
            "sadoku_not_reviewed_total",
            "counter",
            "Candidates the environment kept from a verdict.",
            &one(not_reviewed),
        );
        let deduplicated = self.deduplicated.load(Ordering::Relaxed).to_string();
        family(
            &mut out,
            "sadoku_deduplicated_total",
            "counter",
            "Submissions answered with an earlier review.",
            &one(deduplicated),
        );
        family(&mut out, "sadoku_refused_total", "counter", "Submissions refused, by why.", &refused);
        let review = vec![format!("_sum {}", m.review_seconds_sum), format!("_count {}", m.review_count)];
        family(&mut out, "sadoku_review_seconds", "summary", "Seconds from a review's start to its verdict.", &review);
        family(
            &mut out,
            "sadoku_reviews_per_second",
            "gauge",
            "Reviews ended per second over the last minute.",
            &one(per_second.to_string()),
        );
        family(&mut out, "sadoku_gpu_busy_seconds_total", "counter", "Seconds the GPU's lanes spent reviewing.", &busy);
        let uptime = self.started.elapsed().as_secs_f64().to_string();
        family(&mut out, "sadoku_uptime_seconds", "gauge", "Seconds since the server started.", &one(uptime));
        let passed = u8::from(selftest_passed == Some(true)).to_string();
        family(
            &mut out,
            "sadoku_selftest_passed",
            "gauge",
            "1 if the self-test passed at start, 0 if it was skipped.",
            &one(passed),
        );
        out
    }
}

/// One metric family: its help, its type, then each sample (`suffix` after the name).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[String]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for s in samples {
        let _ = writeln!(out, "{name}{s}");
    }
}

/// A label value as the exposition format quotes it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_once_with_its_type() {
        let m = Metrics::new(vec![0]);
        m.refused("queue_full");
        m.deduplicated();
        let text = m.render(3, 10, Some(true));
        for name in [
            "sadoku_queue_waiting 3",
            "sadoku_queue_capacity 10",
            "sadoku_refused_total{why=\"queue_full\"} 1",
            "sadoku_deduplicated_total 1",
            "sadoku_gpu_busy_seconds_total{gpu=\"0\"} 0",
            "sadoku_selftest_passed 1",
        ] {
            assert!(text.lines().any(|l| l == name), "{name} missing from\n{text}");
        }
        for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            let name = family.split(' ').next().unwrap();
            assert_eq!(text.matches(&format!("# TYPE {name} ")).count(), 1, "{name}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
