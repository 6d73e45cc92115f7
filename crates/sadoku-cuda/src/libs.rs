//! Finding the CUDA toolkit at run time: headers for NVRTC (`include`, `include/cccl`) and the
//! shared libraries. A toolkit root comes from CUDA_HOME, CUDA_PATH or /usr/local/cuda; pip's
//! `nvidia-cuda-*` wheels lay out the same tree under `site-packages/nvidia/cu13`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LibraryError {
    #[error(
        "no NVIDIA driver: libcuda could not be loaded. Run on a machine with an NVIDIA GPU and driver \
         (`sadoku check` compiles candidates without one)"
    )]
    NoDriver,
    #[error(
        "NVRTC not found (libnvrtc.so): install the CUDA toolkit, or `pip install nvidia-cuda-nvrtc`, \
         and point CUDA_HOME at it{searched}"
    )]
    NoNvrtc { searched: String },
    #[error(
        "cuBLAS not found (libcublas.so): install the CUDA toolkit, or `pip install nvidia-cublas`, and \
         point CUDA_HOME at it{searched}"
    )]
    NoCublas { searched: String },
}

/// A CUDA toolkit installation (or the pip wheels' equivalent tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaRoot {
    pub root: PathBuf,
}

impl CudaRoot {
    /// The first of $CUDA_HOME, $CUDA_PATH, /usr/local/cuda that has headers.
    pub fn find() -> Option<CudaRoot> {
        Self::candidates().into_iter().find(|r| r.include().join("cuda_runtime.h").exists())
    }

    fn candidates() -> Vec<CudaRoot> {
        ["CUDA_HOME", "CUDA_PATH"]
            .iter()
            .filter_map(std::env::var_os)
            .map(PathBuf::from)
            .chain([PathBuf::from("/usr/local/cuda")])
            .map(|root| CudaRoot { root })
            .collect()
    }

    pub fn include(&self) -> PathBuf {
        self.root.join("include")
    }

    /// Include directories NVRTC needs for `<mma.h>`, `<cuda_fp16.h>`, `<cuda/...>`.
    pub fn include_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.include()];
        let cccl = self.include().join("cccl");
        if cccl.is_dir() {
            dirs.push(cccl);
        }
        dirs
    }

    fn lib_dirs(&self) -> Vec<PathBuf> {
        ["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib", "extras/CUPTI/lib64"]
            .iter()
            .map(|d| self.root.join(d))
            .filter(|d| d.is_dir())
            .collect()
    }
}

/// Load a library from a toolkit directory by full path and keep it loaded, so that cudarc's
/// later `dlopen` by soname finds it without LD_LIBRARY_PATH.
fn preload(prefix: &str) -> Vec<PathBuf> {
    let mut searched = Vec::new();
    for root in CudaRoot::candidates() {
        for dir in root.lib_dirs() {
            searched.push(dir.clone());
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut names: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&format!("{prefix}.so")) && !n.contains(".alt."))
                })
                .collect();
            names.sort();
            for path in names {
                if load_forever(&path) {
                    return searched;
                }
            }
        }
    }
    searched
}

fn load_forever(path: &Path) -> bool {
    // SAFETY: loading a CUDA library runs only its initialisers, which are sound to run.
    match unsafe { libloading::Library::new(path) } {
        Ok(lib) => {
            std::mem::forget(lib);
            true
        }
        Err(_) => false,
    }
}

fn searched_text(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        " (no toolkit found at $CUDA_HOME, $CUDA_PATH or /usr/local/cuda)".into()
    } else {
        let d: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        format!(" (searched {} and the loader's path)", d.join(", "))
    }
}

/// NVRTC is loadable (from the toolkit or the loader path).
pub fn nvrtc() -> Result<(), LibraryError> {
    static PROBE: OnceLock<Result<(), LibraryError>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            // NVRTC opens its builtins library by soname when it compiles: load it first too.
            preload("libnvrtc-builtins");
            let searched = preload("libnvrtc");
            // SAFETY: only probes whether the library can be opened.
            if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                Ok(())
            } else {
                Err(LibraryError::NoNvrtc { searched: searched_text(&searched) })
            }
        })
        .clone()
}

