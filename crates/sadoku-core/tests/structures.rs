//! Structured inputs and masks end to end on the simulated device, through problems of the native
//! format: a batched product C = A·B whose A is dense, upper-triangular or symmetric, and
//! y = x·m with a bool mask m. The judge's generator keeps the structure in every draw (every
//! trial, the stress trial, the size drawn at run time and every timed launch: the simulated
//! reference kernel checks each A it is given), so a kernel written for the structure (one that
//! skips A's zero triangle, or reads a symmetric A as Aᵀ) is accepted on that problem, and the
//! same kernel is rejected where the structure is not declared. A mask is drawn as bytes 0 and 1,
//! and a kernel that ignores it is rejected.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::timing_options;
use sadoku_core::candidate::Candidate;
use sadoku_core::device::element;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::events::Silent;
use sadoku_core::judge::Devices;
use sadoku_core::problem::{Dtype, Registry, Sizes};
use sadoku_core::report::CandidateReport;
use sadoku_core::review::{ReviewOptions, review_candidate};
use sadoku_core::seeds::Seeds;
use sadoku_core::verdict::{Rejection, Verdict};
use sadoku_core::verify::VerifyOptions;

const STRUCTURES: [&str; 3] = ["dense", "upper", "symmetric"];

fn mm_name(structure: &str) -> String {
    format!("sim_mm_{structure}")
}

/// The problems, written once: `sim_mm_<structure>` (A [S, N, N] of that structure, B [S, N, N]
/// dense, C [S, N, N]) and `sim_masked` (x f32 [N], m bool [N] drawn int(0, 2), y f32 [N]).
fn registry() -> Registry {
    static DIRS: std::sync::OnceLock<Vec<std::path::PathBuf>> = std::sync::OnceLock::new();
    let dirs = DIRS.get_or_init(|| {
        let mut dirs = Vec::new();
        for structure in STRUCTURES {
            let toml = format!(
                r#"
name = "{name}"
summary = "C = A·B, A {structure}, a batch of S N×N matrices, for the simulated device's tests"
family = "gemm"

[sizes]
symbols = ["S", "N"]
constraints = ["N >= 1", "S >= 1", "N <= 24", "S <= 3"]
timed = [{{ S = 2, N = 12 }}]
check = [{{ S = 3, N = 1 }}, {{ S = 2, N = 17 }}, {{ S = 1, N = 24 }}]
small = {{ S = 2, N = 5 }}

[[tensor]]
name = "A"
role = "input"
dtype = "f32"
shape = ["S", "N", "N"]
structure = "{structure}"

[[tensor]]
name = "B"
role = "input"
dtype = "f32"
shape = ["S", "N", "N"]

[[tensor]]
name = "C"
role = "output"
dtype = "f32"
shape = ["S", "N", "N"]

[reference]
kernel = "reference.cu"
terms = "N"
scale = "kernel"

[floors]
flops = "S * N * N"
bytes = "4 * S * N * N"
"#,
                name = mm_name(structure),
            );
            let reference = format!(
                "/* sadoku\nproblem = \"{}\"\n[[launch]]\nkernel = \"mm_fp64\"\ngrid = [\"S\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"A\", \"B\", \"C\", \"C_scale\", \"S\", \"N\"]\n*/\nextern \"C\" __global__ void mm_fp64(const float* a, const float* b, double* c, double* s, long long S, long long n) {{}}\n",
                mm_name(structure)
            );
            dirs.push(common::problem_dir(&toml, &reference));
        }
        let masked = r#"
name = "sim_masked"
summary = "y = x·m, m a bool mask, for the simulated device's tests"
family = "elementwise"

[sizes]
symbols = ["N"]
constraints = ["N >= 1"]
timed = [{ N = 64 }]
check = [{ N = 1 }, { N = 17 }, { N = 1000 }]
small = { N = 17 }

[[tensor]]
name = "x"
role = "input"
dtype = "f32"
shape = ["N"]

[[tensor]]
name = "m"
role = "input"
dtype = "bool"
shape = ["N"]
distributions = ["int(0, 2)"]

[[tensor]]
name = "y"
role = "output"
dtype = "f32"
shape = ["N"]

[reference]
kernel = "reference.cu"
terms = 1
scale = "kernel"

[floors]
flops = "N"
bytes = "4 * N"
"#;
        let reference = "/* sadoku\nproblem = \"sim_masked\"\n[[launch]]\nkernel = \"masked_fp64\"\ngrid = [\"cdiv(N, 256)\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"m\", \"y\", \"y_scale\", \"N\"]\n*/\nextern \"C\" __global__ void masked_fp64(const float* x, const bool* m, double* y, double* s, long long n) {}\n";
        dirs.push(common::problem_dir(masked, reference));
        dirs
    });
    let mut registry = Registry::library();
    for dir in dirs {
        registry.add_dir(dir).unwrap();
    }
    registry
}

