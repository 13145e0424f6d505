//! Hammer tests, as wazero's: many threads at once instantiating, calling, interrupting, closing
//! and dropping instances of one compiled module, host functions calling back into their caller,
//! and one shared instance called from every thread — on both engines. Every result is checked:
//! a call returns its exact value or, when another thread interrupted it, an `Interrupted` trap;
//! nothing else. Each test runs for `KEEL_HAMMER_SECS` seconds (default 1; the CI run), so the
//! same tests hammer for minutes when asked, under ThreadSanitizer too (docs/architecture.md).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keel::{
    Caller, CompiledModule, EngineKind, InterruptHandle, ModuleConfig, Runtime, RuntimeConfig,
    TrapCode,
};

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

/// The engines to hammer: all, or those `KEEL_HAMMER_ENGINES` names (comma-separated:
/// interpreter, compiler, tiered). Under ThreadSanitizer only the compiler runs: the sanitizer's
/// instrumentation of every function exit keeps the interpreter's handlers from being tail
/// calls, which the interpreter needs (it stops with an internal error instead of growing the
/// stack).
fn engines() -> Vec<EngineKind> {
    let Ok(names) = std::env::var("KEEL_HAMMER_ENGINES") else { return ENGINES.to_vec() };
    let named = |e: &EngineKind| {
        let name = match e {
            EngineKind::Interpreter => "interpreter",
            EngineKind::Compiler => "compiler",
            _ => "tiered",
        };
        names.split(',').any(|n| n.trim() == name)
    };
    ENGINES.iter().copied().filter(named).collect()
}
const THREADS: usize = 6;

