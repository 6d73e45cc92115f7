//! Nothing outside a buffer may change. Every buffer a candidate gets sits between two guard
//! zones filled with a canary pattern; after each launch the zones must still hold it. A write
//! past the end of C (docs/THREATS.md) lands in a guard instead of silently corrupting a neighbour.

use serde::Serialize;

use super::thousands;

/// Bytes of guard on each side of every buffer: far more than an off-by-a-row write reaches.
pub const GUARD_BYTES: usize = 64 << 10;

/// The canary word: a signalling NaN, so that a kernel *reading* a guard computes NaN and fails
/// accuracy too.
pub const CANARY: u32 = 0x7FBA_DBAD;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Before,
    After,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct OutOfBounds {
    #[serde(default)]
    pub buffer: String,
    pub side: Side,
    /// Bytes of the guard that changed.
    #[serde(default)]
    pub bytes_changed: usize,
    /// Byte offset of the changed 4-byte word nearest the buffer, relative to its first byte
    /// (negative: before it) or to its end (after it).
    #[serde(default)]
    pub nearest: isize,
}

impl std::fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.side {
            Side::Before => write!(
                f,
                "out-of-bounds write before {}: {} guard bytes changed, the nearest at byte {} of the buffer",
                self.buffer,
                thousands(self.bytes_changed),
                self.nearest
            ),
            Side::After => write!(
                f,
                "out-of-bounds write past the end of {}: {} guard bytes changed, the nearest {} bytes past its end",
                self.buffer,
                thousands(self.bytes_changed),
                self.nearest
            ),
        }
    }
}

/// The guard zone as it must stay.
pub fn canary(bytes: usize) -> Vec<u8> {
    CANARY.to_le_bytes().iter().copied().cycle().take(bytes).collect()
}

/// Compare a guard read back after the launch with the canary.
pub fn check(buffer: &str, side: Side, guard: &[u8]) -> Option<OutOfBounds> {
    let expected = canary(guard.len());
    let changed: Vec<usize> =
        guard.iter().zip(&expected).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect();
    // Reported by 4-byte word: a float written at byte -8 changes bytes -8..-5.
    let nearest = match side {
        Side::Before => (*changed.last()? & !3) as isize - guard.len() as isize,
        Side::After => (*changed.first()? & !3) as isize,
    };
    Some(OutOfBounds { buffer: buffer.to_string(), side, bytes_changed: changed.len(), nearest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_a_write_just_past_the_end() {
        let mut g = canary(1024);
        g[0..4].copy_from_slice(&1.0f32.to_le_bytes());
        let found = check("C", Side::After, &g).unwrap();
        assert_eq!((found.bytes_changed <= 4, found.nearest), (true, 0));
        assert_eq!(
            found.to_string(),
            format!(
                "out-of-bounds write past the end of C: {} guard bytes changed, the nearest 0 bytes past its end",
                found.bytes_changed
            )
        );
    }

    #[test]
    fn catches_a_write_before_the_start() {
        let mut g = canary(1024);
        g[1016..1020].copy_from_slice(&[0; 4]);
        let found = check("A", Side::Before, &g).unwrap();
        assert_eq!(found.nearest, -8);
        assert_eq!(found.bytes_changed, 4);
    }

    #[test]
    fn lets_untouched_guards_through() {
        assert_eq!(check("C", Side::After, &canary(GUARD_BYTES)), None);
        assert_eq!(check("C", Side::Before, &canary(GUARD_BYTES)), None);
        assert!(f32::from_bits(CANARY).is_nan());
    }
}
