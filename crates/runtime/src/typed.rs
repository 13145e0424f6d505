//! Rust types that map to Wasm values, for typed calls and typed host functions.

use crate::value::ValType;

/// A Rust type that is one Wasm value.
pub trait WasmTy: Sized + Copy + Send + Sync + 'static {
    /// Its Wasm type.
    const TYPE: ValType;
    /// Writes the value into its slot(s); returns how many.
    fn store(self, out: &mut [u64]) -> usize;
    /// Reads the value from its slot(s).
    fn load(slots: &[u64]) -> Self;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, |$v:ident| $to:expr, |$s:ident| $from:expr) => {
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$vt;
            #[inline(always)]
            fn store(self, out: &mut [u64]) -> usize {
                let $v = self;
                out[0] = $to;
                1
            }
            #[inline(always)]
            fn load(slots: &[u64]) -> Self {
                let $s = slots[0];
                $from
            }
        }
    };
}

wasm_ty!(i32, I32, |v| v as u32 as u64, |s| s as u32 as i32);
wasm_ty!(u32, I32, |v| v as u64, |s| s as u32);
wasm_ty!(i64, I64, |v| v as u64, |s| s as i64);
wasm_ty!(u64, I64, |v| v, |s| s);
wasm_ty!(f32, F32, |v| v.to_bits() as u64, |s| f32::from_bits(s as u32));
wasm_ty!(f64, F64, |v| v.to_bits(), |s| f64::from_bits(s));

impl WasmTy for u128 {
    const TYPE: ValType = ValType::V128;
    #[inline(always)]
    fn store(self, out: &mut [u64]) -> usize {
        out[0] = self as u64;
        out[1] = (self >> 64) as u64;
        2
    }
    #[inline(always)]
    fn load(slots: &[u64]) -> Self {
        slots[0] as u128 | (slots[1] as u128) << 64
    }
}

/// Parameters of a typed call: `()`, one [`WasmTy`], or a tuple of them.
pub trait WasmParams: Send {
    /// Their Wasm types.
    fn types() -> Vec<ValType>;
    /// Writes them into slots.
    fn store(self, out: &mut [u64]);
    /// Reads them from slots.
    fn load(slots: &[u64]) -> Self;
}

/// Results of a typed call: `()`, one [`WasmTy`], or a tuple of them.
pub trait WasmResults: WasmParams {}
impl<T: WasmParams> WasmResults for T {}

impl<T: WasmTy> WasmParams for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    #[inline(always)]
    fn store(self, out: &mut [u64]) {
        WasmTy::store(self, out);
    }
    #[inline(always)]
    fn load(slots: &[u64]) -> Self {
        <T as WasmTy>::load(slots)
    }
}

macro_rules! tuple_params {
    ($($t:ident),*) => {
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            fn types() -> Vec<ValType> {
                vec![$($t::TYPE),*]
            }
            #[inline(always)]
            #[allow(unused_assignments, unused_variables, unused_mut, non_snake_case)]
            fn store(self, out: &mut [u64]) {
                let ($($t,)*) = self;
                let mut at = 0;
                $(at += $t.store(&mut out[at..]);)*
            }
            #[inline(always)]
            #[allow(unused_assignments, unused_variables, unused_mut, clippy::unused_unit)]
            fn load(slots: &[u64]) -> Self {
                let mut at = 0;
                ($({
                    let v = $t::load(&slots[at..]);
                    at += $t::TYPE.slots();
                    v
                },)*)
            }
        }
    };
}

tuple_params!();
tuple_params!(A);
tuple_params!(A, B);
tuple_params!(A, B, C);
tuple_params!(A, B, C, D);
tuple_params!(A, B, C, D, E);
tuple_params!(A, B, C, D, E, F);
tuple_params!(A, B, C, D, E, F, G);
tuple_params!(A, B, C, D, E, F, G, H);
tuple_params!(A, B, C, D, E, F, G, H, I);
tuple_params!(A, B, C, D, E, F, G, H, I, J);
