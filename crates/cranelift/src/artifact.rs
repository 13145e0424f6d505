//! Compiling a whole module into an [`Artifact`] (code bytes, relocations, offsets: plain data a
//! compilation cache can store) and loading an artefact into executable memory.

use keel_runtime::CompileError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{
    self, AbiParam, ExternalName, InstBuilder, LibCall, MemFlagsData, Signature, UserFuncName,
    types,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use keel_decode::{FuncType, Module};

use crate::translate::{
    ModuleEnv, cl_type, slot_flags, translate_function, translate_stub, wasm_signature,
};
use crate::{layout, libcalls};

/// A runtime function that compiled code refers to through a relocation (Cranelift's own
/// libcalls, for float rounding and `pshufb` on targets without the instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum LibcallTarget {
    FloorF32,
    FloorF64,
    CeilF32,
    CeilF64,
    TruncF32,
    TruncF64,
    NearestF32,
    NearestF64,
    FmaF32,
    FmaF64,
    X86Pshufb,
}

impl LibcallTarget {
    fn from_cranelift(lc: LibCall) -> Option<Self> {
        Some(match lc {
            LibCall::FloorF32 => LibcallTarget::FloorF32,
            LibCall::FloorF64 => LibcallTarget::FloorF64,
            LibCall::CeilF32 => LibcallTarget::CeilF32,
            LibCall::CeilF64 => LibcallTarget::CeilF64,
            LibCall::TruncF32 => LibcallTarget::TruncF32,
            LibCall::TruncF64 => LibcallTarget::TruncF64,
            LibCall::NearestF32 => LibcallTarget::NearestF32,
            LibCall::NearestF64 => LibcallTarget::NearestF64,
            LibCall::FmaF32 => LibcallTarget::FmaF32,
            LibCall::FmaF64 => LibcallTarget::FmaF64,
            LibCall::X86Pshufb => LibcallTarget::X86Pshufb,
            _ => return None,
        })
    }

    /// Every target, in the order of their tags in a serialised artefact.
    const ALL: [LibcallTarget; 11] = [
        LibcallTarget::FloorF32,
        LibcallTarget::FloorF64,
        LibcallTarget::CeilF32,
        LibcallTarget::CeilF64,
        LibcallTarget::TruncF32,
        LibcallTarget::TruncF64,
        LibcallTarget::NearestF32,
        LibcallTarget::NearestF64,
        LibcallTarget::FmaF32,
        LibcallTarget::FmaF64,
        LibcallTarget::X86Pshufb,
    ];

    fn tag(self) -> u8 {
        LibcallTarget::ALL.iter().position(|t| *t == self).expect("listed") as u8
    }

    fn address(self) -> usize {
        use libcalls::*;
        match self {
            LibcallTarget::FloorF32 => floor_f32 as *const () as usize,
            LibcallTarget::FloorF64 => floor_f64 as *const () as usize,
            LibcallTarget::CeilF32 => ceil_f32 as *const () as usize,
            LibcallTarget::CeilF64 => ceil_f64 as *const () as usize,
            LibcallTarget::TruncF32 => trunc_f32 as *const () as usize,
            LibcallTarget::TruncF64 => trunc_f64 as *const () as usize,
            LibcallTarget::NearestF32 => nearest_f32 as *const () as usize,
            LibcallTarget::NearestF64 => nearest_f64 as *const () as usize,
            LibcallTarget::FmaF32 => fma_f32 as *const () as usize,
            LibcallTarget::FmaF64 => fma_f64 as *const () as usize,
            LibcallTarget::X86Pshufb => x86_pshufb as *const () as usize,
        }
    }
}

/// A relocation left in the code: write the absolute address of `target` plus `addend` as 8
/// bytes at `offset` (the only kind Cranelift emits for keel's code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relocation {
    /// Offset in [`Artifact::code`].
    pub offset: u32,
    /// What it refers to.
    pub target: LibcallTarget,
    /// Added to the target's address.
    pub addend: i64,
}

