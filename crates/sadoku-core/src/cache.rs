//! sadoku's caches on disk (compiled modules, measured ceilings), sealed so that a review trusts
//! only what a judge wrote.
//!
//! A candidate's worker never touches these directories (its sandbox gives it no access, and it
//! is started with no cache of its own), but a machine without Landlock, or a user who shares a
//! cache directory, leaves the files open to other writers. So every entry is sealed:
//! - it is addressed by a hash of everything that determines it (the compile request, or the
//!   GPU's UUID), so one entry cannot stand in for another;
//! - its content carries an HMAC-SHA256 under a secret that only the judge's user can read
//!   (`secret.key` beside the store, mode 0600, made on first use);
//! - on read the seal is checked; an entry that fails it is ignored, with a warning, and
//!   rewritten: a planted module or an impossible ceiling is never trusted.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

const MAGIC: &str = "sadoku-sealed 1 ";
const SECRET_FILE: &str = "secret.key";

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit(Vec<u8>),
    Miss,
    /// An entry exists but its seal does not hold: written by someone without the secret, or damaged.
    Broken(String),
}

/// A directory of sealed entries.
#[derive(Clone)]
pub struct Sealed {
    dir: PathBuf,
    key: [u8; 32],
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Sealed {
    /// The store in `dir` (made when missing), sealed with the secret in `dir`'s parent (made,
    /// mode 0600, when missing). Fails when either cannot be made or read, or when the secret is
    /// readable by others than its owner.
    pub fn open(dir: &Path) -> Result<Sealed, String> {
        let root = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot make the cache {}: {e}", dir.display()))?;
        let key = secret(&root.join(SECRET_FILE))?;
        Ok(Sealed { dir: dir.to_path_buf(), key })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf, String> {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if ok { Ok(self.dir.join(name)) } else { Err(format!("`{name}` is not a cache entry name")) }
    }

    fn mac(&self, name: &str, content: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac.update(content);
        mac
    }

    /// The entry `name`, if it is there and its seal holds.
    pub fn get(&self, name: &str) -> Lookup {
        let Ok(path) = self.path(name) else { return Lookup::Miss };
        let Ok(bytes) = std::fs::read(&path) else { return Lookup::Miss };
        let header = MAGIC.len() + 64 + 1;
        if bytes.len() < header || !bytes.starts_with(MAGIC.as_bytes()) || bytes[header - 1] != b'\n' {
            return Lookup::Broken(format!("{} is not a sealed entry", path.display()));
        }
        let Some(tag) = std::str::from_utf8(&bytes[MAGIC.len()..header - 1]).ok().and_then(|h| hex::decode(h).ok())
        else {
            return Lookup::Broken(format!("{} has an unreadable seal", path.display()));
        };
        let content = &bytes[header..];
        match self.mac(name, content).verify_slice(&tag) {
            Ok(()) => Lookup::Hit(content.to_vec()),
            Err(_) => Lookup::Broken(format!("{}: its seal does not match its content", path.display())),
        }
    }

    /// Seal and store `content` as `name`. Best effort: a cache that cannot be written only costs
    /// time. Each entry lands whole, by rename.
    pub fn put(&self, name: &str, content: &[u8]) {
        let Ok(path) = self.path(name) else { return };
        let tag = hex::encode(self.mac(name, content).finalize().into_bytes());
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(MAGIC.as_bytes())?;
            f.write_all(tag.as_bytes())?;
            f.write_all(b"\n")?;
            f.write_all(content)
        });
        if written.is_err() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The store's secret: 32 random bytes, hex, in a file only its owner may read.
fn secret(path: &Path) -> Result<[u8; 32], String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let read = |path: &Path| -> Result<[u8; 32], String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "{} is readable by others (mode {:o}): a cache sealed with it proves nothing; make it 0600",
                path.display(),
                meta.mode() & 0o777
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let bytes = hex::decode(text.trim()).map_err(|_| format!("{} is not a sadoku secret", path.display()))?;
        bytes.try_into().map_err(|_| format!("{} is not a sadoku secret", path.display()))
    };
    if path.exists() {
        return read(path);
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    // Written whole under a name of its own, then linked into place: another judge (or lane)
    // opening the store at the same moment never reads a secret half written.
    let temp = path.with_extension(format!("{}.{:016x}", std::process::id(), rand::random::<u64>()));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut f| f.write_all(hex::encode(key).as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    match made {
        Ok(()) => Ok(key),
        // Another judge made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(format!("cannot make {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_comes_back_as_written() {
        let root = tempfile::tempdir().unwrap();
        let store = Sealed::open(&root.path().join("modules")).unwrap();
        assert_eq!(store.get("abc.module"), Lookup::Miss);
        store.put("abc.module", b"the cubin");
        assert_eq!(store.get("abc.module"), Lookup::Hit(b"the cubin".to_vec()));
        // A second opening (the next review) shares the secret.
        let again = Sealed::open(&root.path().join("modules")).unwrap();
        assert_eq!(again.get("abc.module"), Lookup::Hit(b"the cubin".to_vec()));
        let mode = std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(root.path().join(SECRET_FILE)).unwrap());
        assert_eq!(mode & 0o777, 0o600);
    }

    /// What another writer plants without the secret is not trusted: new content under an old
    /// seal, a made-up seal, an unsealed file, one entry copied over another.
    #[test]
    fn a_planted_entry_is_not_trusted() {
        let root = tempfile::tempdir().unwrap();
        let store = Sealed::open(&root.path().join("ceilings")).unwrap();
        store.put("gpu-a.json", br#"{"fp32_tflops": 60}"#);
        store.put("gpu-b.json", br#"{"fp32_tflops": 70}"#);
        let path = root.path().join("ceilings/gpu-a.json");
        let sealed = std::fs::read(&path).unwrap();
        let header = MAGIC.len() + 65;

        let mut swapped = sealed[..header].to_vec();
        swapped.extend_from_slice(br#"{"fp32_tflops": 6000}"#);
        std::fs::write(&path, &swapped).unwrap();
        assert!(matches!(store.get("gpu-a.json"), Lookup::Broken(why) if why.contains("does not match")));

        std::fs::write(&path, format!("{MAGIC}{}\n{{}}", "0".repeat(64))).unwrap();
        assert!(matches!(store.get("gpu-a.json"), Lookup::Broken(_)));

        std::fs::write(&path, br#"{"fp32_tflops": 6000}"#).unwrap();
        assert!(matches!(store.get("gpu-a.json"), Lookup::Broken(why) if why.contains("not a sealed entry")));

        std::fs::copy(root.path().join("ceilings/gpu-b.json"), &path).unwrap();
        assert!(matches!(store.get("gpu-a.json"), Lookup::Broken(_)), "the seal covers the entry's name");

        // The judge's own write is trusted again.
        store.put("gpu-a.json", br#"{"fp32_tflops": 60}"#);
        assert_eq!(store.get("gpu-a.json"), Lookup::Hit(br#"{"fp32_tflops": 60}"#.to_vec()));
    }

    #[test]
    fn judges_opening_a_new_store_at_once_share_one_whole_secret() {
        for _ in 0..20 {
            let root = tempfile::tempdir().unwrap();
            let path = root.path().join(SECRET_FILE);
            let keys: Vec<Result<[u8; 32], String>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8).map(|_| s.spawn(|| secret(&path))).collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let first = keys[0].clone().unwrap();
            assert!(keys.iter().all(|k| k.as_ref() == Ok(&first)), "{keys:?}");
        }
    }

    #[test]
    fn a_secret_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        Sealed::open(&root.path().join("modules")).unwrap();
        let secret = root.path().join(SECRET_FILE);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Sealed::open(&root.path().join("modules")).unwrap_err();
        assert!(err.contains("readable by others") && err.contains("0600"), "{err}");
    }

    #[test]
    fn names_cannot_leave_the_store() {
        let root = tempfile::tempdir().unwrap();
        let store = Sealed::open(&root.path().join("m")).unwrap();
        for name in ["../secret.key", "/etc/passwd", ".hidden", "", "a/b"] {
            store.put(name, b"x");
            assert_eq!(store.get(name), Lookup::Miss, "{name}");
        }
        assert!(std::fs::read_dir(root.path().join("m")).unwrap().next().is_none());
    }
}
