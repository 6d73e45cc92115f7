//! The judge's extension store: torch extensions built once per *build record* (the extension's
//! name, the text of its sources, its flags, the kind of module, the PyTorch and architecture it
//! is built for), shared by every candidate that builds the same thing. A candidate that differs
//! from another anywhere but in its extensions, or comes again, builds nothing.
//!
//! How an entry comes to be (the bridge's side is `python/sadoku_bridge/store.py`):
//! 1. A confined worker loads the candidate with the store read-only; what the store lacks it
//!    writes down as records. The records are the candidate's testimony: the judge reads them as
//!    data and computes every key itself ([`Record::key`]).
//! 2. For each record the store lacks, a confined builder that runs none of the candidate's Python
//!    (`sadoku_bridge.build_extension`) compiles exactly that record into a staging directory. It
//!    refuses a record made for another PyTorch or architecture than its own.
//! 3. The judge moves the staging directory into the store under the key it computed, read-only
//!    to everyone else. Workers never write the store: an entry holds a build of what its key says
//!    and nothing else.
//!
//! Records the store cannot hold faithfully ([`Record::supported`]: include directories or flags
//! naming files of the candidate's, sources that are not UTF-8) are built the way they were
//! before, once per candidate source (`python_sandbox::extension_cache`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::cli::TorchHeaders;
use crate::python_sandbox;

/// One extension's build record, as the bridge writes it (`store.record_of`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub torch: String,
    pub arch: String,
    pub name: String,
    /// (file name, text), in the order they are compiled.
    pub sources: Vec<(String, String)>,
    pub extra_cflags: Vec<String>,
    pub extra_cuda_cflags: Vec<String>,
    pub extra_ldflags: Vec<String>,
    pub extra_include_paths: Vec<String>,
    pub with_cuda: Option<bool>,
    pub with_sycl: Option<bool>,
    pub is_python_module: Option<bool>,
    pub is_standalone: Option<bool>,
    /// Why the bridge could not write the record faithfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}

/// The key's encoding: this version, then each field length-prefixed (the bridge's `store.key`).
const VERSION: &str = "sadoku-extension/1";

/// Directories a flag may name: the system's and the toolkit's, never a candidate's.
const SYSTEM_PREFIXES: [&str; 2] = ["/usr/", "/opt/"];

impl Record {
    /// The store's name for this record: SHA-256 over its fields, each a u64 little-endian length
    /// then UTF-8; lists preceded by their length written out; switches as `None`/`True`/`False`.
    /// The first 32 hex digits.
    pub fn key(&self) -> String {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        let mut put = |text: &str| {
            digest.update((text.len() as u64).to_le_bytes());
            digest.update(text.as_bytes());
        };
        put(VERSION);
        put(&self.torch);
        put(&self.arch);
        put(&self.name);
        put(&self.sources.len().to_string());
        for (name, text) in &self.sources {
            put(name);
            put(text);
        }
        for list in [&self.extra_cflags, &self.extra_cuda_cflags, &self.extra_ldflags, &self.extra_include_paths] {
            put(&list.len().to_string());
            for flag in list {
                put(flag);
            }
        }
        for switch in [self.with_cuda, self.with_sycl, self.is_python_module, self.is_standalone] {
            put(match switch {
                None => "None",
                Some(true) => "True",
                Some(false) => "False",
            });
        }
        hex::encode(digest.finalize())[..32].to_string()
    }

    /// Whether the store can hold this record's build: everything the build reads besides the
    /// toolkit, PyTorch and the system is in the record. Else why not.
    pub fn supported(&self) -> Result<(), String> {
        if let Some(why) = &self.unsupported {
            return Err(why.clone());
        }
        let safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !safe(&self.name) {
            return Err(format!("an extension named {:?}", self.name));
        }
        for (name, _) in &self.sources {
            if !safe(name) || name.starts_with('.') {
                return Err(format!("a source named {name:?}"));
            }
        }
        let flags = self.extra_cflags.iter().chain(&self.extra_cuda_cflags).chain(&self.extra_ldflags);
        for flag in flags.chain(&self.extra_include_paths) {
            if let Some(file) = names_a_file_of_its_own(flag) {
                return Err(format!("`{flag}` names {file}, which the record does not carry"));
            }
        }
        Ok(())
    }
}

