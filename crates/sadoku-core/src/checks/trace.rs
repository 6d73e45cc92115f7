//! Everything that ran while the candidate was timed, as the device's activity trace saw it.
//!
//! The candidate's time is the span of all the device work it caused. A kernel on another stream,
//! work that outlives the timing window, or kernels nobody launched are hidden work: the events on
//! the timed stream would not see it, so the candidate is rejected (docs/THREATS.md).

use serde::Serialize;

use crate::device::{KernelRecord, Trace};

/// Slack for the window check: the markers' own timestamps are only this precise. A Python
/// call's window is read from marker memsets on the device's clock too; CUPTI's host clock, used
/// for it before, strayed from the records by 36 µs on an H200 and rejected an honest kernel.
const WINDOW_SLACK_NS: u64 = 2_000;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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
    /// First kernel's start (a Python call's marked start) to last kernel's end, milliseconds;
    /// `None` for a Python call without its start ([`Trace::unstarted`]).
    pub span_ms: Option<f64>,
    pub kernels: Vec<KernelRecord>,
}

/// Check a sample's trace against the launches that were asked for, in order. `Ok(None)` when the
/// device could not trace.
pub fn check(trace: &Trace, expected: &[&str]) -> Result<Option<Traced>, HiddenWork> {
    if let Trace::Call { window_ns, kernels, started_ns } = trace {
        return check_call(*window_ns, kernels, *started_ns);
    }
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
    Ok(Some(Traced { span_ms: Some(trace.span_ms().unwrap_or(0.0)), kernels: ordered }))
}

/// Whether a Python call's record is the worker delivering the result into the judge's buffers:
/// a device-to-device copy that starts once the window has closed (see `check_call`).
fn delivery(window: (u64, u64), k: &KernelRecord) -> bool {
    k.start_ns >= window.1 && k.name.starts_with("[memcpy DtoD")
}

/// A trace without a Python call's delivery of its result: what a baseline's call is timed by,
/// as a candidate's is.
pub fn undelivered(trace: &Trace) -> Trace {
    match trace {
        Trace::Call { window_ns, kernels, started_ns } => Trace::Call {
            window_ns: *window_ns,
            kernels: kernels.iter().filter(|k| !delivery(*window_ns, k)).cloned().collect(),
            started_ns: *started_ns,
        },
        other => other.clone(),
    }
}

