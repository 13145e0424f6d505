//! AssemblyScript strings in guest memory: UTF-16LE code units at `ptr`, their length in bytes
//! as a little-endian `u32` at `ptr - 4` (the runtime header's `rtSize`).

use keel::{Caller, Trap, TrapCode};

/// Reads the AssemblyScript string at `ptr` from the caller's memory 0.
///
/// A `ptr` below 4, a header or a body that does not lie wholly inside the memory, or a caller
/// without memory is a [`TrapCode::MemoryOutOfBounds`] trap: the host never reads outside the
/// guest's memory. The text is decoded lossily: an unpaired surrogate, or an odd trailing byte,
/// becomes U+FFFD (as Go's `utf16.Decode` does for surrogates).
pub fn read_string(caller: &mut Caller<'_>, ptr: u32) -> Result<String, Trap> {
    let oob = || Trap::from(TrapCode::MemoryOutOfBounds);
    let memory = caller.memory().ok_or_else(oob)?;
    let header = ptr.checked_sub(4).ok_or_else(oob)?;
    let mut len = [0u8; 4];
    if !memory.read(header as u64, &mut len) {
        return Err(oob());
    }
    let len = u32::from_le_bytes(len) as u64;
    // u64 arithmetic: ptr + len cannot overflow, and `check` compares against the memory's size.
    if !memory.check(ptr as u64, len) {
        return Err(oob());
    }
    let mut bytes = vec![0u8; len as usize];
    if !memory.read(ptr as u64, &mut bytes) {
        return Err(oob());
    }
    Ok(decode_utf16_lossy(&bytes))
}

/// UTF-16LE to a `String`, lossily.
pub(crate) fn decode_utf16_lossy(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let mut s: String =
        char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
    if bytes.len() % 2 == 1 {
        s.push(char::REPLACEMENT_CHARACTER);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::decode_utf16_lossy;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn decodes_utf16le() {
        assert_eq!(decode_utf16_lossy(&utf16("héllo, 世界, 🎉")), "héllo, 世界, 🎉");
        assert_eq!(decode_utf16_lossy(&[]), "");
    }

    #[test]
    fn replaces_what_is_not_utf16() {
        // A lone high surrogate, a lone low surrogate, and an odd trailing byte.
        assert_eq!(decode_utf16_lossy(&[0x3d, 0xd8, b'a', 0]), "\u{fffd}a");
        assert_eq!(decode_utf16_lossy(&[b'a', 0, 0x00, 0xdc]), "a\u{fffd}");
        assert_eq!(decode_utf16_lossy(&[b'a', 0, b'b']), "a\u{fffd}");
    }
}
