//! Behaviour both engines share, end to end through the facade: one table of calls and their
//! expected results or traps, then the checks that need more than one call (host functions,
//! imports, trap traces), each run on the interpreter and on the compiler.

use std::collections::HashMap;

use Val::{I32, I64};
use keel::{
    Caller, EngineKind, Error, Module, ModuleConfig, Runtime, RuntimeConfig, TrapCode, Val,
};

const ENGINES: [EngineKind; 3] =
    [EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn runtime(engine: EngineKind) -> Runtime {
    Runtime::with_config(RuntimeConfig::default(), engine)
}

fn instantiate(rt: &Runtime, wat: &str) -> Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("")).expect("instantiates")
}

fn trap_code(e: &Error) -> Option<TrapCode> {
    e.as_trap().and_then(|t| t.code())
}

/// How a failed call ended, on one line.
fn ended(e: &Error) -> String {
    match trap_code(e) {
        Some(code) => format!("trapped {code:?}"),
        None => format!("failed: {e}"),
    }
}

fn f32(x: f32) -> Val {
    Val::F32(x.to_bits())
}

fn f64(x: f64) -> Val {
    Val::F64(x.to_bits())
}

/// A module of the table, named in failure messages.
struct Wat {
    name: &'static str,
    source: &'static str,
}

