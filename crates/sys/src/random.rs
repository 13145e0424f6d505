//! Random sources: deterministic by default (as wazero's), the OS's when enabled.

use std::io;

/// Where `random_get` bytes come from.
pub trait RandomSource: Send {
    /// Fills `buf`.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<()>;
}

/// A fixed-seed generator (splitmix64): the same bytes on every run, so guests behave the same
/// way each time unless the embedder grants real randomness.
#[derive(Debug, Clone)]
pub struct DeterministicRandom(u64);

impl DeterministicRandom {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        DeterministicRandom(seed)
    }
}

impl Default for DeterministicRandom {
    fn default() -> Self {
        DeterministicRandom::new(42)
    }
}

impl RandomSource for DeterministicRandom {
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<()> {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<()> {
        getrandom::fill(buf).map_err(|e| io::Error::other(e.to_string()))
    }
}
