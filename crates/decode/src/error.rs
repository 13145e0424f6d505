//! Decoding and validation errors.

/// Why a binary was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    offset: usize,
    message: String,
}

impl DecodeError {
    /// An error at byte `offset` of the binary.
    pub fn new(offset: usize, message: impl Into<String>) -> Self {
        DecodeError { offset, message: message.into() }
    }

    /// Byte offset in the binary where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong, without the offset.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<wasmparser::BinaryReaderError> for DecodeError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        // A few wasmparser messages embed pretty-printed values across several lines; keep
        // every message on one line.
        let message = e.message();
        let message = if message.contains('\n') || message.contains("  ") {
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            message.to_string()
        };
        DecodeError::new(e.offset() as usize, message)
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset 0x{:x})", self.message, self.offset)
    }
}

impl std::error::Error for DecodeError {}