const ARITHMETIC: Wat = Wat {
    name: "arithmetic",
    source: r#"(module
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
      (func (export "sub1") (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
      (func (export "mul64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
      (func (export "rem") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
      (func (export "clz") (param i64) (result i64) (i64.clz (local.get 0)))
      (func (export "fdiv") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
      (func (export "mix") (param i64 f64) (result f64)
        (f64.add (f64.convert_i64_s (local.get 0)) (local.get 1)))
      (func (export "min") (param f32 f32) (result f32) (f32.min (local.get 0) (local.get 1)))
      (func (export "trunc") (param f32) (result i32) (i32.trunc_f32_s (local.get 0))))"#,
};

const CONTROL_FLOW: Wat = Wat {
    name: "control_flow",
    source: r#"(module
      (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_s (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                         (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func $fac (export "fac") (param i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
          (then (i64.const 1))
          (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
      (func (export "sum") (param i32) (result i32) (local i32)
        (block $done
          (loop $top
            (br_if $done (i32.eqz (local.get 0)))
            (local.set 1 (i32.add (local.get 1) (local.get 0)))
            (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
            (br $top)))
        (local.get 1))
      (func (export "br_table_of_3") (param i32) (result i32)
        (block $c (block $b (block $a
          (br_table $a $b $c (local.get 0)))
          (return (i32.const 10)))
          (return (i32.const 20)))
        (i32.const 30))
      (func (export "br_table_of_4") (param i32) (result i32)
        (block (block (block (block (br_table 0 1 2 3 (local.get 0)))
          (return (i32.const 10))) (return (i32.const 11))) (return (i32.const 12)))
        (i32.const 13))
      (func (export "br_table_value") (param i32) (result i32)
        (block (result i32)
          (br_table 0 0 (i32.const 7) (local.get 0)))
        (i32.const 1) (i32.add)))"#,
};

const MULTI_VALUE: Wat = Wat {
    name: "multi_value",
    source: r#"(module
      (func (export "swap") (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
      (func $reverse (param i32 i64 f32 f64 i32) (result i32 f64 f32 i64 i32 i32)
        (local.get 4) (local.get 3) (local.get 2) (local.get 1) (local.get 0) (i32.const 7))
      (func (export "six_results") (result i32 f64 f32 i64 i32 i32)
        (call $reverse (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5)))
      (func (export "block_results") (result i32)
        (block (result i32 i32) (i32.const 3) (i32.const 4))
        (i32.mul))
      (func (export "block_params") (param i32) (result i32)
        (i32.const 1) (i32.const 2)
        (block (param i32 i32) (result i32) (i32.add))
        (local.get 0)
        (if (param i32) (result i32) (then (i32.const 10) (i32.add)) (else))))"#,
};

const COUNTDOWN: Wat = Wat {
    name: "countdown",
    source: r#"(module
      (func $down (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 0))
          (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1))))))))"#,
};

/// Slot 1 holds a function of another type, slot 2 is null, 3 is past the end.
const CALL_INDIRECT_NO_PARAMS: Wat = Wat {
    name: "call_indirect_no_params",
    source: r#"(module
      (type $i (func (result i32)))
      (type $ii (func (param i32) (result i32)))
      (table 3 funcref)
      (elem (i32.const 0) $a $b)
      (func $a (result i32) (i32.const 1))
      (func $b (param i32) (result i32) (local.get 0))
      (func (export "call") (param i32) (result i32) (call_indirect (type $i) (local.get 0))))"#,
};

/// Slot 1 holds a function of another type, slots 2 and 3 are null, 9 is past the end.
const CALL_INDIRECT_ONE_PARAM: Wat = Wat {
    name: "call_indirect_one_param",
    source: r#"(module
      (type $ii (func (param i32) (result i32)))
      (table 4 funcref)
      (elem (i32.const 0) $inc $f64)
      (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
      (func $f64 (result f64) (f64.const 1))
      (func (export "call") (param i32 i32) (result i32)
        (call_indirect (type $ii) (local.get 1) (local.get 0))))"#,
};

const MEMORY_WITH_OFFSETS: Wat = Wat {
    name: "memory_with_offsets",
    source: r#"(module (memory 1)
      (func (export "store") (param i32 i32) (i32.store offset=4 (local.get 0) (local.get 1)))
      (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))"#,
};

const MEMORY_OF_AT_MOST_4_PAGES: Wat = Wat {
    name: "memory_of_at_most_4_pages",
    source: r#"(module
      (memory (export "mem") 1 4)
      (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
      (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))"#,
};

enum Want {
    Results(Vec<Val>),
    Trap(TrapCode),
}

struct Case {
    module: &'static Wat,
    export: &'static str,
    args: Vec<Val>,
    want: Want,
}

fn returns(module: &'static Wat, export: &'static str, args: &[Val], results: &[Val]) -> Case {
    Case { module, export, args: args.to_vec(), want: Want::Results(results.to_vec()) }
}

fn traps(module: &'static Wat, export: &'static str, args: &[Val], code: TrapCode) -> Case {
    Case { module, export, args: args.to_vec(), want: Want::Trap(code) }
}

/// Rows of one module share one instance per engine and run in order, so a row sees what the
/// rows before it stored or grew, and rows after a trap show that the instance still runs.
fn cases() -> Vec<Case> {
    use TrapCode::*;
    vec![
        returns(&ARITHMETIC, "add", &[I32(2), I32(40)], &[I32(42)]),
        returns(&ARITHMETIC, "add", &[I32(40), I32(2)], &[I32(42)]),
        returns(&ARITHMETIC, "sub1", &[I32(i32::MIN)], &[I32(i32::MAX)]),
        returns(&ARITHMETIC, "mul64", &[I64(1 << 40), I64(3)], &[I64(3 << 40)]),
        returns(&ARITHMETIC, "div", &[I32(-7), I32(2)], &[I32(-3)]),
        traps(&ARITHMETIC, "div", &[I32(1), I32(0)], IntegerDivisionByZero),
        traps(&ARITHMETIC, "div", &[I32(i32::MIN), I32(-1)], IntegerOverflow),
        returns(&ARITHMETIC, "rem", &[I32(i32::MIN), I32(-1)], &[I32(0)]),
        returns(&ARITHMETIC, "clz", &[I64(1)], &[I64(63)]),
        returns(&ARITHMETIC, "fdiv", &[f64(1.0), f64(4.0)], &[f64(0.25)]),
        returns(&ARITHMETIC, "mix", &[I64(-3), f64(0.5)], &[f64(-2.5)]),
        returns(&ARITHMETIC, "min", &[f32(0.0), f32(-0.0)], &[f32(-0.0)]),
        returns(&ARITHMETIC, "trunc", &[f32(-3.9)], &[I32(-3)]),
        traps(&ARITHMETIC, "trunc", &[f32(f32::NAN)], BadConversionToInteger),
        traps(&ARITHMETIC, "trunc", &[f32(3e9)], IntegerOverflow),
        returns(&CONTROL_FLOW, "fib", &[I32(20)], &[I32(6765)]),
        returns(&CONTROL_FLOW, "fac", &[I64(20)], &[I64(2432902008176640000)]),
        returns(&CONTROL_FLOW, "sum", &[I32(100)], &[I32(5050)]),
        returns(&CONTROL_FLOW, "br_table_of_3", &[I32(0)], &[I32(10)]),
        returns(&CONTROL_FLOW, "br_table_of_3", &[I32(1)], &[I32(20)]),
        returns(&CONTROL_FLOW, "br_table_of_3", &[I32(2)], &[I32(30)]),
        returns(&CONTROL_FLOW, "br_table_of_3", &[I32(99)], &[I32(30)]),
        returns(&CONTROL_FLOW, "br_table_of_4", &[I32(0)], &[I32(10)]),
        returns(&CONTROL_FLOW, "br_table_of_4", &[I32(1)], &[I32(11)]),
        returns(&CONTROL_FLOW, "br_table_of_4", &[I32(2)], &[I32(12)]),
        returns(&CONTROL_FLOW, "br_table_of_4", &[I32(3)], &[I32(13)]),
        returns(&CONTROL_FLOW, "br_table_of_4", &[I32(4)], &[I32(13)]),
        returns(&CONTROL_FLOW, "br_table_of_4", &[I32(5)], &[I32(13)]),
        returns(&CONTROL_FLOW, "br_table_value", &[I32(1)], &[I32(8)]),
        returns(&MULTI_VALUE, "swap", &[I32(1), I32(2)], &[I32(2), I32(1)]),
        returns(
            &MULTI_VALUE,
            "six_results",
            &[],
            &[I32(5), f64(4.0), f32(3.0), I64(2), I32(1), I32(7)],
        ),
        returns(&MULTI_VALUE, "block_results", &[], &[I32(12)]),
        returns(&MULTI_VALUE, "block_params", &[I32(1)], &[I32(13)]),
        returns(&MULTI_VALUE, "block_params", &[I32(0)], &[I32(3)]),
        returns(&COUNTDOWN, "down", &[I32(5000)], &[I32(5000)]),
        traps(&COUNTDOWN, "down", &[I32(1_000_000)], StackOverflow),
        returns(&CALL_INDIRECT_NO_PARAMS, "call", &[I32(0)], &[I32(1)]),
        traps(&CALL_INDIRECT_NO_PARAMS, "call", &[I32(1)], BadSignature),
        traps(&CALL_INDIRECT_NO_PARAMS, "call", &[I32(2)], IndirectCallToNull),
        traps(&CALL_INDIRECT_NO_PARAMS, "call", &[I32(3)], TableOutOfBounds),
        returns(&CALL_INDIRECT_ONE_PARAM, "call", &[I32(0), I32(41)], &[I32(42)]),
        traps(&CALL_INDIRECT_ONE_PARAM, "call", &[I32(1), I32(0)], BadSignature),
        traps(&CALL_INDIRECT_ONE_PARAM, "call", &[I32(2), I32(0)], IndirectCallToNull),
        traps(&CALL_INDIRECT_ONE_PARAM, "call", &[I32(9), I32(0)], TableOutOfBounds),
        returns(&MEMORY_WITH_OFFSETS, "store", &[I32(8), I32(77)], &[]),
        returns(&MEMORY_WITH_OFFSETS, "load", &[I32(8)], &[I32(77)]),
        traps(&MEMORY_WITH_OFFSETS, "load", &[I32(65532)], MemoryOutOfBounds),
        returns(&MEMORY_WITH_OFFSETS, "grow", &[I32(1)], &[I32(1)]),
        returns(&MEMORY_WITH_OFFSETS, "size", &[], &[I32(2)]),
        returns(&MEMORY_WITH_OFFSETS, "load", &[I32(65532)], &[I32(0)]),
        returns(&MEMORY_OF_AT_MOST_4_PAGES, "store", &[I32(8), I32(1234)], &[]),
        returns(&MEMORY_OF_AT_MOST_4_PAGES, "load", &[I32(4)], &[I32(1234)]),
        traps(&MEMORY_OF_AT_MOST_4_PAGES, "load", &[I32(65532)], MemoryOutOfBounds),
        traps(&MEMORY_OF_AT_MOST_4_PAGES, "load", &[I32(-1)], MemoryOutOfBounds),
        returns(&MEMORY_OF_AT_MOST_4_PAGES, "grow", &[I32(1)], &[I32(1)]),
        returns(&MEMORY_OF_AT_MOST_4_PAGES, "size", &[], &[I32(2)]),
        returns(&MEMORY_OF_AT_MOST_4_PAGES, "load", &[I32(65532)], &[I32(0)]),
        returns(&MEMORY_OF_AT_MOST_4_PAGES, "grow", &[I32(5)], &[I32(-1)]),
    ]
}

/// Runs every row on every engine and reports every row that went wrong, not just the first.
#[test]
fn table_of_calls() {
    let cases = cases();
    let mut failures = Vec::new();
    for engine in ENGINES {
        let rt = runtime(engine);
        let mut instances: HashMap<&str, Module> = HashMap::new();
        for case in &cases {
            let Case { module, export, args, want } = case;
            let what = format!("{engine:?} {}.{export}{args:?}", module.name);
            let instance =
                instances.entry(module.name).or_insert_with(|| instantiate(&rt, module.source));
            let got = instance
                .func(export)
                .unwrap_or_else(|| panic!("{what}: no such export"))
                .call(args);
            // Vals compare by their Debug text: floats are held as bits, so this is exact.
            let failure = match (got, want) {
                (Ok(got), Want::Results(want)) if format!("{got:?}") != format!("{want:?}") => {
                    Some(format!("{what}: returned {got:?}, want {want:?}"))
                }
                (Ok(got), Want::Trap(code)) => {
                    Some(format!("{what}: returned {got:?}, want trap {code:?}"))
                }
                (Err(e), Want::Trap(code)) if trap_code(&e) != Some(*code) => {
                    Some(format!("{what}: {}, want trap {code:?}", ended(&e)))
                }
                (Err(e), Want::Results(want)) => {
                    Some(format!("{what}: {}, want {want:?}", ended(&e)))
                }
                _ => None,
            };
            failures.extend(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len() * ENGINES.len(),
        failures.join("\n")
    );
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_with_a_deep_trace() {
    for engine in ENGINES {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
              (func $f (export "f") (param i32) (result i32)
                (i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))"#,
        );
        let f = m.typed_func::<i32, i32>("f").unwrap();
        let err = f.call(0).unwrap_err();
        let trap = err.as_trap().unwrap_or_else(|| panic!("{engine:?}: {err}"));
        assert_eq!(trap.code(), Some(TrapCode::StackOverflow), "{engine:?}");
        assert!(trap.trace().len() > 100, "{engine:?}: {} frames", trap.trace().len());
        // Its Display collapses the repeats: the message, the header, f once, the rest of f.
        let shown = trap.to_string();
        let more = format!("\t… {} more frames of ", trap.trace().len() - 1);
        assert_eq!(shown.lines().count(), 4, "{engine:?}: {shown}");
        assert!(shown.lines().nth(3).unwrap().starts_with(&more), "{engine:?}: {shown}");
        // The instance is still usable afterwards.
        let err = f.call(0).unwrap_err();
        assert_eq!(trap_code(&err), Some(TrapCode::StackOverflow), "{engine:?} again");
    }
}

/// A recursive function whose frames are large (twelve values live across the call, as in Go's
/// `js/wasm` code, whose functions take 90 to 140 bytes of native stack each).
const WIDE_FRAMES: &str = r#"(module
  (func $f (export "f") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64) (local $e i64) (local $g i64)
    (local $h i64) (local $i i64) (local $j i64) (local $k i64) (local $l i64) (local $m i64)
    (if (i32.eqz (local.get $n)) (then (return (i64.const 0))))
    (local.set $a (i64.extend_i32_u (local.get $n)))
    (local.set $b (i64.mul (local.get $a) (i64.const 3)))
    (local.set $c (i64.mul (local.get $b) (i64.const 5)))
    (local.set $d (i64.mul (local.get $c) (i64.const 7)))
    (local.set $e (i64.mul (local.get $d) (i64.const 11)))
    (local.set $g (i64.mul (local.get $e) (i64.const 13)))
    (local.set $h (i64.mul (local.get $g) (i64.const 17)))
    (local.set $i (i64.mul (local.get $h) (i64.const 19)))
    (local.set $j (i64.mul (local.get $i) (i64.const 23)))
    (local.set $k (i64.mul (local.get $j) (i64.const 29)))
    (local.set $l (i64.mul (local.get $k) (i64.const 31)))
    (local.set $m (i64.mul (local.get $l) (i64.const 37)))
    (i64.add (call $f (i32.sub (local.get $n) (i32.const 1)))
      (i64.xor (local.get $a) (i64.xor (local.get $b) (i64.xor (local.get $c)
      (i64.xor (local.get $d) (i64.xor (local.get $e) (i64.xor (local.get $g)
      (i64.xor (local.get $h) (i64.xor (local.get $i) (i64.xor (local.get $j)
      (i64.xor (local.get $k) (i64.xor (local.get $l) (local.get $m)))))))))))))))"#;

#[test]
fn both_engines_run_nearly_max_call_depth_frames_of_large_functions() {
    // The interpreter counts frames (max_call_depth, 10 000); the compiler measures native
    // stack, and must grant as deep a recursion of functions with large frames: Go's own tests
    // (encoding/json's nesting limit, io/fs's Glob) recurse about that deep.
    let mut want = None;
    for engine in ENGINES {
        let m = instantiate(&runtime(engine), WIDE_FRAMES);
        let got = m.typed_func::<i32, i64>("f").unwrap().call(9_500);
        let got = got.unwrap_or_else(|e| panic!("{engine:?}: {}", ended(&e)));
        assert_eq!(*want.get_or_insert(got), got, "{engine:?}");
    }
}

#[test]
fn a_thread_with_a_small_stack_gets_a_stack_overflow_not_a_fault() {
    // The compiler's budget never exceeds what the thread's stack has left: on a 256 KiB
    // thread a deep recursion traps (before, a fixed budget of 512 KiB ran past the stack).
    for engine in ENGINES {
        let ended = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let m = instantiate(&runtime(engine), WIDE_FRAMES);
                m.typed_func::<i32, i64>("f").unwrap().call(9_500).map_err(|e| ended(&e))
            })
            .unwrap()
            .join()
            .unwrap();
        match engine {
            // The interpreter's Wasm frames are not on the native stack; the tiered engine stops
            // entering compiled code when the native stack runs short, and interprets the rest.
            EngineKind::Interpreter | EngineKind::Tiered => {
                assert!(ended.is_ok(), "{engine:?}: {ended:?}")
            }
            _ => assert_eq!(ended, Err("trapped StackOverflow".to_string()), "{engine:?}"),
        }
    }
}

