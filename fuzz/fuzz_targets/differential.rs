//! Differential: wasm-smith modules (made to terminate, SIMD included, no imports, one memory, small
//! sizes) run on keel's interpreter, on its Cranelift compiler and on wasmi (the oracle from
//! outside keel). All instantiate the module (or all fail alike), then every exported function is
//! called in export order with the same arguments, drawn from the rest of the fuzz input. After
//! each call the results (NaN compared as "both NaN"), the trap code and the exported globals
//! must agree; at the end, the contents of every memory and the shape of every exported table.
//!
//! Allowed divergence: the engines bound the call stack differently (keel's interpreter by call
//! depth, its compiler by native stack bytes, wasmi by its own limits), so once any engine
//! reports a stack overflow the rest of the run is not compared.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use keel::{EngineKind, Error, Extern, Module, ModuleConfig, Runtime, RuntimeConfig, Val, ValType};
use libfuzzer_sys::fuzz_target;

#[path = "verify.rs"]
mod verify;
#[path = "wasmi_oracle.rs"]
mod wasmi_oracle;
use wasmi_oracle::Wasmi;

/// Largest memory a module may declare or grow to, in bytes (16 pages).
const MAX_MEMORY_BYTES: u64 = 16 << 16;

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    let Ok(mut config) = wasm_smith::Config::arbitrary(&mut u) else { return };
    restrict(&mut config);
    let Ok(mut module) = wasm_smith::Module::new(config, &mut u) else { return };
    if module.ensure_termination(1_000).is_err() {
        return;
    }
    let wasm = module.to_bytes();
    // To look at a failing input's module: `KEEL_FUZZ_DUMP=x.wasm ./differential ARTIFACT`.
    if let Some(path) = std::env::var_os("KEEL_FUZZ_DUMP") {
        std::fs::write(path, &wasm).expect("KEEL_FUZZ_DUMP is writable");
    }
    run(&wasm, &mut u);
});

/// The subset of Wasm both engines support, at sizes that keep one input fast.
fn restrict(config: &mut wasm_smith::Config) {
    config.simd_enabled = true;
    config.relaxed_simd_enabled = false;
    config.threads_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.gc_enabled = false;
    config.exceptions_enabled = false;
    config.tail_call_enabled = false;
    config.memory64_enabled = false;
    config.wide_arithmetic_enabled = false;
    config.custom_page_sizes_enabled = false;
    config.extended_const_enabled = false;
    config.custom_descriptors_enabled = false;
    config.multi_value_enabled = true;
    config.canonicalize_nans = true;
    config.max_imports = 0;
    config.max_memories = 1;
    config.max_memory32_bytes = MAX_MEMORY_BYTES;
    config.max_tables = config.max_tables.min(4);
    config.max_table_elements = config.max_table_elements.min(1000);
    config.max_funcs = config.max_funcs.min(50);
    config.max_instructions = config.max_instructions.min(1000);
    config.max_exports = config.max_exports.min(50);
    config.max_data_segments = config.max_data_segments.min(20);
    config.max_element_segments = config.max_element_segments.min(20);
}

/// One engine's runtime. The tiered engine compiles on the calling thread at a function's
/// second call or third loop iteration (as the spec suites run it), so that functions change
/// tier in the middle of the calls compared.
fn runtime(kind: EngineKind) -> Runtime {
    let config = RuntimeConfig::default()
        .with_max_call_depth(500)
        .with_memory_limit_pages(MAX_MEMORY_BYTES >> 16)
        .with_tiering(keel::Tiering { call_threshold: 2, loop_threshold: 3, background: false });
    Runtime::with_config(config, kind)
}

