#![forbid(unsafe_code)]
//! keel-decode: WebAssembly binaries to a validated module description.
//!
//! The binary is validated in full by `wasmparser` against a chosen [`Features`] set, then read
//! into a [`Module`]: types, imports, exports, function bodies (as byte ranges), tables, memories,
//! globals, segments, the start function, custom sections and the name section. Every error
//! carries the byte offset where decoding or validation stopped.
//!
//! ```
//! let wasm = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32)
//!     local.get 0 local.get 1 i32.add))"#).unwrap();
//! let module = keel_decode::decode(&wasm, keel_decode::Features::V2).unwrap();
//! assert_eq!(module.exports[0].name, "add");
//! assert_eq!(module.func_type(0).to_string(), "(i32, i32) -> (i32)");
//!
//! let err = keel_decode::decode(&wasm[..wasm.len() - 3], keel_decode::Features::V2).unwrap_err();
//! assert!(err.offset() > 0);
//! ```

#![warn(missing_docs)]

mod error;
mod features;
mod parse;
mod types;

pub use error::DecodeError;
pub use features::Features;
pub use parse::decode;
pub use types::*;

/// Re-export of the parser keel uses, so that engines read operators with the same version.
pub use wasmparser;
