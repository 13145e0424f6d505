//! Every function of every module of the v1, v2 and simd spec suites, translated for the
//! interpreter (plain and listening bytecode), passes `keel_ir::verify`.
//!
//! `cargo xtask spectest` runs in release, without the verification that debug builds do after
//! every translation; this test (a debug build under `cargo test`) checks the whole suite
//! explicitly.

use keel_spec_tests::Suite;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute};

/// The modules a script defines or expects to trap or fail to link (all of them valid), encoded.
fn modules(source: &str) -> Vec<Vec<u8>> {
    let mut lexer = wast::lexer::Lexer::new(source);
    lexer.allow_confusing_unicode(true);
    let Ok(buffer) = ParseBuffer::new_with_lexer(lexer) else { return Vec::new() };
    let Ok(wast) = parser::parse::<Wast<'_>>(&buffer) else { return Vec::new() };
    let mut out = Vec::new();
    for directive in wast.directives {
        let module = match directive {
            WastDirective::Module(m) | WastDirective::ModuleDefinition(m) => m,
            WastDirective::AssertTrap { exec: WastExecute::Wat(w), .. }
            | WastDirective::AssertUnlinkable { module: w, .. } => QuoteWat::Wat(w),
            _ => continue,
        };
        let mut module = module;
        if let Ok(bytes) = module.encode() {
            out.push(bytes);
        }
    }
    out
}

#[test]
fn every_spec_function_verifies() {
    let suites = [Suite::V1, Suite::V2, Suite::by_name("simd").unwrap()];
    let mut failures = Vec::new();
    for suite in suites {
        let (mut modules_checked, mut functions) = (0, 0);
        for (file, source) in suite.files() {
            for bytes in modules(source) {
                // Modules keel does not decode (unsupported features) are not compiled either.
                let Ok(module) = keel_decode::decode(&bytes, suite.features()) else { continue };
                modules_checked += 1;
                functions += module.num_defined_functions();
                if let Err(e) = keel_interp::verify_module(&module) {
                    failures.push(format!("{} {file}: {e}", suite.name()));
                }
            }
        }
        eprintln!("{}: {modules_checked} modules, {functions} functions", suite.name());
        assert!(modules_checked > 50, "{}: only {modules_checked} modules", suite.name());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
