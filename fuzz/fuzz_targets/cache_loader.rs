//! The compilation cache's loader, fed arbitrary entries: raw bytes, mutations of a valid entry
//! (header and payload, so the checksum catches them), and mutations of the payload re-sealed
//! with a valid checksum (so the compiler's loader itself must catch them). The loader must return
//! an error or a module equivalent to a fresh compile, and must never crash or read out of bounds.
//! Re-sealed payloads whose code bytes changed load as different code: those are loaded but never
//! run (the code bytes are vouched for by the checksum alone, see docs/cache.md).
#![no_main]

use std::sync::OnceLock;

use keel::cache::{self, CacheKey};
use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use libfuzzer_sys::fuzz_target;

/// Two functions in a table, call_indirect, memory, f64.floor (the module of
/// crates/keel/tests/cache.rs).
const WASM: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x16, 0x04, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7c, 0x01, 0x7c, 0x60, 0x01, 0x7e, 0x01, 0x7e,
    0x03, 0x06, 0x05, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x04, 0x01, 0x70, 0x00, 0x02, 0x05, 0x03,
    0x01, 0x00, 0x01, 0x07, 0x17, 0x03, 0x03, 0x72, 0x75, 0x6e, 0x00, 0x02, 0x05, 0x66, 0x6c, 0x6f,
    0x6f, 0x72, 0x00, 0x03, 0x05, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x00, 0x04, 0x09, 0x08, 0x01, 0x00,
    0x41, 0x00, 0x0b, 0x02, 0x00, 0x01, 0x0a, 0x30, 0x05, 0x07, 0x00, 0x20, 0x00, 0x20, 0x00, 0x6c,
    0x0b, 0x07, 0x00, 0x20, 0x00, 0x41, 0x01, 0x76, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0x11,
    0x00, 0x00, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x9c, 0x0b, 0x0e, 0x00, 0x41, 0x08, 0x20, 0x00, 0x37,
    0x03, 0x00, 0x41, 0x08, 0x29, 0x03, 0x00, 0x0b, 0x00, 0x1a, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x01,
    0x0b, 0x02, 0x00, 0x02, 0x73, 0x71, 0x01, 0x04, 0x68, 0x61, 0x6c, 0x66, 0x04, 0x06, 0x01, 0x00,
    0x03, 0x69, 0x32, 0x69,
];

struct Fixture {
    rt: Runtime,
    key: CacheKey,
    entry: Vec<u8>,
    payload: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler);
        let compiled = rt.compile(WASM).unwrap();
        let entry = rt.cache_entry(WASM, &compiled).unwrap();
        let key = rt.cache_key(WASM).unwrap();
        let payload = cache::decode(&entry, &key).unwrap().to_vec();
        Fixture { rt, key, entry, payload }
    })
}

/// Applies `ops` to `bytes`: a first byte with the high bit set truncates at the position read
/// from the next two; then each (position: u16, xor: u8) triple flips bits.
fn mutate(bytes: &mut Vec<u8>, ops: &[u8]) {
    let mut ops = ops;
    if let [flag, a, b, rest @ ..] = ops {
        if flag & 0x80 != 0 && !bytes.is_empty() {
            bytes.truncate(u16::from_le_bytes([*a, *b]) as usize % (bytes.len() + 1));
        }
        ops = rest;
    }
    for op in ops.chunks_exact(3) {
        if bytes.is_empty() {
            break;
        }
        let at = u16::from_le_bytes([op[0], op[1]]) as usize % bytes.len();
        bytes[at] ^= op[2];
    }
}

/// A loaded entry must be the fresh compile's, and run as it does.
fn check(f: &Fixture, entry: &[u8]) {
    let Ok(compiled) = f.rt.load_cache_entry(WASM, entry) else { return };
    assert_eq!(f.rt.cache_entry(WASM, &compiled).as_deref(), Some(&f.entry[..]));
    let m = f.rt.instantiate(&compiled, ModuleConfig::new().with_name("")).unwrap();
    let run = m.typed_func::<(i32, i32), i32>("run").unwrap();
    assert_eq!(run.call((7, 0)).unwrap(), 49);
    assert_eq!(m.typed_func::<f64, f64>("floor").unwrap().call(-2.5).unwrap(), -3.0);
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => check(f, rest),
        1 => {
            let mut entry = f.entry.clone();
            mutate(&mut entry, rest);
            check(f, &entry);
        }
        _ => {
            let mut payload = f.payload.clone();
            mutate(&mut payload, rest);
            let entry = cache::encode(&f.key, &payload);
            if let Ok(compiled) = f.rt.load_cache_entry(WASM, &entry) {
                // Loaded without an out-of-bounds access; run it only if nothing changed.
                if payload == f.payload {
                    check(f, &entry);
                } else {
                    drop(compiled);
                }
            }
        }
    }
});