/// The file or directory a flag names outside the system's directories, if any: a response file
/// (`@file`), a path that climbs (`..`, `~`), or an absolute path not under [`SYSTEM_PREFIXES`]
/// (`/x`, `-I/x`, `-isystem/x`, `--opt=/x`, `-Wl,-rpath,/x:/y`). A relative path names a file of
/// the build's own directory, which holds only the record's sources and what the build writes.
/// Conservative: `-Iinc/x` counts as naming `/x`.
fn names_a_file_of_its_own(flag: &str) -> Option<String> {
    if flag.starts_with('@') || flag.contains("..") || flag.contains('~') {
        return Some(flag.to_string());
    }
    for piece in flag.split([',', ':', '=', ' ']) {
        let Some(at) = piece.find('/') else { continue };
        let option = &piece[..at];
        let absolute = option.is_empty() || {
            let name = option.trim_start_matches('-');
            option.starts_with('-')
                && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let path = &piece[at..];
        if absolute && !SYSTEM_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Some(path.to_string());
        }
    }
    None
}

/// The store of one interpreter's builds, under the judge's cache directory for extensions.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// The file a builder leaves beside the library: which `<torch/extension.h>` it used
/// (`sadoku_bridge.build_extension.BUILT_WITH`).
pub const BUILT_WITH: &str = ".sadoku-build.json";

/// What [`BUILT_WITH`] says of a build whose lean header failed: why, in one line; None when the
/// lean header built it, none was tried, or the file is missing or unreadable.
pub fn lean_failed(directory: &Path) -> Option<String> {
    let text = std::fs::read_to_string(directory.join(BUILT_WITH)).ok()?;
    let said: serde_json::Value = serde_json::from_str(&text).ok()?;
    said.get("lean_failed")?.as_str().map(str::to_string)
}

impl Store {
    /// The store for `python`'s builds with `headers` (made if missing): traversable by workers,
    /// listable and writable by the judge only. Builds with PyTorch's own header and with the lean
    /// one are kept apart, so that `--torch-headers full` never loads a lean build.
    pub fn open(python: &Path, headers: TorchHeaders) -> anyhow::Result<Store> {
        use sha2::Digest as _;
        use std::os::unix::fs::PermissionsExt as _;
        let root = python_sandbox::extension_root()?;
        let mut hasher = sha2::Sha256::new().chain_update(python.as_os_str().as_encoded_bytes());
        if headers == TorchHeaders::Lean {
            // PyTorch's own header keeps the name stores had before the lean one; the lean one's
            // store changed with what it builds (since the operators' headers by name).
            hasher.update(b"\0lean-torch-headers\0aten-operators-by-name");
        }
        let key = hasher.finalize();
        let dir = root.join(format!("store-{}", &hex::encode(key)[..16]));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
        Ok(Store { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry of `key`, whether or not it is there.
    pub fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.entry(key).is_dir()
    }

    /// A directory for a builder to fill (its owner the workers' user), in the store's directory
    /// so that [`Store::publish`] is a rename.
    pub fn staging(&self, key: &str) -> anyhow::Result<tempfile::TempDir> {
        let staging = tempfile::Builder::new().prefix(&format!(".staging-{key}-")).tempdir_in(&self.dir)?;
        crate::sandbox::prepare_temp(staging.path())?;
        Ok(staging)
    }

    /// Move a builder's directory into the store as `key`'s entry, its files the judge's and
    /// read-only to everyone else. An entry another build put there first is kept.
    pub fn publish(&self, staging: tempfile::TempDir, key: &str) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = staging.keep();
        let result = (|| -> anyhow::Result<()> {
            // SAFETY: geteuid cannot fail.
            let root = unsafe { libc::geteuid() } == 0;
            for entry in walk(&path)? {
                let meta = std::fs::symlink_metadata(&entry)?;
                if meta.file_type().is_symlink() {
                    // A link could name anything; an entry holds only what the build wrote.
                    std::fs::remove_file(&entry)?;
                    continue;
                }
                if root {
                    std::os::unix::fs::lchown(&entry, Some(0), Some(0))?;
                }
                let mode = if meta.is_dir() || meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
                std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode))?;
            }
            match std::fs::rename(&path, self.entry(key)) {
                Ok(()) => Ok(()),
                Err(_) if self.has(key) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })();
        if path.exists() {
            let _ = std::fs::remove_dir_all(&path);
        }
        result
    }
}

