//! The real device on a real GPU. Ignored by default (CI has no GPU); scripts/gpu-check.sh runs
//! them with `--ignored` on the device machine.

use std::io::Write;
use std::time::Instant;

use sadoku_core::compile::{CompileRequest, Compiler};
use sadoku_core::device::compare::NONE;
use sadoku_core::device::element;
use sadoku_core::device::{
    Buffer, Comparison, Device, DeviceError, DeviceExt, Difference, Draw, KernelArg, Launch, LibraryOp, PoisonWords,
    Precision, SharedHandle, TimedRun, Trace, Work, as_bytes, compare_host, content_hash, diff_host, mix64,
    pattern_word,
};
use sadoku_core::generate;
use sadoku_core::problem::{Distribution, Dtype, Structure};
use sadoku_cuda::{CudaDevice, Nvrtc, Role};

fn open(role: Role) -> CudaDevice {
    CudaDevice::open(0, Nvrtc::new(None).expect("NVRTC"), role).expect("a GPU")
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn views_address_inside_their_allocation() {
    let mut d = open(Role::Candidate);
    let whole = d.alloc(1 << 20).unwrap();
    let zeros = vec![0u8; 1 << 20];
    d.upload(whole, &zeros).unwrap();
    let view = whole.view(65536, 4096);
    let data: Vec<u8> = (0..4096).map(|i| (i % 251) as u8 + 1).collect();
    d.upload(view, &data).unwrap();
    let mut all = vec![0u8; 1 << 20];
    d.download(whole, &mut all).unwrap();
    assert!(all[..65536].iter().all(|&b| b == 0), "nothing before the view");
    assert_eq!(&all[65536..65536 + 4096], &data[..]);
    assert!(all[65536 + 4096..].iter().all(|&b| b == 0), "nothing after the view");
    d.fill_u32(view, 0x7FCA_D0C0).unwrap();
    d.download(whole, &mut all).unwrap();
    assert!(all[..65536].iter().all(|&b| b == 0));
    assert_eq!(&all[65536..65540], &0x7FCA_D0C0u32.to_le_bytes());
    assert!(all[65536 + 4096..].iter().all(|&b| b == 0));
    let mut part = vec![0u8; 4096];
    d.download(view, &mut part).unwrap();
    assert_eq!(&part[..4], &0x7FCA_D0C0u32.to_le_bytes());
    // A view reaching past its allocation is refused, not followed.
    let outside = Buffer { id: whole.id, offset: (1 << 20) - 4, bytes: 8 };
    let err = d.upload(outside, &[0; 8]).unwrap_err();
    assert!(matches!(&err, DeviceError::Environment(m) if m.contains("outside its allocation")), "{err:?}");
    d.free(whole);
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn reference_gemms_match_the_cpu() {
    let mut d = open(Role::Reference);
    let (m, n, k) = (3usize, 5usize, 4usize);
    let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 2.0).collect();
    let b: Vec<f64> = (0..k * n).map(|i| 1.0 - i as f64 * 0.25).collect();
    let mut want = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    let (ba, bb, bc) = (d.alloc(m * k * 8).unwrap(), d.alloc(k * n * 8).unwrap(), d.alloc(m * n * 8).unwrap());
    d.upload_f64(ba, &a).unwrap();
    d.upload_f64(bb, &b).unwrap();
    d.run(&[Work::Library(LibraryOp::Gemm {
        precision: Precision::F64,
        m,
        n,
        k,
        a: ba,
        b: bb,
        c: bc,
        transpose_a: false,
        batch: 1,
    })])
    .unwrap();
    assert_eq!(d.download_f64(bc).unwrap(), want, "row-major C = A·B in fp64, exactly");

    let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
    let (fa, fb, fc) = (d.alloc(m * k * 4).unwrap(), d.alloc(k * n * 4).unwrap(), d.alloc(m * n * 4).unwrap());
    d.upload_f32(fa, &a32).unwrap();
    d.upload_f32(fb, &b32).unwrap();
    d.run(&[Work::Library(LibraryOp::Gemm {
        precision: Precision::F32,
        m,
        n,
        k,
        a: fa,
        b: fb,
        c: fc,
        transpose_a: false,
        batch: 1,
    })])
    .unwrap();
    let got: Vec<f64> = d.download_f32(fc).unwrap().iter().map(|&x| x as f64).collect();
    assert_eq!(got, want, "these small products are exact in fp32 too");

    // op(A) = Aᵀ for an A stored k×m, in fp64 and fp32.
    let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
    let bat = d.alloc(k * m * 8).unwrap();
    d.upload_f64(bat, &at).unwrap();
    d.run(&[Work::Library(LibraryOp::Gemm {
        precision: Precision::F64,
        m,
        n,
        k,
        a: bat,
        b: bb,
        c: bc,
        transpose_a: true,
        batch: 1,
    })])
    .unwrap();
    assert_eq!(d.download_f64(bc).unwrap(), want, "C = (Aᵀ)ᵀ·B with A stored transposed");
    let at32: Vec<f32> = at.iter().map(|&x| x as f32).collect();
    let fat = d.alloc(k * m * 4).unwrap();
    d.upload_f32(fat, &at32).unwrap();
    d.run(&[Work::Library(LibraryOp::Gemm {
        precision: Precision::F32,
        m,
        n,
        k,
        a: fat,
        b: fb,
        c: fc,
        transpose_a: true,
        batch: 1,
    })])
    .unwrap();
    let got: Vec<f64> = d.download_f32(fc).unwrap().iter().map(|&x| x as f64).collect();
    assert_eq!(got, want, "the same in fp32");
    // Two products in one strided batched call: the second batch entry is the first one again.
    let (a2, b2, c2) =
        (d.alloc(2 * m * k * 8).unwrap(), d.alloc(2 * k * n * 8).unwrap(), d.alloc(2 * m * n * 8).unwrap());
    d.upload_f64(a2, &[a.clone(), a.clone()].concat()).unwrap();
    d.upload_f64(b2, &[b.clone(), b.clone()].concat()).unwrap();
    d.run(&[Work::Library(LibraryOp::Gemm {
        precision: Precision::F64,
        m,
        n,
        k,
        a: a2,
        b: b2,
        c: c2,
        transpose_a: false,
        batch: 2,
    })])
    .unwrap();
    assert_eq!(d.download_f64(c2).unwrap(), [want.clone(), want.clone()].concat(), "strided batched, exactly");
    // |x| in fp32.
    library(&mut d, &[LibraryOp::Abs { src: fat, dst: fat, dtype: Dtype::F32 }]);
    assert!(d.download_f32(fat).unwrap().iter().zip(&at32).all(|(x, y)| *x == y.abs()));

    // tril zeroes the strict upper triangle of a square matrix.
    let sq = d.alloc(4 * 4 * 4).unwrap();
    d.upload_f32(sq, &[1.0; 16]).unwrap();
    d.run(&[Work::Library(LibraryOp::TrilF32 { c: sq, n: 4 })]).unwrap();
    let t = d.download_f32(sq).unwrap();
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(t[i * 4 + j], if j <= i { 1.0 } else { 0.0 });
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn a_candidate_device_refuses_library_work() {
    let mut d = open(Role::Candidate);
    let b = d.alloc(256).unwrap();
    let (f, o) = (b.view(0, 64), b.view(128, 128));
    let draw = Draw {
        distribution: Distribution::STANDARD_NORMAL,
        seed: 1,
        scale: 1.0,
        cols: 0,
        rows: 0,
        structure: Structure::Dense,
        dtype: Dtype::F32,
    };
    for op in [
        LibraryOp::TrilF32 { c: f, n: 4 },
        LibraryOp::Gemm { precision: Precision::F32, m: 2, n: 2, k: 2, a: f, b: f, c: f, transpose_a: false, batch: 1 },
        LibraryOp::Generate { buffer: f, draw },
        LibraryOp::Upcast { src: b.view(0, 32), dst: b.view(64, 64), abs: false, dtype: Dtype::F32 },
        LibraryOp::Fill { buffer: f, word: 1 },
        LibraryOp::Pattern { buffer: f, seed: 1, dtype: Dtype::F32 },
        LibraryOp::Copy { src: f, dst: b.view(64, 64) },
        LibraryOp::Hash { buffer: f, key: 1, out: o.view(0, 8) },
        LibraryOp::Compare {
            got: f,
            values: o,
            scale: o,
            factor: 1.0,
            poison: PoisonWords::Word(0),
            out: o,
            dtype: Dtype::F32,
        },
        LibraryOp::Diff { first: f, second: f, scale: o, factor: 1.0, out: o, dtype: Dtype::F32 },
    ] {
        let err = d.run(&[Work::Library(op.clone())]).unwrap_err();
        assert!(matches!(&err, DeviceError::Environment(m) if m.contains("candidate kernels only")), "{op:?}: {err:?}");
        let err = d.time(&TimedRun::plain(&[Work::Library(op.clone())])).unwrap_err();
        assert!(matches!(&err, DeviceError::Environment(m) if m.contains("candidate kernels only")), "{op:?}: {err:?}");
    }
    assert_eq!(d.info().cublas, None, "cuBLAS is never loaded for a candidate");
}

const KERNELS: &str = r#"
extern "C" __global__ void big_shared(float* out) {
    extern __shared__ float s[];
    const int n = 100 * 1024 / 4;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = (float)i;
    __syncthreads();
    if (threadIdx.x == 0) out[0] = s[n - 1];
}
extern "C" __global__ void wild(float* out) { *(volatile float*)(out + (1ll << 40)) = 1.0f; }
"#;

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn dynamic_shared_memory_above_48_kb_works_and_faults_are_final() {
    let mut d = open(Role::Candidate);
    let arch = d.info().arch();
    let m = d
        .compile(&CompileRequest { name: "k.cu".into(), source: KERNELS.into(), arch, options: vec![] })
        .expect("compiles");
    let h = d.load(&m).unwrap();
    let out = d.alloc(4).unwrap();
    let launch = |kernel: &str, shared_mem| {
        Work::Launch(Launch {
            module: h,
            kernel: kernel.into(),
            grid: [1, 1, 1],
            block: [256, 1, 1],
            shared_mem,
            args: vec![KernelArg::Buffer(out)],
        })
    };
    d.run(&[launch("big_shared", 100 * 1024)]).unwrap();
    assert_eq!(d.download_f32(out).unwrap(), vec![(100 * 1024 / 4 - 1) as f32]);
    let refused = d.run(&[launch("big_shared", 300_000)]).unwrap_err();
    assert!(matches!(refused, DeviceError::LaunchRefused { .. }), "{refused:?}");

    let fault = d.run(&[launch("wild", 0)]).unwrap_err();
    assert!(
        matches!(&fault, DeviceError::KernelFault { code, .. } if code == "CUDA_ERROR_ILLEGAL_ADDRESS"),
        "{fault:?}"
    );
    assert!(matches!(d.alloc(4), Err(DeviceError::ContextLost(_))), "nothing runs after a sticky fault");
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn nvrtc_reports_its_version() {
    let n = Nvrtc::new(None).unwrap();
    assert!(n.identity().starts_with("nvrtc 13."), "{}", n.identity());
}

/// Figures worth seeing even when the test passes (libtest captures print!, not direct writes).
fn show(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Reproducible pseudo-random words.
fn words(n: usize, seed: u64) -> Vec<u32> {
    (0..n as u64).map(|i| mix64(seed ^ mix64(i)) as u32).collect()
}

/// Run library work on the device and wait for it.
fn library(d: &mut CudaDevice, ops: &[LibraryOp]) {
    let work: Vec<Work> = ops.iter().cloned().map(Work::Library).collect();
    d.run(&work).expect("library work");
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn hash_pattern_fill_and_copy_match_the_host_functions_bit_for_bit() {
    let mut d = open(Role::Reference);
    // An odd size, so that the grid-stride loops and the reduction see a ragged end.
    let n = (1 << 22) + 37;
    let mut data = words(n, 1);
    data[5] = 0x8000_0000; // -0.0: hashed as its own bits
    let buf = d.alloc(n * 4).unwrap();
    d.upload(buf, as_bytes(&data)).unwrap();
    let view = buf.view(4096, 4 * 1000);
    let key = 0x5EED_CAFE_F00D_D00D;

    // Hashes: a whole buffer, a view, an empty view, another key; each into its own slot, which
    // starts out holding garbage.
    let out = d.alloc(8 * 4).unwrap();
    let slot = |k: usize| out.view(8 * k, 8);
    library(&mut d, &[LibraryOp::Fill { buffer: out, word: 0xDEAD_BEEF }]);
    library(
        &mut d,
        &[
            LibraryOp::Hash { buffer: buf, key, out: slot(0) },
            LibraryOp::Hash { buffer: view, key, out: slot(1) },
            LibraryOp::Hash { buffer: buf.view(0, 0), key, out: slot(2) },
            LibraryOp::Hash { buffer: buf, key: key + 1, out: slot(3) },
        ],
    );
    let want = vec![content_hash(&data, key), content_hash(&data[1024..2024], key), 0, content_hash(&data, key + 1)];
    assert_eq!(d.download_u64(out).unwrap(), want);
    assert_ne!(want[0], want[3], "another key, another hash");
    let mut zero = data.clone();
    zero[5] = 0;
    assert_ne!(content_hash(&zero, key), want[0], "-0.0 and +0.0 hash differently");
    // Hashing again overwrites the slot rather than adding to it.
    library(&mut d, &[LibraryOp::Hash { buffer: buf, key, out: slot(0) }]);
    assert_eq!(d.download_u64(slot(0)).unwrap(), vec![want[0]]);

    // The random-bits pattern: pattern_word, never NaN or infinite.
    let seed = 0x1234_5678_9ABC_DEF0;
    library(&mut d, &[LibraryOp::Pattern { buffer: buf, seed, dtype: Dtype::F32 }]);
    let want: Vec<u32> = (0..n as u64).map(|i| pattern_word(seed, i)).collect();
    assert_eq!(d.download_u32(buf).unwrap(), want, "device pattern == pattern_word");
    assert!(want.iter().all(|&w| f32::from_bits(w).is_finite()));
    let flipped = (0..n as u64)
        .filter(|&i| (mix64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 32) as u32 & 0x7F80_0000 == 0x7F80_0000)
        .count();
    assert!(flipped > n / 512, "the flip was exercised ({flipped} words)");

    // A fill, on a view only.
    library(&mut d, &[LibraryOp::Fill { buffer: view, word: 0x7FC0_0001 }]);
    let got = d.download_u32(buf).unwrap();
    assert!(got[1024..2024].iter().all(|&w| w == 0x7FC0_0001));
    assert_eq!(&got[..1024], &want[..1024]);
    assert_eq!(&got[2024..], &want[2024..]);

    // Copies: a whole buffer, and the smaller of two sizes.
    let other = d.alloc(n * 4).unwrap();
    library(&mut d, &[LibraryOp::Copy { src: buf, dst: other }]);
    assert_eq!(d.download_u32(other).unwrap(), got);
    library(
        &mut d,
        &[LibraryOp::Fill { buffer: other, word: 0 }, LibraryOp::Copy { src: view, dst: other.view(8, 400) }],
    );
    let copied = d.download_u32(other).unwrap();
    assert_eq!(&copied[..2], &[0, 0]);
    assert!(copied[2..102].iter().all(|&w| w == 0x7FC0_0001));
    assert!(copied[102..].iter().all(|&w| w == 0));

    // A timed run of nothing still reads the SM clock.
    let s = d.time(&TimedRun::plain(&[])).expect("a timed run of nothing");
    let mhz = s.sm_clock_mhz.expect("an SM clock");
    assert!((100.0..5000.0).contains(&mhz), "SM clock {mhz} MHz");
    assert!(s.wall_ms >= s.ms, "wall {} ms < events {} ms", s.wall_ms, s.ms);
    for b in [buf, out, other] {
        d.free(b);
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn upcast_widens_exactly() {
    let mut d = open(Role::Reference);
    let n = 100_003;
    let mut x: Vec<f32> = words(n, 3).into_iter().map(f32::from_bits).collect();
    x[..10].copy_from_slice(&[
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(1),
        -f32::from_bits(0x007F_FFFF),
        -3.5e30,
        f32::MIN_POSITIVE,
        -1.5,
        f32::NAN,
    ]);
    let (src, dst) = (d.alloc(n * 4).unwrap(), d.alloc(n * 8).unwrap());
    d.upload_f32(src, &x).unwrap();
    for abs in [false, true] {
        library(&mut d, &[LibraryOp::Upcast { src, dst, abs, dtype: Dtype::F32 }]);
        let got = d.download_f64(dst).unwrap();
        for (i, (g, v)) in got.iter().zip(&x).enumerate() {
            let want = if abs { (*v as f64).abs() } else { *v as f64 };
            if v.is_nan() {
                assert!(g.is_nan(), "element {i}: {v} gave {g}");
            } else {
                assert_eq!(g.to_bits(), want.to_bits(), "element {i}: {v} (abs {abs}) gave {g}");
            }
        }
    }
    // A destination too small is refused.
    let err = d
        .run(&[Work::Library(LibraryOp::Upcast { src, dst: dst.view(0, 8 * (n - 1)), abs: false, dtype: Dtype::F32 })])
        .unwrap_err();
    assert!(matches!(err, DeviceError::Environment(_)), "{err:?}");
    d.free(src);
    d.free(dst);
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn generate_matches_the_host_generator() {
    let mut d = open(Role::Reference);
    let n = (1 << 20) + 7;
    let buf = d.alloc(n * 4).unwrap();
    for distribution in [
        Distribution::STANDARD_NORMAL,
        Distribution::UNIT_UNIFORM,
        Distribution::Randn { mean: 1.5, std: 0.25 },
        Distribution::Uniform { lo: -3.0, hi: 5.0 },
    ] {
        // Flat, one square matrix (and 7 elements of a second), batches of small square and
        // oblong matrices: every structure, the row within its matrix deciding.
        let shapes = [
            (0, 0, Structure::Dense),
            (1024, 1024, Structure::Lower),
            (1000, 1, Structure::Dense),
            (100, 100, Structure::Lower),
            (100, 100, Structure::Upper),
            (1000, 37, Structure::Upper),
            (1024, 1024, Structure::Symmetric),
            (100, 100, Structure::Symmetric),
        ];
        for (cols, rows, structure) in shapes {
            for seed in [7u64, 0xDEAD_BEEF_0123_4567] {
                let draw = Draw { distribution, seed, scale: -0.5, cols, rows, structure, dtype: Dtype::F32 };
                library(&mut d, &[LibraryOp::Generate { buffer: buf, draw }]);
                let got = d.download_f32(buf).unwrap();
                let want = generate::values(&draw, n);
                let mut off = 0usize;
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    if g.to_bits() == w.to_bits() {
                        continue;
                    }
                    // CUDA's log and cos are within an ulp of glibc's; after rounding to fp32 that
                    // almost never shows.
                    let ulps = (g.to_bits() as i64 - w.to_bits() as i64).abs();
                    assert!(
                        matches!(distribution, Distribution::Randn { .. }) && ulps == 1,
                        "{draw:?}: element {i} is {g:e} on the GPU, {w:e} on the host"
                    );
                    off += 1;
                }
                if off > 0 {
                    show(&format!("{draw:?}: {off} of {n} elements one ulp off the host's"));
                }
                assert!(off as f64 <= 1e-5 * n as f64, "{draw:?}: {off} elements differ");
                // The structure on the GPU's own draw, in every whole matrix.
                let (c, r) = (cols as usize, rows as usize);
                let whole = n.checked_div(c * r).map_or(0, |m| m * c * r);
                for i in 0..whole {
                    let (row, col) = (i / c % r, i % c);
                    let ok = match structure {
                        Structure::Dense => true,
                        Structure::Lower => col <= row || got[i] == 0.0,
                        Structure::Upper => col >= row || got[i] == 0.0,
                        Structure::Symmetric => got[i].to_bits() == got[i - row * c - col + col * c + row].to_bits(),
                    };
                    assert!(ok, "{draw:?}: element {i} ({row}, {col}) is {}", got[i]);
                }
            }
        }
    }
    d.free(buf);
}

/// A sum of many terms with a compensation (Neumaier's): accurate to about one rounding.
fn accurate_sum(terms: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut carry) = (0.0f64, 0.0f64);
    for x in terms {
        let t = sum + x;
        carry += if sum.abs() >= x.abs() { (sum - t) + x } else { (x - t) + sum };
        sum = t;
    }
    sum + carry
}

/// A Comparison's fields: all exact but the two sums, which may differ by the order of their
/// additions. Those are checked against accurate sums of the same terms: tightly for the device (a
/// tree of sums), within compare_host's worst case ((n - 1) roundings of a sequential sum) for the host.
fn assert_same_comparison(got: &Comparison, want: &Comparison, accurate: (f64, f64), what: &str) {
    let exact = |c: &Comparison| {
        (
            c.elements,
            c.over_bound,
            c.nonfinite,
            c.unwritten,
            c.first_unwritten,
            c.worst_ratio.to_bits(),
            c.worst_index,
            c.worst_got,
            c.worst_expected.to_bits(),
        )
    };
    assert_eq!(exact(got), exact(want), "{what}: device {got:?}, host {want:?}");
    let n = want.elements as f64;
    for (g, w, a, name) in [(got.err2, want.err2, accurate.0, "err2"), (got.ref2, want.ref2, accurate.1, "ref2")] {
        let near = |x: f64, tolerance: f64| x == a || (x - a).abs() <= tolerance * a.abs();
        assert!(near(g, 1e-12), "{what}: {name} {g:e} on the device, {a:e} summed accurately");
        assert!(near(w, n * f64::EPSILON), "{what}: {name} {w:e} by compare_host, {a:e} summed accurately");
    }
}

fn w64(v: &[u32]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

/// Run Compare on the device (twice: the same bits each time) and check it against compare_host.
fn check_compare(d: &mut CudaDevice, got: &[u32], values: &[f64], scale: &[f64], factor: f64, poison: PoisonWords) {
    let got: Vec<u64> = got.iter().map(|&w| w as u64).collect();
    check_compare_as(d, Dtype::F32, &got, values, scale, factor, poison)
}

/// check_compare for elements of any dtype (bits).
fn check_compare_as(
    d: &mut CudaDevice,
    dtype: Dtype,
    got: &[u64],
    values: &[f64],
    scale: &[f64],
    factor: f64,
    poison: PoisonWords,
) {
    let n = got.len();
    let (g, v, s, out) = (
        d.alloc(n * dtype.bytes()).unwrap(),
        d.alloc(n * 8).unwrap(),
        d.alloc(n * 8).unwrap(),
        d.alloc(Comparison::WORDS * 8).unwrap(),
    );
    d.upload(g, &element::write(dtype, got)).unwrap();
    d.upload_f64(v, values).unwrap();
    d.upload_f64(s, scale).unwrap();
    library(d, &[LibraryOp::Fill { buffer: out, word: 0xA5A5_A5A5 }]);
    let op = LibraryOp::Compare { got: g, values: v, scale: s, factor, poison, out, dtype };
    library(d, std::slice::from_ref(&op));
    let words = d.download_u64(out).unwrap();
    assert!(words[12..].iter().all(|&w| w == 0), "unused words are zero: {words:x?}");
    let c = Comparison::from_words(&words);
    let want = compare_host(dtype, got, values, scale, factor, poison);
    let err2 = accurate_sum(got.iter().zip(values).filter(|(g, _)| element::finite(dtype, **g)).map(|(g, t)| {
        let e = element::value(dtype, *g) - t;
        e * e
    }));
    let ref2 = accurate_sum(values.iter().map(|t| t * t));
    assert_same_comparison(&c, &want, (err2, ref2), &format!("{dtype}, n = {n}, {poison:?}"));
    let scale2 = accurate_sum(scale.iter().filter(|s| s.is_finite()).map(|s| s * s));
    for (x, name) in [(c.scale2, "the device's"), (want.scale2, "compare_host's")] {
        assert!(
            x == scale2 || (x - scale2).abs() <= 1e-12 * scale2.abs().max(1e-300),
            "{name} scale2 {x:e}, {scale2:e} summed accurately"
        );
    }
    library(d, &[op]);
    assert_eq!(d.download_u64(out).unwrap(), words, "n = {n}: the same sums, bit for bit, every time");
    for b in [g, v, s, out] {
        d.free(b);
    }
}

/// Run Diff on the device and check it against diff_host, exactly.
fn check_diff(d: &mut CudaDevice, first: &[u32], second: &[u32], scale: &[f64], factor: f64) -> Difference {
    let w = |v: &[u32]| v.iter().map(|&x| x as u64).collect::<Vec<u64>>();
    check_diff_as(d, Dtype::F32, &w(first), &w(second), scale, factor)
}

/// check_diff for elements of any dtype (bits).
fn check_diff_as(
    d: &mut CudaDevice,
    dtype: Dtype,
    first: &[u64],
    second: &[u64],
    scale: &[f64],
    factor: f64,
) -> Difference {
    let n = first.len();
    let (a, b, s, out) = (
        d.alloc(n * dtype.bytes()).unwrap(),
        d.alloc(n * dtype.bytes()).unwrap(),
        d.alloc(n * 8).unwrap(),
        d.alloc(Difference::WORDS * 8).unwrap(),
    );
    d.upload(a, &element::write(dtype, first)).unwrap();
    d.upload(b, &element::write(dtype, second)).unwrap();
    d.upload_f64(s, scale).unwrap();
    library(d, &[LibraryOp::Fill { buffer: out, word: 0xA5A5_A5A5 }]);
    library(d, &[LibraryOp::Diff { first: a, second: b, scale: s, factor, out, dtype }]);
    let words = d.download_u64(out).unwrap();
    assert!(words[5..].iter().all(|&w| w == 0), "unused words are zero: {words:x?}");
    let got = Difference::from_words(&words);
    let want = diff_host(dtype, first, second, scale, factor);
    assert_eq!(got, want, "{dtype}, n = {n}");
    for x in [a, b, s, out] {
        d.free(x);
    }
    got
}

/// Truth in [-5, 5), its bounds' scale, and the fp32 rounding of the truth.
fn truth(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<u32>) {
    let values: Vec<f64> = words(n, seed).iter().map(|&w| (w as f64 / u32::MAX as f64 - 0.5) * 10.0).collect();
    let scale = values.iter().map(|v| v.abs() + 1.0).collect();
    let got = values.iter().map(|&v| (v as f32).to_bits()).collect();
    (values, scale, got)
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn compare_and_diff_match_the_host_comparators() {
    let mut d = open(Role::Reference);
    // fp32 rounding is within 6e-8 |v| ≤ 1e-6 (|v| + 1): only planted errors are over their bound.
    let factor = 1e-6;
    let nan_poison = 0x7FCA_D0C0u32;

    // Planted errors, NaNs, infinities and poison, in the first and the last blocks.
    let n = (1 << 20) + 37;
    let seed = 0x0BAD_5EED;
    let (mut values, mut scale, mut got) = truth(n, 4);
    got[100] = (values[100] as f32 + 0.5).to_bits();
    got[200] = f32::NAN.to_bits();
    got[300] = f32::INFINITY.to_bits();
    got[n - 5] = nan_poison;
    for i in [400, 401, 402, n - 3] {
        got[i] = pattern_word(seed, i as u64);
    }
    // A poison word that is the right answer is written.
    values[500] = f32::from_bits(pattern_word(seed, 500)) as f64;
    scale[500] = values[500].abs() + 1.0;
    got[500] = pattern_word(seed, 500);
    let host = compare_host(Dtype::F32, &w64(&got), &values, &scale, factor, PoisonWords::Pattern(seed));
    assert_eq!((host.unwritten, host.first_unwritten, host.nonfinite, host.worst_index), (4, 400, 3, 200));
    check_compare(&mut d, &got, &values, &scale, factor, PoisonWords::Pattern(seed));
    check_compare(&mut d, &got, &values, &scale, factor, PoisonWords::Word(nan_poison));
    check_compare(&mut d, &got, &values, &scale, factor, PoisonWords::Word(got[100]));

    // Finite only, the worst ratio tied far apart (the lowest index wins), and zero bounds.
    let n = 777_777;
    let (mut values, mut scale, mut got) = truth(n, 5);
    for i in [700_000, 1000, 500_000] {
        (values[i], scale[i], got[i]) = (1.0, 1.0, 1.5f32.to_bits());
    }
    (values[50], scale[50], got[50]) = (2.0, 0.0, 2f32.to_bits());
    got[60] = (values[60] as f32 * 1.000_001).to_bits();
    let host = compare_host(Dtype::F32, &w64(&got), &values, &scale, factor, PoisonWords::Word(nan_poison));
    assert_eq!((host.worst_index, host.nonfinite, host.over_bound), (1000, 0, 3));
    check_compare(&mut d, &got, &values, &scale, factor, PoisonWords::Word(nan_poison));
    scale[70] = 0.0;
    got[70] = (values[70] as f32 * 1.5).to_bits();
    check_compare(&mut d, &got, &values, &scale, factor, PoisonWords::Word(nan_poison));

    // Small and ragged sizes, nothing at all included.
    for n in [0usize, 1, 255, 256, 257, 1000, 256 * 132 * 16 + 1] {
        let (values, scale, mut got) = truth(n, 6);
        if n > 0 {
            got[n - 1] = f32::NAN.to_bits();
            got[n / 2] = (values[n / 2] as f32 + 1.0).to_bits();
        }
        check_compare(&mut d, &got, &values, &scale, factor, PoisonWords::Pattern(1));
    }

    // Diff: bits that differ within rounding, NaNs against NaNs and against numbers, real moves.
    let n = (1 << 20) + 37;
    let (_, scale, first) = truth(n, 7);
    let mut second = first.clone();
    second[10] ^= 1; // one ulp: within the bound
    second[20] = (f32::from_bits(first[20]) + 0.5).to_bits(); // moved
    (second[30], second[31]) = (0x7FC0_0000, 0x7FC0_0001); // NaN against number: moved
    let mut first = first;
    (first[31], first[32], second[32]) = (0x7FC0_0002, 0x7FC0_0003, 0xFFC0_0000); // NaN against NaN: not moved
    second[n - 2] = (f32::from_bits(first[n - 2]) * 2.0).to_bits();
    let diff = check_diff(&mut d, &first, &second, &scale, factor);
    assert_eq!((diff.bits_differ, diff.moved, diff.first_moved), (6, 3, 20));
    let same = check_diff(&mut d, &first, &first, &scale, factor);
    assert_eq!((same.bits_differ, same.moved, same.first_moved), (0, 0, NONE));
    for n in [0usize, 1, 257] {
        let (_, scale, first) = truth(n, 8);
        let second: Vec<u32> = first.iter().map(|&w| w ^ 0x10).collect();
        check_diff(&mut d, &first, &second, &scale, factor);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn an_exported_allocation_maps_into_another_process() {
    const NAME: &str = "an_exported_allocation_maps_into_another_process";
    let words_shared = 1 << 18;
    let seed = 99;
    // The worker's side, in a process of its own (CUDA IPC does not map into the exporting process).
    if let Some(handle) = std::env::var_os("SADOKU_TEST_IPC_HANDLE") {
        let bytes: usize = std::env::var("SADOKU_TEST_IPC_BYTES").unwrap().parse().unwrap();
        let mut d = open(Role::Candidate);
        let b = d.import(&SharedHandle { handle: unhex(handle.to_str().unwrap()), bytes }).expect("import");
        assert_eq!((b.offset, b.bytes), (0, bytes));
        let want: Vec<u32> = (0..words_shared as u64).map(|i| pattern_word(seed, i)).collect();
        assert_eq!(d.download_u32(b.view(0, 4 * words_shared)).unwrap(), want, "the judge's words");
        d.fill_u32(b.view(bytes - 12, 12), 0xC0FF_EE00).unwrap();
        d.free(b);
        return;
    }

    let mut d = open(Role::Reference);
    let bytes = 4 * words_shared + 12;
    let judge_only = d.alloc(bytes).unwrap();
    assert_eq!(d.export(judge_only), Err(DeviceError::NotShareable(judge_only.id)), "judge-only memory stays");
    d.free(judge_only);
    let buf = d.alloc_shared(bytes).unwrap();
    library(&mut d, &[LibraryOp::Pattern { buffer: buf.view(0, 4 * words_shared), seed, dtype: Dtype::F32 }]);
    let shared = d.export(buf.view(4096, 64)).expect("export");
    assert_eq!(shared.handle.len(), 64, "a CUipcMemHandle");
    assert_eq!(shared.bytes, bytes, "the whole allocation, whatever the view");
    let err = d.import(&SharedHandle { handle: vec![0; 63], bytes }).unwrap_err();
    assert!(matches!(&err, DeviceError::Environment(m) if m.contains("CUDA IPC")), "{err:?}");
    match d.import(&SharedHandle { handle: vec![0; 64], bytes }) {
        Err(DeviceError::Environment(m)) => assert!(m.contains("CUDA IPC") && m.contains("cuIpcOpenMemHandle"), "{m}"),
        other => panic!("a null handle: {other:?}"),
    }

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", NAME, "--nocapture"])
        .env("SADOKU_TEST_IPC_HANDLE", hex(&shared.handle))
        .env("SADOKU_TEST_IPC_BYTES", shared.bytes.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "the worker's side: {text}");
    assert_eq!(d.download_u32(buf.view(bytes - 12, 12)).unwrap(), vec![0xC0FF_EE00; 3], "the worker's words");
    d.free(buf);
}

/// A candidate's kernels that look around the buffers they are given: `scan` reads every word of
/// the 2 MiB blocks that hold its buffer (counting the judge's marker words, and non-zero words
/// outside the buffer's own bytes), `peek` reads one word at an offset from its buffer.
const SCAN: &str = r#"
extern "C" __global__ void sadoku_test_scan(const unsigned int* buf, long long bytes, int marker, unsigned long long* out) {
    const unsigned long long block = 2ull << 20;
    unsigned long long base = (unsigned long long)buf, end = base + (unsigned long long)bytes;
    unsigned long long lo = base & ~(block - 1), hi = (end + block - 1) & ~(block - 1);
    const unsigned int* p = (const unsigned int*)lo;
    unsigned long long n = (hi - lo) / 4, found = 0, foreign = 0;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned int w = p[i];
        unsigned long long at = lo + 4 * i;
        if (w == (unsigned int)marker) found++;
        if ((at < base || at >= end) && w != 0u) foreign++;
    }
    if (found) atomicAdd(&out[0], found);
    if (foreign) atomicAdd(&out[1], foreign);
    if (blockIdx.x == 0 && threadIdx.x == 0) { out[2] = n; out[3] = base - lo; }
}
extern "C" __global__ void sadoku_test_peek(const unsigned int* buf, long long offset, unsigned long long* out) {
    out[0] = *(const volatile unsigned int*)((const char*)buf + offset);
}
"#;

/// The judge's marker: every word of its judge-only memory in the test below.
const MARKER: u32 = 0x5AD0_7E11;

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn a_candidates_mapping_reaches_nothing_of_the_judges() {
    const NAME: &str = "a_candidates_mapping_reaches_nothing_of_the_judges";
    // The candidate's side, in a process of its own: every handle mapped, every block scanned.
    if let Some(list) = std::env::var_os("SADOKU_TEST_IPC_HANDLES") {
        let mut d = open(Role::Candidate);
        let arch = d.info().arch();
        let m = d.compile(&CompileRequest { name: "scan.cu".into(), source: SCAN.into(), arch, options: vec![] });
        let h = d.load(&m.expect("compiles")).unwrap();
        let out = d.alloc(64).unwrap();
        let mut mapped = Vec::new();
        for item in list.to_str().unwrap().split(',') {
            let (handle, bytes) = item.split_once(':').unwrap();
            let bytes: usize = bytes.parse().unwrap();
            let b = d.import(&SharedHandle { handle: unhex(handle), bytes }).expect("import");
            mapped.push((b, bytes));
        }
        let launch = |kernel: &str, args: Vec<KernelArg>| {
            Work::Launch(Launch {
                module: h,
                kernel: kernel.into(),
                grid: [264, 1, 1],
                block: [256, 1, 1],
                shared_mem: 0,
                args,
            })
        };
        for &(b, bytes) in &mapped {
            d.upload(out, &[0u8; 64]).unwrap();
            let args = vec![KernelArg::Buffer(b), KernelArg::I64(bytes as i64), KernelArg::I32(MARKER as i32)];
            d.run(&[launch("sadoku_test_scan", [args, vec![KernelArg::Buffer(out)]].concat())]).expect("the scan");
            let w = d.download_u64(out).unwrap();
            show(&format!("mapped {bytes} bytes: scanned {} words, base {} bytes into its block", w[2], w[3]));
            assert_eq!(w[3], 0, "the mapping of {bytes} bytes starts on a 2 MiB block boundary");
            assert_eq!(w[2] as usize * 4, bytes.next_multiple_of(2 << 20), "the blocks of {bytes} bytes");
            assert_eq!(w[0], 0, "the judge's marker found in the blocks of a buffer of {bytes} bytes");
            assert_eq!(w[1], 0, "non-zero words beside a buffer of {bytes} bytes");
        }
        // One word past the last mapping: a fault, or (another mapping of this process there)
        // anything but the judge's.
        let &(b, bytes) = mapped.last().unwrap();
        let past = bytes.next_multiple_of(2 << 20) as i64;
        let peek = vec![KernelArg::Buffer(b), KernelArg::I64(past), KernelArg::Buffer(out)];
        match d.run(&[launch("sadoku_test_peek", peek)]) {
            Err(DeviceError::KernelFault { code, .. }) => show(&format!("past the mapping: {code}")),
            Ok(()) => {
                let w = d.download_u64(out).unwrap()[0];
                show(&format!("past the mapping: read {w:#x}"));
                assert_ne!(w, MARKER as u64, "the judge's marker past the mapping");
            }
            Err(e) => panic!("past the mapping: {e:?}"),
        }
        return;
    }

    // The judge: small judge-only buffers (truth, kept outputs, slots) full of the marker, the
    // shared ones among them, as a review allocates them.
    let mut d = open(Role::Reference);
    let mut judge_only = Vec::new();
    let mut shared = Vec::new();
    let fill = |d: &mut CudaDevice, b: Buffer, word: u32| library(d, &[LibraryOp::Fill { buffer: b, word }]);
    // Judge-only memory of 2 MiB, freed: the driver hands it back with its contents.
    let recycled = d.alloc(2 << 20).unwrap();
    fill(&mut d, recycled, MARKER);
    d.free(recycled);
    let asked = [17 * 17 * 4 + 2 * 4096, 4, 1000, 17 * 17 * 8, 2 << 20, (2 << 20) + 4, 3 << 20];
    for (i, asked) in asked.iter().enumerate() {
        for bytes in [17 * 17 * 8, 8 * 64, 4096, 100_000 + 8 * i] {
            let b = d.alloc(bytes).unwrap();
            fill(&mut d, b, MARKER);
            judge_only.push(b);
        }
        let b = d.alloc_shared(*asked).unwrap();
        assert_eq!(b.bytes, *asked);
        fill(&mut d, b.view(0, asked / 4 * 4), 0x3F80_0000);
        shared.push(b);
    }
    let list: Vec<String> = shared
        .iter()
        .map(|&b| {
            let h = d.export(b).expect("export");
            assert_eq!(h.bytes, b.bytes);
            format!("{}:{}", hex(&h.handle), h.bytes)
        })
        .collect();
    for &b in &judge_only {
        assert_eq!(d.export(b), Err(DeviceError::NotShareable(b.id)));
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", NAME, "--nocapture"])
        .env("SADOKU_TEST_IPC_HANDLES", list.join(","))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    show(&text);
    assert!(out.status.success() && text.contains("1 passed"), "the candidate's side: {text}");
    for b in judge_only.into_iter().chain(shared) {
        d.free(b);
    }
}

const TRACED: &str = r#"
extern "C" __global__ void traced_axpy(float* x, int n) {
    extern __shared__ float s[];
    s[threadIdx.x] = 2.0f;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] = s[threadIdx.x] * x[i] + 1.0f;
}
"#;

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn a_timed_run_is_traced_inside_its_window() {
    let mut d = open(Role::Reference);
    let arch = d.info().arch();
    let m = d
        .compile(&CompileRequest { name: "traced.cu".into(), source: TRACED.into(), arch, options: vec![] })
        .expect("compiles");
    let h = d.load(&m).unwrap();
    let n = 1 << 24;
    let x = d.alloc(n * 4).unwrap();
    let sq = d.alloc(512 * 512 * 4).unwrap();
    let work = vec![
        Work::Launch(Launch {
            module: h,
            kernel: "traced_axpy".into(),
            grid: [264, 1, 1],
            block: [128, 1, 1],
            shared_mem: 512,
            args: vec![KernelArg::Buffer(x), KernelArg::I32(n as i32)],
        }),
        Work::Library(LibraryOp::TrilF32 { c: sq, n: 512 }),
    ];
    for sample in 0..3 {
        // Fresh inputs before each sample (untimed, untraced).
        d.run(&[Work::Library(LibraryOp::Pattern { buffer: x, seed: sample, dtype: Dtype::F32 })]).unwrap();
        let s = d.time(&TimedRun::plain(&work)).unwrap();
        assert!(s.ms > 0.0 && s.wall_ms >= s.ms, "events {} ms, wall {} ms", s.ms, s.wall_ms);
        let Trace::Traced { stream, window_ns, kernels } = &s.trace else {
            panic!("sample {sample} not traced: {:?}", s.trace);
        };
        show(&format!(
            "sample {sample}: events {:.3} ms, wall {:.3} ms, window {:.3} ms, SM clock {:?} MHz, stream {stream}",
            s.ms,
            s.wall_ms,
            (window_ns.1 - window_ns.0) as f64 / 1e6,
            s.sm_clock_mhz
        ));
        for k in kernels {
            show(&format!("  {k:?}"));
        }
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["traced_axpy", "sadoku_tril_f32"], "the work's kernels, and no timing helper");
        let k = &kernels[0];
        assert_eq!((k.grid, k.block), ([264, 1, 1], [128, 1, 1]));
        assert!(k.shared_bytes >= 512, "static + dynamic shared memory: {}", k.shared_bytes);
        assert!(k.registers > 0);
        for k in kernels {
            assert_eq!(k.stream, *stream, "{} ran on the device's stream", k.name);
            assert!(
                window_ns.0 <= k.start_ns && k.start_ns <= k.end_ns && k.end_ns <= window_ns.1,
                "{k:?} inside {window_ns:?}"
            );
        }
        // The window brackets the events, so it is at least as long as the event time (give or
        // take the two clocks' resolution).
        assert!((window_ns.1 - window_ns.0) as f64 / 1e6 + 0.002 >= s.ms, "window {window_ns:?} vs {} ms", s.ms);
    }
    d.free(x);
    d.free(sq);
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn tracing_can_be_disabled() {
    // The tracer is set up once per process: check in a fresh process with the variable set.
    if std::env::var_os("SADOKU_NO_CUPTI").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "tracing_can_be_disabled", "--nocapture"])
            .env("SADOKU_NO_CUPTI", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    let mut d = open(Role::Candidate);
    let b = d.alloc(4096).unwrap();
    d.fill_u32(b, 0).unwrap();
    let axpy = Work::Launch(Launch {
        module: {
            let arch = d.info().arch();
            let m = d
                .compile(&CompileRequest { name: "traced.cu".into(), source: TRACED.into(), arch, options: vec![] })
                .expect("compiles");
            d.load(&m).unwrap()
        },
        kernel: "traced_axpy".into(),
        grid: [1, 1, 1],
        block: [128, 1, 1],
        shared_mem: 512,
        args: vec![KernelArg::Buffer(b), KernelArg::I32(1024)],
    });
    let s = d.time(&TimedRun::plain(&[axpy])).unwrap();
    assert_eq!(s.trace, Trace::Unavailable { why: "disabled by SADOKU_NO_CUPTI".into() });
    assert!(s.ms > 0.0);
    assert!(s.sm_clock_mhz.is_some());
    assert_eq!(d.download_f32(b).unwrap(), vec![1.0; 1024], "the work ran: 2 × 0 + 1");
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn ceilings_are_measured_once_and_cached_per_gpu() {
    let root = std::env::temp_dir().join(format!("sadoku-ceilings-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("ceilings");

    let mut c = open(Role::Candidate);
    assert_eq!(c.ceilings().unwrap(), None, "a candidate's device does not measure");
    drop(c);

    let mut d = open(Role::Reference);
    d.set_ceilings_cache_dir(Some(dir.clone()));
    let started = Instant::now();
    let first = d.ceilings().unwrap().expect("a reference device measures");
    show(&format!(
        "ceilings of {} (measured in {:.2} s): fp32 {:.1} TFLOP/s, TF32 {:.1} TFLOP/s, BF16 {:.1} TFLOP/s, DRAM {:.0} GB/s",
        d.info().name,
        started.elapsed().as_secs_f64(),
        first.fp32_tflops,
        first.tf32_tflops,
        first.bf16_tflops,
        first.dram_gbs
    ));
    assert!(first.fp32_tflops > 10.0, "{first:?}");
    assert!(first.tf32_tflops > first.fp32_tflops, "{first:?}");
    assert!(first.bf16_tflops > first.tf32_tflops, "{first:?}");
    assert!(first.dram_gbs > 500.0, "{first:?}");
    assert_eq!(d.ceilings().unwrap(), Some(first), "asked again: the same figures");

    // One file, named by the GPU's UUID, saying what it is valid for.
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = files[0].clone();
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("GPU-") && name.ends_with(".json"), "{name}");
    // A seal line, then the figures.
    let sealed = std::fs::read_to_string(&file).unwrap();
    let (seal, text) = sealed.split_once('\n').unwrap();
    assert!(seal.starts_with("sadoku-sealed 1 "), "{seal}");
    let mut json: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(json["device"], d.info().name.as_str());
    assert_eq!(json["cuda_driver"], d.info().cuda_driver.as_str());
    show(&format!("cache file {}: {json}", file.display()));
    drop(d);

    // A fresh device reads the entry: served at once.
    let mut d = open(Role::Reference);
    d.set_ceilings_cache_dir(Some(dir.clone()));
    let started = Instant::now();
    assert_eq!(d.ceilings().unwrap(), Some(first), "served from the cache");
    assert!(started.elapsed().as_millis() < 200, "no measurement: {:?}", started.elapsed());
    drop(d);

    // Doctored figures under the old seal (a worker or another user planting a ceiling that would
    // let impossible speeds pass) are not trusted: measured again, and the entry rewritten.
    json["ceilings"]["fp32_tflops"] = 12345.0.into();
    std::fs::write(&file, format!("{seal}\n{json}")).unwrap();
    let mut d = open(Role::Reference);
    d.set_ceilings_cache_dir(Some(dir.clone()));
    let again = d.ceilings().unwrap().unwrap();
    assert!(again.fp32_tflops < 1000.0, "re-measured: {again:?}");
    let rewritten = std::fs::read_to_string(&file).unwrap();
    assert!(!rewritten.contains("12345"), "{rewritten}");
    drop(d);
    let _ = std::fs::remove_dir_all(&root);
}

/// u8 and bool inputs (one byte an element: masks, codes) on the device: the generator's integer
/// draws (and a structured one), the poison pattern, |x| and widening, element for element the
/// host's.
#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn byte_inputs_match_the_host() {
    use sadoku_core::device::pattern_element;
    let mut d = open(Role::Reference);
    let n: usize = (1 << 18) + 3;
    for (dtype, hi) in [(Dtype::Bool, 2), (Dtype::U8, 256)] {
        let buf = d.alloc(n.next_multiple_of(4)).unwrap();
        let (rows, cols) = (61u64, 61u64);
        for (structure, lo, hi) in [(Structure::Dense, 0, hi), (Structure::Dense, 1, hi), (Structure::Lower, 0, hi)] {
            let distribution = Distribution::Int { lo, hi };
            let draw = Draw { distribution, seed: 3, scale: -2.0, cols, rows, structure, dtype };
            library(&mut d, &[LibraryOp::Generate { buffer: buf.view(0, n), draw }]);
            let got = d.download_elements(buf.view(0, n), dtype).unwrap();
            let want = generate::elements(&draw, n);
            let off = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            assert_eq!(off, 0, "{dtype} {distribution} {structure}: {off} of {n} elements differ from the host's");
            assert!(got.iter().all(|&x| (x as i64) < hi), "{dtype}: values in [0, {hi})");
        }
        // The bytes past the view are untouched: one byte an element, not four.
        library(&mut d, &[LibraryOp::Fill { buffer: buf, word: 0xABAB_ABAB }]);
        let draw = Draw {
            distribution: Distribution::Int { lo: 0, hi },
            seed: 4,
            scale: 1.0,
            cols: 0,
            rows: 0,
            structure: Structure::Dense,
            dtype,
        };
        library(&mut d, &[LibraryOp::Generate { buffer: buf.view(0, n), draw }]);
        let mut bytes = vec![0u8; buf.bytes];
        d.download(buf, &mut bytes).unwrap();
        assert!(bytes[n..].iter().all(|&b| b == 0xAB), "{dtype}: nothing written past the view");
        let got = element::read(dtype, &bytes[..n]);
        let (abs, wide) = (d.alloc(n.next_multiple_of(4)).unwrap(), d.alloc(n * 8).unwrap());
        library(&mut d, &[LibraryOp::Abs { src: buf.view(0, n), dst: abs.view(0, n), dtype }]);
        library(&mut d, &[LibraryOp::Upcast { src: buf.view(0, n), dst: wide, abs: false, dtype }]);
        let abs_got = d.download_elements(abs.view(0, n), dtype).unwrap();
        let wide_got = d.download_f64(wide).unwrap();
        for i in 0..n {
            assert_eq!(abs_got[i], element::abs(dtype, got[i]), "{dtype}: |x| at {i}");
            assert_eq!(wide_got[i], element::value(dtype, got[i]), "{dtype}: widened at {i}");
        }
        library(&mut d, &[LibraryOp::Pattern { buffer: buf.view(0, n), seed: 5, dtype }]);
        let got = d.download_elements(buf.view(0, n), dtype).unwrap();
        assert!(got.iter().enumerate().all(|(i, &g)| g == pattern_element(5, i as u64, dtype)), "{dtype}: pattern");
        for b in [buf, abs, wide] {
            d.free(b);
        }
    }
}

/// Every judged dtype other than fp32 on the device: the generator (float draws rounded from the
/// fp32 draw, integer draws exact), the poison pattern, |x| and widening, the comparators (NaN and
/// random poison, planted errors, an exact bound), and cuBLAS's bf16 / fp16 GEMM against fp32
/// accumulation of the same operands.
#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn every_dtype_matches_the_host() {
    use sadoku_core::checks::poison_nan;
    use sadoku_core::device::pattern_element;
    let mut d = open(Role::Reference);
    let n = (1 << 18) + 3;
    for dtype in [Dtype::F16, Dtype::Bf16, Dtype::F64, Dtype::I32, Dtype::I64] {
        let buf = d.alloc(n * dtype.bytes()).unwrap();
        let distributions: Vec<Distribution> = if dtype.is_float() {
            vec![
                Distribution::STANDARD_NORMAL,
                Distribution::Uniform { lo: -3.0, hi: 5.0 },
                Distribution::Int { lo: -4, hi: 4 },
            ]
        } else {
            vec![Distribution::Int { lo: 0, hi: 1000 }, Distribution::Int { lo: -5, hi: 3 }]
        };
        for distribution in distributions {
            let draw =
                Draw { distribution, seed: 99, scale: -2.0, cols: 0, rows: 0, structure: Structure::Dense, dtype };
            library(&mut d, &[LibraryOp::Generate { buffer: buf, draw }]);
            let got = d.download_elements(buf, dtype).unwrap();
            let want = generate::elements(&draw, n);
            let off = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            let exact = !matches!(distribution, Distribution::Randn { .. });
            // fp64 normal draws keep the device's log and cos differences (no rounding absorbs
            // them); narrower ones show them about once in 10⁵.
            assert!(
                (exact && off == 0) || (!exact && (dtype == Dtype::F64 || off as f64 <= 1e-5 * n as f64)),
                "{dtype} {distribution}: {off} of {n} elements differ from the host's"
            );
            if off > 0 {
                show(&format!("{dtype} {distribution}: {off} of {n} elements within the allowance, not equal"));
            }
            for (g, w) in got.iter().zip(&want) {
                assert!(generate::same_draw(&draw, *g, *w), "{dtype} {distribution}: {g:x} against {w:x}");
            }
            // |x| and widening, element for element.
            let (abs, wide) = (d.alloc(n * dtype.bytes()).unwrap(), d.alloc(n * 8).unwrap());
            library(&mut d, &[LibraryOp::Abs { src: buf, dst: abs, dtype }]);
            library(&mut d, &[LibraryOp::Upcast { src: buf, dst: wide, abs: true, dtype }]);
            let abs_got = d.download_elements(abs, dtype).unwrap();
            let wide_got = d.download_f64(wide).unwrap();
            for i in 0..n {
                assert_eq!(abs_got[i], element::abs(dtype, got[i]), "{dtype}: |x| at {i}");
                assert_eq!(wide_got[i], element::value(dtype, element::abs(dtype, got[i])), "{dtype}: widened at {i}");
            }
            d.free(abs);
            d.free(wide);
        }
        library(&mut d, &[LibraryOp::Pattern { buffer: buf, seed: 5, dtype }]);
        let got = d.download_elements(buf, dtype).unwrap();
        assert!(got.iter().enumerate().all(|(i, &g)| g == pattern_element(5, i as u64, dtype)), "{dtype}: pattern");
        d.free(buf);

        // The comparators over this dtype: truth, planted errors, both poisons, NaN where it exists.
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 2001) as f64 / 8.0 - 125.0).collect();
        let round = |v: f64| {
            if dtype.is_float() {
                element::from_f32(dtype, v as f32)
            } else {
                element::from_i64(dtype, v.round() as i64)
            }
        };
        let values: Vec<f64> = values.iter().map(|&v| element::value(dtype, round(v))).collect();
        let (scale, factor) = if dtype.is_float() {
            (values.iter().map(|v| v.abs() + 1.0).collect::<Vec<_>>(), 1e-2)
        } else {
            (vec![0.0; n], 0.0)
        };
        let mut got: Vec<u64> = values.iter().map(|&v| round(v)).collect();
        got[100] = round(values[100] + 7.0);
        got[n - 2] = round(values[n - 2] - 3.0);
        let word = poison_nan(dtype);
        got[300] = PoisonWords::Word(word).element(300, dtype);
        for i in [400usize, n - 1] {
            got[i] = pattern_element(77, i as u64, dtype);
        }
        for poison in [PoisonWords::Word(word), PoisonWords::Pattern(77)] {
            check_compare_as(&mut d, dtype, &got, &values, &scale, factor, poison);
        }
        let mut second = got.clone();
        second[1000] = round(values[1000] + 50.0);
        second[5] = got[5] ^ 1;
        let diff = check_diff_as(&mut d, dtype, &got, &second, &scale, factor);
        assert_eq!(diff.bits_differ, 2, "{dtype}");
    }

    // bf16 and fp16 GEMMs: cuBLAS (fp32 accumulation) against the host's fp32 sums of the same
    // operands, within fp32 rounding plus one rounding of the result.
    let (m, nn, k) = (67usize, 45usize, 300usize);
    for (precision, dtype) in [(Precision::Bf16, Dtype::Bf16), (Precision::F16, Dtype::F16)] {
        let draw = |seed| Draw {
            distribution: Distribution::STANDARD_NORMAL,
            seed,
            scale: 1.0,
            cols: 0,
            rows: 0,
            structure: Structure::Dense,
            dtype,
        };
        let (a, b, c) = (d.alloc(m * k * 2).unwrap(), d.alloc(k * nn * 2).unwrap(), d.alloc(m * nn * 2).unwrap());
        library(
            &mut d,
            &[LibraryOp::Generate { buffer: a, draw: draw(1) }, LibraryOp::Generate { buffer: b, draw: draw(2) }],
        );
        library(&mut d, &[LibraryOp::Gemm { precision, m, n: nn, k, a, b, c, transpose_a: false, batch: 1 }]);
        let (av, bv) = (generate::elements(&draw(1), m * k), generate::elements(&draw(2), k * nn));
        let got = d.download_elements(c, dtype).unwrap();
        let u = if dtype == Dtype::Bf16 { 1.0 / 256.0 } else { 1.0 / 2048.0 };
        for i in 0..m {
            for j in 0..nn {
                let (mut exact, mut mag) = (0.0f64, 0.0f64);
                for l in 0..k {
                    let t = element::value(dtype, av[i * k + l]) * element::value(dtype, bv[l * nn + j]);
                    exact += t;
                    mag += t.abs();
                }
                let g = element::value(dtype, got[i * nn + j]);
                let bound = 2.0 * k as f64 * 6e-8 * mag + u * exact.abs() + 1e-6;
                assert!((g - exact).abs() <= bound, "{precision:?} at ({i}, {j}): {g} against {exact}");
            }
        }
        for x in [a, b, c] {
            d.free(x);
        }
    }
    show("f16, bf16, f64, i32, i64: generator, pattern, |x|, widening, comparators; bf16 and fp16 GEMMs: as the host");
}

/// cuDNN's convolution (plain and depthwise), pooling (max and average) and softmax (and
/// log-softmax) on the GPU give what the simulated device's plain loops give for the same inputs,
/// within fp32 rounding: the baselines compute what the problems claim.
#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn cudnn_baselines_compute_what_they_claim() {
    use sadoku_core::device::sim::SimDevice;
    use sadoku_core::device::{ConvShape, PoolShape};
    if let Err(why) = sadoku_cuda::libs::cudnn() {
        show(&format!("skipped: {why}"));
        return;
    }
    let mut d = open(Role::Reference);
    let mut sim = SimDevice::new();
    let conv =
        |groups: usize, k: usize| ConvShape { n: 2, c: 6, h: 17, w: 9, k, r: 3, s: 3, pad: 1, stride: 1, groups };
    let pool = PoolShape { n: 2, c: 3, h: 17, w: 10, window: 2, stride: 2, pad: 0 };
    // Input lengths, output length, and the operation on the inputs' and output's buffers.
    type Case = (Vec<usize>, usize, Box<dyn Fn(&[Buffer], Buffer) -> LibraryOp>);
    let cases: Vec<Case> = vec![
        (
            vec![2 * 6 * 17 * 9, 4 * 6 * 9],
            2 * 4 * 17 * 9,
            Box::new(move |i, y| LibraryOp::Conv2d {
                precision: Precision::F32,
                x: i[0],
                w: i[1],
                y,
                shape: conv(1, 4),
            }),
        ),
        (
            vec![2 * 6 * 17 * 9, 6 * 9],
            2 * 6 * 17 * 9,
            Box::new(move |i, y| LibraryOp::Conv2d {
                precision: Precision::F32,
                x: i[0],
                w: i[1],
                y,
                shape: conv(6, 6),
            }),
        ),
        (
            vec![2 * 3 * 17 * 10],
            2 * 3 * 8 * 5,
            Box::new(move |i, y| LibraryOp::Pool2d { x: i[0], y, shape: pool, max: true }),
        ),
        (
            vec![2 * 3 * 17 * 10],
            2 * 3 * 8 * 5,
            Box::new(move |i, y| LibraryOp::Pool2d { x: i[0], y, shape: pool, max: false }),
        ),
        (
            vec![37 * 1000],
            37 * 1000,
            Box::new(|i, y| LibraryOp::Softmax { x: i[0], y, rows: 37, cols: 1000, log: false }),
        ),
        (
            vec![37 * 1000],
            37 * 1000,
            Box::new(|i, y| LibraryOp::Softmax { x: i[0], y, rows: 37, cols: 1000, log: true }),
        ),
    ];
    for (k, (inputs, out, op)) in cases.into_iter().enumerate() {
        let data: Vec<Vec<f32>> = inputs
            .iter()
            .enumerate()
            .map(|(j, &n)| {
                let draw = Draw {
                    distribution: Distribution::STANDARD_NORMAL,
                    seed: (10 * k + j) as u64,
                    scale: 1.0,
                    cols: 0,
                    rows: 0,
                    structure: Structure::Dense,
                    dtype: Dtype::F32,
                };
                generate::values(&draw, n)
            })
            .collect();
        let mut results = Vec::new();
        for dev in [&mut d as &mut dyn Device, &mut sim as &mut dyn Device] {
            let bufs: Vec<Buffer> = data.iter().map(|v| dev.alloc(v.len() * 4).unwrap()).collect();
            for (b, v) in bufs.iter().zip(&data) {
                dev.upload(*b, as_bytes(v)).unwrap();
            }
            let y = dev.alloc(out * 4).unwrap();
            dev.run(&[Work::Library(op(&bufs, y))]).unwrap();
            results.push(dev.download_f32(y).unwrap());
            for b in bufs.into_iter().chain([y]) {
                dev.free(b);
            }
        }
        let (gpu, host) = (&results[0], &results[1]);
        let scale = host.iter().map(|v| v.abs()).fold(0f32, f32::max).max(1.0);
        for (i, (g, h)) in gpu.iter().zip(host).enumerate() {
            assert!((g - h).abs() <= 1e-5 * scale, "case {k}: element {i}: cuDNN {g}, plain loops {h}");
        }
    }
    show(&format!(
        "cuDNN {}: conv2d, depthwise conv2d, max and average pooling, softmax and log-softmax as the plain loops",
        sadoku_cuda::dnn::version()
    ));
}
