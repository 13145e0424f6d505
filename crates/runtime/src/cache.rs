//! The compilation cache (DESIGN decision 7): compiled code stored in a directory, one file per
//! (binary, keel version, engine, target, features), shareable by runtimes and processes at once.
//!
//! An entry is a fixed header followed by the engine's payload:
//!
//! | bytes | field |
//! | --- | --- |
//! | 8 | magic `KEELCACH` |
//! | 4 | format version, little-endian ([`FORMAT_VERSION`]) |
//! | 32 | the key (echoed: a file renamed or copied under another key is refused) |
//! | 8 | payload length, little-endian |
//! | 32 | SHA-256 of the payload |
//! | n | payload ([`Engine::serialize`](crate::Engine::serialize)) |
//!
//! [`decode`] checks every field and the exact length before it hands out the payload; an entry
//! that fails any check is treated as missing, recompiled and rewritten. Writers write a temporary
//! file in the same directory and rename it over the entry, which is atomic on POSIX file systems,
//! so a reader sees either the old complete file or the new complete file, never a partial one.
//! See docs/cache.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use keel_decode::Features;
use sha2::{Digest, Sha256};

use crate::engine::CompileOptions;

/// First bytes of every entry.
pub const MAGIC: [u8; 8] = *b"KEELCACH";

/// Version of the entry format (header and the engines' payloads). Entries of another version
/// are refused and rewritten.
pub const FORMAT_VERSION: u32 = 2;

/// Length of the header that precedes the payload.
pub const HEADER_LEN: usize = 8 + 4 + 32 + 8 + 32;

/// keel's version, part of every key.
pub const KEEL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What an entry is stored under: SHA-256 over the binary, keel's version, the cache format
/// version, the engine's name, the engine's target identity (triple, CPU features and settings
/// that affect code generation), the enabled features and the compile options (plain or
/// listening code).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `binary` compiled by engine `engine` (its name) for target `target` (the
    /// engine's [`cache_id`](crate::Engine::cache_id)) with `features` and `options`.
    pub fn new(
        binary: &[u8],
        engine: &str,
        target: &str,
        features: Features,
        options: CompileOptions,
    ) -> CacheKey {
        let mut h = Sha256::new();
        // Every field is length-prefixed, so no two different tuples hash the same input.
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(b"keel compilation cache");
        field(&FORMAT_VERSION.to_le_bytes());
        field(KEEL_VERSION.as_bytes());
        field(engine.as_bytes());
        field(target.as_bytes());
        field(&features.bits().to_le_bytes());
        field(options.variant().as_bytes());
        field(binary);
        CacheKey(h.finalize().into())
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of an entry that belongs to this one's module: `tag` names which (the tiered
    /// engine keeps its hot-function profile and each batch of compiled functions so).
    pub fn derive(&self, tag: &[u8]) -> CacheKey {
        let mut h = Sha256::new();
        h.update(b"keel derived cache key");
        h.update(self.0);
        h.update((tag.len() as u64).to_le_bytes());
        h.update(tag);
        CacheKey(h.finalize().into())
    }

    /// The entry's file name: the key in hex with the extension `.keel`.
    pub fn file_name(&self) -> String {
        let mut s = String::with_capacity(69);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s.push_str(".keel");
        s
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CacheKey({})", self.file_name().trim_end_matches(".keel"))
    }
}

/// The entry for `payload` under `key`: header, then payload.
pub fn encode(key: &CacheKey, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of `entry` if it is a complete, intact entry for `key`: magic, format version,
/// key echo, exact length and checksum all match. Otherwise says what is wrong.
pub fn decode<'a>(entry: &'a [u8], key: &CacheKey) -> Result<&'a [u8], String> {
    let header = entry
        .get(..HEADER_LEN)
        .ok_or_else(|| format!("truncated header ({} of {HEADER_LEN} bytes)", entry.len()))?;
    let (magic, rest) = header.split_at(8);
    let (version, rest) = rest.split_at(4);
    let (echo, rest) = rest.split_at(32);
    let (len, checksum) = rest.split_at(8);
    if magic != MAGIC {
        return Err("not a keel cache entry (bad magic)".into());
    }
    let version = u32::from_le_bytes(version.try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!("format version {version}, expected {FORMAT_VERSION}"));
    }
    if echo != key.0 {
        return Err(
            "entry belongs to another key (binary, version, engine, target or features)".into()
        );
    }
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let payload = &entry[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(format!("payload is {} bytes, header says {len}", payload.len()));
    }
    if Sha256::digest(payload).as_slice() != checksum {
        return Err("payload checksum mismatch".into());
    }
    Ok(payload)
}

/// How a runtime's cache has been used, counted since the runtime was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiles served from an entry.
    pub hits: u64,
    /// Compiles with no usable entry (missing, or rejected).
    pub misses: u64,
    /// Entries found but refused (damaged, foreign, or refused by the engine's loader).
    pub rejected: u64,
    /// Entries written.
    pub writes: u64,
    /// Entries that could not be written (the compile still succeeded).
    pub write_errors: u64,
}

