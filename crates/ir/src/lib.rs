#![deny(unsafe_code)] // but `Instr::tag`, whose one read of the tag is allowed where it stands
//! keel-ir: validated WebAssembly function bodies to register-based bytecode for keel-interp.
//!
//! Each defined function becomes a [`CompiledFunc`]: a sequence of [`Instr`]s that name slots of
//! the function's frame, a window of 64-bit slots laid out as
//! `[params | locals | constants | temporaries]`. Locals and constants are never copied onto an
//! operand stack: instructions read their slots directly. Comparisons followed by `br_if`/`if`
//! become one compare-and-jump, additions of small constants carry an immediate, loads and stores
//! carry their static offset, and a call's arguments are laid out where the callee's frame
//! starts, so calls copy nothing. See `docs/interpreter.md`.
//!
//! ```
//! let wasm = wat::parse_str(r#"(module (func (param i32 i32) (result i32) (local i32)
//!     local.get 0 local.get 1 i32.add local.set 2 local.get 2))"#).unwrap();
//! let module = keel_decode::decode(&wasm, keel_decode::Features::V2).unwrap();
//! let f = keel_ir::translate_function(&module, 0).unwrap();
//! assert_eq!(f.code.len(), 2); // the add, writing local 2 directly; the return
//! ```

pub mod instr;
mod translate;
mod verify;

pub use instr::{Instr, Reg};
pub use translate::{translate_function, translate_function_with};
pub use verify::{IndexSpace, VerifyError, VerifyErrorKind, verify};

/// How to translate a function, besides the module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TranslateOptions {
    /// The listening variant: the function starts with [`Instr::ListenEnter`] and returns
    /// through [`Instr::ListenReturn`], so that the interpreter reports its calls to function
    /// listeners. Without it, the bytecode has no listener hook at all.
    pub listening: bool,
    /// The tiered variant: the function starts with [`Instr::TierEnter`] (which counts calls and
    /// runs the function's compiled code once there is some) and every loop entered with an
    /// empty operand stack starts with [`Instr::TierLoop`] (which counts iterations and enters
    /// compiled code there: on-stack replacement). Without it, the bytecode has no tier hook.
    pub tiered: bool,
}

/// A function translated to bytecode.
#[derive(Debug, Clone)]
pub struct CompiledFunc {
    /// The instructions. Execution starts at index 0; every path ends in a return, a trap or a
    /// jump, and every jump lands inside the code.
    pub code: Box<[Instr]>,
    /// Byte offset in the module binary of the Wasm operator each instruction came from.
    pub offsets: Box<[u32]>,
    /// Slots the frame needs: every slot an instruction names is below this.
    pub frame_size: u16,
    /// Slots of the parameters (a v128 takes two), which are slots `0..num_params`.
    pub num_params: u16,
    /// Slots of the results, left in slots `0..num_results` on return.
    pub num_results: u16,
    /// Written to slots `num_params..num_params + init.len()` on entry: zeros for the locals,
    /// then the constant pool.
    pub init: Box<[u64]>,
    /// Index of the function in the module's function index space.
    pub func_index: u32,
}

/// Why a function could not be translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError {
    /// Byte offset in the module binary.
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for TranslateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset 0x{:x})", self.message, self.offset)
    }
}

impl std::error::Error for TranslateError {}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod verify_tests;
