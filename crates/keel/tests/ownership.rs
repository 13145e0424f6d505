//! Who owns what: handles own the store, the store owns what Wasm may reach through raw
//! references, instances do not own the store. So references handed to Wasm are freed once every
//! handle is gone, and a handle kept after the runtime and the module still works. On both engines.
//!
//! Freed is observed through a token (`Arc<()>`) that the watched thing holds: a host function's
//! closure, an `ExternRef`'s value, or an instance's stdout writer.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use keel::{
    Caller, EngineKind, ExternRef, ModuleConfig, Runtime, RuntimeConfig, Trap, TypedFunc, Val,
    ValType,
};

const ENGINES: [EngineKind; 3] =
    [EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn runtime(engine: EngineKind) -> Runtime {
    Runtime::with_config(RuntimeConfig::default(), engine)
}

fn anonymous() -> ModuleConfig {
    ModuleConfig::new().with_name("")
}

/// How many holders of `token` there are besides the test itself.
fn holders(token: &Arc<()>) -> usize {
    Arc::strong_count(token) - 1
}

/// A writer that holds a token, so that the instance whose stdout it is can be watched.
struct Watch(#[allow(dead_code)] Arc<()>);

impl Write for Watch {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Exports a funcref table and calls through its slot 0.
const TABLE_OWNER: &str = r#"(module
  (type $i2i (func (param i32) (result i32)))
  (table (export "table") 2 funcref)
  (func (export "call0") (param i32) (result i32)
    (call_indirect (type $i2i) (local.get 0) (i32.const 0))))"#;

/// Adds a host module "env" exporting `triple`, whose closure holds `token`.
fn host_triple(rt: &Runtime, token: &Arc<()>) {
    let held = token.clone();
    rt.host_module("env")
        .func("triple", move |_: &mut Caller<'_>, x: i32| {
            let _ = &held;
            x * 3
        })
        .instantiate()
        .unwrap();
}

#[test]
fn host_func_written_into_a_table_is_freed_with_the_last_handle() {
    for engine in ENGINES {
        let token = Arc::new(());
        {
            let rt = runtime(engine);
            host_triple(&rt, &token);
            let owner = rt.instantiate_bytes(&wat::parse_str(TABLE_OWNER).unwrap(), anonymous());
            let owner = owner.unwrap();
            let triple = rt.module("env").unwrap().func("triple").unwrap();
            owner.table("table").unwrap().set(0, Val::FuncRef(Some(triple))).unwrap();
            let call0 = owner.typed_func::<i32, i32>("call0").unwrap();
            assert_eq!(call0.call(5).unwrap(), 15, "{engine:?}");
        }
        assert_eq!(holders(&token), 0, "{engine:?}: the host instance was leaked");
    }
}

#[test]
fn externref_handed_to_wasm_is_freed_with_the_last_handle() {
    // The store also keeps a host function here: that used to keep the store itself alive.
    let wat = r#"(module
      (global $g (mut externref) (ref.null extern))
      (table $t 1 externref)
      (table (export "funcs") 1 funcref)
      (func (export "keep") (param externref)
        (global.set $g (local.get 0))
        (table.set $t (i32.const 0) (local.get 0)))
      (func (export "kept") (result externref) (global.get $g)))"#;
    for engine in ENGINES {
        let token = Arc::new(());
        {
            let rt = runtime(engine);
            host_triple(&rt, &Arc::new(()));
            let m = rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anonymous()).unwrap();
            let triple = rt.module("env").unwrap().func("triple").unwrap();
            m.table("funcs").unwrap().set(0, Val::FuncRef(Some(triple))).unwrap();
            let keep = m.func("keep").unwrap();
            keep.call(&[Val::ExternRef(Some(ExternRef::new(token.clone())))]).unwrap();
            let kept = m.func("kept").unwrap().call(&[]).unwrap();
            let Val::ExternRef(Some(kept)) = &kept[0] else { panic!("{engine:?}: {kept:?}") };
            assert!(kept.downcast_ref::<Arc<()>>().is_some_and(|t| Arc::ptr_eq(t, &token)));
        }
        assert_eq!(holders(&token), 0, "{engine:?}: the externref was leaked");
    }
}

