//! The real device on a real GPU. Ignored by default (CI has no GPU); scripts/gpu-check.sh runs
//! them with `--ignored` on the device machine.

use std::io::Write;
use std::time::Instant;

use sadoku_core::compile::{CompileRequest, Compiler};
use sadoku_core::device::{
    Device, DeviceError, DeviceExt, KernelArg, Launch, LibraryOp, Precision, Prep, TimedRun, Trace, Work, as_bytes,
    content_hash, mix64, pattern_word,
};
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
    d.run(&[Work::Library(LibraryOp::Gemm { precision: Precision::F64, m, n, k, a: ba, b: bb, c: bc })]).unwrap();
    assert_eq!(d.download_f64(bc).unwrap(), want, "row-major C = A·B in fp64, exactly");

    let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
    let (fa, fb, fc) = (d.alloc(m * k * 4).unwrap(), d.alloc(k * n * 4).unwrap(), d.alloc(m * n * 4).unwrap());
    d.upload_f32(fa, &a32).unwrap();
    d.upload_f32(fb, &b32).unwrap();
    d.run(&[Work::Library(LibraryOp::Gemm { precision: Precision::F32, m, n, k, a: fa, b: fb, c: fc })]).unwrap();
    let got: Vec<f64> = d.download_f32(fc).unwrap().iter().map(|&x| x as f64).collect();
    assert_eq!(got, want, "these small products are exact in fp32 too");

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
    let b = d.alloc(64).unwrap();
    let err = d.run(&[Work::Library(LibraryOp::TrilF32 { c: b, n: 4 })]).unwrap_err();
    assert!(matches!(&err, DeviceError::Environment(m) if m.contains("candidate kernels only")), "{err:?}");
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

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn device_helpers_match_the_host_functions_bit_for_bit() {
    let mut d = open(Role::Candidate);
    // An odd size, so that the grid-stride loops and the reduction see a ragged end.
    let n = (1 << 22) + 37;
    let data = words(n, 1);
    let buf = d.alloc(n * 4).unwrap();
    d.upload(buf, as_bytes(&data)).unwrap();
    let view = buf.view(4096, 4 * 1000);
    let key = 0x5EED_CAFE_F00D_D00D;
    let check = |d: &mut CudaDevice, prepare: Vec<Prep>, check: Vec<_>| {
        d.time(&TimedRun { prepare, work: vec![], check, hash_key: key }).expect("a timed run of nothing")
    };

    // Hashes: a whole buffer, a view, and an empty view, in the order asked.
    let s = check(&mut d, vec![], vec![buf, view, buf.view(0, 0)]);
    assert_eq!(s.hashes, vec![content_hash(&data, key), content_hash(&data[1024..2024], key), 0]);
    let mhz = s.sm_clock_mhz.expect("an SM clock");
    assert!((100.0..5000.0).contains(&mhz), "SM clock {mhz} MHz");
    assert!(s.wall_ms >= s.ms, "wall {} ms < events {} ms", s.wall_ms, s.ms);
    // Another key, another hash.
    let other = d.time(&TimedRun { prepare: vec![], work: vec![], check: vec![buf], hash_key: key + 1 }).unwrap();
    assert_eq!(other.hashes, vec![content_hash(&data, key + 1)]);
    assert_ne!(other.hashes[0], s.hashes[0]);

    // The random-bits pattern, then its hash in the same sample.
    let seed = 0x1234_5678_9ABC_DEF0;
    let s = check(&mut d, vec![Prep::Pattern { buffer: buf, seed }], vec![buf]);
    let want: Vec<u32> = (0..n as u64).map(|i| pattern_word(seed, i)).collect();
    assert_eq!(d.download_u32(buf).unwrap(), want, "device pattern == pattern_word");
    assert_eq!(s.hashes, vec![content_hash(&want, key)]);

    // A fill, on a view only.
    check(&mut d, vec![Prep::Fill { buffer: view, word: 0x7FC0_0001 }], vec![]);
    let got = d.download_u32(buf).unwrap();
    assert!(got[1024..2024].iter().all(|&w| w == 0x7FC0_0001));
    assert_eq!(&got[..1024], &want[..1024]);
    assert_eq!(&got[2024..], &want[2024..]);

    // Scaling by powers of two is exact, signs, zeros and infinities included.
    let mut x: Vec<f32> = words(n, 2).iter().map(|&w| (w as f32 / u32::MAX as f32 - 0.5) * 16.0).collect();
    x[..6].copy_from_slice(&[0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, 1e-30, -3.5e30]);
    d.upload_f32(buf, &x).unwrap();
    for factor in [0.25f32, -4.0] {
        check(&mut d, vec![Prep::Scale { buffer: buf, factor }], vec![]);
        let got = d.download_f32(buf).unwrap();
        for (i, (g, v)) in got.iter().zip(&x).enumerate() {
            assert_eq!(g.to_bits(), (v * factor).to_bits(), "element {i}: {v} × {factor}");
        }
        x = got;
    }
    d.free(buf);
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
        let run = TimedRun {
            prepare: vec![Prep::Pattern { buffer: x, seed: sample }, Prep::Scale { buffer: sq, factor: 0.5 }],
            work: work.clone(),
            check: vec![x],
            hash_key: 7,
        };
        let s = d.time(&run).unwrap();
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
    let s = d.time(&TimedRun { prepare: vec![], work: vec![], check: vec![b], hash_key: 3 }).unwrap();
    assert_eq!(s.trace, Trace::Unavailable { why: "disabled by SADOKU_NO_CUPTI".into() });
    assert_eq!(s.hashes, vec![content_hash(&[0u32; 1024], 3)], "hashes do not depend on tracing");
    assert!(s.sm_clock_mhz.is_some());
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu-check.sh runs these with --ignored"]
fn ceilings_are_measured_once_and_cached_per_gpu() {
    let dir = std::env::temp_dir().join(format!("sadoku-ceilings-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

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
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["device"], d.info().name.as_str());
    assert_eq!(json["cuda_driver"], d.info().cuda_driver.as_str());
    show(&format!("cache file {}: {json}", file.display()));
    drop(d);

    // A fresh device reads the file: doctored figures come back as they are, at once.
    json["ceilings"]["fp32_tflops"] = 12345.0.into();
    std::fs::write(&file, json.to_string()).unwrap();
    let mut d = open(Role::Reference);
    d.set_ceilings_cache_dir(Some(dir.clone()));
    let started = Instant::now();
    let cached = d.ceilings().unwrap().unwrap();
    assert_eq!(cached.fp32_tflops, 12345.0, "served from the cache file");
    assert_eq!(cached.dram_gbs, first.dram_gbs);
    assert!(started.elapsed().as_millis() < 200, "no measurement: {:?}", started.elapsed());
    drop(d);

    // Another driver's figures are measured again (and the file rewritten).
    json["driver"] = "0.0.0".into();
    std::fs::write(&file, json.to_string()).unwrap();
    let mut d = open(Role::Reference);
    d.set_ceilings_cache_dir(Some(dir.clone()));
    let again = d.ceilings().unwrap().unwrap();
    assert!(again.fp32_tflops < 1000.0, "re-measured: {again:?}");
    let rewritten: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_ne!(rewritten["driver"], "0.0.0");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
