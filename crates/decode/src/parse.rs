//! Reading a validated binary into a [`Module`].

use crate::{DecodeError, Features, Module};

/// Validates `bytes` against `features` and decodes them into a [`Module`].
pub fn decode(bytes: &[u8], features: Features) -> Result<Module, DecodeError> {
    let _ = (bytes, features.to_wasmparser());
    todo!("decode")
}
