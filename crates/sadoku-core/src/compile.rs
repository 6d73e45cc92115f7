//! Stage 2 of the pipeline: source to a loadable module.
//!
//! The compiler itself (NVRTC) lives in `sadoku-cuda`; this module holds what is GPU-free about
//! compiling: the request and its cache key, the compiled module, and reading kernel signatures
//! out of PTX so that arguments can be checked before anything is launched.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Everything that determines the compiled image; hashing it gives the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileRequest {
    /// Shown in diagnostics (the candidate's file name).
    pub name: String,
    pub source: String,
    /// Real architecture, e.g. "sm_90" or "sm_90a". Never NVRTC's default.
    pub arch: String,
    /// Extra options from the candidate's front matter.
    pub options: Vec<String>,
}

impl CompileRequest {
    /// Hex SHA-256 over (compiler identity, source, arch, options).
    pub fn cache_key(&self, compiler_identity: &str) -> String {
        let mut h = Sha256::new();
        for part in [compiler_identity, &self.source, &self.arch] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        for opt in &self.options {
            h.update((opt.len() as u64).to_le_bytes());
            h.update(opt.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// A kernel parameter as PTX declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// PTX type, e.g. "u64", "f32", "b8".
    pub ty: String,
    pub bytes: usize,
}

impl Param {
    pub fn is_float(&self) -> bool {
        self.ty.starts_with('f')
    }
}

/// A `.entry` in the PTX: a kernel that can be launched by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub params: Vec<Param>,
}

/// A compiled candidate module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompiledModule {
    pub arch: String,
    /// Loadable image (a cubin for the device's own architecture).
    pub image: Vec<u8>,
    pub ptx: String,
    /// Compiler diagnostics, verbatim (warnings of a successful compile).
    pub log: String,
    pub entries: Vec<Entry>,
    pub cache_hit: bool,
    pub compile_ms: f64,
}

impl CompiledModule {
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Error, Serialize, Deserialize)]
pub enum CompileError {
    /// The candidate does not compile; the log is the compiler's, verbatim.
    #[error("compilation failed:\n{log}")]
    Rejected { log: String },
    /// The candidate built (a Python worker's file ran, its extension compiled), but making it
    /// callable or its first call raised: `ModelNew(*get_init_inputs())`, binding an archive
    /// kernel's `forward` to the problem's arguments, the warm-up call. `message` is the
    /// exception, one line; `log` what the load printed and where it was raised.
    #[error("the call failed: {message}")]
    CallFailed { message: String, log: String },
    /// The compiler cannot run here (library missing, bad installation); not the candidate's fault.
    #[error("{0}")]
    Unavailable(String),
}

/// Turns CUDA C++ into a module. NVRTC in production, a stand-in in tests.
pub trait Compiler {
    /// Identifies compiler and version, so that cached modules never outlive a compiler upgrade.
    fn identity(&self) -> String;
    fn compile(&self, request: &CompileRequest) -> Result<CompiledModule, CompileError>;
}

/// Compiled modules on disk, sealed (see [`crate::cache`]): only a judge writes them, and an
/// entry that another writer planted or changed is ignored.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    store: crate::cache::Sealed,
    /// The compiler's identity, part of every key.
    identity: String,
}

impl ModuleCache {
    pub fn new(store: crate::cache::Sealed, compiler_identity: String) -> ModuleCache {
        ModuleCache { store, identity: compiler_identity }
    }

    fn name(&self, request: &CompileRequest) -> String {
        format!("{}.module", request.cache_key(&self.identity))
    }

    /// The module compiled from `request` before, if its entry's seal holds.
    pub fn get(&self, request: &CompileRequest) -> Option<CompiledModule> {
        let name = self.name(request);
        match self.store.get(&name) {
            crate::cache::Lookup::Hit(bytes) => {
                let mut m: CompiledModule = serde_json::from_slice(&bytes).ok()?;
                // The seal covers the key, which covers the arch; this only keeps the record exact.
                (m.arch == request.arch).then_some(())?;
                m.cache_hit = true;
                m.compile_ms = 0.0;
                Some(m)
            }
            crate::cache::Lookup::Miss => None,
            crate::cache::Lookup::Broken(why) => {
                eprintln!("sadoku: warning: a cached module was ignored and will be rebuilt: {why}");
                None
            }
        }
    }

