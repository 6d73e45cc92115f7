//! Shared pieces of the integration tests: candidate sources for problem "trimm", simulated
//! kernels (honest and adversarial), review options at small sizes, and a review helper that
//! checks nothing leaked.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

/// The `Device` methods a test's wrapper passes through to its `inner` device unchanged
/// (everything but `run`, `time`, `collect` and what a test overrides), written once.
#[macro_export]
macro_rules! forward_device_basics {
    () => {
        fn info(&self) -> &sadoku_core::device::DeviceInfo {
            self.inner.info()
        }
        fn compile(
            &mut self,
            request: &sadoku_core::compile::CompileRequest,
        ) -> Result<sadoku_core::compile::CompiledModule, sadoku_core::compile::CompileError> {
            self.inner.compile(request)
        }
        fn alloc(&mut self, bytes: usize) -> Result<sadoku_core::device::Buffer, sadoku_core::device::DeviceError> {
            self.inner.alloc(bytes)
        }
        fn alloc_shared(
            &mut self,
            bytes: usize,
        ) -> Result<sadoku_core::device::Buffer, sadoku_core::device::DeviceError> {
            self.inner.alloc_shared(bytes)
        }
        fn free(&mut self, buffer: sadoku_core::device::Buffer) {
            self.inner.free(buffer)
        }
        fn upload(
            &mut self,
            buffer: sadoku_core::device::Buffer,
            data: &[u8],
        ) -> Result<(), sadoku_core::device::DeviceError> {
            self.inner.upload(buffer, data)
        }
        fn download(
            &mut self,
            buffer: sadoku_core::device::Buffer,
            out: &mut [u8],
        ) -> Result<(), sadoku_core::device::DeviceError> {
            self.inner.download(buffer, out)
        }
        fn fill_u32(
            &mut self,
            buffer: sadoku_core::device::Buffer,
            word: u32,
        ) -> Result<(), sadoku_core::device::DeviceError> {
            self.inner.fill_u32(buffer, word)
        }
        fn load(
            &mut self,
            module: &sadoku_core::compile::CompiledModule,
        ) -> Result<sadoku_core::device::ModuleHandle, sadoku_core::device::DeviceError> {
            self.inner.load(module)
        }
        fn export(
            &mut self,
            buffer: sadoku_core::device::Buffer,
        ) -> Result<sadoku_core::device::SharedHandle, sadoku_core::device::DeviceError> {
            self.inner.export(buffer)
        }
        fn import(
            &mut self,
            shared: &sadoku_core::device::SharedHandle,
        ) -> Result<sadoku_core::device::Buffer, sadoku_core::device::DeviceError> {
            self.inner.import(shared)
        }
    };
}

use std::time::Duration;

use sadoku_core::candidate::Candidate;
use sadoku_core::checks::accuracy::U_FP32;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::problem::Registry;
use sadoku_core::problem::Sizes;
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::time::TimingOptions;
use sadoku_core::verify::VerifyOptions;

/// PTX parameter types of `(const float* A, const float* B, float* C, int N)`.
pub const PARAMS: [&str; 4] = ["u64", "u64", "u64", "u32"];

/// What every simulated kernel pretends to take, in milliseconds.
pub const KERNEL_MS: f64 = 1.0;

/// The sizes every pipeline test verifies at.
pub const VERIFY_N: [i64; 3] = [1, 17, 40];

/// Where accepted candidates are timed: the problem's own N = 4096 is far beyond what the
/// simulator's plain loops can run in a test.
pub const TIMED_N: i64 = 40;

/// A problem directory (its `problem.toml` and `reference.cu`) in a temporary directory kept for
/// the test process's life: what a test's registry adds.
pub fn problem_dir(toml: &str, reference: &str) -> std::path::PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    std::fs::write(dir.join("problem.toml"), toml).unwrap();
    std::fs::write(dir.join("reference.cu"), reference).unwrap();
    dir
}

pub fn n_sizes(n: i64) -> Sizes {
    Sizes::new([("N", n)])
}

/// The three classic trials at exactly `VERIFY_N`, which these tests pin trial by trial; the
/// stress trial and the size drawn at run time (both on by default) are tested in `inputs.rs`.
pub fn verify_options() -> VerifyOptions {
    VerifyOptions {
        sizes: VERIFY_N.iter().map(|&n| n_sizes(n)).collect(),
        drawn_size: false,
        stress: false,
        ..Default::default()
    }
}

pub fn timing_options() -> TimingOptions {
    TimingOptions {
        warmup: Duration::ZERO,
        min_samples: 5,
        max_samples: 50,
        target_noise: 0.01,
        // Met in a few samples (the simulator's jitter is 0.2 %); generous so that a loaded CI
        // machine, where the plain-loop truths are slow, does not run out of budget first.
        budget: Duration::from_secs(5),
        max_sets: 4,
        ..TimingOptions::default()
    }
}

pub fn options() -> ReviewOptions {
    ReviewOptions {
        verify: verify_options(),
        timing: timing_options(),
        timed_sizes: Some(n_sizes(TIMED_N)),
        ..ReviewOptions::default()
    }
}