#[test]
fn failed_instantiation_that_wrote_into_an_imported_table_is_freed_with_the_runtime() {
    // Its first segment writes $g into the imported table; the second is out of bounds.
    let failing = r#"(module
      (import "owner" "table" (table 2 funcref))
      (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
      (elem (i32.const 0) $g)
      (elem (i32.const 9) $g))"#;
    for engine in ENGINES {
        let token = Arc::new(());
        let call0: TypedFunc<i32, i32>;
        {
            let rt = runtime(engine);
            let owner = wat::parse_str(TABLE_OWNER).unwrap();
            let owner = rt.instantiate_bytes(&owner, ModuleConfig::new().with_name("owner"));
            call0 = owner.unwrap().typed_func("call0").unwrap();
            let config = anonymous().with_stdout(Watch(token.clone()));
            let err = rt.instantiate_bytes(&wat::parse_str(failing).unwrap(), config).unwrap_err();
            assert!(err.to_string().contains("out of bounds"), "{engine:?}: {err}");
        }
        // The failed instance's function is still in the table, and callable.
        assert_eq!(call0.call(1).unwrap(), 101, "{engine:?}");
        assert_eq!(holders(&token), 1, "{engine:?}: the failed instance was freed too early");
        drop(call0);
        assert_eq!(holders(&token), 0, "{engine:?}: the failed instance was leaked");
    }
}

#[test]
fn func_outlives_its_runtime_and_module_handles() {
    // `run` calls the host through a table slot the host filled, and reads its own memory.
    let wat = r#"(module
      (type $i2i (func (param i32) (result i32)))
      (import "env" "triple" (func $triple (param i32) (result i32)))
      (memory 1)
      (data (i32.const 0) "\07")
      (table (export "table") 1 funcref)
      (func (export "run") (param i32) (result i32)
        (i32.add
          (call_indirect (type $i2i) (local.get 0) (i32.const 0))
          (i32.load8_u (i32.const 0)))))"#;
    for engine in ENGINES {
        let token = Arc::new(());
        let (run, untyped) = {
            let rt = runtime(engine);
            host_triple(&rt, &token);
            let m = rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anonymous()).unwrap();
            let triple = rt.module("env").unwrap().func("triple").unwrap();
            m.table("table").unwrap().set(0, Val::FuncRef(Some(triple))).unwrap();
            (m.typed_func::<i32, i32>("run").unwrap(), m.func("run").unwrap())
        };
        assert_eq!(run.call(2).unwrap(), 13, "{engine:?}");
        assert_eq!(untyped.call(&[Val::I32(3)]).unwrap()[0].i32(), Some(16), "{engine:?}");
        drop(run);
        assert_eq!(holders(&token), 1, "{engine:?}");
        drop(untyped);
        assert_eq!(holders(&token), 0, "{engine:?}: the instances were leaked");
    }
}

#[test]
fn host_function_calls_back_into_its_caller_after_the_runtime_is_dropped() {
    let wat = r#"(module
      (import "env" "back" (func $back (param i32) (result i32)))
      (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "run") (param i32) (result i32) (call $back (local.get 0))))"#;
    for engine in ENGINES {
        let inc: Arc<OnceLock<TypedFunc<i32, i32>>> = Arc::default();
        let run = {
            let rt = runtime(engine);
            let back = inc.clone();
            rt.host_module("env")
                .func("back", move |_: &mut Caller<'_>, x: i32| -> Result<i32, Trap> {
                    let inc = back.get().expect("set after instantiation");
                    inc.call(x * 10).map_err(|e| Trap::host(e.to_string()))
                })
                .instantiate()
                .unwrap();
            let m = rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anonymous()).unwrap();
            inc.set(m.typed_func("inc").unwrap()).ok().unwrap();
            m.typed_func::<i32, i32>("run").unwrap()
        };
        assert_eq!(run.call(4).unwrap(), 41, "{engine:?}");
    }
}

#[test]
fn a_function_of_another_runtime_is_refused() {
    for engine in ENGINES {
        let token = Arc::new(());
        let (rt, other) = (runtime(engine), runtime(engine));
        host_triple(&other, &token);
        let foreign = other.module("env").unwrap().func("triple").unwrap();
        let owner = rt.instantiate_bytes(&wat::parse_str(TABLE_OWNER).unwrap(), anonymous());
        let table = owner.unwrap().table("table").unwrap();
        let err = table.set(0, Val::FuncRef(Some(foreign.clone()))).unwrap_err();
        assert!(err.to_string().contains("another runtime"), "{engine:?}: {err}");
        assert!(table.grow(1, Val::FuncRef(Some(foreign))).is_err(), "{engine:?}");
        let theirs = other.module("env").unwrap();
        assert!(rt.register("env", &theirs).is_err(), "{engine:?}");
        assert_eq!(table.ty().element, ValType::FuncRef);
    }
}

