//! Sharing a runtime, compiled modules and instances between threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use keel::{Caller, ModuleConfig, Runtime};

const COUNTER: &str = r#"(module
    (import "env" "tick" (func $tick))
    (memory (export "memory") 1)
    (func (export "bump") (param $n i32) (result i32)
      (local $i i32)
      (loop $again
        (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $again (i32.lt_u (local.get $i) (local.get $n))))
      (call $tick)
      (i32.load (i32.const 0))))"#;

fn runtime_with_tick(ticks: Arc<AtomicU32>) -> Runtime {
    let runtime = Runtime::new();
    runtime
        .host_module("env")
        .func("tick", move |_: &mut Caller<'_>| {
            ticks.fetch_add(1, Ordering::Relaxed);
        })
        .instantiate()
        .unwrap();
    runtime
}

#[test]
fn one_compiled_module_instantiated_per_thread() {
    let ticks = Arc::new(AtomicU32::new(0));
    let runtime = runtime_with_tick(ticks.clone());
    let compiled = runtime.compile(&wat::parse_str(COUNTER).unwrap()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let m = runtime.instantiate(&compiled, ModuleConfig::new().with_name("")).unwrap();
                let bump = m.typed_func::<i32, i32>("bump").unwrap();
                for round in 1..=10 {
                    assert_eq!(bump.call(1000).unwrap(), round * 1000, "instances are separate");
                }
            });
        }
    });
    assert_eq!(ticks.load(Ordering::Relaxed), 40);
}

#[test]
fn one_instance_called_from_many_threads_is_serialised() {
    let runtime = runtime_with_tick(Arc::new(AtomicU32::new(0)));
    let m = runtime
        .instantiate_bytes(&wat::parse_str(COUNTER).unwrap(), ModuleConfig::new().with_name("c"))
        .unwrap();
    let bump = m.typed_func::<i32, i32>("bump").unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..25 {
                    bump.call(100).unwrap();
                }
            });
        }
    });
    // No increment was lost: calls into one instance never overlap.
    assert_eq!(m.memory("memory").unwrap().read_u32_le(0).unwrap(), 4 * 25 * 100);
}

#[test]
fn host_function_may_call_back_into_its_caller() {
    let runtime = Runtime::new();
    runtime
        .host_module("env")
        .func("twice", |caller: &mut Caller<'_>, x: i32| -> Result<i32, keel::Trap> {
            // Re-enter the calling module on the same thread: the lock is reentrant.
            let half = caller.module().expect("called from wasm").typed_func::<i32, i32>("half")?;
            Ok(half.call(x)? * 4)
        })
        .instantiate()
        .unwrap();
    let m = runtime
        .instantiate_bytes(
            &wat::parse_str(
                r#"(module
                (import "env" "twice" (func $twice (param i32) (result i32)))
                (func (export "half") (param i32) (result i32) (i32.div_s (local.get 0) (i32.const 2)))
                (func (export "run") (param i32) (result i32) (call $twice (local.get 0))))"#,
            )
            .unwrap(),
            ModuleConfig::new(),
        )
        .unwrap();
    assert_eq!(m.typed_func::<i32, i32>("run").unwrap().call(10).unwrap(), 20);
}

