//! Values as the API sees them ([`Val`]) and as engines store them (raw 64-bit slots).
//!
//! Engines keep every value in untyped 64-bit slots: integers and floats by their bits, a v128
//! in two consecutive slots (low half first), a `funcref` as the address of its
//! [`FuncData`](crate::vm::FuncData) and an `externref` as the address of its [`ExternRef`]'s
//! data; 0 is null for both.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

pub use keel_decode::ValType;

use crate::Func;

/// A reference to host data that Wasm can hold and pass around but not look into.
#[derive(Clone)]
pub struct ExternRef(pub(crate) Arc<ExternData>);

/// The data behind an [`ExternRef`].
pub struct ExternData {
    value: Box<dyn Any + Send + Sync>,
}

impl ExternRef {
    /// Wraps a host value.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        ExternRef(Arc::new(ExternData { value: Box::new(value) }))
    }

    /// The wrapped value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.value.downcast_ref()
    }

    /// The raw slot value engines store (the data's address).
    pub fn to_raw(&self) -> u64 {
        Arc::as_ptr(&self.0) as u64
    }

    /// Whether two references point to the same data.
    pub fn ptr_eq(&self, other: &ExternRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for ExternRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternRef({:#x})", self.to_raw())
    }
}

/// A WebAssembly value.
#[derive(Clone, Debug)]
pub enum Val {
    /// i32
    I32(i32),
    /// i64
    I64(i64),
    /// f32, by its bits so that NaN payloads survive.
    F32(u32),
    /// f64, by its bits so that NaN payloads survive.
    F64(u64),
    /// v128
    V128(u128),
    /// A function reference, or null.
    FuncRef(Option<Func>),
    /// An extern reference, or null.
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The zero (or null) value of a type.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    /// The i32, if this is one.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self { Some(*v) } else { None }
    }

    /// The i64, if this is one.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self { Some(*v) } else { None }
    }

    /// The f32, if this is one.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = self { Some(f32::from_bits(*v)) } else { None }
    }

    /// The f64, if this is one.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = self { Some(f64::from_bits(*v)) } else { None }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Self {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Self {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::F64(v.to_bits())
    }
}
