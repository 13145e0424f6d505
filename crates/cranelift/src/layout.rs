//! Where each function starts in the code: the one layout decision keel makes itself, since
//! Cranelift lays out the blocks inside a function and offers no block alignment.
//!
//! A loop that dispatches through a `br_table` (an interpreter, a parser, a state machine) runs its
//! header (the interrupt check) and the block ending in the jump table's indirect jump once per
//! iteration. On the AMD Zen 3 this was measured on, the same machine code ran 3-5x slower when
//! that stretch crossed a 64-byte line than when it sat inside one (docs/performance.md, "Function
//! placement"), and which case a function got depended on the sizes of the functions before it.
//! So a function with such a dispatch starts at the offset, within its alignment, that keeps the
//! most of its dispatch stretches inside one line; every other function starts 16-byte aligned,
//! as before. The cost is at most 63 bytes of padding before a function with a jump table.

use std::ops::Range;

/// The cache line the dispatch stretches are kept inside.
const LINE: usize = 64;

/// Where functions without a dispatch loop start (and the least any function gets).
pub(crate) const FUNCTION_ALIGNMENT: usize = 16;

/// The dispatch stretches of an x86_64 function: for each jump table's indirect jump, the code
/// from each block start at most a line before the end of the jump to that end (the loop header's
/// interrupt check and the block that loads the index, for a dispatch loop). `blocks` are the
/// block start offsets that Cranelift reports with its `machine_code_cfg_info` setting (its
/// edges are not used: their sources are misattributed once cold blocks move to the end).
pub(crate) fn dispatch_spans(code: &[u8], blocks: &[u32]) -> Vec<Range<u32>> {
    let mut spans = Vec::new();
    for (lea, jump_end) in jump_tables(code) {
        let near = blocks.iter().filter(|&&b| b <= lea && (jump_end - b) as usize <= LINE);
        spans.extend(near.map(|&b| b..jump_end));
    }
    spans
}

/// The jump tables in `code` as (offset of the `lea`, end of the indirect jump), found by
/// Cranelift's x86_64 sequence: `lea table(%rip), %a; movslq (%a,%idx,4), %b; add %b, %a;
/// jmp *%a; table:`. The `lea` points at the table, which starts right after the `jmp`.
fn jump_tables(code: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
    let end = code.len();
    (0..end.saturating_sub(7)).filter_map(move |at| {
        let lea = &code[at..at + 7];
        // REX.W (with or without REX.R), LEA, ModRM mod=00 rm=101: RIP-relative.
        let is_lea = matches!(lea[0], 0x48 | 0x4c) && lea[1] == 0x8d && lea[2] & 0xc7 == 0x05;
        if !is_lea {
            return None;
        }
        let disp = i32::from_le_bytes([lea[3], lea[4], lea[5], lea[6]]);
        let table = (at + 7).checked_add_signed(disp as isize)?;
        if !(at + 7 + 8..=at + 7 + 16).contains(&table) || table > end {
            return None;
        }
        // `jmp *%reg`: FF /4 with mod=11 (after a REX.B prefix for r8-r15).
        let jmp = &code[table - 2..table];
        (jmp[0] == 0xff && jmp[1] & 0xf8 == 0xe0).then_some((at as u32, table as u32))
    })
}