/// A candidate source: front matter launching `kernel` over `grid` with TOML `args`, then a
/// kernel definition named `defined` holding `body` (the simulated compiler exports each
/// registered kernel whose name the source mentions followed by `(`).
pub fn source_full(kernel: &str, grid: &str, args: &str, defined: &str, body: &str) -> String {
    format!(
        r#"/* sadoku
problem = "trimm"
[[launch]]
kernel = "{kernel}"
grid   = {grid}
block  = [16, 16, 1]
args   = {args}
*/
extern "C" __global__ void {defined}(const float* A, const float* B, float* C, int N) {{
{body}}}
"#
    )
}

pub const GRID: &str = r#"["cdiv(N, 16)", "cdiv(N, 16)", 1]"#;
pub const ARGS: &str = r#"["A", "B", "C", "N"]"#;

/// The usual candidate source: kernel `name`, args A, B, C, N.
pub fn source(name: &str) -> String {
    source_full(name, GRID, ARGS, name, "")
}

pub fn candidate(name: &str) -> Candidate {
    Candidate::from_source(&Registry::library(), format!("{name}.cu"), source(name)).expect("a valid candidate spec")
}

/// Review on `dev` with its own compiler and the small-size options, then check that every
/// device buffer was freed.
pub fn review(dev: &mut SimDevice, candidate: &Candidate, master: u64) -> CandidateReport {
    let report = review_unchecked(dev, candidate, master, &options());
    assert_eq!(dev.live_buffers(), 0, "device buffers leaked by the review of {}", candidate.name());
    report
}

/// Review without the leak check, for tests that look at leaks themselves.
pub fn review_unchecked(
    dev: &mut SimDevice,
    candidate: &Candidate,
    master: u64,
    options: &ReviewOptions,
) -> CandidateReport {
    review_on(dev, &mut SimDevice::new(), candidate, master, options)
}

/// Review with a given judge (reference) device; checks that the judge freed everything and ran
/// no candidate kernel.
pub fn review_on(
    dev: &mut SimDevice,
    reference: &mut SimDevice,
    candidate: &Candidate,
    master: u64,
    options: &ReviewOptions,
) -> CandidateReport {
    let report = review_candidate(&mut Devices::new(dev, reference), candidate, &Seeds { master }, options, &Silent)
        .expect("the simulated environment does not fail");
    assert_eq!(reference.live_buffers(), 0, "reference buffers leaked by the review of {}", candidate.name());
    assert!(reference.launches.is_empty(), "no candidate kernel ever runs on the reference device");
    report
}

// ---------------------------------------------------------------------------------------------
// Host arithmetic the simulated kernels share.

/// C = tril(A·B) as an honest fp32 kernel computes it: one sequential fma chain over
/// k = j..=i per element, after `round` is applied to each operand; exact zeros above the
/// diagonal.
pub fn trimm_with(a: &[f32], b: &[f32], n: usize, round: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut c = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..=i {
            c[i * n + j] = (j..=i).fold(0f32, |acc, k| round(a[i * n + k]).mul_add(round(b[k * n + j]), acc));
        }
    }
    c
}

pub fn trimm_fp32(a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    trimm_with(a, b, n, |x| x)
}

/// Round to TF32: keep 10 of fp32's 23 mantissa bits, to nearest (ties away from zero).
pub fn tf32(x: f32) -> f32 {
    f32::from_bits((x.to_bits() + (1 << 12)) & !((1 << 13) - 1))
}

/// fp64 value, Σ|a·b|, of element (i, j) of tril(A·B).
pub fn exact_and_scale(a: &[f32], b: &[f32], n: usize, i: usize, j: usize) -> (f64, f64) {
    (j..=i).fold((0.0, 0.0), |(v, s), k| {
        let p = a[i * n + k] as f64 * b[k * n + j] as f64;
        (v + p, s + p.abs())
    })
}

/// The elementwise rounding bound factor sadoku uses for sums of `terms` products
/// (2·γ_K + 32 u), restated here so that a test kernel can place an error just inside or
/// just outside it.
pub fn bound_factor(terms: usize) -> f64 {
    let ku = terms as f64 * U_FP32;
    2.0 * ku / (1.0 - ku) + 32.0 * U_FP32
}

/// The kernel's inputs: A, B and N.
pub fn inputs(call: &SimCall) -> Result<(Vec<f32>, Vec<f32>, usize), SimFault> {
    Ok((call.read(0)?, call.read(1)?, call.int(3) as usize))
}

// ---------------------------------------------------------------------------------------------
// Simulated kernels.

/// Register a kernel that computes all of C from A, B, N with `f`.
pub fn register(dev: &mut SimDevice, name: &str, mut f: impl FnMut(&[f32], &[f32], usize) -> Vec<f32> + 'static) {
    dev.kernel(
        name,
        &PARAMS,
        move |call| {
            let (a, b, n) = inputs(call)?;
            let c = f(&a, &b, n);
            call.write(2, &c)
        },
        |_| KERNEL_MS,
    );
}

/// Register a kernel with full access to the call.
pub fn register_raw(dev: &mut SimDevice, name: &str, run: impl FnMut(&mut SimCall) -> Result<(), SimFault> + 'static) {
    dev.kernel(name, &PARAMS, run, |_| KERNEL_MS);
}

/// A device with the honest kernel, `honest`, registered.
pub fn device() -> SimDevice {
    let mut dev = SimDevice::new();
    register(&mut dev, "honest", trimm_fp32);
    dev
}
