//! Arbitrary bytes: decoding must return a module or an error with an offset inside the input,
//! never panic; whatever validates must also compile on the interpreter. (Arbitrary valid code
//! may loop forever, so running is left to `run_smith`, whose modules are made to terminate.)
#![no_main]

use keel::{EngineKind, Runtime, RuntimeConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match keel_decode::decode(data, keel_decode::Features::V2) {
        Ok(_) => {
            let runtime = Runtime::with_config(RuntimeConfig::default(), EngineKind::Interpreter);
            if let Err(e) = runtime.compile(data) {
                // Validated modules compile, but for what the interpreter does not support yet.
                assert!(e.to_string().contains("not supported"), "valid module failed: {e}");
            }
        }
        Err(e) => {
            assert!(e.offset() <= data.len(), "offset {} past {} bytes", e.offset(), data.len())
        }
    }
});