/// The offset at which a function starts when the code so far is `len` bytes long: aligned to
/// its `alignment` (what its constants need) and [`FUNCTION_ALIGNMENT`], and, when it has
/// dispatch `spans`, moved on by whole alignments to the first offset (within one line) that
/// leaves the fewest spans crossing a line. The code's base is page-aligned, so offsets into the
/// code are offsets into lines.
pub(crate) fn function_start(len: usize, alignment: usize, spans: &[Range<u32>]) -> usize {
    if spans.is_empty() {
        return len.next_multiple_of(alignment.max(FUNCTION_ALIGNMENT));
    }
    let alignment = alignment.max(1);
    let first = len.next_multiple_of(alignment);
    let crossings = |at: usize| {
        spans
            .iter()
            .filter(|s| (at + s.start as usize) / LINE != (at + s.end as usize - 1) / LINE)
            .count()
    };
    (first..first + LINE.max(alignment))
        .step_by(alignment)
        .min_by_key(|&at| crossings(at))
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatch of bench/guests/interp.wasm as Cranelift compiled it: a loop header at 0x00
    /// (interrupt check: load, test, jne), then the block that loads the opcode and jumps
    /// through the table at 0x36, then a case that jumps back.
    fn interp_dispatch() -> Vec<u8> {
        let mut code = vec![
            0x44, 0x8b, 0x00, // mov (%rax),%r8d
            0x45, 0x85, 0xc0, // test %r8d,%r8d
            0x0f, 0x85, 0x00, 0x01, 0x00, 0x00, // jne (cold)
            0x44, 0x8d, 0x04, 0xd6, // lea (%rsi,%rdx,8),%r8d
            0x4e, 0x0f, 0xb6, 0x14, 0x01, // movzbq (%rcx,%r8,1),%r10
            0x41, 0xb9, 0x0d, 0x00, 0x00, 0x00, // mov $0xd,%r9d
            0x45, 0x8b, 0xd2, // mov %r10d,%r10d
            0x45, 0x3b, 0xd1, // cmp %r9d,%r10d
            0x45, 0x0f, 0x42, 0xca, // cmovb %r10d,%r9d
            0x4c, 0x8d, 0x15, 0x0a, 0x00, 0x00, 0x00, // lea 0xa(%rip),%r10
            0x4f, 0x63, 0x0c, 0x8a, // movslq (%r10,%r9,4),%r9
            0x4d, 0x03, 0xd1, // add %r9,%r10
            0x41, 0xff, 0xe2, // jmp *%r10
        ];
        assert_eq!(code.len(), 0x36);
        code.extend_from_slice(&[0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x30, 0, 0, 0, 0x30, 0, 0, 0]);
        code.extend_from_slice(&[0xe9, 0xb5, 0xff, 0xff, 0xff, 0x90, 0x90, 0x90]); // jmp 0x00
        code
    }

    #[test]
    fn dispatch_spans_run_from_each_near_block_start_to_the_jump() {
        let code = interp_dispatch();
        assert_eq!(dispatch_spans(&code, &[0, 12, 0x46]), vec![0..0x36, 12..0x36]);
        // A block start more than a line before the jump's end gives no span.
        let mut far = vec![0x90; 20];
        far.extend_from_slice(&code);
        assert_eq!(dispatch_spans(&far, &[0, 20, 32, 0x5a]), vec![20..0x4a, 32..0x4a]);
    }

    #[test]
    fn a_lea_without_the_jump_is_no_table() {
        let mut code = interp_dispatch();
        code[0x34] = 0x90; // the jmp's opcode byte
        assert!(dispatch_spans(&code, &[0, 12, 0x46]).is_empty());
        let mut code = interp_dispatch();
        code[0x28] = 0x40; // the lea's displacement: no longer the end of the jmp
        assert!(dispatch_spans(&code, &[0, 12, 0x46]).is_empty());
    }

    #[test]
    fn function_starts() {
        let span = |r: Range<u32>| vec![r];
        // (code so far, alignment, spans, start)
        let cases: &[(usize, usize, Vec<Range<u32>>, usize)] = &[
            (0, 1, vec![], 0),
            (1, 1, vec![], 16),
            (17, 32, vec![], 32),
            // The interp guest: header at 0x6b of the function, jump end at 0xa1 (54 bytes).
            (0, 1, span(0x6b..0xa1), 21),
            (100, 1, span(0x6b..0xa1), 149),
            // With 16-byte alignment (constants), the best of four starts; none fits the first.
            (0, 16, span(0x6b..0xa1), 0),
            (0, 16, span(0x60..0xa0), 32),
            (0, 16, span(0x70..0xa0), 16),
            // Two spans: the first start that fits both; when none does, the fewest crossings.
            (0, 1, vec![0..40, 120..150], 8),
            (0, 1, vec![0..40, 100..130], 0),
        ];
        for (len, alignment, spans, start) in cases {
            assert_eq!(
                function_start(*len, *alignment, spans),
                *start,
                "{len} {alignment} {spans:?}"
            );
        }
    }
}
