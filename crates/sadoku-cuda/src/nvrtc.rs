//! NVRTC: CUDA C++ to a cubin for the device's own architecture, in-process, in a fraction of a
//! second. Compiled modules are cached on disk by (compiler, source, arch, options).

use std::ffi::{CString, c_char};
use std::path::PathBuf;
use std::time::Instant;

use cudarc::nvrtc::{result, sys};
use sadoku_core::cache::Sealed;
use sadoku_core::compile::{CompileError, CompileRequest, CompiledModule, Compiler, ModuleCache, ptx_entries};

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
    cache: Option<ModuleCache>,
    /// Address space a compile may add to the process (see [`Nvrtc::bound_memory`]).
    memory_bound: Option<u64>,
}

impl Nvrtc {
    /// Load NVRTC and find the toolkit headers. `cache`: where compiled modules are kept, sealed
    /// (none: no cache; a cache that cannot be opened is said once and not used).
    pub fn new(cache: Option<PathBuf>) -> Result<Nvrtc, LibraryError> {
        libs::nvrtc()?;
        let (mut major, mut minor) = (0, 0);
        // SAFETY: plain out-parameters.
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
        let mut nvrtc = Nvrtc { root: CudaRoot::find(), version: (major, minor), cache: None, memory_bound: None };
        nvrtc.cache = cache.and_then(|dir| match Sealed::open(&dir) {
            Ok(store) => Some(ModuleCache::new(store, nvrtc.identity())),
            Err(why) => {
                eprintln!("sadoku: note: compiled modules are not cached: {why}");
                None
            }
        });
        Ok(nvrtc)
    }

    /// Let each compile add at most `bytes` of address space to this process (RLIMIT_AS's soft
    /// limit, raised back when the compile ends): a compile-time memory bomb then runs NVRTC out
    /// of memory instead of the machine. For a worker, whose own address space grows with every
    /// device allocation and so cannot be bounded as a whole.
    pub fn bound_memory(&mut self, bytes: Option<u64>) {
        self.memory_bound = bytes;
    }

    /// The module cache, for a judge that keeps the modules its workers compile.
    pub fn module_cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
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
}

/// RLIMIT_AS's soft limit at this process's present size plus a margin, until dropped.
struct AddressSpaceBound {
    previous: libc::rlimit,
}

impl AddressSpaceBound {
    fn new(extra: u64) -> Option<AddressSpaceBound> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let mut previous = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain system calls on this process with valid pointers.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_AS, &mut previous) != 0 {
                return None;
            }
            let bound =
                libc::rlimit { rlim_cur: (kib * 1024 + extra).min(previous.rlim_max), rlim_max: previous.rlim_max };
            (libc::setrlimit(libc::RLIMIT_AS, &bound) == 0).then_some(AddressSpaceBound { previous })
        }
    }
}

impl Drop for AddressSpaceBound {
    fn drop(&mut self) {
        // SAFETY: as above; the soft limit goes back to what it was (never above the hard limit).
        unsafe { libc::setrlimit(libc::RLIMIT_AS, &self.previous) };
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
        if let Some(m) = self.cache.as_ref().and_then(|c| c.get(request)) {
            return Ok(m);
        }
        let started = Instant::now();
        let src = CString::new(request.source.as_str())
            .map_err(|_| CompileError::Rejected { log: "the source contains a NUL byte".into() })?;
        let name = CString::new(request.name.replace('\0', "")).unwrap_or_default();
        let prog = Program(result::create_program(&src, Some(&name)).map_err(|e| unavailable("create a program", e))?);
        let bound = self.memory_bound.and_then(|bytes| {
            let bound = AddressSpaceBound::new(bytes);
            if bound.is_none() {
                eprintln!("sadoku: note: no memory limit for this compile (RLIMIT_AS could not be set)");
            }
            bound
        });
        // SAFETY: `prog` is live for this scope.
        let compiled = unsafe { result::compile_program(prog.0, &self.options(request)) };
        drop(bound);
        // SAFETY: as above.
        let log = c_text(unsafe { result::get_program_log(prog.0) }.map_err(|e| unavailable("read its log", e))?);
        if let Err(e) = compiled {
            return match e.0 {
                sys::nvrtcResult::NVRTC_ERROR_COMPILATION | sys::nvrtcResult::NVRTC_ERROR_INVALID_OPTION => {
                    let mut log = if log.trim().is_empty() { format!("{e:?}") } else { log };
                    if let Some(bytes) = self.memory_bound.filter(|_| log.contains("out of memory")) {
                        log.push_str(&format!(
                            "\nNVRTC ran out of memory within the {:.1} GiB a compile may take (--compile-memory)",
                            bytes as f64 / (1u64 << 30) as f64
                        ));
                    }
                    Err(CompileError::Rejected { log })
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
        if let Some(c) = &self.cache {
            c.put(request, &module);
        }
        Ok(module)
    }
}