#[test]
fn host_functions_use_the_callers_memory() {
    for engine in ENGINES {
        let rt = runtime(engine);
        rt.host_module("env")
            .func("sum_bytes", |caller: &mut Caller<'_>, ptr: i32, len: i32| -> i32 {
                let mut buf = vec![0u8; len as usize];
                assert!(caller.memory().expect("memory").read(ptr as u64, &mut buf));
                buf.iter().map(|b| *b as i32).sum()
            })
            .func("read", |caller: &mut Caller<'_>, at: i32| -> i32 {
                let mut buf = [0u8; 4];
                assert!(caller.memory().expect("memory").read(at as u64, &mut buf));
                i32::from_le_bytes(buf)
            })
            .func("twice", |_: &mut Caller<'_>, x: i64| x * 2)
            .instantiate()
            .unwrap();
        let sums = instantiate(
            &rt,
            r#"(module
              (import "env" "sum_bytes" (func $sum (param i32 i32) (result i32)))
              (memory 1)
              (data (i32.const 16) "\01\02\03\04")
              (func (export "go") (result i32)
                (i32.add (i32.const 100) (call $sum (i32.const 16) (i32.const 4)))))"#,
        );
        assert_eq!(sums.typed_func::<(), i32>("go").unwrap().call(()).unwrap(), 110, "{engine:?}");
        let m = instantiate(
            &rt,
            r#"(module
              (import "env" "read" (func $read (param i32) (result i32)))
              (import "env" "twice" (func $twice (param i64) (result i64)))
              (memory 1)
              (data (i32.const 16) "\2a\00\00\00")
              (func $boom (unreachable))
              (func (export "go") (result i64)
                (i64.add (i64.extend_i32_u (call $read (i32.const 16)))
                         (call $twice (i64.const 100))))
              (func (export "trap") (call $boom)))"#,
        );
        assert_eq!(m.typed_func::<(), i64>("go").unwrap().call(()).unwrap(), 242, "{engine:?}");
        let err = m.typed_func::<(), ()>("trap").unwrap().call(()).unwrap_err();
        let trap = err.as_trap().unwrap_or_else(|| panic!("{engine:?}: {err}"));
        assert_eq!(trap.code(), Some(TrapCode::Unreachable), "{engine:?}");
        assert_eq!(trap.trace().len(), 2, "{engine:?}: {:?}", trap.trace());
    }
}