/// A compiled module before loading: position-independent code (calls between functions go
/// through the instance context), its relocations and where everything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Whether this is the listening variant (`CompileOptions::listening`).
    pub listening: bool,
    /// All machine code: the functions, then the entry trampolines.
    pub code: Vec<u8>,
    /// Offset of each defined function's code.
    pub functions: Vec<u32>,
    /// Offset of each distinct signature's entry trampoline.
    pub trampolines: Vec<u32>,
    /// Which trampoline each defined function is entered through.
    pub function_trampoline: Vec<u32>,
    /// Absolute addresses to patch in at load time.
    pub relocations: Vec<Relocation>,
    /// Offsets of the memory accesses that may fault on a guard page (code compiled for guarded
    /// memories), ascending: a fault anywhere else is not a trap.
    pub trap_sites: Vec<u32>,
}

/// Reads a serialised artefact, refusing anything that does not add up.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!("truncated: {n} bytes wanted, {} left", self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A count of items of `size` bytes each, checked against the bytes left before anything
    /// is allocated for them.
    fn count(&mut self, size: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.checked_mul(size).is_none_or(|b| b > self.bytes.len()) {
            return Err(format!("count {n} passes the end"));
        }
        Ok(n)
    }

    fn u32s(&mut self) -> Result<Vec<u32>, String> {
        let n = self.count(4)?;
        (0..n).map(|_| self.u32()).collect()
    }
}