    /// Keep `module`, compiled from `request`, for later reviews.
    pub fn put(&self, request: &CompileRequest, module: &CompiledModule) {
        if let Ok(bytes) = serde_json::to_vec(module) {
            self.store.put(&self.name(request), &bytes);
        }
    }
}

/// Read every `.entry` signature out of PTX text.
pub fn ptx_entries(ptx: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut rest = ptx;
    while let Some(pos) = rest.find(".entry") {
        rest = &rest[pos + ".entry".len()..];
        let Some(open) = rest.find('(') else { break };
        let name = rest[..open].trim().to_string();
        let after = &rest[open + 1..];
        let Some(close) = after.find(')') else { break };
        let params = after[..close].split(',').filter_map(parse_param).collect();
        entries.push(Entry { name, params });
        rest = &after[close + 1..];
    }
    entries
}

/// One `.param` declaration, e.g. `.param .u64 .ptr .global .align 4 k_param_0`
/// or `.param .align 8 .b8 k_param_1[16]`.
fn parse_param(decl: &str) -> Option<Param> {
    let decl = decl.trim();
    if !decl.starts_with(".param") {
        return None;
    }
    let mut words = decl.split_whitespace().skip(1).peekable();
    let mut ty = None;
    let mut last = "";
    while let Some(w) = words.next() {
        if w == ".align" {
            words.next();
            continue;
        }
        if ty.is_none() {
            if let Some(t) = w.strip_prefix('.').filter(|t| scalar_bytes(t).is_some()) {
                ty = Some(t.to_string());
            }
        }
        last = w;
    }
    let ty = ty?;
    let count = match (last.find('['), last.find(']')) {
        (Some(a), Some(b)) if b > a => last[a + 1..b].parse::<usize>().ok()?,
        _ => 1,
    };
    Some(Param { bytes: scalar_bytes(&ty)? * count, ty })
}

fn scalar_bytes(ty: &str) -> Option<usize> {
    let bits: usize = ty.get(1..)?.parse().ok()?;
    match ty.as_bytes()[0] {
        b'u' | b's' | b'b' | b'f' if [8, 16, 32, 64].contains(&bits) => Some(bits / 8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = r#"
.version 9.0
.target sm_90
.address_size 64

	// .globl	trimm_kernel
.visible .entry trimm_kernel(
	.param .u64 .ptr .global .align 4 trimm_kernel_param_0,
	.param .u64 .ptr .global .align 4 trimm_kernel_param_1,
	.param .u64 .ptr .global .align 4 trimm_kernel_param_2,
	.param .u32 trimm_kernel_param_3
)
{
	ret;
}
.visible .entry zero(
	.param .align 8 .b8 zero_param_0[16],
	.param .f32 zero_param_1
)
{ ret; }
.visible .entry noargs()
{ ret; }
"#;

    #[test]
    fn reads_entry_signatures() {
        let entries = ptx_entries(PTX);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].name, "trimm_kernel");
        let sizes: Vec<usize> = entries[0].params.iter().map(|p| p.bytes).collect();
        assert_eq!(sizes, vec![8, 8, 8, 4]);
        assert_eq!(entries[0].params[3].ty, "u32");
        assert_eq!(
            entries[1].params,
            vec![Param { ty: "b8".into(), bytes: 16 }, Param { ty: "f32".into(), bytes: 4 },]
        );
        assert!(entries[1].params[1].is_float());
        assert!(entries[2].params.is_empty());
    }

    #[test]
    fn cache_key_depends_on_every_input() {
        let base = CompileRequest { name: "a.cu".into(), source: "x".into(), arch: "sm_90".into(), options: vec![] };
        let k = base.cache_key("nvrtc 13.0");
        let mut other = base.clone();
        other.arch = "sm_90a".into();
        assert_ne!(k, other.cache_key("nvrtc 13.0"));
        let mut other = base.clone();
        other.options = vec!["-lineinfo".into()];
        assert_ne!(k, other.cache_key("nvrtc 13.0"));
        assert_ne!(k, base.cache_key("nvrtc 13.1"));
        let mut renamed = base.clone();
        renamed.name = "b.cu".into();
        assert_eq!(k, renamed.cache_key("nvrtc 13.0"), "the file name is not part of the image");
    }
}