#[test]
fn trap_trace_names_functions() {
    for engine in ENGINES {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
              (func $inner (unreachable))
              (func $outer (export "outer") (call $inner)))"#,
        );
        let err = m.func("outer").unwrap().call(&[]).unwrap_err();
        let trap = err.as_trap().unwrap_or_else(|| panic!("{engine:?}: {err}"));
        assert_eq!(trap.code(), Some(TrapCode::Unreachable), "{engine:?}");
        let names: Vec<_> =
            trap.trace().iter().map(|f| f.func_name.as_deref().unwrap_or("?")).collect();
        assert_eq!(names, ["inner", "outer"], "{engine:?}");
    }
}

const GROWABLE_EXPORTER: &str = r#"(module (memory (export "mem") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;

/// Instantiates [`GROWABLE_EXPORTER`] as "a".
fn instantiate_exporter(rt: &Runtime) -> Module {
    let wasm = wat::parse_str(GROWABLE_EXPORTER).unwrap();
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("a")).unwrap()
}

#[test]
fn grow_is_visible_to_importers_and_host() {
    for engine in ENGINES {
        let rt = runtime(engine);
        let a = instantiate_exporter(&rt);
        let b = instantiate(
            &rt,
            r#"(module
              (import "a" "mem" (memory 1))
              (import "a" "grow" (func $grow (param i32) (result i32)))
              (func (export "grow_then_load") (result i32)
                (drop (call $grow (i32.const 1)))
                (i32.store (i32.const 70000) (i32.const 7))
                (i32.add (memory.size) (i32.load (i32.const 70000)))))"#,
        );
        let grow_then_load = b.typed_func::<(), i32>("grow_then_load").unwrap();
        assert_eq!(grow_then_load.call(()).unwrap(), 9, "{engine:?}");
        assert_eq!(a.memory("mem").unwrap().pages(), 2, "{engine:?}");
    }
}