fn put_u32s(out: &mut Vec<u8>, v: &[u32]) {
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

impl Artifact {
    /// The artefact as bytes (the compiler's cache payload): the variant (a byte, 1 for
    /// listening code), then code, offsets, relocations, each length-prefixed, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.code.len() + 64);
        out.push(self.listening as u8);
        out.extend_from_slice(&(self.code.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.code);
        put_u32s(&mut out, &self.functions);
        put_u32s(&mut out, &self.trampolines);
        put_u32s(&mut out, &self.function_trampoline);
        out.extend_from_slice(&(self.relocations.len() as u32).to_le_bytes());
        for r in &self.relocations {
            out.extend_from_slice(&r.offset.to_le_bytes());
            out.push(r.target.tag());
            out.extend_from_slice(&r.addend.to_le_bytes());
        }
        put_u32s(&mut out, &self.trap_sites);
        out
    }

    /// Reads an artefact written by [`Artifact::to_bytes`] for `module` and checks that it fits
    /// both the bytes and the module: one function and one trampoline index per defined
    /// function, functions sharing a trampoline exactly when they share a signature (in the order
    /// the compiler assigns them), every offset inside the code, every relocation's 8 bytes inside
    /// the code, no byte left over. Whatever passes can be loaded without any out-of-bounds
    /// access; the code bytes themselves are vouched for only by the cache's checksum.
    pub fn from_bytes(bytes: &[u8], module: &Module) -> Result<Artifact, String> {
        let jobs: Vec<Job> =
            (0..module.bodies.len() as u32).map(|def| Job { def, osr: None }).collect();
        Artifact::from_bytes_for(bytes, module, &jobs)
    }

    /// Reads an artefact of `jobs` of `module` ([`compile_jobs`]'s), checked as
    /// [`Artifact::from_bytes`] checks a whole module's: one function per job, one trampoline
    /// index per whole function, assigned by signature.
    pub(crate) fn from_bytes_for(
        bytes: &[u8],
        module: &Module,
        jobs: &[Job],
    ) -> Result<Artifact, String> {
        let mut r = Reader { bytes };
        let listening = match r.u8()? {
            0 => false,
            1 => true,
            v => return Err(format!("unknown code variant {v}")),
        };
        let code_len = r.count(1)?;
        let code = r.take(code_len)?.to_vec();
        let functions = r.u32s()?;
        let trampolines = r.u32s()?;
        let function_trampoline = r.u32s()?;
        let n = r.count(4 + 1 + 8)?;
        let mut relocations = Vec::with_capacity(n);
        for _ in 0..n {
            let offset = r.u32()?;
            let tag = r.u8()?;
            let addend = r.i64()?;
            let target = *LibcallTarget::ALL
                .get(tag as usize)
                .ok_or_else(|| format!("unknown relocation target {tag}"))?;
            if (offset as usize).checked_add(8).is_none_or(|end| end > code_len) {
                return Err(format!("relocation at {offset} outside the code ({code_len} bytes)"));
            }
            relocations.push(Relocation { offset, target, addend });
        }
        let trap_sites = r.u32s()?;
        if trap_sites.windows(2).any(|w| w[0] >= w[1]) {
            return Err("trap sites out of order".into());
        }
        if let Some(off) = trap_sites.last().filter(|o| **o as usize >= code_len) {
            return Err(format!("trap site {off} outside the code ({code_len} bytes)"));
        }
        if !r.bytes.is_empty() {
            return Err(format!("{} bytes left over", r.bytes.len()));
        }
        let whole: Vec<u32> = jobs.iter().take_while(|j| j.osr.is_none()).map(|j| j.def).collect();
        if jobs.iter().any(|j| j.def as usize >= module.bodies.len())
            || jobs[whole.len()..].iter().any(|j| j.osr.is_none())
        {
            return Err("functions outside the module, or out of order".into());
        }
        if functions.len() != jobs.len() || function_trampoline.len() != whole.len() {
            return Err(format!(
                "{} functions and {} trampoline indices for {} functions ({} whole)",
                functions.len(),
                function_trampoline.len(),
                jobs.len(),
                whole.len()
            ));
        }
        if let Some(off) = functions.iter().chain(&trampolines).find(|o| **o as usize >= code_len) {
            return Err(format!("code offset {off} outside the code ({code_len} bytes)"));
        }
        // The trampoline of each function must be the one compiled for its signature: recompute
        // the compiler's assignment (first use of a signature gets the next trampoline).
        let mut by_sig: HashMap<&FuncType, u32> = HashMap::new();
        for (def, t) in whole.iter().zip(function_trampoline.iter()) {
            let ty = module.func_type(module.num_imported_functions + def);
            let next = by_sig.len() as u32;
            let expected = *by_sig.entry(ty).or_insert(next);
            if *t != expected {
                return Err(format!("function {def}: trampoline {t}, expected {expected}"));
            }
        }
        if trampolines.len() != by_sig.len() {
            return Err(format!(
                "{} trampolines for {} signatures",
                trampolines.len(),
                by_sig.len()
            ));
        }
        Ok(Artifact {
            listening,
            code,
            functions,
            trampolines,
            function_trampoline,
            relocations,
            trap_sites,
        })
    }
}

struct Compiled {
    bytes: Vec<u8>,
    relocs: Vec<Relocation>,
    /// Offsets of accesses that may fault on a guard page.
    trap_sites: Vec<u32>,
    /// The alignment the code needs (its constants').
    alignment: usize,
    /// Its dispatch loops, which placement keeps inside a cache line (see `layout`).
    dispatch_spans: Vec<std::ops::Range<u32>>,
}

fn finish_function(ctx: &mut Context, isa: &dyn TargetIsa, what: &str) -> Result<Compiled, String> {
    // Only a function with a `br_table` has jump tables to look for (see `layout`): most have
    // none, and the search reads every byte of the code.
    let has_tables = !ctx.func.dfg.jump_tables.is_empty();
    let compiled = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| format!("{what}: cranelift: {:?}", e.inner))?;
    let bytes = compiled.code_buffer().to_vec();
    let mut relocs = Vec::new();
    for r in compiled.buffer.relocs() {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::LibCall(lc)) => {
                LibcallTarget::from_cranelift(*lc)
            }
            _ => None,
        };
        match (target, r.kind) {
            (Some(target), Reloc::Abs8) => {
                relocs.push(Relocation { offset: r.offset, target, addend: r.addend })
            }
            _ => {
                return Err(format!(
                    "{what}: unsupported relocation {:?} to {:?}",
                    r.kind, r.target
                ));
            }
        }
    }
    let trap_sites = compiled
        .buffer
        .traps()
        .iter()
        .filter(|t| t.code == ir::TrapCode::HEAP_OUT_OF_BOUNDS)
        .map(|t| t.offset)
        .collect();
    let dispatch_spans =
        if has_tables && isa.triple().architecture == target_lexicon::Architecture::X86_64 {
            layout::dispatch_spans(&bytes, &compiled.bb_starts)
        } else {
            Vec::new()
        };
    let alignment = compiled.buffer.alignment as usize;
    Ok(Compiled { bytes, relocs, trap_sites, alignment, dispatch_spans })
}

