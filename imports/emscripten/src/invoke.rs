//! `invoke_<sig>`: the trampolines through which Emscripten's code calls a function that may
//! throw a C++ exception or longjmp. The glue generates one per signature the module imports;
//! keel makes each from the import's name and type (wazero's `InstantiateForModule` does the
//! same).
//!
//! `invoke_<sig>(index, a1, ...)`: the first letter of `sig` is the result (`v` none, `i` i32,
//! `j` i64, `f` f32, `d` f64), the others the parameters of entry `index` of the guest's table.
//! Where the JS glue cannot pass i64 (emcc without `-sWASM_BIGINT`), the import takes each `j`
//! parameter as two i32 halves, low first, and returns a `j` result's low half with the high
//! half through `setTempRet0`; keel tells the two forms apart by the import's type.

use keel::{Caller, Error, FuncType, Module, Trap, TrapCode, Val, ValType};

use crate::state;

/// The entry point of one table-entry type, made from an `invoke_<sig>` import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeSignature {
    /// The type of the table entries it calls.
    pub target: FuncType,
    /// i64 parameters and results come split into i32 halves (JS without BigInt).
    pub legalized: bool,
}

fn letter(c: char) -> Option<ValType> {
    match c {
        'i' | 'p' => Some(ValType::I32),
        'j' => Some(ValType::I64),
        'f' => Some(ValType::F32),
        'd' => Some(ValType::F64),
        _ => None,
    }
}

impl InvokeSignature {
    /// The signature `sig` (what follows `invoke_`) names, if the import's type `ty` is one of
    /// its two forms (with or without i64 legalised).
    pub fn parse(sig: &str, ty: &FuncType) -> Option<InvokeSignature> {
        let mut letters = sig.chars();
        let result = match letters.next()? {
            'v' => None,
            c => Some(letter(c)?),
        };
        let params: Vec<ValType> = letters.map(letter).collect::<Option<_>>()?;
        let target = FuncType::new(params.iter().copied(), result);
        for legalized in [false, true] {
            let widen = |t: ValType| -> Vec<ValType> {
                match t {
                    ValType::I64 if legalized => vec![ValType::I32, ValType::I32],
                    t => vec![t],
                }
            };
            let import = FuncType::new(
                std::iter::once(ValType::I32).chain(params.iter().copied().flat_map(widen)),
                result.map(|r| if r == ValType::I64 && legalized { ValType::I32 } else { r }),
            );
            if &import == ty {
                return Some(InvokeSignature { target, legalized });
            }
        }
        None
    }
}

/// Why a call unwinds to the nearest `invoke_`: what Emscripten's JS throws as a number (a C++
/// exception's pointer, or `Infinity` for a longjmp). It travels as the host error of a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unwind {
    /// A C++ exception, thrown and not caught on the way.
    #[error("uncaught C++ exception {0:#x}")]
    Exception(u32),
    /// A longjmp that found no setjmp to land in.
    #[error("longjmp with no setjmp to return to")]
    Longjmp,
}

impl Unwind {
    /// The unwinding a trap carries, if it is one.
    pub fn of(trap: &Trap) -> Option<Unwind> {
        match trap.kind() {
            keel::TrapKind::Host(e) => e.downcast_ref::<Unwind>().copied(),
            _ => None,
        }
    }
}

/// An exported function of the guest the trampolines need.
pub(crate) fn export(module: &Module, name: &str) -> Result<keel::Func, Trap> {
    module.func(name).ok_or_else(|| Trap::host(format!("the guest exports no {name}")))
}

/// Calls `name` of the guest with i32 arguments; its i32 result (0 when it has none).
pub(crate) fn call_i32(module: &Module, name: &str, args: &[i32]) -> Result<i32, Trap> {
    let f = export(module, name)?;
    let mut slots = [0u64; 4];
    for (s, a) in slots.iter_mut().zip(args) {
        *s = *a as u32 as u64;
    }
    f.call_raw(&mut slots)?;
    Ok(slots[0] as u32 as i32)
}