/// A cache directory and its counters.
#[derive(Debug)]
pub(crate) struct CacheDir {
    dir: PathBuf,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) write_errors: AtomicU64,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl CacheDir {
    pub(crate) fn new(dir: PathBuf) -> CacheDir {
        CacheDir {
            dir,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
        }
    }

    /// The whole entry file of `key`, if it can be read (a missing file, a directory or any
    /// other error reads as a miss).
    pub(crate) fn read(&self, key: &CacheKey) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(key.file_name())).ok()
    }

    /// Writes `entry` as the entry of `key`: into a fresh temporary file in the same directory,
    /// then renamed over the entry.
    pub(crate) fn write(&self, key: &CacheKey, entry: &[u8]) -> std::io::Result<()> {
        let result = write_atomic(&self.dir, &key.file_name(), entry);
        match result {
            Ok(()) => self.writes.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.write_errors.fetch_add(1, Ordering::Relaxed),
        };
        result
    }
}

/// The cache entries of one module that an engine keeps for itself, besides the whole-module
/// entry the runtime reads and writes ([`crate::Engine::compile_with_cache`]): each under the
/// module's key derived with a tag, checked as every entry is. Cheap to clone; usable from any
/// thread.
#[derive(Clone, Debug)]
pub struct ModuleCache {
    dir: std::sync::Arc<CacheDir>,
    key: CacheKey,
}

impl ModuleCache {
    pub(crate) fn new(dir: std::sync::Arc<CacheDir>, key: CacheKey) -> ModuleCache {
        ModuleCache { dir, key }
    }

    /// The payload stored under `tag`, if there is an intact entry (anything else is a miss,
    /// and is counted as a rejected entry when it exists but does not check out).
    pub fn read(&self, tag: &[u8]) -> Option<Vec<u8>> {
        let key = self.key.derive(tag);
        let entry = self.dir.read(&key)?;
        match decode(&entry, &key) {
            Ok(payload) => {
                self.dir.hits.fetch_add(1, Ordering::Relaxed);
                Some(payload.to_vec())
            }
            Err(_) => {
                self.dir.rejected.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Stores `payload` under `tag` (atomically; a failure is counted, not returned: a cache
    /// is an optimisation).
    pub fn write(&self, tag: &[u8], payload: &[u8]) {
        let key = self.key.derive(tag);
        let _ = self.dir.write(&key, &encode(&key, payload));
    }
}

/// Writes `bytes` to `dir/name` so that no reader ever sees a partial file: a temporary file
/// named uniquely for this process and write, then `rename`.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        f.write_all(bytes)?;
        drop(f);
        std::fs::rename(&temp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM: &[u8] = b"\0asm\x01\0\0\0";
    const PLAIN: CompileOptions = CompileOptions { listening: false };

    fn key_of(wasm: &[u8], engine: &str, target: &str, f: Features, o: CompileOptions) -> CacheKey {
        CacheKey::new(wasm, engine, target, f, o)
    }

    fn key() -> CacheKey {
        key_of(WASM, "compiler", "x86_64 test", Features::V2, PLAIN)
    }

    #[test]
    fn round_trip() {
        let entry = encode(&key(), b"payload");
        assert_eq!(entry.len(), HEADER_LEN + 7);
        assert_eq!(decode(&entry, &key()).unwrap(), b"payload");
    }

    #[test]
    fn key_covers_every_part() {
        let listening = CompileOptions { listening: true };
        let others = [
            key_of(b"\0asm\x01\0\0\x01", "compiler", "x86_64 test", Features::V2, PLAIN),
            key_of(WASM, "interpreter", "x86_64 test", Features::V2, PLAIN),
            key_of(WASM, "compiler", "aarch64 test", Features::V2, PLAIN),
            key_of(WASM, "compiler", "x86_64 test", Features::V1, PLAIN),
            key_of(WASM, "compiler", "x86_64 test", Features::V2, listening),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(key(), *other, "part {i}");
        }
        assert_eq!(key().file_name().len(), 64 + 5);
    }

    #[test]
    fn every_damage_is_refused() {
        let entry = encode(&key(), b"some payload bytes");
        for cut in 0..entry.len() {
            assert!(decode(&entry[..cut], &key()).is_err(), "truncated at {cut}");
        }
        for at in 0..entry.len() {
            let mut e = entry.clone();
            e[at] ^= 0x40;
            assert!(decode(&e, &key()).is_err(), "flipped byte {at}");
        }
        let mut longer = entry.clone();
        longer.push(0);
        assert!(decode(&longer, &key()).is_err());
        let other = key_of(b"other", "compiler", "x86_64 test", Features::V2, PLAIN);
        assert!(decode(&entry, &other).is_err());
        assert!(decode(&[], &key()).is_err());
    }
}