fn run(wasm: &[u8], u: &mut Unstructured<'_>) {
    let interp = runtime(EngineKind::Interpreter);
    // The other side: the eager compiler or the tiered engine, as the input decides.
    let upper = if u.arbitrary::<bool>().unwrap_or(false) {
        EngineKind::Tiered
    } else {
        EngineKind::Compiler
    };
    let compiler = runtime(upper);
    let compiled_i = interp.compile(wasm);
    let compiled_c = compiler.compile(wasm);
    let (compiled_i, compiled_c) = match (compiled_i, compiled_c) {
        (Ok(i), Ok(c)) => (i, c),
        (Err(e), _) | (_, Err(e)) if unsupported(&e) => return,
        (Err(i), Err(c)) => {
            assert_eq!(kind(&i), kind(&c), "compile errors differ:\ninterp: {i}\ncompiler: {c}");
            return;
        }
        (i, c) => panic!("compile differs:\ninterp: {:?}\ncompiler: {:?}", i.err(), c.err()),
    };
    verify::verify_bytecode(wasm);

    let name = || ModuleConfig::new().with_name("");
    let (mi, mc) = match (
        interp.instantiate(&compiled_i, name()),
        compiler.instantiate(&compiled_c, name()),
    ) {
        (Ok(i), Ok(c)) => (i, c),
        (Err(i), Err(c)) => {
            if !is_stack_overflow(&i) && !is_stack_overflow(&c) {
                assert_eq!(
                    outcome(&i),
                    outcome(&c),
                    "instantiate differs:\ninterp: {i}\ncompiler: {c}"
                );
            }
            return;
        }
        (i, c) => {
            let (i, c) = (i.err(), c.err());
            if i.as_ref().is_some_and(is_stack_overflow)
                || c.as_ref().is_some_and(is_stack_overflow)
            {
                return;
            }
            panic!("instantiate differs:\ninterp: {i:?}\ncompiler: {c:?}");
        }
    };
    compare_globals(&mi, &mc, "after instantiation");
    // wasmi: the same instantiation outcome (a trap with the same code), else nothing to compare.
    let mut w = match Wasmi::instantiate(wasm, MAX_MEMORY_BYTES >> 16) {
        Ok(w) => Some(w),
        Err(e) if wasmi_oracle::is_stack_overflow(&e) => None,
        Err(e) => panic!("instantiate differs: keel ok, wasmi: {e}"),
    };
    if let Some(w) = &w {
        compare_globals_wasmi(&mi, w, "after instantiation");
    }

    let exports: Vec<(String, Vec<ValType>)> = compiled_i
        .exported_functions()
        .map(|(name, ty)| (name.to_string(), ty.params.to_vec()))
        .collect();
    for (name, params) in &exports {
        let args: Vec<Val> = params.iter().map(|t| arbitrary_val(*t, u)).collect();
        let (fi, fc) = (mi.func(name).unwrap(), mc.func(name).unwrap());
        let ri = fi.call(&args);
        let rc = fc.call(&args);
        let when = format!("after calling {name:?} with {args:?}");
        if let Some(wasmi) = &mut w {
            match (&ri, wasmi.call(name, &args)) {
                (Err(a), _) if is_stack_overflow(a) => w = None,
                (_, Err(b)) if wasmi_oracle::is_stack_overflow(&b) => w = None,
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.len(), b.len(), "{when}: result counts differ (wasmi)");
                    for (k, (a, b)) in a.iter().zip(&b).enumerate() {
                        assert!(same_val(a, b), "{when}: result {k}: interp {a:?}, wasmi {b:?}");
                    }
                }
                (Err(a), Err(b)) => assert_eq!(
                    outcome(a),
                    wasmi_oracle::outcome(&b),
                    "{when}: errors differ:\ninterp: {a}\nwasmi: {b}"
                ),
                (a, b) => panic!("{when}: outcomes differ:\ninterp: {a:?}\nwasmi: {b:?}"),
            }
            if let Some(wasmi) = &w {
                compare_globals_wasmi(&mi, wasmi, &when);
            }
        }
        match (&ri, &rc) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len(), "{when}: result counts differ");
                for (k, (a, b)) in a.iter().zip(b).enumerate() {
                    assert!(
                        same_val(a, b),
                        "{when}: result {k} differs: interp {a:?}, compiler {b:?}"
                    );
                }
            }
            (Err(a), _) if is_stack_overflow(a) => return,
            (_, Err(b)) if is_stack_overflow(b) => return,
            (Err(a), Err(b)) => {
                assert_eq!(
                    outcome(a),
                    outcome(b),
                    "{when}: errors differ:\ninterp: {a}\ncompiler: {b}"
                )
            }
            _ => panic!("{when}: outcomes differ:\ninterp: {ri:?}\ncompiler: {rc:?}"),
        }
        compare_globals(&mi, &mc, &when);
    }
    compare_memories(&mi, &mc);
    compare_tables(&mi, &mc);
    if let Some(w) = &w {
        compare_with_wasmi(&mi, w);
    }
}

/// A module keel refuses for a feature it lacks (not a bug, not a difference).
fn unsupported(e: &Error) -> bool {
    matches!(e, Error::Compile(keel::CompileError::Unsupported { .. }))
        || e.to_string().contains("not supported")
}

fn compare_globals_wasmi(mi: &Module, w: &Wasmi, when: &str) {
    for (name, _) in mi.exports() {
        if let Some(Extern::Global(a)) = mi.export(&name) {
            let (a, b) = (a.get(), w.global(&name).expect("the same exports"));
            assert!(same_val(&a, &b), "{when}: global {name:?}: interp {a:?}, wasmi {b:?}");
        }
    }
}

/// Memory contents and table shapes of keel's interpreter and wasmi at the end of a run.
fn compare_with_wasmi(mi: &Module, w: &Wasmi) {
    let a = mi.default_memory().map(|m| {
        let mut bytes = vec![0u8; m.size() as usize];
        m.read(0, &mut bytes).unwrap();
        bytes
    });
    match (a, w.memory()) {
        (Some(a), Some(b)) => {
            assert_eq!(a.len(), b.len(), "memory sizes differ (wasmi)");
            if let Some(at) = a.iter().zip(&b).position(|(x, y)| x != y) {
                panic!("memory differs at byte {at}: interp {:#04x}, wasmi {:#04x}", a[at], b[at]);
            }
        }
        (None, None) => {}
        // wasmi sees only exported memories; keel's default memory may be unexported.
        (Some(_), None) => {}
        (None, Some(_)) => panic!("wasmi has a memory keel's interpreter has not"),
    }
    for (name, _) in mi.exports() {
        if let Some(Extern::Table(t)) = mi.export(&name) {
            let a: Vec<bool> = (0..t.size()).map(|k| is_null(&t.get(k).unwrap())).collect();
            assert_eq!(Some(a), w.table(&name), "table {name:?}: null elements differ (wasmi)");
        }
    }
}