/// A Python call: every stream is the call's (the worker synchronises the whole device before
/// its stop event), its kernels have names of its own, and nothing it caused lies outside the
/// window read just before the call and just after the stop event: work that starts after it was
/// launched by something still running once the call returned. `Ok(None)` when the call caused
/// no device work at all (a sample without a span; the events time it).
///
/// A device-to-device copy that starts once the window has closed is the worker delivering the
/// result into the judge's output buffers (it does so after the closing marker, so that the copy
/// is neither the candidate's time nor the baseline's): it is left out. A copy computes nothing;
/// whatever it moves was computed by work the window holds, or by work outside it, which is refused.
///
/// The span runs from the call's start (`started`: the end of the worker's memset issued and
/// waited for just before it called) to its last record's end: the host time before the call's
/// first device work counts, as the host time between its kernels does. Without it, eager
/// PyTorch's dispatch between its kernels counted and a fused kernel's dispatch before its one
/// kernel did not: a three-kernel elementwise baseline of 6 µs of kernels in a 100 µs span made a
/// 3 µs kernel 30× faster. A trace without its start inside the window has no span (`span_ms`
/// `None`, [`Trace::unstarted`] says why): its kernels are checked all the same.
fn check_call(
    window: (u64, u64),
    kernels: &[KernelRecord],
    started: Option<u64>,
) -> Result<Option<Traced>, HiddenWork> {
    let (open, close) = window;
    let kernels: Vec<KernelRecord> = kernels.iter().filter(|k| !delivery(window, k)).cloned().collect();
    let kernels = &kernels[..];
    for k in kernels {
        let before = open.saturating_sub(k.start_ns);
        let after = k.end_ns.saturating_sub(close);
        if before > WINDOW_SLACK_NS || after > WINDOW_SLACK_NS {
            return Err(HiddenWork::OutsideWindow {
                kernel: k.name.clone(),
                before_us: before as f64 / 1e3,
                after_us: after as f64 / 1e3,
            });
        }
    }
    if kernels.is_empty() {
        return Ok(None);
    }
    let mut ordered = kernels.to_vec();
    ordered.sort_by_key(|k| (k.start_ns, k.end_ns));
    // A start outside the window is not the worker's mark of this call: no span.
    let span_ms = crate::device::call_start(window, started).and_then(|s| crate::device::span_ms(&ordered, Some(s)));
    Ok(Some(Traced { span_ms, kernels: ordered }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str, start: u64, end: u64, stream: u32) -> KernelRecord {
        KernelRecord::at(name, start, end, stream)
    }

    fn traced(kernels: Vec<KernelRecord>) -> Trace {
        Trace::Traced { stream: 7, window_ns: (1_000, 100_000), kernels }
    }

    #[test]
    fn honest_trace_gives_the_span_of_all_kernels() {
        let t = traced(vec![k("b", 50_000, 90_000, 7), k("a", 10_000, 40_000, 7)]);
        let got = check(&t, &["a", "b"]).unwrap().unwrap();
        assert!((got.span_ms.unwrap() - 0.08).abs() < 1e-12);
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

    /// A call whose worker marked its start where its first record starts (or at the window's
    /// opening).
    fn call(kernels: Vec<KernelRecord>) -> Trace {
        let first = kernels.iter().map(|k| k.start_ns).min().unwrap_or(1_000_000).max(1_000_000);
        Trace::Call { window_ns: (1_000_000, 2_000_000), kernels, started_ns: Some(first) }
    }

    #[test]
    fn a_python_calls_time_counts_from_its_start_for_a_fused_kernel_and_eager_pytorch_alike() {
        let started = |kernels: Vec<KernelRecord>, at: u64| Trace::Call {
            window_ns: (1_000_000, 2_000_000),
            kernels,
            started_ns: Some(at),
        };
        // Eager PyTorch: three kernels of 2 µs, each after 40 µs of the host's dispatch, the first
        // too. A fused kernel: one of 3 µs after 40 µs of its own dispatch.
        let eager = started(
            vec![
                k("abs", 1_140_000, 1_142_000, 7),
                k("add", 1_182_000, 1_184_000, 7),
                k("div", 1_224_000, 1_226_000, 7),
            ],
            1_100_000,
        );
        let fused = started(vec![k("softsign", 1_140_000, 1_143_000, 7)], 1_100_000);
        let eager_ms = check(&eager, &["forward"]).unwrap().unwrap().span_ms.unwrap();
        let fused_ms = check(&fused, &["forward"]).unwrap().unwrap().span_ms.unwrap();
        assert!((eager_ms - 0.126).abs() < 1e-12, "{eager_ms}");
        assert!((fused_ms - 0.043).abs() < 1e-12, "{fused_ms}");
        assert!((eager.span_ms().unwrap() - eager_ms).abs() < 1e-12);
        // About 2.9x; from the first kernel's start, as before, it was 86 µs against 3 µs: 29x.
        assert!((eager_ms / fused_ms - 2.93).abs() < 0.01);
        assert_eq!((eager.unstarted(), fused.unstarted()), (None, None));
        // The delivery of the result keeps the start.
        assert_eq!(undelivered(&fused), fused);
    }

    /// A call whose trace lost its start (a worker's merge that dropped it, or a process that
    /// left it out) has no span: counted from its first kernel, the fused kernel above would be
    /// 29x, not 2.9x. Its kernels are still checked and kept; the review says why it is timed
    /// by events.
    #[test]
    fn a_python_call_without_its_start_has_no_span_and_says_why() {
        let kernels = vec![k("softsign", 1_140_000, 1_143_000, 7)];
        let unmarked = Trace::Call { window_ns: (1_000_000, 2_000_000), kernels: kernels.clone(), started_ns: None };
        let got = check(&unmarked, &["forward"]).unwrap().unwrap();
        assert_eq!((got.span_ms, got.kernels.len()), (None, 1));
        assert_eq!(unmarked.span_ms(), None);
        assert!(unmarked.unstarted().unwrap().contains("no mark of the call's start"));
        // A start outside the window is no mark of this call's.
        let stray = Trace::Call { window_ns: (1_000_000, 2_000_000), kernels, started_ns: Some(500_000) };
        assert_eq!(check(&stray, &["forward"]).unwrap().unwrap().span_ms, None);
        assert_eq!(stray.span_ms(), None);
        assert!(stray.unstarted().unwrap().contains("start at 500000 ns, outside its window"));
        // Still checked: work outside the window is hidden work, start or none.
        let late = Trace::Call {
            window_ns: (1_000_000, 2_000_000),
            kernels: vec![k("late", 2_100_000, 2_300_000, 7)],
            started_ns: None,
        };
        assert!(check(&late, &["forward"]).is_err());
        // A native trace has no call start to lack.
        assert_eq!(traced(vec![k("a", 10_000, 40_000, 7)]).unstarted(), None);
    }

    #[test]
    fn a_python_calls_span_covers_every_kernel_and_copy_on_every_stream() {
        // An honest call: a library kernel on one stream, its own on another, a copy back.
        let t = call(vec![
            k("own_kernel", 1_150_000, 1_190_000, 13),
            k("cublas_gemm", 1_110_000, 1_140_000, 7),
            k("[memcpy DtoD, 4096 B]", 1_195_000, 1_196_000, 7),
        ]);
        let got = check(&t, &["forward"]).unwrap().unwrap();
        assert!((got.span_ms.unwrap() - 0.086).abs() < 1e-12, "{:?}", got.span_ms);
        let names: Vec<&str> = got.kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["cublas_gemm", "own_kernel", "[memcpy DtoD, 4096 B]"]);
        // A call that caused no device work has no span: its events time it.
        assert_eq!(check(&call(vec![]), &["forward"]), Ok(None));
    }

    #[test]
    fn the_workers_delivery_of_the_result_after_the_window_is_left_out() {
        // The worker copies the result into the judge's buffer after the closing marker.
        let t = call(vec![
            k("own_kernel", 1_150_000, 1_190_000, 7),
            k("[memcpy DtoD, 268435456 B]", 2_000_500, 2_300_000, 7),
        ]);
        let got = check(&t, &["forward"]).unwrap().unwrap();
        assert!((got.span_ms.unwrap() - 0.04).abs() < 1e-12, "{:?}", got.span_ms);
        assert_eq!(got.kernels.len(), 1);
        // A baseline's call is timed without it too.
        assert!((undelivered(&t).span_ms().unwrap() - 0.04).abs() < 1e-12);
        // Anything else after the window is still hidden work: a kernel, a copy from the host, a
        // device-to-device copy that began inside the window and outlived it.
        for late in [
            k("late", 2_100_000, 2_300_000, 7),
            k("[memcpy HtoD, 4096 B]", 2_100_000, 2_300_000, 7),
            k("[memcpy DtoD, 4096 B]", 1_900_000, 2_300_000, 7),
        ] {
            let t = call(vec![k("own_kernel", 1_150_000, 1_190_000, 7), late]);
            assert!(check(&t, &["forward"]).is_err());
        }
    }

    #[test]
    fn work_a_python_call_left_behind_is_hidden_work() {
        // A kernel a leftover thread launched after the call returned.
        let t = call(vec![k("own_kernel", 1_150_000, 1_190_000, 7), k("late", 2_100_000, 2_300_000, 7)]);
        let e = check(&t, &["forward"]).unwrap_err();
        assert!(e.to_string().contains("`late` ran outside the timing window"), "{e}");
        assert!(e.to_string().contains("still running 300.0 µs after it"), "{e}");
        // Work that started before the call's window (launched ahead, finished within it).
        let t = call(vec![k("early", 900_000, 1_100_000, 7)]);
        assert!(check(&t, &["forward"]).unwrap_err().to_string().contains("100.0 µs before it"));
        // Within the markers' slack is the call's own; beyond it is not.
        let t = call(vec![k("own_kernel", 999_000, 2_001_500, 7)]);
        assert!(check(&t, &["forward"]).unwrap().is_some());
        let t = call(vec![k("own_kernel", 1_100_000, 2_003_000, 7)]);
        assert!(check(&t, &["forward"]).unwrap_err().to_string().contains("3.0 µs after it"));
    }

    #[test]
    fn untraced_device_gives_no_span() {
        assert_eq!(check(&Trace::Unavailable { why: "no CUPTI".into() }, &["a"]), Ok(None));
    }
}
