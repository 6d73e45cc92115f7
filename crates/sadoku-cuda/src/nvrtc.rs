//! NVRTC: CUDA C++ to a cubin for the device's own architecture, in-process, in a fraction of a
//! second. Compiled modules are cached on disk by (compiler, source, arch, options).

use std::ffi::{CString, c_char};
use std::path::PathBuf;
use std::time::Instant;

use cudarc::nvrtc::{result, sys};
use sadoku_core::compile::{CompileError, CompileRequest, CompiledModule, Compiler, ptx_entries};

use crate::libs::{self, CudaRoot, LibraryError};

/// sadoku's cache directory: $SADOKU_CACHE_DIR, else $XDG_CACHE_HOME/sadoku, else ~/.cache/sadoku.
pub fn cache_root() -> Option<PathBuf> {
    let env = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty()).map(PathBuf::from);
    env("SADOKU_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sadoku")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("sadoku")))
}

pub struct Nvrtc {
    root: Option<CudaRoot>,
    version: (i32, i32),
    cache: Option<PathBuf>,
}

impl Nvrtc {
    /// Load NVRTC and find the toolkit headers. `cache`: where compiled modules are kept (none: no cache).
    pub fn new(cache: Option<PathBuf>) -> Result<Nvrtc, LibraryError> {
        libs::nvrtc()?;
        let (mut major, mut minor) = (0, 0);
        // SAFETY: plain out-parameters.
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
        Ok(Nvrtc { root: CudaRoot::find(), version: (major, minor), cache })
    }

    pub fn version(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }

    /// The default cache directory: `modules` under [`cache_root`].
    pub fn default_cache_dir() -> Option<PathBuf> {
        cache_root().map(|d| d.join("modules"))
    }

    fn options(&self, request: &CompileRequest) -> Vec<String> {
        let mut opts = vec![format!("--gpu-architecture={}", request.arch), "-std=c++17".into(), "-lineinfo".into()];
        if let Some(root) = &self.root {
            opts.extend(root.include_dirs().iter().map(|d| format!("-I{}", d.display())));
        }
        opts.extend(request.options.iter().cloned());
        opts
    }

    fn cached(&self, key: &str) -> Option<CompiledModule> {
        let dir = self.cache.as_ref()?;
        let image = std::fs::read(dir.join(format!("{key}.cubin"))).ok()?;
        let ptx = std::fs::read_to_string(dir.join(format!("{key}.ptx"))).ok()?;
        let log = std::fs::read_to_string(dir.join(format!("{key}.log"))).ok()?;
        Some(CompiledModule {
            arch: String::new(),
            entries: ptx_entries(&ptx),
            image,
            ptx,
            log,
            cache_hit: true,
            compile_ms: 0.0,
        })
    }

    /// Best effort: a cache that cannot be written only costs time.
    fn store(&self, key: &str, m: &CompiledModule) {
        let Some(dir) = &self.cache else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        // The log last: its presence marks a complete entry. Each file lands by rename.
        for (ext, bytes) in [("cubin", &m.image[..]), ("ptx", m.ptx.as_bytes()), ("log", m.log.as_bytes())] {
            let tmp = dir.join(format!("{key}.{ext}.{}.tmp", std::process::id()));
            if std::fs::write(&tmp, bytes).is_err() || std::fs::rename(&tmp, dir.join(format!("{key}.{ext}"))).is_err()
            {
                let _ = std::fs::remove_file(&tmp);
                return;
            }
        }
    }
}

struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by nvrtcCreateProgram and destroyed only here.
        let _ = unsafe { result::destroy_program(self.0) };
    }
}

fn c_text(v: Vec<c_char>) -> String {
    let bytes: Vec<u8> = v.into_iter().take_while(|&c| c != 0).map(|c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn unavailable(what: &str, e: impl std::fmt::Debug) -> CompileError {
    CompileError::Unavailable(format!("NVRTC failed to {what}: {e:?}"))
}

impl Compiler for Nvrtc {
    fn identity(&self) -> String {
        let headers = self.root.as_ref().map_or("no headers".to_string(), |r| r.root.display().to_string());
        format!("nvrtc {} ({headers})", self.version())
    }

    fn compile(&self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        let key = request.cache_key(&self.identity());
        if let Some(mut m) = self.cached(&key) {
            m.arch = request.arch.clone();
            return Ok(m);
        }
        let started = Instant::now();
        let src = CString::new(request.source.as_str())
            .map_err(|_| CompileError::Rejected { log: "the source contains a NUL byte".into() })?;
        let name = CString::new(request.name.replace('\0', "")).unwrap_or_default();
        let prog = Program(result::create_program(&src, Some(&name)).map_err(|e| unavailable("create a program", e))?);
        // SAFETY: `prog` is live for this scope.
        let compiled = unsafe { result::compile_program(prog.0, &self.options(request)) };
        // SAFETY: as above.
        let log = c_text(unsafe { result::get_program_log(prog.0) }.map_err(|e| unavailable("read its log", e))?);
        if let Err(e) = compiled {
            return match e.0 {
                sys::nvrtcResult::NVRTC_ERROR_COMPILATION | sys::nvrtcResult::NVRTC_ERROR_INVALID_OPTION => {
                    Err(CompileError::Rejected { log: if log.trim().is_empty() { format!("{e:?}") } else { log } })
                }
                _ => Err(unavailable("compile", e)),
            };
        }
        // SAFETY: as above; sizes come from NVRTC itself.
        let ptx = c_text(unsafe { result::get_ptx(prog.0) }.map_err(|e| unavailable("return PTX", e))?);
        let image = unsafe {
            let mut size = 0usize;
            sys::nvrtcGetCUBINSize(prog.0, &mut size).result().map_err(|e| unavailable("size the cubin", e))?;
            let mut image = vec![0u8; size];
            sys::nvrtcGetCUBIN(prog.0, image.as_mut_ptr().cast())
                .result()
                .map_err(|e| unavailable("return the cubin", e))?;
            image
        };
        let module = CompiledModule {
            arch: request.arch.clone(),
            entries: ptx_entries(&ptx),
            image,
            ptx,
            log,
            cache_hit: false,
            compile_ms: started.elapsed().as_secs_f64() * 1e3,
        };
        self.store(&key, &module);
        Ok(module)
    }
}
