//! The real device on a real GPU. Ignored by default (CI has no GPU); scripts/gpu-check.sh runs
//! them with `--ignored` on the device machine.

use sadoku_core::compile::{CompileRequest, Compiler};
use sadoku_core::device::{Device, DeviceError, DeviceExt, KernelArg, Launch, LibraryOp, Precision, Work};
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
