//! cuDNN baselines on the simulated device: the library's max pooling problem is timed against
//! cuDNN's pooling (a speedup with its interval), and on a machine without cuDNN the review still
//! gives its verdict, with time and % of ceiling and the reason the baseline is missing.

mod common;

use common::timing_options;
use sadoku_core::candidate::Candidate;
use sadoku_core::device::LibraryOp;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::problem::Registry;
use sadoku_core::problem::Sizes;
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verify::VerifyOptions;

const CANDIDATE: &str = r#"/* sadoku
problem = "maxpool2d"
[[launch]]
kernel = "pool"
grid = ["cdiv(N * C * (H / 2) * (W / 2), 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void pool(const float* x, float* y, int N, int C, int H, int W) {}
"#;

/// 2×2 max pooling, stride 2, of an NCHW tensor: `out(max)` per window, in f64 or f32.
fn pool(x: &[f32], nc: usize, h: usize, w: usize) -> Vec<f32> {
    let (ho, wo) = (h / 2, w / 2);
    let mut y = vec![0f32; nc * ho * wo];
    for (i, o) in y.iter_mut().enumerate() {
        let (p, r, c) = (i / (ho * wo), i / wo % ho, i % wo);
        let at = |dr: usize, dc: usize| x[(p * h + 2 * r + dr) * w + 2 * c + dc];
        *o = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
    }
    y
}

fn dims(call: &SimCall, first: usize) -> (usize, usize, usize) {
    let n = call.int(first) as usize * call.int(first + 1) as usize;
    (n, call.int(first + 2) as usize, call.int(first + 3) as usize)
}

fn review(judge: &mut SimDevice) -> CandidateReport {
    judge.kernel(
        "maxpool2d_fp64",
        &["u64", "u64", "u64", "u64", "u64", "u64", "u64"],
        |call: &mut SimCall| {
            let (nc, h, w) = dims(call, 3);
            let y: Vec<f64> = pool(&call.read(0)?, nc, h, w).into_iter().map(f64::from).collect();
            call.write_f64(1, &y)?;
            call.write_f64(2, &y.iter().map(|v| v.abs()).collect::<Vec<_>>())
        },
        |_| 0.001,
    );
    let mut dev = SimDevice::new();
    dev.kernel(
        "pool",
        &["u64", "u64", "u32", "u32", "u32", "u32"],
        |call: &mut SimCall| -> Result<(), SimFault> {
            let (nc, h, w) = dims(call, 2);
            let y = pool(&call.read(0)?, nc, h, w);
            call.write(1, &y)
        },
        // Twice as fast as the simulated library's 0.001 ms per library step.
        |_| 0.0005,
    );
    let sizes = |n: i64, c: i64, h: i64, w: i64| Sizes::new([("N", n), ("C", c), ("H", h), ("W", w)]);
    let options = ReviewOptions {
        verify: VerifyOptions { sizes: vec![sizes(1, 1, 2, 2), sizes(2, 3, 17, 9)], ..Default::default() },
        timing: timing_options(),
        timed_sizes: Some(sizes(2, 3, 16, 16)),
        ..ReviewOptions::default()
    };
    let candidate = Candidate::from_source(&Registry::library(), "pool.cu", CANDIDATE.to_string()).unwrap();
    let report =
        review_candidate(&mut Devices::new(&mut dev, judge), &candidate, &Seeds { master: 8 }, &options, &Silent)
            .expect("the simulated environment does not fail");
    assert_eq!(judge.live_buffers(), 0, "the judge freed everything");
    report
}

#[test]
fn a_pooling_kernel_is_timed_against_cudnns_pooling() {
    let mut judge = SimDevice::new();
    let report = review(&mut judge);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().expect("timed");
    assert_eq!(
        t.baseline_name,
        "cuDNN max pooling forward (fp32), as torch.nn.functional.max_pool2d(x, 2) (cuDNN's; torch uses its own kernel)"
    );
    assert!(t.speedup.is_some() && t.baseline.is_some() && t.baseline_unavailable.is_none(), "{t:?}");
    assert!(
        judge
            .library_log
            .iter()
            .any(|op| matches!(op, LibraryOp::Pool2d { max: true, shape, .. } if shape.window == 2 && shape.h == 16)),
        "the judge ran cuDNN's pooling at the timed size"
    );
}

#[test]
fn without_cudnn_the_verdict_stands_and_the_missing_baseline_is_named() {
    let mut judge = SimDevice::new();
    judge.no_cudnn = Some("cuDNN not found (libcudnn.so.9): install it".into());
    let report = review(&mut judge);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let t = report.findings.timing.as_ref().expect("timed all the same");
    assert_eq!((t.speedup, t.baseline.is_some()), (None, false));
    assert_eq!(t.baseline_unavailable.as_deref(), Some("cuDNN not found (libcudnn.so.9): install it"));
    assert!(report.findings.ceiling.is_some(), "% of the card's ceiling instead");
    assert!(!judge.library_log.iter().any(|op| matches!(op, LibraryOp::Pool2d { .. })), "no cuDNN call was made");
}
