//! The checked-in list of expected failures, `spec-tests/expected-failures.txt`.

use crate::{ENGINES, Suite};

/// Where the list lives, relative to the workspace root.
pub const EXPECTED_FAILURES_PATH: &str = "spec-tests/expected-failures.txt";

const LIST: &str = include_str!("../expected-failures.txt");

/// One entry of the list: the failures of `file` in `suite` on `engine` are expected, because of
/// `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// Line in the list (1-based).
    pub line: usize,
    /// Engine name, or `*` for every engine.
    pub engine: String,
    /// Suite name, or `*` for every suite.
    pub suite: String,
    /// The `.wast` file's name.
    pub file: String,
    /// Why the file fails, and why that is out of scope for now.
    pub reason: String,
}

impl ExpectedFailure {
    /// Whether the entry covers files of `suite` run on `engine`.
    pub fn applies_to(&self, engine: &str, suite: Suite) -> bool {
        (self.engine == "*" || self.engine == engine)
            && (self.suite == "*" || self.suite == suite.name())
    }
}

impl std::fmt::Display for ExpectedFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} {}", self.engine, self.suite, self.file, self.reason)
    }
}

/// The checked-in list; an error names the first malformed line.
pub fn expected_failures() -> Result<Vec<ExpectedFailure>, String> {
    parse(LIST)
}

pub(crate) fn parse(text: &str) -> Result<Vec<ExpectedFailure>, String> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("{EXPECTED_FAILURES_PATH}:{}: {why}: {line}", i + 1);
        let mut rest = line;
        let mut word = || {
            let r = rest.trim_start();
            let (w, tail) = r.split_at(r.find(char::is_whitespace).unwrap_or(r.len()));
            rest = tail;
            (!w.is_empty()).then_some(w)
        };
        let (Some(engine), Some(suite), Some(file)) = (word(), word(), word()) else {
            return Err(bad("expected `engine suite file.wast reason...`"));
        };
        let reason = rest.trim();
        if engine != "*" && !ENGINES.iter().any(|(name, _)| *name == engine) {
            return Err(bad("unknown engine"));
        }
        if suite != "*" {
            Suite::by_name(suite).map_err(|e| bad(&e))?;
        }
        if !file.ends_with(".wast") {
            return Err(bad("the file must be a .wast file"));
        }
        if reason.is_empty() {
            return Err(bad("missing reason"));
        }
        let entry = ExpectedFailure {
            line: i + 1,
            engine: engine.into(),
            suite: suite.into(),
            file: file.into(),
            reason: reason.into(),
        };
        if entries.iter().any(|e: &ExpectedFailure| {
            e.file == entry.file
                && (e.engine == "*" || entry.engine == "*" || e.engine == entry.engine)
                && (e.suite == "*" || entry.suite == "*" || e.suite == entry.suite)
        }) {
            return Err(bad("overlaps an earlier entry"));
        }
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_list_parses() {
        expected_failures().unwrap();
    }

    #[test]
    fn parses_entries_and_rejects_bad_lines() {
        let list = parse("# comment\n\n* v1 linking.wast  Wasm 1.0 linking semantics\n").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].line, 3);
        assert_eq!(list[0].reason, "Wasm 1.0 linking semantics");
        assert!(list[0].applies_to("interpreter", Suite::V1));
        assert!(!list[0].applies_to("interpreter", Suite::V2));
        assert!(parse("interpreter v2 i32.wast").is_err());
        assert!(parse("jit v2 i32.wast why").is_err());
        assert!(parse("interpreter v9 i32.wast why").is_err());
        assert!(parse("interpreter v2 i32.wat why").is_err());
        assert!(parse("* v2 i32.wast why\ninterpreter v2 i32.wast again").is_err());
    }
}
