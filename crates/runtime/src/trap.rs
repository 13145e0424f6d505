//! Traps, exits and the errors of compiling, linking and calling.

use std::fmt;
use std::sync::Arc;

/// Why execution trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable,
    /// A memory access outside the memory's current size.
    MemoryOutOfBounds,
    /// A table access outside the table's current size.
    TableOutOfBounds,
    /// `call_indirect` reached a null entry.
    IndirectCallToNull,
    /// `call_indirect` reached a function of another signature.
    BadSignature,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Signed division overflow, or a float-to-int conversion out of range.
    IntegerOverflow,
    /// A float-to-int conversion of NaN.
    BadConversionToInteger,
    /// The call stack exceeded its limit.
    StackOverflow,
    /// A null reference was dereferenced.
    NullReference,
    /// The call was interrupted.
    Interrupted,
}

impl TrapCode {
    /// The message the spec tests use for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "uninitialized element",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::NullReference => "null reference",
            TrapCode::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// One frame of a Wasm stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Name of the module instance.
    pub module: Arc<str>,
    /// Index in the module's function index space.
    pub func_index: u32,
    /// Name from the name section, if any.
    pub func_name: Option<Arc<str>>,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func_name {
            Some(name) => write!(f, "{}.{}", self.module, name),
            None => write!(f, "{}.${}", self.module, self.func_index),
        }
    }
}

/// What ended a call early.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TrapKind {
    /// A Wasm trap.
    Code(TrapCode),
    /// The guest asked to exit (WASI `proc_exit`, Go's `wasmExit`) with this code.
    Exit(u32),
    /// A host function failed.
    Host(Arc<dyn std::error::Error + Send + Sync>),
}

/// A trap: why a call ended early, with the Wasm stack trace at that point (innermost first).
///
/// Its `Display` is the message, then `wasm stack trace:` and one frame a line, shortened to
/// stay readable: a frame or a cycle of up to 4 frames repeated at least 3 times in a row prints
/// once, then `… N more frames of m.f` (of a cycle: `… N more frames of m.a, m.b (K more
/// cycles)`); a trace still longer than 40 lines keeps its innermost 20 and outermost 10 lines
/// around one `… N frames omitted …`. The alternate form (`{:#}`) prints every frame, and
/// [`Trap::trace`] has them all.
#[derive(Debug, Clone)]
pub struct Trap {
    kind: TrapKind,
    trace: Vec<FrameInfo>,
}

impl Trap {
    /// A trap of kind `kind` with no trace yet.
    pub fn new(kind: TrapKind) -> Self {
        Trap { kind, trace: Vec::new() }
    }

    /// A host function's error.
    pub fn host(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Trap::new(TrapKind::Host(Arc::from(error.into())))
    }

    /// An exit with `code`.
    pub fn exit(code: u32) -> Self {
        Trap::new(TrapKind::Exit(code))
    }

    /// What happened.
    pub fn kind(&self) -> &TrapKind {
        &self.kind
    }

    /// The trap code, if this is a Wasm trap.
    pub fn code(&self) -> Option<TrapCode> {
        match self.kind {
            TrapKind::Code(c) => Some(c),
            _ => None,
        }
    }

    /// The exit code, if the guest exited.
    pub fn exit_code(&self) -> Option<u32> {
        match self.kind {
            TrapKind::Exit(c) => Some(c),
            _ => None,
        }
    }

    /// The Wasm stack trace, innermost frame first: every frame, however long (only the
    /// `Display` shortens it).
    pub fn trace(&self) -> &[FrameInfo] {
        &self.trace
    }

    /// Appends an outer frame to the trace (engines call this while unwinding).
    pub fn push_frame(&mut self, frame: FrameInfo) {
        self.trace.push(frame);
    }
}

impl From<TrapCode> for Trap {
    fn from(code: TrapCode) -> Self {
        Trap::new(TrapKind::Code(code))
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TrapKind::Code(c) => write!(f, "wasm trap: {c}")?,
            TrapKind::Exit(c) => write!(f, "module exited with exit code {c}")?,
            TrapKind::Host(e) => write!(f, "host function failed: {e}")?,
        }
        if !self.trace.is_empty() {
            f.write_str("\nwasm stack trace:")?;
            if f.alternate() {
                for frame in &self.trace {
                    write!(f, "\n\t{frame}")?;
                }
            } else {
                write_short_trace(f, &self.trace)?;
            }
        }
        Ok(())
    }
}

// How a trace is shortened for `Display` (docs/cli.md shows the result). `Trap::trace` keeps
// every frame; `{:#}` prints them all.

/// Longest cycle of frames that collapses (a→b→a→b... is a cycle of 2).
const MAX_CYCLE: usize = 4;
/// A cycle collapses when it occurs at least this many times in a row.
const MIN_REPEATS: usize = 3;
/// A trace longer than this many lines, once collapsed, prints only its innermost
/// `HEAD_LINES` and outermost `TAIL_LINES` lines, with one line between saying how many frames
/// were left out.
const MAX_TRACE_LINES: usize = 40;
const HEAD_LINES: usize = 20;
const TAIL_LINES: usize = 10;