pub fn cublas() -> Result<(), LibraryError> {
    static PROBE: OnceLock<Result<(), LibraryError>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let mut searched = preload("libcublasLt");
            searched.extend(preload("libcublas"));
            // SAFETY: only probes whether the library can be opened.
            if unsafe { cudarc::cublas::sys::is_culib_present() } {
                Ok(())
            } else {
                Err(LibraryError::NoCublas { searched: searched_text(&searched) })
            }
        })
        .clone()
}

/// The CUPTI entry points sadoku's tracer calls. cudarc resolves each on first use and panics on
/// a missing one, so all are looked up here first.
const CUPTI_SYMBOLS: [&str; 9] = [
    "cuptiGetTimestamp",
    "cuptiSubscribe",
    "cuptiActivityRegisterCallbacks",
    "cuptiActivityEnable",
    "cuptiActivityFlushAll",
    "cuptiActivityGetNextRecord",
    "cuptiGetResultString",
    "cuptiGetContextId",
    "cuptiGetStreamIdEx",
];

/// CUPTI (the activity tracer) is loadable and has every entry point sadoku uses. Optional: its
/// absence only turns tracing off, so the error is a reason to show, not a failure.
pub fn cupti() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let searched = preload("libcupti");
            // SAFETY: only probes whether the library can be opened.
            if !unsafe { cudarc::cupti::sys::is_culib_present() } {
                return Err(format!("CUPTI not found (libcupti.so){}", searched_text(&searched)));
            }
            // SAFETY: the library is present (checked above), so culib() does not panic; symbols
            // are only looked up, not called.
            let lib = unsafe { cudarc::cupti::sys::culib() };
            for name in CUPTI_SYMBOLS {
                // SAFETY: as above.
                if unsafe { lib.get::<*const ()>(name.as_bytes()) }.is_err() {
                    return Err(format!("the CUPTI library found lacks `{name}` (too old?)"));
                }
            }
            Ok(())
        })
        .clone()
}

/// cuDNN is loadable (from $CUDNN_PATH, a toolkit directory, or the loader's path). Optional: a
/// judge without it still reviews, and says which baseline it could not run. cuDNN 9's
/// `libcudnn.so` opens its sub-libraries (`libcudnn_cnn`, `libcudnn_ops`, ...) by name, so they
/// are loaded first from the directory it was found in.
pub fn cudnn() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let mut searched = Vec::new();
            let dirs = std::env::var_os("CUDNN_PATH")
                .map(PathBuf::from)
                .into_iter()
                .flat_map(|r| [r.join("lib"), r.join("lib64"), r])
                .chain(CudaRoot::candidates().into_iter().flat_map(|r| r.lib_dirs()));
            for dir in dirs {
                searched.push(dir.clone());
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                let mut subs: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libcudnn_") && n.contains(".so"))
                    })
                    .collect();
                subs.sort();
                let main = dir.join("libcudnn.so.9");
                if main.is_file() {
                    for s in &subs {
                        load_forever(s);
                    }
                    load_forever(&main);
                    break;
                }
            }
            // SAFETY: only probes whether the library can be opened.
            if !unsafe { cudarc::cudnn::sys::is_culib_present() } {
                return Err(format!(
                    "cuDNN not found (libcudnn.so.9): install it (NVIDIA's libcudnn9-cuda-13 package, or `pip install nvidia-cudnn-cu13`) and point CUDNN_PATH at it{}",
                    searched_text(&searched)
                ));
            }
            // SAFETY: the library is present; symbols are only looked up.
            let lib = unsafe { cudarc::cudnn::sys::culib() };
            for name in ["cudnnConvolutionForward", "cudnnPoolingForward", "cudnnSoftmaxForward", "cudnnGetVersion"] {
                // SAFETY: as above.
                if unsafe { lib.get::<*const ()>(name.as_bytes()) }.is_err() {
                    return Err(format!("the cuDNN library found lacks `{name}` (cuDNN 9 is needed)"));
                }
            }
            Ok(())
        })
        .clone()
}

pub fn driver() -> Result<(), LibraryError> {
    // SAFETY: only probes whether the library can be opened.
    if unsafe { cudarc::driver::sys::is_culib_present() } { Ok(()) } else { Err(LibraryError::NoDriver) }
}