fn is_null(v: &Val) -> bool {
    matches!(v, Val::FuncRef(None) | Val::ExternRef(None))
}

/// An argument of type `ty` from the fuzz input (zero once it is used up).
fn arbitrary_val(ty: ValType, u: &mut Unstructured<'_>) -> Val {
    match ty {
        ValType::I32 => {
            Val::I32(interesting(u, |v| v as i32, &[0, 1, -1, i32::MIN as i64, i32::MAX as i64]))
        }
        ValType::I64 => Val::I64(interesting(u, |v| v, &[0, 1, -1, i64::MIN, i64::MAX])),
        ValType::F32 => Val::F32(u.arbitrary().unwrap_or(0)),
        ValType::F64 => Val::F64(u.arbitrary().unwrap_or(0)),
        ValType::V128 => Val::V128(u.arbitrary().unwrap_or(0)),
        other => Val::default_for(other),
    }
}

/// Mostly an arbitrary value, sometimes one of the edge cases.
fn interesting<T>(u: &mut Unstructured<'_>, from: impl Fn(i64) -> T, edges: &[i64]) -> T {
    let pick: u8 = u.arbitrary().unwrap_or(0);
    if (pick as usize) < edges.len() {
        return from(edges[pick as usize]);
    }
    from(u.arbitrary::<i64>().unwrap_or(0))
}

fn is_stack_overflow(e: &Error) -> bool {
    e.as_trap().and_then(|t| t.code()) == Some(keel::TrapCode::StackOverflow)
}

/// What an error must agree on between the engines: the trap code, else its kind.
fn outcome(e: &Error) -> String {
    match e.as_trap() {
        Some(t) => match t.code() {
            Some(code) => format!("trap {code:?}"),
            None => format!("trap {t}"),
        },
        None => kind(e).to_string(),
    }
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::Decode(_) => "decode",
        Error::Compile(_) => "compile",
        Error::Link(_) => "link",
        Error::Instantiate(_) => "instantiate",
        Error::Trap(_) => "trap",
        Error::Usage(_) => "usage",
        _ => "other",
    }
}

/// Equal values; floats by bits, or both NaN; references by null-ness.
fn same_val(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::I32(a), Val::I32(b)) => a == b,
        (Val::I64(a), Val::I64(b)) => a == b,
        (Val::F32(a), Val::F32(b)) => {
            a == b || (f32::from_bits(*a).is_nan() && f32::from_bits(*b).is_nan())
        }
        (Val::F64(a), Val::F64(b)) => {
            a == b || (f64::from_bits(*a).is_nan() && f64::from_bits(*b).is_nan())
        }
        (Val::V128(a), Val::V128(b)) => a == b,
        // References by null-ness (wasmi's non-null ones come back as a placeholder).
        (Val::FuncRef(_) | Val::ExternRef(_), Val::FuncRef(_) | Val::ExternRef(_)) => {
            is_null(a) == is_null(b)
        }
        _ => false,
    }
}

fn compare_globals(mi: &Module, mc: &Module, when: &str) {
    for (name, _) in mi.exports() {
        if let (Some(Extern::Global(a)), Some(Extern::Global(b))) =
            (mi.export(&name), mc.export(&name))
        {
            let (a, b) = (a.get(), b.get());
            assert!(
                same_val(&a, &b),
                "{when}: global {name:?} differs: interp {a:?}, compiler {b:?}"
            );
        }
    }
}

fn compare_memories(mi: &Module, mc: &Module) {
    let (a, b) = (mi.default_memory(), mc.default_memory());
    assert_eq!(a.is_some(), b.is_some(), "one instance has a memory, the other not");
    let (Some(a), Some(b)) = (a, b) else { return };
    assert_eq!(a.size(), b.size(), "memory sizes differ");
    let mut ba = vec![0u8; a.size() as usize];
    let mut bb = vec![0u8; b.size() as usize];
    a.read(0, &mut ba).unwrap();
    b.read(0, &mut bb).unwrap();
    if let Some(at) = ba.iter().zip(&bb).position(|(x, y)| x != y) {
        panic!("memory differs at byte {at}: interp {:#04x}, compiler {:#04x}", ba[at], bb[at]);
    }
}

fn compare_tables(mi: &Module, mc: &Module) {
    for (name, _) in mi.exports() {
        if let (Some(Extern::Table(a)), Some(Extern::Table(b))) =
            (mi.export(&name), mc.export(&name))
        {
            assert_eq!(a.size(), b.size(), "table {name:?}: sizes differ");
            for k in 0..a.size() {
                let (x, y) = (a.get(k).unwrap(), b.get(k).unwrap());
                assert!(
                    same_val(&x, &y),
                    "table {name:?}[{k}] differs: interp {x:?}, compiler {y:?}"
                );
            }
        }
    }
}
