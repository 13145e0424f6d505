//! The tiered engine end to end: functions change tier in the middle of calls (recursion,
//! loops), calls cross tiers both ways, and traps, interruption and results are those of the
//! other engines. Compiles on the calling thread (`background: false`) unless a test says.

use std::sync::Arc;

use keel_runtime::{Runtime, RuntimeConfig, Tiering, TrapCode};
use keel_tiered::{TierStats, Tiered};

fn runtime(call_threshold: u32, loop_threshold: u32) -> (Runtime, Arc<Tiered>) {
    let tiering = Tiering { call_threshold, loop_threshold, background: false };
    let config = RuntimeConfig::default().with_tiering(tiering);
    let engine = Arc::new(Tiered::new(config.memory_reservation, tiering));
    (Runtime::with_engine(config, engine.clone()), engine)
}

fn instantiate(rt: &Runtime, wat: &str) -> keel_runtime::Module {
    let bytes = wat::parse_str(wat).expect("valid wat");
    let compiled = rt.compile(&bytes).expect("compiles");
    rt.instantiate(&compiled, keel_runtime::ModuleConfig::new()).expect("instantiates")
}

fn call<P: keel_runtime::WasmParams, R: keel_runtime::WasmResults>(
    m: &keel_runtime::Module,
    name: &str,
    args: P,
) -> Result<R, keel_runtime::Error> {
    m.typed_func::<P, R>(name).expect("export").call(args)
}

const FIB: &str = r#"(module
  (func $fib (export "fib") (param i64) (result i64)
    (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
      (then (local.get 0))
      (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                     (call $fib (i64.sub (local.get 0) (i64.const 2))))))))"#;

#[test]
fn recursion_changes_tier_in_the_middle() {
    let (rt, engine) = runtime(5, 1_000_000);
    let m = instantiate(&rt, FIB);
    assert_eq!(call::<i64, i64>(&m, "fib", 25).unwrap(), 75025);
    assert_eq!(engine.stats().functions, 1);
    // And again, compiled from the first call.
    assert_eq!(call::<i64, i64>(&m, "fib", 20).unwrap(), 6765);
}

const SUM: &str = r#"(module
  (func (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $acc i64) (local $f f64)
    (loop $l
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
      (local.set $f (f64.add (local.get $f) (f64.const 0.5)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i64.add (local.get $acc) (i64.trunc_f64_u (local.get $f)))))"#;

#[test]
fn a_hot_loop_continues_in_compiled_code() {
    let (rt, engine) = runtime(1_000_000, 100);
    let m = instantiate(&rt, SUM);
    let n = 100_000i64;
    let want = n * (n - 1) / 2 + n / 2;
    assert_eq!(call::<i32, i64>(&m, "sum", n as i32).unwrap(), want);
    let s = engine.stats();
    assert_eq!((s.osr_entries, s.osr_transfers), (1, 1), "{s:?}");
    assert_eq!(s.functions, 1, "a hot loop compiles its function too");
}

#[test]
fn traps_carry_frames_of_both_tiers() {
    let (rt, _engine) = runtime(2, 1_000_000);
    let m = instantiate(
        &rt,
        r#"(module
          (func $inner (param i32) (result i32)
            (if (i32.eqz (local.get 0)) (then unreachable))
            (i32.sub (local.get 0) (i32.const 1)))
          (func $outer (export "outer") (param i32) (result i32)
            (call $inner (local.get 0))))"#,
    );
    for (i, want) in [(3, Some(2)), (2, Some(1)), (5, Some(4)), (0, None)] {
        match (call::<i32, i32>(&m, "outer", i), want) {
            (Ok(v), Some(w)) => assert_eq!(v, w),
            (Err(keel_runtime::Error::Trap(t)), None) => {
                assert_eq!(t.code(), Some(TrapCode::Unreachable));
                let frames: Vec<u32> = t.trace().iter().map(|f| f.func_index).collect();
                assert_eq!(frames, vec![0, 1], "{t}");
            }
            (other, _) => panic!("call({i}): {other:?}"),
        }
    }
}