/// While a host function holds a view of its caller's memory, nothing else reaches that memory:
/// a call back into the guest and a `Memory` handle fail with `MemoryBorrowed`; once the view is
/// dropped both work, and what was written through the view is what the guest reads.
#[test]
fn a_memory_view_keeps_other_accesses_out() {
    for engine in [keel::EngineKind::Interpreter, keel::EngineKind::Compiler] {
        let runtime = Runtime::with_config(keel::RuntimeConfig::default(), engine);
        runtime
            .host_module("env")
            .func("poke", |caller: &mut Caller<'_>, at: i32| -> Result<i32, keel::Trap> {
                let module = caller.module().expect("called from Wasm");
                let peek = module.typed_func::<i32, i32>("peek")?;
                let memory = module.memory("memory").unwrap();
                let mut view = caller.memory().unwrap();
                view.as_mut_slice()[at as usize..][..4].copy_from_slice(&7i32.to_le_bytes());
                let borrowed = |e: keel::Error| match e {
                    keel::Error::Usage(keel::UsageError::MemoryBorrowed) => true,
                    keel::Error::Trap(t) => matches!(
                        t.kind(),
                        keel::TrapKind::Host(h)
                            if h.downcast_ref::<keel::UsageError>()
                                == Some(&keel::UsageError::MemoryBorrowed)
                    ),
                    _ => false,
                };
                assert!(borrowed(peek.call(at).unwrap_err()), "a call in while borrowed");
                assert!(borrowed(memory.write(0, &[1]).unwrap_err()), "a handle while borrowed");
                assert!(memory.grow(1).is_none());
                drop(view);
                Ok(peek.call(at)? + memory.read_u32_le(at as u64)? as i32)
            })
            .instantiate()
            .unwrap();
        let m = runtime
            .instantiate_bytes(
                &wat::parse_str(
                    r#"(module
                    (import "env" "poke" (func $poke (param i32) (result i32)))
                    (memory (export "memory") 1)
                    (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
                    (func (export "run") (param i32) (result i32) (call $poke (local.get 0))))"#,
                )
                .unwrap(),
                ModuleConfig::new(),
            )
            .unwrap();
        assert_eq!(m.typed_func::<i32, i32>("run").unwrap().call(64).unwrap(), 14, "{engine:?}");
    }
}

/// A view keeps out the ways around its group's own entry too: Wasm of another group reaching the
/// borrowed instance through a function reference the host handed it, and an instantiation that
/// would write data segments into the borrowed memory.
#[test]
fn a_memory_view_keeps_out_other_groups_and_instantiation() {
    fn is_borrowed(e: &keel::Error) -> bool {
        match e {
            keel::Error::Usage(keel::UsageError::MemoryBorrowed) => true,
            keel::Error::Trap(t) => matches!(
                t.kind(),
                keel::TrapKind::Host(h)
                    if h.downcast_ref::<keel::UsageError>() == Some(&keel::UsageError::MemoryBorrowed)
            ),
            _ => false,
        }
    }
    for engine in
        [keel::EngineKind::Interpreter, keel::EngineKind::Compiler, keel::EngineKind::Tiered]
    {
        let runtime = Runtime::with_config(keel::RuntimeConfig::default(), engine);
        let rt = runtime.clone();
        runtime
            .host_module("env")
            .func("poke", move |caller: &mut Caller<'_>| -> Result<(), keel::Trap> {
                let other = rt.module("other").expect("instantiated before");
                let via_table = other.typed_func::<(), i32>("call_first")?;
                let view = caller.memory().unwrap();
                let err = via_table.call(()).unwrap_err();
                assert!(is_borrowed(&err), "{engine:?}: another group's Wasm got in: {err:?}");
                let writer = wat::parse_str(
                    r#"(module (import "a" "memory" (memory 1)) (data (i32.const 0) "x"))"#,
                )
                .unwrap();
                let err = rt.instantiate_bytes(&writer, ModuleConfig::new().with_name("")).err();
                assert!(err.as_ref().is_some_and(is_borrowed), "{engine:?}: {err:?}");
                drop(view);
                assert_eq!(via_table.call(())?, 7, "{engine:?}: once the view is gone");
                Ok(())
            })
            .instantiate()
            .unwrap();
        let a = runtime
            .instantiate_bytes(
                &wat::parse_str(
                    r#"(module
                    (import "env" "poke" (func $poke))
                    (memory (export "memory") 1)
                    (func (export "seven") (result i32) (i32.store (i32.const 0) (i32.const 1)) (i32.const 7))
                    (func (export "run") (call $poke)))"#,
                )
                .unwrap(),
                ModuleConfig::new().with_name("a"),
            )
            .unwrap();
        let other = runtime
            .instantiate_bytes(
                &wat::parse_str(
                    r#"(module
                    (type $t (func (result i32)))
                    (table (export "table") 1 funcref)
                    (func (export "call_first") (result i32) (call_indirect (type $t) (i32.const 0))))"#,
                )
                .unwrap(),
                ModuleConfig::new().with_name("other"),
            )
            .unwrap();
        let seven = a.func("seven").unwrap();
        other.table("table").unwrap().set(0, keel::Val::FuncRef(Some(seven))).unwrap();
        a.typed_func::<(), ()>("run").unwrap().call(()).unwrap();
    }
}
