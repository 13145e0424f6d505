//! wasmi as a third engine for the differential target: the same module instantiated and called
//! with the same arguments, its results, traps, exported globals, memory and tables given back
//! in keel's types so that they compare with the same functions as keel's two engines.

use keel::{TrapCode, Val};

/// An instance of wasmi, with its store (one store per instance, freed with it).
pub struct Wasmi {
    store: wasmi::Store<wasmi::StoreLimits>,
    instance: wasmi::Instance,
}

/// What a failed step of wasmi amounts to: a trap code keel knows, or an error of another kind
/// (what keel's `outcome` calls "trap ..." or the kind of error).
pub fn outcome(e: &wasmi::Error) -> String {
    match e.as_trap_code().and_then(trap_code) {
        Some(code) => format!("trap {code:?}"),
        None => format!("wasmi error {e}"),
    }
}

pub fn is_stack_overflow(e: &wasmi::Error) -> bool {
    e.as_trap_code() == Some(wasmi::TrapCode::StackOverflow)
}

fn trap_code(code: wasmi::TrapCode) -> Option<TrapCode> {
    use wasmi::TrapCode as W;
    Some(match code {
        W::UnreachableCodeReached => TrapCode::Unreachable,
        W::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        W::TableOutOfBounds => TrapCode::TableOutOfBounds,
        W::IndirectCallToNull => TrapCode::IndirectCallToNull,
        W::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        W::IntegerOverflow => TrapCode::IntegerOverflow,
        W::BadConversionToInteger => TrapCode::BadConversionToInteger,
        W::StackOverflow => TrapCode::StackOverflow,
        W::BadSignature => TrapCode::BadSignature,
        _ => return None,
    })
}

impl Wasmi {
    /// Compiles and instantiates `wasm` (running its start function), or the error.
    pub fn instantiate(wasm: &[u8], max_pages: u64) -> Result<Wasmi, wasmi::Error> {
        let mut config = wasmi::Config::default();
        config.wasm_simd(true).wasm_relaxed_simd(false).wasm_tail_call(false);
        let engine = wasmi::Engine::new(&config);
        let module = wasmi::Module::new(&engine, wasm)?;
        // keel's memory limit, as a limiter: growth past it fails (-1) rather than succeeding.
        let limits =
            wasmi::StoreLimitsBuilder::new().memory_size((max_pages << 16) as usize).build();
        let mut store = wasmi::Store::new(&engine, limits);
        store.limiter(|limits| limits);
        let linker = wasmi::Linker::new(&engine);
        let instance = linker.instantiate_and_start(&mut store, &module)?;
        Ok(Wasmi { store, instance })
    }

    /// Calls export `name` with `args` (keel's values), returning keel's values.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, wasmi::Error> {
        let func = self.instance.get_func(&self.store, name).expect("the same exports");
        let args: Vec<wasmi::Val> = args.iter().map(to_wasmi).collect();
        let ty = func.ty(&self.store);
        let mut results: Vec<wasmi::Val> =
            ty.results().iter().map(|t| wasmi::Val::default_for_ty(*t)).collect();
        func.call(&mut self.store, &args, &mut results)?;
        Ok(results.iter().map(to_keel).collect())
    }

    /// Exported global `name`, if there is one.
    pub fn global(&self, name: &str) -> Option<Val> {
        Some(to_keel(&self.instance.get_global(&self.store, name)?.get(&self.store)))
    }

    /// The contents of the first exported memory, if any.
    pub fn memory(&self) -> Option<Vec<u8>> {
        let memory = self.instance.exports(&self.store).find_map(|e| e.into_memory())?;
        Some(memory.data(&self.store).to_vec())
    }

    /// Exported table `name`: its elements' null-ness.
    pub fn table(&self, name: &str) -> Option<Vec<bool>> {
        let table = self.instance.get_table(&self.store, name)?;
        let size = table.size(&self.store);
        Some((0..size).map(|i| table.get(&self.store, i).expect("in bounds").is_null()).collect())
    }
}

fn to_wasmi(v: &Val) -> wasmi::Val {
    match v {
        Val::I32(x) => wasmi::Val::I32(*x),
        Val::I64(x) => wasmi::Val::I64(*x),
        Val::F32(bits) => wasmi::Val::F32(wasmi::F32::from_bits(*bits)),
        Val::F64(bits) => wasmi::Val::F64(wasmi::F64::from_bits(*bits)),
        Val::V128(x) => wasmi::Val::V128(wasmi::V128::from(*x)),
        Val::FuncRef(_) => wasmi::Val::default_for_ty(wasmi::ValType::FuncRef),
        Val::ExternRef(_) => wasmi::Val::default_for_ty(wasmi::ValType::ExternRef),
    }
}

/// wasmi's value as keel's; a non-null reference becomes a non-null placeholder (references are
/// compared by null-ness only), so only its null-ness is kept.
fn to_keel(v: &wasmi::Val) -> Val {
    match v {
        wasmi::Val::I32(x) => Val::I32(*x),
        wasmi::Val::I64(x) => Val::I64(*x),
        wasmi::Val::F32(x) => Val::F32(x.to_bits()),
        wasmi::Val::F64(x) => Val::F64(x.to_bits()),
        wasmi::Val::V128(x) => Val::V128(x.as_u128()),
        wasmi::Val::FuncRef(f) if f.is_null() => Val::FuncRef(None),
        wasmi::Val::ExternRef(e) if e.is_null() => Val::ExternRef(None),
        wasmi::Val::FuncRef(_) | wasmi::Val::ExternRef(_) => {
            Val::ExternRef(Some(keel::ExternRef::new(())))
        }
    }
}