#[test]
fn a_loop_that_never_ends_is_interrupted_in_compiled_code() {
    let (rt, engine) = runtime(1_000_000, 50);
    let m = instantiate(&rt, r#"(module (func (export "spin") (loop $l (br $l))))"#);
    let handle = m.interrupt_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        handle.interrupt();
    });
    let err = call::<(), ()>(&m, "spin", ()).unwrap_err();
    t.join().unwrap();
    let keel_runtime::Error::Trap(trap) = err else { panic!("{err:?}") };
    assert_eq!(trap.code(), Some(TrapCode::Interrupted));
    assert_eq!(engine.stats().osr_transfers, 1);
}

#[test]
fn background_compilation_gets_there() {
    let tiering = Tiering { call_threshold: 10, loop_threshold: 1000, background: true };
    let config = RuntimeConfig::default().with_tiering(tiering);
    let engine = Arc::new(Tiered::new(config.memory_reservation, tiering));
    let rt = Runtime::with_engine(config, engine.clone());
    let m = instantiate(&rt, FIB);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while engine.stats() == TierStats::default() {
        assert_eq!(call::<i64, i64>(&m, "fib", 15).unwrap(), 610);
        assert!(std::time::Instant::now() < deadline, "nothing compiled in 30 s");
    }
    assert_eq!(call::<i64, i64>(&m, "fib", 25).unwrap(), 75025);
}

#[test]
fn compiled_batches_are_cached_as_they_are_made_and_start_compiled_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let tiering = Tiering { call_threshold: 3, loop_threshold: 1_000_000, background: false };
    let run = || {
        let config = RuntimeConfig::default().with_tiering(tiering).with_cache_dir(dir.path());
        let engine = Arc::new(Tiered::new(config.memory_reservation, tiering));
        let rt = Runtime::with_engine(config, engine.clone());
        let m = instantiate(&rt, FIB);
        let at_start = engine.stats();
        assert_eq!(call::<i64, i64>(&m, "fib", 20).unwrap(), 6765);
        (at_start, engine.stats())
    };
    let (start, end) = run();
    assert_eq!((start.functions, end.functions, end.loaded), (0, 1, 0));
    // The second run finds the batch: compiled before its first call.
    let (start, end) = run();
    assert_eq!((start.functions, start.loaded), (1, 1), "{start:?}");
    assert_eq!(end.functions, 1, "nothing compiled again: {end:?}");
    // A damaged batch is skipped (and compiled again).
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
    }
    let (start, end) = run();
    assert_eq!((start.loaded, end.functions), (0, 1), "{end:?}");
}

/// `a` has a loop, so it gets compiled (by its loop's count) at its first call; `b` has none and
/// is never called often enough, so it stays interpreted: a recursion through both crosses tiers
/// at every frame, each crossing a native activation of the other tier.
const ALTERNATING: &str = r#"(module
  (func $a (export "a") (param $n i32) (result i32)
    (local $i i32)
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 4))))
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $b (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))
  (func $b (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $a (i32.sub (local.get $n) (i32.const 1))) (i32.const 1))))))"#;

#[test]
fn a_deep_recursion_across_tiers_runs_as_deep_as_one_tier() {
    // Crossings cost native stack that frames of one tier do not: once little of the native
    // budget is left, the interpreter stops entering compiled code and interprets the rest, so
    // the recursion goes as deep as `max_call_depth` allows on either engine alone.
    let (rt, engine) = runtime(1_000_000, 3);
    let m = instantiate(&rt, ALTERNATING);
    assert_eq!(call::<i32, i32>(&m, "a", 0).unwrap(), 0);
    assert_eq!(engine.stats().functions, 1, "a is compiled, b is not");
    let code =
        |r: Result<i32, keel_runtime::Error>| r.map_err(|e| e.as_trap().and_then(|t| t.code()));
    assert_eq!(code(call::<i32, i32>(&m, "a", 9_000)), Ok(9_000));
    // Past max_call_depth it is still the stack-overflow trap.
    assert_eq!(code(call::<i32, i32>(&m, "a", 50_000)), Err(Some(TrapCode::StackOverflow)));
}