#[test]
fn instance_that_handed_its_function_to_another_lives_while_the_other_can_call_it() {
    // Each puts $g, which adds 100, into slot 0 of the owner's table after instantiation.
    let by_segment = r#"(module
      (import "owner" "table" (table 2 funcref))
      (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
      (elem (i32.const 0) $g))"#;
    let by_argument = r#"(module
      (import "owner" "put0" (func $put0 (param funcref)))
      (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
      (elem declare func $g)
      (func (export "give") (call $put0 (ref.func $g))))"#;
    let owner = r#"(module
          (type $i2i (func (param i32) (result i32)))
          (table $t (export "table") 2 funcref)
          (func (export "put0") (param funcref) (table.set $t (i32.const 0) (local.get 0)))
          (func (export "call0") (param i32) (result i32)
            (call_indirect (type $i2i) (local.get 0) (i32.const 0))))"#;
    let by_indirect_argument = r#"(module
      (type $put (func (param funcref)))
      (table $t (export "t") 1 funcref)
      (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
      (elem declare func $g)
      (func (export "give")
        (call_indirect (type $put) (ref.func $g) (i32.const 0))))"#;
    let givers =
        [("segment", by_segment), ("argument", by_argument), ("table", by_indirect_argument)];
    for engine in ENGINES {
        for (what, giver) in givers {
            let token = Arc::new(());
            let rt = runtime(engine);
            let config = ModuleConfig::new().with_name("owner");
            let owner = rt.instantiate_bytes(&wat::parse_str(owner).unwrap(), config).unwrap();
            let call0 = owner.typed_func::<i32, i32>("call0").unwrap();
            let put0 = owner.func("put0").unwrap();
            drop(owner);
            let config = anonymous().with_stdout(Watch(token.clone()));
            let giver = rt.instantiate_bytes(&wat::parse_str(giver).unwrap(), config).unwrap();
            if let Some(t) = giver.table("t") {
                // The owner's put0 reaches the giver only through the giver's own table.
                t.set(0, Val::FuncRef(Some(put0.clone()))).unwrap();
            }
            drop(put0);
            if let Some(give) = giver.func("give") {
                give.call(&[]).unwrap();
            }
            drop(giver);
            assert_eq!(holders(&token), 1, "{engine:?} {what}: freed while the table names it");
            assert_eq!(call0.call(1).unwrap(), 101, "{engine:?} {what}");
            drop(rt);
            assert_eq!(call0.call(2).unwrap(), 102, "{engine:?} {what}");
            drop(call0);
            assert_eq!(holders(&token), 0, "{engine:?} {what}: leaked");
        }
    }
}

/// `Func::call_raw` takes raw slots, and a raw funcref is a pointer to the callee: it refuses a
/// function with a reference parameter rather than pass it a number, and runs numeric ones.
#[test]
fn call_raw_refuses_reference_parameters() {
    for engine in ENGINES {
        let rt = runtime(engine);
        let wasm = wat::parse_str(
            r#"(module
              (table 1 funcref)
              (func (export "store") (param funcref) (table.set (i32.const 0) (local.get 0)))
              (func (export "keep") (param externref) (result i32) (ref.is_null (local.get 0)))
              (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#,
        )
        .unwrap();
        let m = rt.instantiate_bytes(&wasm, anonymous()).unwrap();
        for name in ["store", "keep"] {
            let f = m.func(name).unwrap();
            let err = f.call_raw(&mut [0xdead_beef]).expect_err(name);
            let ty = m.func(name).unwrap().ty().clone();
            match err {
                keel::Error::Usage(keel::UsageError::RawReferences { ty: t }) => assert_eq!(t, ty),
                other => panic!("{engine:?} {name}: {other}"),
            }
        }
        let mut slots = [41];
        m.func("inc").unwrap().call_raw(&mut slots).unwrap();
        assert_eq!(slots[0], 42, "{engine:?}");
        // The checked path still passes references.
        let keep = m.func("keep").unwrap();
        assert_eq!(keep.call(&[Val::ExternRef(None)]).unwrap()[0].i32(), Some(1));
    }
}