/// `repeats` consecutive copies of the `period` frames from `start`; a plain frame is one
/// copy of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: usize,
    period: usize,
    repeats: usize,
}

impl Run {
    fn frames(&self) -> usize {
        self.period * self.repeats
    }

    /// Lines it prints: its cycle once, then one line for the rest of the copies.
    fn lines(&self) -> usize {
        if self.repeats > 1 { self.period + 1 } else { self.period }
    }
}

/// Cuts `trace` into runs, innermost first. At each frame the cycle (up to `MAX_CYCLE` frames,
/// repeated at least `MIN_REPEATS` times) covering the most frames wins, the shortest on a tie;
/// without one, the frame stands alone.
fn runs(trace: &[FrameInfo]) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < trace.len() {
        let mut best = Run { start: i, period: 1, repeats: 1 };
        for period in 1..=MAX_CYCLE {
            let Some(cycle) = trace.get(i..i + period) else { break };
            let mut repeats = 1;
            while trace.get(i + repeats * period..i + (repeats + 1) * period) == Some(cycle) {
                repeats += 1;
            }
            if repeats >= MIN_REPEATS && period * repeats > best.frames() {
                best = Run { start: i, period, repeats };
            }
        }
        i += best.frames();
        runs.push(best);
    }
    runs
}

fn write_run(f: &mut fmt::Formatter<'_>, trace: &[FrameInfo], run: Run) -> fmt::Result {
    let cycle = &trace[run.start..run.start + run.period];
    for frame in cycle {
        write!(f, "\n\t{frame}")?;
    }
    if run.repeats > 1 {
        let more = run.period * (run.repeats - 1);
        write!(f, "\n\t\u{2026} {more} more frames of ")?;
        for (i, frame) in cycle.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{frame}")?;
        }
        if run.period > 1 {
            write!(f, " ({} more cycles)", run.repeats - 1)?;
        }
    }
    Ok(())
}

/// The trace's lines, repeats collapsed and the middle left out if still too long. A run is
/// never cut in two.
fn write_short_trace(f: &mut fmt::Formatter<'_>, trace: &[FrameInfo]) -> fmt::Result {
    let runs = runs(trace);
    let total: usize = runs.iter().map(Run::lines).sum();
    let (mut head, mut tail) = (runs.len(), runs.len());
    if total > MAX_TRACE_LINES {
        let mut lines = 0;
        head = runs
            .iter()
            .take_while(|r| {
                lines += r.lines();
                lines <= HEAD_LINES
            })
            .count();
        lines = 0;
        tail = runs.len()
            - runs[head..]
                .iter()
                .rev()
                .take_while(|r| {
                    lines += r.lines();
                    lines <= TAIL_LINES
                })
                .count();
    }
    for run in &runs[..head] {
        write_run(f, trace, *run)?;
    }
    if head < tail {
        let omitted: usize = runs[head..tail].iter().map(Run::frames).sum();
        write!(f, "\n\t\u{2026} {omitted} frames omitted \u{2026}")?;
    }
    for run in &runs[tail..] {
        write_run(f, trace, *run)?;
    }
    Ok(())
}

impl std::error::Error for Trap {}

/// So that a host function can `?` a call it makes: a trap goes on as itself (its code and
/// frames kept), any other error becomes a host trap with its message.
impl From<crate::Error> for Trap {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Trap(t) => t,
            other => Trap::host(other.to_string()),
        }
    }
}

