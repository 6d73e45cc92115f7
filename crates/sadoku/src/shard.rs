//! `--shard I/N`: one of N disjoint parts of a batch, chosen by each candidate's content, so that a
//! job array (Slurm, Kubernetes) can split an archive across machines with no coordination, and
//! `sadoku merge` can join their `--out` files. The same file lands in the same shard whatever
//! its path, its order in the batch, or the machine.

use std::str::FromStr;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let usage = || format!("--shard {s}: expected I/N with 1 ≤ I ≤ N, e.g. 3/16");
        let (i, n) = s.split_once('/').ok_or_else(usage)?;
        let (index, count): (u64, u64) =
            (i.trim().parse().map_err(|_| usage())?, n.trim().parse().map_err(|_| usage())?);
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the candidate whose source has this SHA-256 (hex) is this shard's: the digest's
    /// first 64 bits modulo the count. A digest that is not hex (never written by sadoku) goes
    /// to shard 1.
    pub fn holds(&self, sha256: &str) -> bool {
        let bucket = sha256.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or(0) % self.count;
        bucket == self.index - 1
    }
}

/// A file's SHA-256 in hex, as a candidate's `sha256` holds it: what [`Shard::holds`] reads.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition_every_digest_exactly_once() {
        assert_eq!("3/16".parse::<Shard>(), Ok(Shard { index: 3, count: 16 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=4).map(|i| Shard { index: i, count: 4 }).collect();
        let mut per_shard = [0usize; 4];
        for k in 0u64..400 {
            let digest = format!("{:016x}{}", k.wrapping_mul(0x9E37_79B9_7F4A_7C15), "0".repeat(48));
            let owners: Vec<usize> = (0..4).filter(|&i| shards[i].holds(&digest)).collect();
            assert_eq!(owners.len(), 1, "{digest} belongs to exactly one shard");
            per_shard[owners[0]] += 1;
        }
        assert!(per_shard.iter().all(|&n| n > 60), "roughly even: {per_shard:?}");
        assert!(Shard { index: 1, count: 1 }.holds("not hex"));
        // A file's digest is the one its candidate carries (the SHA-256 of its bytes, in hex).
        assert_eq!(digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