/// `dir` and everything under it, deepest first.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.extend(walk(&entry.path())?);
        } else {
            out.push(entry.path());
        }
    }
    out.push(dir.to_path_buf());
    Ok(out)
}

/// The records a recording worker wrote (one JSON object a line), each with its key, duplicates
/// dropped. An unreadable line is the candidate's doing: the error says which.
pub fn read_records(text: &str) -> Result<Vec<(String, Record)>, String> {
    let mut out: Vec<(String, Record)> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let record: Record = serde_json::from_str(line).map_err(|e| format!("record {} is unreadable: {e}", i + 1))?;
        let key = record.key();
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, record));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record `python/tests/test_store.py` keys: both sides must compute the same key.
    fn golden() -> Record {
        Record {
            torch: "2.11.0+git1234+cuda13.0".into(),
            arch: "sm_90".into(),
            name: "relu_ext".into(),
            sources: vec![
                ("main.cpp".into(), "int f() { return 0; }\n".into()),
                ("cuda.cu".into(), "__global__ void k() {}\n".into()),
            ],
            extra_cflags: vec!["-O3".into()],
            extra_cuda_cflags: vec!["--use_fast_math".into(), "-arch=sm_90".into()],
            extra_ldflags: vec![],
            extra_include_paths: vec![],
            with_cuda: None,
            with_sycl: None,
            is_python_module: Some(true),
            is_standalone: Some(false),
            unsupported: None,
        }
    }

    const GOLDEN_KEY: &str = "cc90e76146292adec280cc65bc5f9987";

    #[test]
    fn the_key_is_the_one_the_bridge_computes() {
        assert_eq!(golden().key(), GOLDEN_KEY);
        let json = serde_json::to_string(&golden()).unwrap();
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back.key(), GOLDEN_KEY, "the record survives its JSON");
    }

    #[test]
    fn any_change_to_what_is_built_changes_the_key() {
        let base = golden();
        let mut changed = Vec::new();
        let mut r = base.clone();
        r.sources[1].1.push(' ');
        changed.push(r);
        let mut r = base.clone();
        r.extra_cflags.clear();
        r.extra_cuda_cflags.insert(0, "-O3".into());
        changed.push(r);
        let mut r = base.clone();
        r.arch = "sm_80".into();
        changed.push(r);
        let mut r = base.clone();
        r.with_cuda = Some(true);
        changed.push(r);
        for r in changed {
            assert_ne!(r.key(), GOLDEN_KEY, "{r:?}");
        }
    }

    #[test]
    fn a_record_that_names_files_outside_it_is_not_held() {
        let with = |flag: &str| Record { extra_cuda_cflags: vec![flag.to_string()], ..golden() };
        for honest in ["-O3", "-arch=sm_90a", "-I/usr/local/cuda/include", "-Wl,-rpath,/usr/lib:/opt/x", "-I./gen"] {
            assert_eq!(with(honest).supported(), Ok(()), "{honest}");
        }
        for own in [
            "@flags.txt",
            "-I/home/user/kernels",
            "-isystem/tmp/x",
            "--include-path=/tmp/x",
            "-Wl,-rpath,/usr/lib:/tmp/y",
            "-I../secret",
            "-I~/x",
            "/tmp/evil.so",
            "-I/usr/../tmp",
        ] {
            assert!(with(own).supported().is_err(), "{own}");
        }
        let include = Record { extra_include_paths: vec!["/work/include".into()], ..golden() };
        assert!(include.supported().is_err());
        let name = Record { sources: vec![("../main.cpp".into(), String::new())], ..golden() };
        assert!(name.supported().is_err());
        let utf8 = Record { unsupported: Some("k.cu is not UTF-8".into()), ..golden() };
        assert_eq!(utf8.supported(), Err("k.cu is not UTF-8".to_string()));
    }

    #[test]
    fn records_are_read_as_data_and_keyed_by_the_judge() {
        let line = serde_json::to_string(&golden()).unwrap();
        let read = read_records(&format!("{line}\n{line}\n\n")).unwrap();
        assert_eq!(read.len(), 1, "a record written twice is built once");
        assert_eq!(read[0].0, GOLDEN_KEY);
        // A record that claims its own key, or anything else the judge does not know, is refused.
        let claimed = line.replacen('{', "{\"key\":\"0000\",", 1);
        assert!(read_records(&claimed).unwrap_err().contains("record 1 is unreadable"));
        assert!(read_records("not json").is_err());
    }

    #[test]
    fn a_published_entry_is_read_only_to_others_and_kept_when_built_twice() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = Store { dir: dir.path().to_path_buf() };
        let staging = store.staging("k1").unwrap();
        std::fs::write(staging.path().join("ext.so"), b"first").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", staging.path().join("link")).unwrap();
        store.publish(staging, "k1").unwrap();
        assert!(store.has("k1"));
        let entry = store.entry("k1");
        assert_eq!(std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777, 0o755);
        assert_eq!(std::fs::metadata(entry.join("ext.so")).unwrap().permissions().mode() & 0o777, 0o644);
        assert!(!entry.join("link").exists(), "no link survives publishing");
        let again = store.staging("k1").unwrap();
        std::fs::write(again.path().join("ext.so"), b"second").unwrap();
        store.publish(again, "k1").unwrap();
        assert_eq!(std::fs::read(entry.join("ext.so")).unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging directory is left behind");
    }

    #[test]
    fn lean_and_full_header_builds_are_kept_in_stores_of_their_own() {
        use sha2::Digest as _;
        let python = Path::new("/opt/some/python3-for-the-store-test");
        let lean = Store::open(python, TorchHeaders::Lean).unwrap();
        let full = Store::open(python, TorchHeaders::Full).unwrap();
        assert_ne!(lean.dir(), full.dir());
        assert_eq!(lean.dir(), Store::open(python, TorchHeaders::Lean).unwrap().dir());
        // PyTorch's own header keeps the store that held every build before the lean one.
        let before = hex::encode(sha2::Sha256::digest(python.as_os_str().as_encoded_bytes()));
        assert_eq!(full.dir().file_name().unwrap().to_str().unwrap(), format!("store-{}", &before[..16]));
        for store in [lean, full] {
            std::fs::remove_dir(store.dir()).unwrap();
        }
    }

    #[test]
    fn the_builder_is_told_the_header_by_the_names_the_flag_takes() {
        assert_eq!(TorchHeaders::Lean.name(), "lean");
        assert_eq!(TorchHeaders::Full.name(), "full");
        assert_eq!(TorchHeaders::default(), TorchHeaders::Lean);
    }

    #[test]
    fn a_build_says_why_the_lean_header_failed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lean_failed(dir.path()), None, "nothing said");
        let said = |text: &str| {
            std::fs::write(dir.path().join(BUILT_WITH), text).unwrap();
            lean_failed(dir.path())
        };
        assert_eq!(said(r#"{"torch_headers": "lean"}"#), None);
        assert_eq!(
            said(r#"{"torch_headers": "full", "lean_failed": "k.cu(3): error: no member \"nn\""}"#).as_deref(),
            Some(r#"k.cu(3): error: no member "nn""#)
        );
        assert_eq!(said("not json"), None);
    }
}