/// The entry trampoline of signature `ty`: `extern "C" fn(vmctx, code, values)` loads the
/// parameters from the value array, calls `code`, and stores the results back.
fn build_trampoline(
    ty: &FuncType,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, String> {
    let call_conv = isa.default_call_conv();
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(types::I64); 3]);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(1, 0), sig);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let (vmctx, code, values) =
        (b.block_params(entry)[0], b.block_params(entry)[1], b.block_params(entry)[2]);
    let mut args = vec![vmctx];
    let mut at = 0;
    for p in ty.params.iter() {
        let t = cl_type(*p)?;
        args.push(b.ins().load(t, slot_flags(t), values, at * 8));
        at += p.slots() as i32;
    }
    let wsig = b.import_signature(wasm_signature(ty, call_conv)?);
    let call = b.ins().call_indirect(wsig, code, &args);
    let results = b.inst_results(call).to_vec();
    let mut at = 0;
    for (v, r) in results.into_iter().zip(ty.results.iter()) {
        let v = match b.func.dfg.value_type(v) {
            types::I32 => b.ins().uextend(types::I64, v),
            types::F32 => {
                let i = b.ins().bitcast(types::I32, MemFlagsData::new(), v);
                b.ins().uextend(types::I64, i)
            }
            types::F64 => b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            _ => v,
        };
        let t = b.func.dfg.value_type(v);
        b.ins().store(slot_flags(t), v, values, at * 8);
        at += r.slots() as i32;
    }
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
    Ok(func)
}

/// Compiles every defined function of `module` (in parallel) and the entry trampolines; for
/// guarded memories (no bounds checks below the guard) when `guarded`; the listening variant if
/// `listening`.
pub(crate) fn compile(
    module: &Module,
    isa: &dyn TargetIsa,
    guarded: bool,
    listening: bool,
) -> Result<Artifact, CompileError> {
    if isa.pointer_bits() != 64 {
        let detail = "it needs a 64-bit target".to_string();
        return Err(CompileError::UnsupportedHost { engine: "compiler", detail });
    }
    if module.memories.len() > 1 {
        let what = "multiple memories".to_string();
        return Err(CompileError::Unsupported { engine: "compiler", what });
    }
    let env =
        ModuleEnv { module, call_conv: isa.default_call_conv(), guarded, listening, tiered: false };
    let jobs: Vec<Job> =
        (0..module.bodies.len() as u32).map(|def| Job { def, osr: None }).collect();
    let workers = keel_runtime::engine::compile_threads();
    compile_jobs(&env, isa, &jobs, workers)
}

/// One function to compile: defined function `def`, or its on-stack-replacement entry at the
/// head of loop `osr` (the loop operator's offset in the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Job {
    pub(crate) def: u32,
    pub(crate) osr: Option<u32>,
}

