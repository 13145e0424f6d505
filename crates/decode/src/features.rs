//! Which WebAssembly features a module may use.

/// A set of WebAssembly features, like wazero's `CoreFeatures`. [`Features::V2`] is the default.
///
/// ```
/// use keel_decode::Features;
/// let f = Features::V1 | Features::BULK_MEMORY;
/// assert!(f.contains(Features::BULK_MEMORY));
/// assert!(!f.contains(Features::SIMD));
/// assert!(Features::default().contains(Features::V2));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Features(u32);

macro_rules! features {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $label:literal;)*) => {
        impl Features {
            $($(#[$doc])* pub const $name: Features = Features(1 << $bit);)*

            const NAMED: &'static [(Features, &'static str)] = &[$((Features::$name, $label),)*];
        }
    };
}

features! {
    /// Import and export of mutable globals (part of Wasm 1.0 as published).
    MUTABLE_GLOBAL = 0, "mutable-global";
    /// Sign-extension operators.
    SIGN_EXTENSION = 1, "sign-extension";
    /// Non-trapping float-to-int conversions.
    SATURATING_FLOAT_TO_INT = 2, "nontrapping-float-to-int";
    /// Multiple results and block parameters.
    MULTI_VALUE = 3, "multi-value";
    /// funcref/externref values, several tables, table instructions.
    REFERENCE_TYPES = 4, "reference-types";
    /// memory.copy/fill/init, table.copy/init, passive segments.
    BULK_MEMORY = 5, "bulk-memory";
    /// 128-bit fixed-width SIMD.
    SIMD = 6, "simd";
    /// Extended constant expressions (Wasm 3.0).
    EXTENDED_CONST = 7, "extended-const";
    /// Tail calls (Wasm 3.0).
    TAIL_CALL = 8, "tail-call";
    /// Several memories (Wasm 3.0).
    MULTI_MEMORY = 9, "multi-memory";
    /// 64-bit memories (Wasm 3.0).
    MEMORY64 = 10, "memory64";
}

impl Features {
    /// No feature beyond the 2017 MVP.
    pub const NONE: Features = Features(0);
    /// WebAssembly Core 1.0.
    pub const V1: Features = Features::MUTABLE_GLOBAL;
    /// WebAssembly Core 2.0: 1.0 plus sign extension, non-trapping conversions, multi-value,
    /// reference types, bulk memory and SIMD.
    pub const V2: Features = Features(
        Features::V1.0
            | Features::SIGN_EXTENSION.0
            | Features::SATURATING_FLOAT_TO_INT.0
            | Features::MULTI_VALUE.0
            | Features::REFERENCE_TYPES.0
            | Features::BULK_MEMORY.0
            | Features::SIMD.0,
    );

    /// Whether every feature of `other` is in `self`.
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with `other` added.
    pub const fn with(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }

    /// `self` with `other` removed.
    pub const fn without(self, other: Features) -> Features {
        Features(self.0 & !other.0)
    }

    /// The raw bits, stable across versions of keel (used in cache keys).
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The matching wasmparser feature set.
    pub(crate) fn to_wasmparser(self) -> wasmparser::WasmFeatures {
        use wasmparser::WasmFeatures as W;
        let mut w = W::MVP;
        let map = [
            (Features::MUTABLE_GLOBAL, W::MUTABLE_GLOBAL),
            (Features::SIGN_EXTENSION, W::SIGN_EXTENSION),
            (Features::SATURATING_FLOAT_TO_INT, W::SATURATING_FLOAT_TO_INT),
            (Features::MULTI_VALUE, W::MULTI_VALUE),
            (Features::REFERENCE_TYPES, W::REFERENCE_TYPES),
            (Features::BULK_MEMORY, W::BULK_MEMORY),
            (Features::SIMD, W::SIMD),
            (Features::EXTENDED_CONST, W::EXTENDED_CONST),
            (Features::TAIL_CALL, W::TAIL_CALL),
            (Features::MULTI_MEMORY, W::MULTI_MEMORY),
            (Features::MEMORY64, W::MEMORY64),
        ];
        for (ours, theirs) in map {
            if self.contains(ours) {
                w |= theirs;
            }
        }
        w
    }
}

impl Default for Features {
    fn default() -> Self {
        Features::V2
    }
}

impl std::ops::BitOr for Features {
    type Output = Features;
    fn bitor(self, rhs: Features) -> Features {
        self.with(rhs)
    }
}

impl std::fmt::Debug for Features {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> =
            Features::NAMED.iter().filter(|(x, _)| self.contains(*x)).map(|(_, n)| *n).collect();
        write!(f, "Features({})", names.join("|"))
    }
}