/// `sum(n)` adds 1..=n in a loop (interruptible: it checks at its loop header); `nested(n)` calls
/// the host's `back`, which calls `sum` of the same instance again; `bump` increments a counter in
/// memory (the shared instance's: lost increments would show a race).
const GUEST: &str = r#"(module
    (import "host" "back" (func $back (param i32) (result i32)))
    (memory (export "memory") 1)
    (func $sum (export "sum") (param $n i32) (result i64)
      (local $i i32) (local $acc i64)
      (block $done
        (loop $again
          (br_if $done (i32.gt_u (local.get $i) (local.get $n)))
          (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
      (local.get $acc))
    (func (export "nested") (param $n i32) (result i32)
      (call $back (local.get $n)))
    (func (export "bump") (result i32)
      (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
      (i32.load (i32.const 0)))
    (func (export "spin") (loop $forever (br $forever))))"#;

fn seconds() -> Duration {
    let secs = std::env::var("KEEL_HAMMER_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

fn sum(n: u32) -> i64 {
    (n as i64) * (n as i64 + 1) / 2
}

fn setup(engine: EngineKind) -> (Runtime, CompiledModule) {
    // Tiered: compiled in the background soon after the threads start, so that calls switch
    // tier while other threads run the same module.
    let tiering = keel::Tiering { call_threshold: 20, loop_threshold: 200, background: true };
    let runtime = Runtime::with_config(RuntimeConfig::default().with_tiering(tiering), engine);
    runtime
        .host_module("host")
        .func("back", |caller: &mut Caller<'_>, n: i32| -> Result<i32, keel::Trap> {
            // Into the caller again, on this thread, while its lock is held.
            let module = caller.module().expect("called from Wasm");
            let total = module.typed_func::<i32, i64>("sum")?.call(n)?;
            Ok((total % 1_000_003) as i32)
        })
        .instantiate()
        .unwrap();
    let compiled = runtime.compile(&wat::parse_str(GUEST).unwrap()).unwrap();
    (runtime, compiled)
}

/// Whether `result` is `want` or an interruption (and which).
fn check<T: PartialEq + std::fmt::Debug>(result: keel::Result<T>, want: T) -> bool {
    match result {
        Ok(v) => {
            assert_eq!(v, want);
            false
        }
        Err(e) => {
            assert_eq!(e.as_trap().and_then(|t| t.code()), Some(TrapCode::Interrupted), "{e}");
            true
        }
    }
}

#[test]
fn instantiate_call_interrupt_and_drop_from_many_threads() {
    for engine in engines() {
        let (runtime, compiled) = setup(engine);
        // Every live instance's interrupt handle, for the other threads to interrupt at random.
        let handles: Mutex<Vec<InterruptHandle>> = Mutex::new(Vec::new());
        let (calls, interrupted) = (AtomicU64::new(0), AtomicU64::new(0));
        let end = Instant::now() + seconds();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (runtime, compiled, handles) = (&runtime, &compiled, &handles);
                let (calls, interrupted) = (&calls, &interrupted);
                s.spawn(move || {
                    let mut round = 0u32;
                    while Instant::now() < end {
                        round += 1;
                        let m = runtime
                            .instantiate(compiled, ModuleConfig::new().with_name(""))
                            .unwrap();
                        handles.lock().unwrap().push(m.interrupt_handle());
                        let n = 1000 + (round * 7 + t as u32) % 5000;
                        let sum_f = m.typed_func::<i32, i64>("sum").unwrap();
                        let nested = m.typed_func::<i32, i32>("nested").unwrap();
                        for _ in 0..4 {
                            let hit = check(sum_f.call(n as i32), sum(n))
                                | check(nested.call(n as i32), (sum(n) % 1_000_003) as i32);
                            calls.fetch_add(2, Ordering::Relaxed);
                            interrupted.fetch_add(hit as u64, Ordering::Relaxed);
                        }
                        // Interrupt someone (perhaps ourselves, perhaps an instance long dropped).
                        if round.is_multiple_of(3) {
                            let list = handles.lock().unwrap();
                            if let Some(h) = list.get((round as usize * 31 + t) % list.len()) {
                                h.interrupt();
                            }
                        }
                        if round.is_multiple_of(5) {
                            m.close();
                            assert!(sum_f.call(1).is_err(), "a closed module refuses calls");
                        }
                        // Dropped here, while other threads may still hold its interrupt handle.
                    }
                });
            }
        });
        let calls = calls.load(Ordering::Relaxed);
        assert!(calls > 0, "{engine:?}");
        eprintln!("{engine:?}: {calls} calls, {} interrupted", interrupted.load(Ordering::Relaxed));
    }
}

#[test]
fn one_shared_instance_serialises_every_thread() {
    for engine in engines() {
        let (runtime, compiled) = setup(engine);
        let m = runtime.instantiate(&compiled, ModuleConfig::new().with_name("shared")).unwrap();
        let bumps = AtomicU64::new(0);
        let end = Instant::now() + seconds();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let bump = m.typed_func::<(), i32>("bump").unwrap();
                    let nested = m.typed_func::<i32, i32>("nested").unwrap();
                    while Instant::now() < end {
                        bump.call(()).unwrap();
                        bumps.fetch_add(1, Ordering::Relaxed);
                        assert_eq!(nested.call(100).unwrap(), sum(100) as i32);
                    }
                });
            }
        });
        // No increment was lost.
        let counted = m.memory("memory").unwrap().read_u32_le(0).unwrap() as u64;
        assert_eq!(counted, bumps.load(Ordering::Relaxed), "{engine:?}");
    }
}

#[test]
fn runaway_guests_on_many_threads_all_stop() {
    for engine in engines() {
        let (runtime, compiled) = setup(engine);
        let end = Instant::now() + seconds();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    while Instant::now() < end {
                        let m = runtime
                            .instantiate(&compiled, ModuleConfig::new().with_name(""))
                            .unwrap();
                        let spin = m.func("spin").unwrap();
                        let err =
                            spin.call_with_timeout(&[], Duration::from_millis(5)).unwrap_err();
                        assert_eq!(
                            err.as_trap().and_then(|t| t.code()),
                            Some(TrapCode::Interrupted),
                            "{err}"
                        );
                    }
                });
            }
        });
    }
}
