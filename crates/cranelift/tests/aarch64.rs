//! Compiles every module of the Wasm 2.0 spec suite and of the SIMD suite for aarch64 (without
//! running it), so that the aarch64 backend is exercised on any host; each module both plain and
//! as listening code (which passes every parameter and result through a value array).

use keel_cranelift::Compiler;
use keel_runtime::CompileOptions;
use keel_spec_tests::Suite;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, WastDirective};

/// Compiles each module of `suite` that decodes with the suite's features; returns how many.
fn compile_suite_for_aarch64(suite: Suite) -> usize {
    compile_suite_for(suite, "aarch64-unknown-linux-gnu")
}

fn compile_suite_for(suite: Suite, triple: &str) -> usize {
    let triple: target_lexicon::Triple = triple.parse().unwrap();
    let mut compiled = 0;
    for (name, raw) in suite.files() {
        let mut lexer = wast::lexer::Lexer::new(raw);
        lexer.allow_confusing_unicode(true);
        let buffer = ParseBuffer::new_with_lexer(lexer).unwrap();
        let Ok(script) = parser::parse::<wast::Wast<'_>>(&buffer) else { continue };
        for d in script.directives {
            let mut module = match d {
                WastDirective::Module(m) | WastDirective::ModuleDefinition(m) => m,
                _ => continue,
            };
            if matches!(
                module,
                QuoteWat::QuoteComponent(..) | QuoteWat::Wat(wast::Wat::Component(_))
            ) {
                continue;
            }
            let Ok(bytes) = module.encode() else { continue };
            let Ok(decoded) = keel_decode::decode(&bytes, suite.features()) else {
                continue;
            };
            for listening in [false, true] {
                let options = CompileOptions { listening };
                let art = Compiler::compile_for_target(&decoded, triple.clone(), options)
                    .unwrap_or_else(|e| panic!("{suite} {name} ({}): {e}", options.variant()));
                assert_eq!(art.functions.len(), decoded.bodies.len());
                assert_eq!(art.listening, listening);
            }
            compiled += 1;
        }
    }
    compiled
}

#[test]
fn every_v2_spec_module_compiles_for_aarch64() {
    let compiled = compile_suite_for_aarch64(Suite::V2);
    assert!(compiled > 1000, "only {compiled} modules compiled");
}

#[test]
fn every_simd_spec_module_compiles_for_aarch64() {
    let compiled = compile_suite_for_aarch64(Suite::by_name("simd").unwrap());
    assert!(compiled > 100, "only {compiled} modules compiled");
}

/// Without CPU features (SSE2 only), Cranelift's x64 backend falls back to libcalls (float
/// rounding, `pshufb`), which the artefact must be able to relocate.
#[test]
fn every_simd_spec_module_compiles_for_baseline_x86_64() {
    let compiled = compile_suite_for(Suite::by_name("simd").unwrap(), "x86_64-unknown-linux-gnu");
    assert!(compiled > 100, "only {compiled} modules compiled");
}