/// The compiler keeps a memory's length loaded across guest stores (they cannot change it) but
/// must load it again after any call and after memory.grow: each iteration stores below the
/// current end, grows (through another instance, or in place), then stores into the new page.
#[test]
fn memory_length_is_reloaded_after_calls_and_grow_in_loops() {
    for engine in ENGINES {
        let rt = runtime(engine);
        instantiate_exporter(&rt);
        let b = instantiate(
            &rt,
            r#"(module
              (import "a" "mem" (memory 1))
              (import "a" "grow" (func $grow (param i32) (result i32)))
              (func (export "by_call") (param $n i32) (result i32) (local $end i32)
                (loop $l
                  (local.set $end (i32.mul (memory.size) (i32.const 65536)))
                  (i32.store (i32.sub (local.get $end) (i32.const 4)) (i32.const 1))
                  (drop (call $grow (i32.const 1)))
                  (i32.store (i32.add (local.get $end) (i32.const 65532)) (i32.const 2))
                  (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
                (memory.size))
              (func (export "in_place") (param $n i32) (result i32) (local $end i32)
                (loop $l
                  (local.set $end (i32.mul (memory.size) (i32.const 65536)))
                  (i32.store (i32.sub (local.get $end) (i32.const 4)) (i32.const 1))
                  (drop (memory.grow (i32.const 1)))
                  (i32.store (i32.add (local.get $end) (i32.const 65532)) (i32.const 2))
                  (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
                (memory.size)))"#,
        );
        assert_eq!(b.typed_func::<i32, i32>("by_call").unwrap().call(3).unwrap(), 4, "{engine:?}");
        assert_eq!(b.typed_func::<i32, i32>("in_place").unwrap().call(3).unwrap(), 7, "{engine:?}");
    }
}

/// Wasm calling a host function that calls the same Wasm again, without end: a trap, not a crash.
#[test]
fn host_wasm_host_nesting_is_bounded() {
    for engine in ENGINES {
        let rt = runtime(engine);
        rt.host_module("env")
            .func_raw(
                "reenter",
                keel::FuncType::new([keel::ValType::I32], [keel::ValType::I32]),
                |caller: &mut Caller<'_>, values: &mut [u64]| {
                    let f = caller.module().expect("called from Wasm").func("f").expect("f");
                    values[0] += 1;
                    Ok(f.call_raw(values)?)
                },
            )
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module
              (import "env" "reenter" (func $reenter (param i32) (result i32)))
              (func (export "f") (param i32) (result i32)
                (i32.add (call $reenter (local.get 0)) (i32.const 1))))"#,
        );
        let err = m.typed_func::<i32, i32>("f").unwrap().call(0).unwrap_err();
        assert_eq!(trap_code(&err), Some(TrapCode::StackOverflow), "{engine:?}: {err}");
    }
}