/// What the judge saw: matrices of A it was given, and those without the problem's structure.
#[derive(Clone, Default)]
struct Seen {
    matrices: Rc<Cell<usize>>,
    unstructured: Rc<Cell<usize>>,
}

/// Whether the N×N row-major matrix `a` has `structure`, bit for bit.
fn has(structure: &str, a: &[f32], n: usize) -> bool {
    (0..n).all(|r| {
        (0..n).all(|c| match structure {
            "upper" => c >= r || a[r * n + c].to_bits() == 0,
            "symmetric" => a[r * n + c].to_bits() == a[c * n + r].to_bits(),
            _ => true,
        })
    })
}

/// The judge: C = A·B and its scale |A|·|B| in fp64, per matrix of the batch; it counts every A
/// it is given and those without the structure.
fn judge(structure: &'static str, seen: &Seen) -> SimDevice {
    let mut d = SimDevice::new();
    let seen = seen.clone();
    d.kernel(
        "mm_fp64",
        &["u64", "u64", "u64", "u64", "u64", "u64"],
        move |call: &mut SimCall| {
            let (a, b) = (call.read(0)?, call.read(1)?);
            let (batch, n) = (call.int(4) as usize, call.int(5) as usize);
            let (mut c, mut s) = (vec![0f64; batch * n * n], vec![0f64; batch * n * n]);
            for m in 0..batch {
                let (a, b) = (&a[m * n * n..(m + 1) * n * n], &b[m * n * n..(m + 1) * n * n]);
                seen.matrices.set(seen.matrices.get() + 1);
                if !has(structure, a, n) {
                    seen.unstructured.set(seen.unstructured.get() + 1);
                }
                for i in 0..n {
                    for j in 0..n {
                        for k in 0..n {
                            let (x, y) = (a[i * n + k] as f64, b[k * n + j] as f64);
                            c[m * n * n + i * n + j] += x * y;
                            s[m * n * n + i * n + j] += (x * y).abs();
                        }
                    }
                }
            }
            call.write_f64(2, &c)?;
            call.write_f64(3, &s)
        },
        |_| 0.001,
    );
    d
}

/// The candidates' ways of computing C[i, j] from the matrices of one batch element.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// Σ_k A[i, k]·B[k, j]: right for every A.
    Full,
    /// Σ_k A[k, i]·B[k, j], reading A as Aᵀ: right for a symmetric A only.
    Transposed,
    /// Σ_{k ≥ i} A[i, k]·B[k, j], skipping A's lower triangle: right for an upper-triangular A only.
    SkipLower,
}

fn product(way: Way, a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    let mut c = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            let ks = match way {
                Way::SkipLower => i..n,
                _ => 0..n,
            };
            c[i * n + j] = ks.fold(0f32, |acc, k| {
                let x = if let Way::Transposed = way { a[k * n + i] } else { a[i * n + k] };
                x.mul_add(b[k * n + j], acc)
            });
        }
    }
    c
}

fn mm_candidate(structure: &str, kernel: &str) -> Candidate {
    let source = format!(
        "/* sadoku\nproblem = \"{}\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"S\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"A\", \"B\", \"C\", \"S\", \"N\"]\n*/\nextern \"C\" __global__ void {kernel}(const float* A, const float* B, float* C, int S, int N) {{}}\n",
        mm_name(structure)
    );
    Candidate::from_source(&registry(), format!("{kernel}.cu"), source).unwrap()
}

