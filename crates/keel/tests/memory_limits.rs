//! The memory limit and the reservation policy, on both engines.

use keel::{EngineKind, MemoryType, ModuleConfig, Reservation, Runtime, RuntimeConfig};

const ENGINES: [EngineKind; 3] =
    [EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

/// A module with a memory of `min` pages (and `max`, if given) exporting `grow` and `size`.
fn module(min: u32, max: Option<u32>) -> Vec<u8> {
    let max = max.map(|m| m.to_string()).unwrap_or_default();
    wat::parse_str(format!(
        r#"(module
          (memory (export "memory") {min} {max})
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "size") (result i32) (memory.size))
          (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 7))))"#
    ))
    .unwrap()
}

fn grow_and_size(rt: &Runtime, wasm: &[u8]) -> (keel::TypedFunc<i32, i32>, keel::Module) {
    let m = rt.instantiate_bytes(wasm, ModuleConfig::new().with_name("")).unwrap();
    (m.typed_func::<i32, i32>("grow").unwrap(), m)
}

#[test]
fn default_limit_is_the_spec_maximum() {
    for engine in ENGINES {
        let rt = Runtime::with_config(RuntimeConfig::default(), engine);
        assert_eq!(rt.config().memory_limit_pages, 65536);
        assert_eq!(rt.config().memory_reservation, Reservation::Maximum);
        let (grow, m) = grow_and_size(&rt, &module(1, None));
        assert_eq!(grow.call(1000).unwrap(), 1, "{engine:?}");
        assert_eq!(m.typed_func::<(), i32>("size").unwrap().call(()).unwrap(), 1001);
        // Past 4 GiB is always -1.
        assert_eq!(grow.call(65536).unwrap(), -1, "{engine:?}");
    }
}

#[test]
fn grow_past_the_limit_returns_minus_one() {
    for engine in ENGINES {
        let rt = Runtime::with_config(RuntimeConfig::default().with_memory_limit_pages(3), engine);
        let (grow, m) = grow_and_size(&rt, &module(1, None));
        assert_eq!(grow.call(2).unwrap(), 1, "{engine:?}");
        assert_eq!(grow.call(1).unwrap(), -1, "{engine:?}");
        assert_eq!(grow.call(0).unwrap(), 3, "{engine:?}");
        let poke = m.typed_func::<i32, ()>("poke").unwrap();
        poke.call(3 * 65536 - 1).unwrap();
        assert!(poke.call(3 * 65536).is_err(), "{engine:?}");
        // A declared maximum below the limit still applies.
        let (grow, _) = grow_and_size(&rt, &module(1, Some(2)));
        assert_eq!(grow.call(2).unwrap(), -1, "{engine:?}");
        assert_eq!(grow.call(1).unwrap(), 1, "{engine:?}");
    }
}

#[test]
fn minimum_past_the_limit_fails_instantiation_naming_both() {
    for engine in ENGINES {
        let rt = Runtime::with_config(RuntimeConfig::default().with_memory_limit_pages(3), engine);
        let err = rt.instantiate_bytes(&module(5, None), ModuleConfig::new()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("5 pages") && msg.contains("limit of 3 pages"), "{engine:?}: {msg}");
        // The name was not taken by the failed instantiation.
        assert!(rt.instantiate_bytes(&module(3, None), ModuleConfig::new()).is_ok());
    }
}

#[test]
fn limit_is_capped_at_the_spec_maximum() {
    let config = RuntimeConfig::default().with_memory_limit_pages(1 << 40);
    assert_eq!(config.memory_limit_pages, 65536);
}

#[test]
fn a_smaller_reservation_caps_growth() {
    for engine in ENGINES {
        let config =
            RuntimeConfig::default().with_memory_reservation(Reservation::Bytes(4 * 65536 + 100));
        let rt = Runtime::with_config(config, engine);
        let (grow, m) = grow_and_size(&rt, &module(1, None));
        assert_eq!(grow.call(3).unwrap(), 1, "{engine:?}");
        assert_eq!(grow.call(1).unwrap(), -1, "{engine:?}: growth past the reservation");
        let poke = m.typed_func::<i32, ()>("poke").unwrap();
        poke.call(4 * 65536 - 1).unwrap();
        assert!(poke.call(4 * 65536).is_err(), "{engine:?}");
        // A declared maximum below the reservation is what counts.
        let (grow, _) = grow_and_size(&rt, &module(1, Some(2)));
        assert_eq!(grow.call(2).unwrap(), -1, "{engine:?}");
        assert_eq!(grow.call(1).unwrap(), 1, "{engine:?}");
        // A minimum past the reservation cannot be instantiated.
        let err = rt.instantiate_bytes(&module(5, None), ModuleConfig::new()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("5 pages") && msg.contains("reservation of 4 pages"), "{msg}");
        // Memories without pages need no reservation.
        let (grow, _) = grow_and_size(&rt, &module(0, Some(0)));
        assert_eq!(grow.call(1).unwrap(), -1, "{engine:?}");
    }
}

#[test]
fn reservation_applies_to_host_memories() {
    let rt = Runtime::with_config(
        RuntimeConfig::default().with_memory_reservation(Reservation::Bytes(2 * 65536)),
        EngineKind::Interpreter,
    );
    let ty = |min| MemoryType {
        limits: keel::Limits { min, max: None },
        shared: false,
        memory64: false,
    };
    let host = rt.host_module("env").memory("mem", ty(1)).instantiate().unwrap();
    let mem = host.memory("mem").unwrap();
    assert_eq!(mem.grow(1), Some(1));
    assert_eq!(mem.grow(1), None);
    let err = rt.host_module("env2").memory("mem", ty(3)).instantiate().unwrap_err();
    assert!(err.to_string().contains("reservation of 2 pages"), "{err}");
}

#[test]
fn many_small_reservations_coexist() {
    // 64 KiB-page memories reserving 1 MiB each: thousands fit where 4 GiB ones would strain
    // the address space.
    let config = RuntimeConfig::default().with_memory_reservation(Reservation::Bytes(1 << 20));
    let rt = Runtime::with_config(config, EngineKind::Compiler);
    let compiled = rt.compile(&module(1, None)).unwrap();
    let instances: Vec<_> = (0..256)
        .map(|_| rt.instantiate(&compiled, ModuleConfig::new().with_name("")).unwrap())
        .collect();
    for m in &instances {
        assert_eq!(m.typed_func::<i32, i32>("grow").unwrap().call(15).unwrap(), 1);
        assert_eq!(m.typed_func::<i32, i32>("grow").unwrap().call(1).unwrap(), -1);
    }
}