#[test]
fn v128_values_cross_calls_globals_and_host_functions() {
    for engine in ENGINES {
        let rt = runtime(engine);
        // A host function sees a v128 in two slots, low half first, like every engine.
        rt.host_module("env")
            .func("swap", |_: &mut Caller<'_>, v: u128| v.rotate_left(64))
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module
              (import "env" "swap" (func $swap (param v128) (result v128)))
              (global $g (mut v128) (v128.const i64x2 1 2))
              (func $add (param i32 v128 v128) (result v128 i32)
                (i32x4.add (local.get 1) (local.get 2)) (local.get 0))
              (func (export "run") (param v128) (result v128 i32)
                (global.set $g (call $swap (global.get $g)))
                (call $add (i32.const 7) (local.get 0) (global.get $g)))
              (func (export "g") (result v128) (global.get $g)))"#,
        );
        let x = 10u128 | 20 << 64;
        let r = m.func("run").unwrap().call(&[Val::V128(x)]).unwrap();
        let want = 12 | 21 << 64;
        assert!(matches!(r[..], [Val::V128(v), I32(7)] if v == want), "{engine:?}: {r:?}");
        let r = m.func("g").unwrap().call(&[]).unwrap();
        assert!(matches!(r[..], [Val::V128(v)] if v == 2 | 1 << 64), "{engine:?}: {r:?}");
    }
}

/// `Caller::module` is a handle to the calling instance when Wasm calls, and nothing when the
/// host calls the host function itself.
#[test]
fn caller_module_is_the_calling_instance() {
    for engine in ENGINES {
        let rt = runtime(engine);
        let env = rt
            .host_module("env")
            .func("whose", |caller: &mut Caller<'_>| -> i32 {
                match caller.module() {
                    Some(m) => m.typed_func::<(), i32>("id").unwrap().call(()).unwrap(),
                    None => -1,
                }
            })
            .instantiate()
            .unwrap();
        let wasm = wat::parse_str(
            r#"(module
              (import "env" "whose" (func $whose (result i32)))
              (func (export "id") (result i32) (i32.const 7))
              (func (export "ask") (result i32) (call $whose)))"#,
        )
        .unwrap();
        let m = rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("asker")).unwrap();
        assert_eq!(m.typed_func::<(), i32>("ask").unwrap().call(()).unwrap(), 7, "{engine:?}");
        let direct = env.typed_func::<(), i32>("whose").unwrap().call(()).unwrap();
        assert_eq!(direct, -1, "{engine:?}");
    }
}