fn mm_device(kernel: &str, way: Way) -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        kernel,
        &["u64", "u64", "u64", "u32", "u32"],
        move |call: &mut SimCall| -> Result<(), SimFault> {
            let (a, b) = (call.read(0)?, call.read(1)?);
            let (batch, n) = (call.int(3) as usize, call.int(4) as usize);
            let mut c = Vec::with_capacity(batch * n * n);
            for m in 0..batch {
                let r = m * n * n..(m + 1) * n * n;
                c.extend(product(way, &a[r.clone()], &b[r], n));
            }
            call.write(2, &c)
        },
        |_| 0.01,
    );
    d
}

fn options(sizes: &[Sizes], timed: Sizes) -> ReviewOptions {
    ReviewOptions {
        verify: VerifyOptions { sizes: sizes.to_vec(), ..Default::default() },
        timing: timing_options(),
        timed_sizes: Some(timed),
        ..ReviewOptions::default()
    }
}

fn review_on(
    dev: &mut SimDevice,
    judge: &mut SimDevice,
    candidate: &Candidate,
    options: &ReviewOptions,
) -> CandidateReport {
    let report = review_candidate(&mut Devices::new(dev, judge), candidate, &Seeds { master: 5 }, options, &Silent)
        .expect("the simulated environment does not fail");
    assert_eq!(judge.live_buffers(), 0, "the judge freed everything");
    report
}

fn review_mm(structure: &'static str, way: Way) -> (CandidateReport, Seen) {
    let kernel = format!("{way:?}").to_lowercase();
    let seen = Seen::default();
    let sizes: Vec<Sizes> = [(3, 1), (2, 17), (1, 24)].iter().map(|&(s, n)| Sizes::new([("S", s), ("N", n)])).collect();
    let report = review_on(
        &mut mm_device(&kernel, way),
        &mut judge(structure, &seen),
        &mm_candidate(structure, &kernel),
        &options(&sizes, Sizes::new([("S", 2), ("N", 12)])),
    );
    (report, seen)
}

fn inaccurate(r: &CandidateReport) -> bool {
    matches!(&r.verdict, Verdict::Rejected(Rejection::Inaccurate { .. }))
}

#[test]
fn every_draw_of_a_structured_input_has_its_structure_in_every_matrix() {
    for structure in ["upper", "symmetric"] {
        let (report, seen) = review_mm(structure, Way::Full);
        assert!(report.verdict.is_accepted(), "{structure}: {:?}", report.verdict);
        // Every trial (stress and the drawn size included) and every timed launch, each matrix of
        // each batch: the judge never drew one without the structure.
        let kinds: Vec<&str> = report.findings.trials.iter().map(|t| t.trial.as_str()).collect();
        assert!(kinds.iter().any(|t| t.contains("stress")), "{structure}: {kinds:?}");
        assert!(report.findings.trials.iter().any(|t| t.drawn), "{structure}: a size drawn at run time");
        assert!(report.findings.timing.is_some(), "{structure}: timed");
        assert!(seen.matrices.get() > 20, "{structure}: {} matrices", seen.matrices.get());
        assert_eq!(seen.unstructured.get(), 0, "{structure}: of {} matrices", seen.matrices.get());
    }
    // The judge's check would notice a draw without the structure: a dense problem's A is
    // neither upper-triangular nor symmetric.
    for structure in ["upper", "symmetric"] {
        let seen = Seen::default();
        let report = review_on(
            &mut mm_device("full", Way::Full),
            &mut judge(structure, &seen),
            &mm_candidate("dense", "full"),
            &options(&[Sizes::new([("S", 2), ("N", 17)])], Sizes::new([("S", 2), ("N", 12)])),
        );
        assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
        assert!(seen.unstructured.get() > 0, "{structure}: {} matrices, all {structure}", seen.matrices.get());
    }
}