/// Compiles `jobs` (whole functions first, then on-stack-replacement entries) on up to
/// `workers` threads into one artefact: `functions[i]` is job `i`'s code, and each whole
/// function has an entry trampoline (`function_trampoline[i]`).
pub(crate) fn compile_jobs(
    env: &ModuleEnv<'_>,
    isa: &dyn TargetIsa,
    jobs: &[Job],
    workers: usize,
) -> Result<Artifact, CompileError> {
    let module = env.module;
    let listening = env.listening;
    let n = jobs.len();
    let workers = workers.min(n).max(1);
    let compile_one = |job: usize, fctx: &mut FunctionBuilderContext, ctx: &mut Context| {
        let Job { def, osr } = jobs[job];
        let def = def as usize;
        let mut func = ir::Function::with_name_signature(
            UserFuncName::user(0, def as u32),
            Signature::new(env.call_conv),
        );
        let index = module.num_imported_functions + def as u32;
        let failed = |message: String| CompileError::Function {
            func_index: index,
            offset: module.bodies[def].code.start,
            message,
        };
        // A translation error leaves the builder context half used, and a bug in the translator
        // or in Cranelift must be a compile error, never a panic: start afresh after either.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            translate_function(env, def as u32, osr, &mut func, fctx).map_err(failed)?;
            ctx.clear();
            ctx.func = func;
            finish_function(ctx, isa, "cranelift").map_err(failed)
        }));
        let result = result
            .unwrap_or_else(|_| Err(failed("the compiler failed (internal error)".to_string())));
        if result.is_err() {
            *fctx = FunctionBuilderContext::new();
            *ctx = Context::new();
        }
        result
    };
    let mut results: Vec<Option<Result<Compiled, CompileError>>> = (0..n).map(|_| None).collect();
    if workers <= 1 {
        let (mut fctx, mut ctx) = (FunctionBuilderContext::new(), Context::new());
        for (def, slot) in results.iter_mut().enumerate() {
            *slot = Some(compile_one(def, &mut fctx, &mut ctx));
        }
    } else {
        // Workers take the next function as they finish one, largest first: a module's few
        // large functions (a Go program has some of tens of thousands of instructions) would
        // otherwise leave the other workers idle at the end while one compiles them.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&job| {
            std::cmp::Reverse(module.bodies[jobs[job].def as usize].code.len())
        });
        let next = AtomicUsize::new(0);
        let parts: Vec<Vec<(usize, Result<Compiled, CompileError>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (compile_one, next, order) = (&compile_one, &next, &order);
                    s.spawn(move || {
                        let (mut fctx, mut ctx) = (FunctionBuilderContext::new(), Context::new());
                        let mut done = Vec::new();
                        loop {
                            let Some(&def) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                                break done;
                            };
                            done.push((def, compile_one(def, &mut fctx, &mut ctx)));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (def, r) in parts.into_iter().flatten() {
            results[def] = Some(r);
        }
    }

    let mut art = Artifact {
        listening,
        code: Vec::new(),
        functions: Vec::with_capacity(n),
        trampolines: Vec::new(),
        function_trampoline: Vec::with_capacity(n),
        relocations: Vec::new(),
        trap_sites: Vec::new(),
    };
    for r in results {
        let c = r.expect("every function was compiled")?;
        let at = art.place(c);
        art.functions.push(at);
    }
    let mut by_sig: HashMap<&FuncType, u32> = HashMap::new();
    let (mut fctx, mut ctx) = (FunctionBuilderContext::new(), Context::new());
    for job in jobs.iter().take_while(|j| j.osr.is_none()) {
        let ty = module.func_type(module.num_imported_functions + job.def);
        let t = match by_sig.get(ty) {
            Some(t) => *t,
            None => {
                let func = build_trampoline(ty, isa, &mut fctx).map_err(CompileError::Engine)?;
                ctx.clear();
                ctx.func = func;
                let c =
                    finish_function(&mut ctx, isa, "trampoline").map_err(CompileError::Engine)?;
                let at = art.place(c);
                let t = art.trampolines.len() as u32;
                art.trampolines.push(at);
                by_sig.insert(ty, t);
                t
            }
        };
        art.function_trampoline.push(t);
    }
    Ok(art)
}

impl Artifact {
    /// Appends a compiled function's code, aligned and placed (see `layout`); returns its
    /// offset.
    fn place(&mut self, c: Compiled) -> u32 {
        let start = layout::function_start(self.code.len(), c.alignment, &c.dispatch_spans);
        self.code.resize(start, 0);
        let at = start as u32;
        self.code.extend_from_slice(&c.bytes);
        // Relocated words hold zero until loading, so an artefact read back from loaded code
        // (`Loaded::to_artifact`) equals the one compiled.
        for r in &c.relocs {
            let o = (at + r.offset) as usize;
            self.code[o..o + 8].fill(0);
        }
        self.relocations
            .extend(c.relocs.into_iter().map(|r| Relocation { offset: r.offset + at, ..r }));
        self.trap_sites.extend(c.trap_sites.iter().map(|o| o + at));
        at
    }
}

/// Compiles the lower tier's stub of each of `types` (type indices; see `translate_stub`) into
/// one artefact: `functions[i]` is the stub of `types[i]`. No trampolines: nothing enters a stub
/// from outside compiled code.
pub(crate) fn compile_stubs(
    env: &ModuleEnv<'_>,
    isa: &dyn TargetIsa,
    types: &[u32],
) -> Result<Artifact, CompileError> {
    let mut art = Artifact {
        listening: env.listening,
        code: Vec::new(),
        functions: Vec::with_capacity(types.len()),
        trampolines: Vec::new(),
        function_trampoline: Vec::new(),
        relocations: Vec::new(),
        trap_sites: Vec::new(),
    };
    let (mut fctx, mut ctx) = (FunctionBuilderContext::new(), Context::new());
    for &t in types {
        let mut func = ir::Function::with_name_signature(
            UserFuncName::user(1, t),
            Signature::new(env.call_conv),
        );
        translate_stub(env, t, &mut func, &mut fctx).map_err(CompileError::Engine)?;
        ctx.clear();
        ctx.func = func;
        let c = finish_function(&mut ctx, isa, "stub").map_err(CompileError::Engine)?;
        let at = art.place(c);
        art.functions.push(at);
    }
    Ok(art)
}

/// An artefact in executable memory.
pub(crate) struct Loaded {
    listening: bool,
    _memory: Option<region::Allocation>,
    base: *const u8,
    code_len: usize,
    functions: Box<[*const u8]>,
    trampolines: Box<[*const u8]>,
    function_trampoline: Box<[u32]>,
    relocations: Box<[Relocation]>,
    trap_sites: Box<[u32]>,
}

// SAFETY: the code is immutable once loaded (read + execute only), and the pointers point into
// `_memory`, which lives as long as `self`.
unsafe impl Send for Loaded {}
// SAFETY: as above.
unsafe impl Sync for Loaded {}

impl Loaded {
    /// Copies the code into fresh memory, applies the relocations, and makes it executable.
    pub(crate) fn load(art: Artifact) -> Result<Loaded, String> {
        if art.code.is_empty() {
            return Ok(Loaded {
                listening: art.listening,
                _memory: None,
                base: std::ptr::null(),
                code_len: 0,
                functions: Box::new([]),
                trampolines: Box::new([]),
                function_trampoline: Box::new([]),
                relocations: Box::new([]),
                trap_sites: Box::new([]),
            });
        }
        let mut code = art.code;
        if art.functions.iter().chain(&art.trampolines).any(|o| *o as usize >= code.len())
            || art.function_trampoline.iter().any(|t| *t as usize >= art.trampolines.len())
            || art.trap_sites.windows(2).any(|w| w[0] >= w[1])
            || art.trap_sites.last().is_some_and(|o| *o as usize >= code.len())
        {
            return Err("code offset outside the code".into());
        }
        for r in &art.relocations {
            let value = (r.target.address() as i64).wrapping_add(r.addend) as u64;
            let at = r.offset as usize;
            code.get_mut(at..at + 8)
                .ok_or("relocation outside the code")?
                .copy_from_slice(&value.to_le_bytes());
        }
        let mut memory = region::alloc(code.len(), region::Protection::READ_WRITE)
            .map_err(|e| format!("cannot allocate code memory: {e}"))?;
        let base = memory.as_mut_ptr::<u8>();
        // SAFETY: the allocation is at least `code.len()` bytes, writable, and fresh (no other
        // reference to it exists); afterwards it becomes read + execute and is never written
        // again.
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), base, code.len());
            region::protect(base, code.len(), region::Protection::READ_EXECUTE)
                .map_err(|e| format!("cannot make code executable: {e}"))?;
        }
        // SAFETY: every offset is inside the code that was just copied.
        let at = |off: u32| unsafe { base.add(off as usize) as *const u8 };
        Ok(Loaded {
            listening: art.listening,
            base,
            code_len: code.len(),
            functions: art.functions.iter().map(|o| at(*o)).collect(),
            trampolines: art.trampolines.iter().map(|o| at(*o)).collect(),
            function_trampoline: art.function_trampoline.into_boxed_slice(),
            relocations: art.relocations.into_boxed_slice(),
            trap_sites: art.trap_sites.into_boxed_slice(),
            _memory: Some(memory),
        })
    }

    /// The artefact this was loaded from, read back from executable memory with the relocated
    /// words zeroed again (as the compiler leaves them), so equal code gives equal bytes.
    pub(crate) fn to_artifact(&self) -> Artifact {
        let mut code = if self.code_len == 0 {
            Vec::new()
        } else {
            // SAFETY: `base` points at `code_len` bytes of code that stay mapped readable (read +
            // execute) as long as `self`, and are never written after loading.
            unsafe { std::slice::from_raw_parts(self.base, self.code_len) }.to_vec()
        };
        for r in self.relocations.iter() {
            code[r.offset as usize..r.offset as usize + 8].fill(0);
        }
        let offset = |p: &*const u8| (*p as usize - self.base as usize) as u32;
        Artifact {
            listening: self.listening,
            code,
            functions: self.functions.iter().map(offset).collect(),
            trampolines: self.trampolines.iter().map(offset).collect(),
            function_trampoline: self.function_trampoline.to_vec(),
            relocations: self.relocations.to_vec(),
            trap_sites: self.trap_sites.to_vec(),
        }
    }

    /// The loaded code, for the signal handler to tell its faults from others.
    pub(crate) fn code(&self) -> &[u8] {
        if self.code_len == 0 {
            return &[];
        }
        // SAFETY: as in `to_artifact`.
        unsafe { std::slice::from_raw_parts(self.base, self.code_len) }
    }

    /// Offsets of the accesses that may fault on a guard page, ascending.
    pub(crate) fn trap_sites(&self) -> &[u32] {
        &self.trap_sites
    }

    /// The defined function whose code holds `offset` (a frame of a trap's trace), if any.
    pub(crate) fn function_at(&self, offset: u32) -> Option<u32> {
        let at = self.base as usize + offset as usize;
        // Functions come first, in order, then the trampolines.
        let end = self.trampolines.iter().map(|p| *p as usize).min().unwrap_or(usize::MAX);
        if at >= end {
            return None;
        }
        let i = self.functions.partition_point(|p| (*p as usize) <= at);
        i.checked_sub(1).map(|i| i as u32)
    }

    /// Whether this is the listening variant.
    pub(crate) fn listening(&self) -> bool {
        self.listening
    }

    /// Code address of each defined function (the context's `code` array).
    pub(crate) fn function_ptrs(&self) -> &[*const u8] {
        &self.functions
    }

    /// The entry trampoline of defined function `def`.
    pub(crate) fn trampoline(&self, def: u32) -> *const u8 {
        self.trampolines[self.function_trampoline[def as usize] as usize]
    }
}