/// Result of the runtime's API.
pub type Result<T, E = crate::Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> FrameInfo {
        // The same name is the same function: equal frames.
        let func_index = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        FrameInfo { module: "m".into(), func_index, func_name: Some(name.into()) }
    }

    /// Frames from space-separated names, `name*N` meaning N copies and `(a b)*N` N copies of a
    /// group (not nested).
    fn frames(spec: &str) -> Vec<FrameInfo> {
        let mut out = Vec::new();
        let mut rest = spec.trim();
        while !rest.is_empty() {
            let (names, after) = match rest.strip_prefix('(') {
                Some(r) => {
                    let close = r.find(')').unwrap();
                    (&r[..close], &r[close + 1..])
                }
                None => {
                    let end = rest.find([' ', '*']).unwrap_or(rest.len());
                    (&rest[..end], &rest[end..])
                }
            };
            let (count, after) = match after.strip_prefix('*') {
                Some(r) => {
                    let end = r.find(' ').unwrap_or(r.len());
                    (r[..end].parse::<usize>().unwrap(), &r[end..])
                }
                None => (1, after),
            };
            let group: Vec<_> = names.split_whitespace().map(frame).collect();
            for _ in 0..count {
                out.extend(group.iter().cloned());
            }
            rest = after.trim_start();
        }
        out
    }

    fn trap(trace: &[FrameInfo]) -> Trap {
        let mut t = Trap::from(TrapCode::StackOverflow);
        for f in trace {
            t.push_frame(f.clone());
        }
        t
    }

    /// The lines after "wasm stack trace:", without their leading tab.
    fn printed(t: &Trap) -> Vec<String> {
        let s = t.to_string();
        let mut lines = s.lines();
        assert_eq!(lines.next(), Some("wasm trap: call stack exhausted"));
        assert_eq!(lines.next(), Some("wasm stack trace:"));
        lines.map(|l| l.strip_prefix('\t').expect("indented").to_string()).collect()
    }

    fn names(range: std::ops::Range<usize>) -> String {
        range.map(|i| format!("f{i}")).collect::<Vec<_>>().join(" ")
    }

    fn lines_of(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("m.f{i}")).collect()
    }

    #[test]
    fn display_collapses_repeats_and_caps_the_trace() {
        let cases: Vec<(&str, String, Vec<String>)> = vec![
            (
                "no repetition",
                "c b a main".into(),
                vec!["m.c", "m.b", "m.a", "m.main"].into_iter().map(String::from).collect(),
            ),
            (
                "two in a row stay",
                "f f main".into(),
                vec!["m.f".into(), "m.f".into(), "m.main".into()],
            ),
            (
                "one frame 10,000 times",
                "f*10000 main".into(),
                vec!["m.f".into(), "… 9999 more frames of m.f".into(), "m.main".into()],
            ),
            (
                "one frame 10,000 times, nothing else",
                "f*10000".into(),
                vec!["m.f".into(), "… 9999 more frames of m.f".into()],
            ),
            (
                "2-cycle",
                "(a b)*5000 main".into(),
                vec![
                    "m.a".into(),
                    "m.b".into(),
                    "… 9998 more frames of m.a, m.b (4999 more cycles)".into(),
                    "m.main".into(),
                ],
            ),
            (
                "2-cycle ending inside the cycle",
                "(a b)*3 a main".into(),
                ["m.a", "m.b", "… 4 more frames of m.a, m.b (2 more cycles)", "m.a", "m.main"]
                    .map(String::from)
                    .to_vec(),
            ),
            (
                "4-cycle",
                "(a b c d)*3".into(),
                [
                    "m.a",
                    "m.b",
                    "m.c",
                    "m.d",
                    "… 8 more frames of m.a, m.b, m.c, m.d (2 more cycles)",
                ]
                .map(String::from)
                .to_vec(),
            ),
            (
                "a 5-cycle is too long to collapse",
                "(a b c d e)*3".into(),
                "a b c d e a b c d e a b c d e".split(' ').map(|n| format!("m.{n}")).collect(),
            ),
            (
                "a cycle with a repeat inside it",
                "(a a b)*4 main".into(),
                ["m.a", "m.a", "m.b", "… 9 more frames of m.a, m.a, m.b (3 more cycles)", "m.main"]
                    .map(String::from)
                    .to_vec(),
            ),
            (
                "a mix",
                "g f*3 h h (a b)*3 c main".into(),
                [
                    "m.g",
                    "m.f",
                    "… 2 more frames of m.f",
                    "m.h",
                    "m.h",
                    "m.a",
                    "m.b",
                    "… 4 more frames of m.a, m.b (2 more cycles)",
                    "m.c",
                    "m.main",
                ]
                .map(String::from)
                .to_vec(),
            ),
            ("40 lines fit", names(0..40), lines_of(0..40)),
            (
                "41 lines do not",
                names(0..41),
                [lines_of(0..20), vec!["… 11 frames omitted …".into()], lines_of(31..41)].concat(),
            ),
            (
                "long, non-repeating",
                names(0..100),
                [lines_of(0..20), vec!["… 70 frames omitted …".into()], lines_of(90..100)].concat(),
            ),
            (
                // The cycle's 4 lines would end past line 20: it goes whole into the omission.
                "a run is not cut by the cap",
                format!("{} (a b c)*10 {}", names(0..18), names(18..48)),
                [lines_of(0..18), vec!["… 50 frames omitted …".into()], lines_of(38..48)].concat(),
            ),
            (
                "a mix over the cap",
                format!("g*500 {} (x y)*100 main", names(0..50)),
                [
                    vec!["m.g".into(), "… 499 more frames of m.g".into()],
                    lines_of(0..18),
                    vec!["… 26 frames omitted …".into()],
                    lines_of(44..50),
                    vec![
                        "m.x".into(),
                        "m.y".into(),
                        "… 198 more frames of m.x, m.y (99 more cycles)".into(),
                        "m.main".into(),
                    ],
                ]
                .concat(),
            ),
        ];
        for (name, spec, want) in cases {
            let trace = frames(&spec);
            let t = trap(&trace);
            assert_eq!(printed(&t), want, "{name}");
            assert!(printed(&t).len() <= MAX_TRACE_LINES, "{name}");
            // Only the Display is shortened.
            assert_eq!(t.trace(), &trace[..], "{name}");
            let full = format!("{t:#}");
            assert_eq!(full.lines().count(), 2 + trace.len(), "{name}");
            assert_eq!(format!("{:#}", crate::Error::from(t.clone())), full, "{name}");
        }
    }

    #[test]
    fn display_without_frames_has_no_trace() {
        assert_eq!(Trap::from(TrapCode::Unreachable).to_string(), "wasm trap: unreachable");
    }
}