/// A kernel written for the structure is right on the problem that declares it and wrong on the
/// others; the plain product is right everywhere.
#[test]
fn a_kernel_that_relies_on_the_declared_structure_is_accepted_there_and_rejected_elsewhere() {
    for (structure, way, accepted) in [
        ("dense", Way::Full, true),
        ("dense", Way::Transposed, false),
        ("dense", Way::SkipLower, false),
        ("upper", Way::Full, true),
        ("upper", Way::SkipLower, true),
        ("upper", Way::Transposed, false),
        ("symmetric", Way::Full, true),
        ("symmetric", Way::Transposed, true),
        ("symmetric", Way::SkipLower, false),
    ] {
        let (report, seen) = review_mm(structure, way);
        assert_eq!(seen.unstructured.get(), 0, "{structure}");
        if accepted {
            assert!(report.verdict.is_accepted(), "{structure} {way:?}: {:?} {:?}", report.verdict, report.evidence);
        } else {
            assert!(inaccurate(&report), "{structure} {way:?}: {:?}", report.verdict);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A bool mask.

/// The judge: y = x·m and its scale |x|, in fp64; it counts the mask's zeros, ones and any other
/// byte.
fn masked_judge(counts: Rc<Cell<[usize; 3]>>) -> SimDevice {
    let mut d = SimDevice::new();
    d.kernel(
        "masked_fp64",
        &["u64", "u64", "u64", "u64", "u64"],
        move |call: &mut SimCall| {
            let n = call.int(4) as usize;
            let x = call.read(0)?;
            let m = call.read_elements(1, Dtype::Bool)?;
            let mut c = counts.get();
            for &b in &m[..n] {
                c[(b as usize).min(2)] += 1;
            }
            counts.set(c);
            let y: Vec<f64> = (0..n).map(|i| x[i] as f64 * element::value(Dtype::Bool, m[i])).collect();
            call.write_f64(2, &y)?;
            call.write_f64(3, &x[..n].iter().map(|v| v.abs() as f64).collect::<Vec<_>>())
        },
        |_| 0.001,
    );
    d
}

fn masked_review(kernel: &str, honest: bool) -> (CandidateReport, [usize; 3]) {
    let source = format!(
        "/* sadoku\nproblem = \"sim_masked\"\n[[launch]]\nkernel = \"{kernel}\"\ngrid = [\"cdiv(N, 256)\", 1, 1]\nblock = [256, 1, 1]\nargs = [\"x\", \"m\", \"y\", \"N\"]\n*/\nextern \"C\" __global__ void {kernel}(const float* x, const bool* m, float* y, int n) {{}}\n"
    );
    let candidate = Candidate::from_source(&registry(), format!("{kernel}.cu"), source).unwrap();
    let mut dev = SimDevice::new();
    dev.kernel(
        kernel,
        &["u64", "u64", "u64", "u32"],
        move |call: &mut SimCall| -> Result<(), SimFault> {
            let n = call.int(3) as usize;
            let x = call.read(0)?;
            let m = call.read_elements(1, Dtype::Bool)?;
            let y: Vec<f32> = (0..n).map(|i| if !honest || m[i] != 0 { x[i] } else { 0.0 }).collect();
            call.write(2, &y)
        },
        |_| 0.01,
    );
    let counts = Rc::new(Cell::new([0; 3]));
    let sizes: Vec<Sizes> = [1, 17, 1000].iter().map(|&n| Sizes::new([("N", n)])).collect();
    let report =
        review_on(&mut dev, &mut masked_judge(counts.clone()), &candidate, &options(&sizes, Sizes::new([("N", 64)])));
    (report, counts.get())
}

#[test]
fn a_bool_mask_is_drawn_as_zeros_and_ones_and_a_kernel_that_ignores_it_is_rejected() {
    let (honest, [zeros, ones, other]) = masked_review("masked", true);
    assert!(honest.verdict.is_accepted(), "{:?} {:?}", honest.verdict, honest.evidence);
    assert!(honest.findings.timing.is_some(), "timed");
    assert_eq!(other, 0, "a bool holds 0 or 1");
    let total = zeros + ones;
    assert!(zeros * 3 > total && ones * 3 > total, "about half each: {zeros} zeros, {ones} ones");
    let (ignores, _) = masked_review("unmasked", false);
    assert!(inaccurate(&ignores), "{:?}", ignores.verdict);
}