/// The function at `index` of the guest's table, checked against `ty`.
fn table_entry(module: &Module, index: u32, ty: &FuncType) -> Result<keel::Func, Trap> {
    let table = module
        .table("__indirect_function_table")
        .ok_or_else(|| Trap::host("the guest exports no __indirect_function_table"))?;
    match table.get(index) {
        None => Err(Trap::new(keel::TrapKind::Code(TrapCode::TableOutOfBounds))),
        Some(Val::FuncRef(None)) => {
            Err(Trap::new(keel::TrapKind::Code(TrapCode::IndirectCallToNull)))
        }
        Some(Val::FuncRef(Some(f))) if f.ty() == ty => Ok(f),
        Some(_) => Err(Trap::new(keel::TrapKind::Code(TrapCode::BadSignature))),
    }
}

/// `invoke_<sig>(index, args...)`.
pub(crate) fn invoke(
    caller: &mut Caller<'_>,
    values: &mut [u64],
    sig: &InvokeSignature,
) -> Result<(), Trap> {
    let module =
        caller.module().ok_or_else(|| Trap::host("invoke_ called from outside a guest"))?;
    let target = table_entry(&module, values[0] as u32, &sig.target)?;
    let sp = call_i32(&module, "stackSave", &[])?;

    let params = &sig.target.params;
    let mut slots = vec![0u64; params.len().max(1)];
    let mut at = 1;
    for (slot, ty) in slots.iter_mut().zip(params.iter()) {
        *slot = if *ty == ValType::I64 && sig.legalized {
            let (lo, hi) = (values[at] as u32 as u64, values[at + 1] as u32 as u64);
            at += 2;
            lo | hi << 32
        } else {
            at += 1;
            values[at - 1]
        };
    }
    match target.call_raw_from(caller, &mut slots) {
        Ok(()) => {
            if sig.target.results.first() == Some(&ValType::I64) && sig.legalized {
                state::of(caller, "invoke_")?.lock().temp_ret0 = (slots[0] >> 32) as i32;
                values[0] = slots[0] as u32 as u64;
            } else {
                values[0] = slots[0];
            }
            Ok(())
        }
        Err(Error::Trap(trap)) if Unwind::of(&trap).is_some() => {
            call_i32(&module, "stackRestore", &[sp])?;
            call_i32(&module, "setThrew", &[1, 0])?;
            values[0] = 0;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValType::{F32, F64, I32, I64};

    fn ty(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType::new(params.iter().copied(), results.iter().copied())
    }

    #[test]
    fn signatures_come_from_the_name_and_the_import_type() {
        for (sig, import, want) in [
            ("v", ty(&[I32], &[]), Some((ty(&[], &[]), false))),
            ("vii", ty(&[I32, I32, I32], &[]), Some((ty(&[I32, I32], &[]), false))),
            ("iii", ty(&[I32, I32, I32], &[I32]), Some((ty(&[I32, I32], &[I32]), false))),
            ("dif", ty(&[I32, I32, F32], &[F64]), Some((ty(&[I32, F32], &[F64]), false))),
            // i64 as is (BigInt), or in halves with the result's high half in tempRet0.
            ("jij", ty(&[I32, I32, I64], &[I64]), Some((ty(&[I32, I64], &[I64]), false))),
            ("jij", ty(&[I32, I32, I32, I32], &[I32]), Some((ty(&[I32, I64], &[I64]), true))),
            ("viji", ty(&[I32, I32, I32, I32, I32], &[]), Some((ty(&[I32, I64, I32], &[]), true))),
            // The type must be one of the two forms.
            ("vii", ty(&[I32, I32], &[]), None),
            ("ii", ty(&[I32, I32], &[]), None),
            ("x", ty(&[I32], &[]), None),
            ("", ty(&[I32], &[]), None),
        ] {
            let got = InvokeSignature::parse(sig, &import).map(|s| (s.target, s.legalized));
            assert_eq!(got, want, "invoke_{sig}: {import}");
        }
    }
}
