//! Everything that ran while the candidate was timed, as the device's activity trace saw it.
//!
//! The candidate's time is the span of all the device work it caused. A kernel on another stream,
//! work that outlives the timing window, or kernels nobody launched are hidden work: the events on
//! the timed stream would not see it, so the candidate is rejected (HACKS.md #8, #9).

use serde::Serialize;

use crate::device::{KernelRecord, Trace};

/// Slack for the window check: the markers' own timestamps are only this precise.
const WINDOW_SLACK_NS: u64 = 2_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HiddenWork {
    /// A kernel ran on a stream other than the one being timed.
    OtherStream { kernel: String, stream: u32, timed_stream: u32 },
    /// A kernel ran (partly) outside the timing window.
    OutsideWindow { kernel: String, before_us: f64, after_us: f64 },
    /// The kernels traced are not the launches asked for (device-side launches, say).
    Unexpected { expected: Vec<String>, traced: Vec<String> },
}

impl std::fmt::Display for HiddenWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HiddenWork::OtherStream { kernel, stream, timed_stream } => write!(
                f,
                "kernel `{kernel}` ran on stream {stream}, not on the timed stream {timed_stream}: events on the \
                 timed stream would not see it"
            ),
            HiddenWork::OutsideWindow { kernel, before_us, after_us } => {
                write!(f, "kernel `{kernel}` ran outside the timing window")?;
                if *before_us > 0.0 {
                    write!(f, ", starting {before_us:.1} µs before it")?;
                }
                if *after_us > 0.0 {
                    write!(f, ", still running {after_us:.1} µs after it")?;
                }
                Ok(())
            }
            HiddenWork::Unexpected { expected, traced } => write!(
                f,
                "{} kernel(s) launched ({}) but {} traced ({})",
                expected.len(),
                expected.join(", "),
                traced.len(),
                traced.join(", ")
            ),
        }
    }
}

/// The candidate's work in one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    /// First kernel's start to last kernel's end, milliseconds.
    pub span_ms: f64,
    pub kernels: Vec<KernelRecord>,
}

/// Check a sample's trace against the launches that were asked for, in order. `Ok(None)` when the
/// device could not trace.
pub fn check(trace: &Trace, expected: &[&str]) -> Result<Option<Traced>, HiddenWork> {
    let Trace::Traced { stream, window_ns: (open, close), kernels } = trace else {
        return Ok(None);
    };
    for k in kernels {
        if k.stream != *stream {
            return Err(HiddenWork::OtherStream { kernel: k.name.clone(), stream: k.stream, timed_stream: *stream });
        }
    }
    for k in kernels {
        let before = open.saturating_sub(k.start_ns);
        let after = k.end_ns.saturating_sub(*close);
        if before > WINDOW_SLACK_NS || after > WINDOW_SLACK_NS {
            return Err(HiddenWork::OutsideWindow {
                kernel: k.name.clone(),
                before_us: before as f64 / 1e3,
                after_us: after as f64 / 1e3,
            });
        }
    }
    let mut ordered = kernels.clone();
    ordered.sort_by_key(|k| k.start_ns);
    let traced: Vec<&str> = ordered.iter().map(|k| k.name.as_str()).collect();
    if traced != expected {
        return Err(HiddenWork::Unexpected {
            expected: expected.iter().map(|s| s.to_string()).collect(),
            traced: traced.iter().map(|s| s.to_string()).collect(),
        });
    }
    Ok(Some(Traced { span_ms: trace.span_ms().unwrap_or(0.0), kernels: ordered }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str, start: u64, end: u64, stream: u32) -> KernelRecord {
        KernelRecord {
            name: name.into(),
            grid: [1, 1, 1],
            block: [32, 1, 1],
            registers: 32,
            shared_bytes: 0,
            start_ns: start,
            end_ns: end,
            stream,
        }
    }

    fn traced(kernels: Vec<KernelRecord>) -> Trace {
        Trace::Traced { stream: 7, window_ns: (1_000, 100_000), kernels }
    }

    #[test]
    fn honest_trace_gives_the_span_of_all_kernels() {
        let t = traced(vec![k("b", 50_000, 90_000, 7), k("a", 10_000, 40_000, 7)]);
        let got = check(&t, &["a", "b"]).unwrap().unwrap();
        assert!((got.span_ms - 0.08).abs() < 1e-12);
        assert_eq!(got.kernels[0].name, "a");
    }

    #[test]
    fn kernel_on_another_stream_is_hidden_work() {
        let t = traced(vec![k("a", 10_000, 40_000, 7), k("side", 10_000, 90_000, 13)]);
        let e = check(&t, &["a"]).unwrap_err();
        assert!(matches!(e, HiddenWork::OtherStream { stream: 13, .. }), "{e}");
        assert!(e.to_string().contains("stream 13"));
    }

    #[test]
    fn kernel_outliving_the_window_is_hidden_work() {
        let t = traced(vec![k("a", 10_000, 150_000, 7)]);
        let e = check(&t, &["a"]).unwrap_err();
        assert!(e.to_string().contains("still running 50.0 µs after it"), "{e}");
    }

    #[test]
    fn extra_or_missing_kernels_are_reported() {
        let t = traced(vec![k("a", 10_000, 40_000, 7), k("child", 41_000, 60_000, 7)]);
        assert!(matches!(check(&t, &["a"]), Err(HiddenWork::Unexpected { .. })));
        let t = traced(vec![]);
        assert!(check(&t, &["a"]).unwrap_err().to_string().contains("but 0 traced"));
    }

    #[test]
    fn untraced_device_gives_no_span() {
        assert_eq!(check(&Trace::Unavailable { why: "no CUPTI".into() }, &["a"]), Ok(None));
    }
}
