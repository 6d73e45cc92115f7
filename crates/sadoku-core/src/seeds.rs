//! Seeds are drawn at run time and printed, never fixed: a kernel cannot be tuned to inputs it
//! cannot predict (docs/THREATS.md). `--seed` replays a run exactly.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    pub master: u64,
}

impl Seeds {
    /// A master seed from the operating system's entropy.
    pub fn fresh() -> Seeds {
        Seeds { master: rand::random() }
    }

    /// An independent seed for one purpose, e.g. `derive(&[sha, "N = 17", "trial 1", "inputs"])`.
    pub fn derive(&self, parts: &[&str]) -> u64 {
        let mut h = Sha256::new();
        h.update(self.master.to_le_bytes());
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
    }

    /// The seed of one launch's inputs: every draw names the candidate, the problem (name and
    /// definition's hash), the case (a verification trial, a stress trial, a timed launch), the
    /// sizes and the launch's index, so that no launch's draw is another's, or a prefix of one.
    pub fn launch(
        &self,
        candidate: &str,
        problem: &str,
        definition: &str,
        case: &str,
        sizes: &str,
        index: usize,
    ) -> u64 {
        self.derive(&[candidate, problem, definition, case, sizes, &index.to_string(), "inputs"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_are_stable_and_independent() {
        let s = Seeds { master: 1 };
        assert_eq!(s.derive(&["a", "b"]), s.derive(&["a", "b"]));
        assert_ne!(s.derive(&["a", "b"]), s.derive(&["ab"]));
        assert_ne!(s.derive(&["a"]), Seeds { master: 2 }.derive(&["a"]));
        assert_ne!(Seeds::fresh(), Seeds::fresh());
    }
}
