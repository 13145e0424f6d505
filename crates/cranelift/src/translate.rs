//! Wasm -> Cranelift IR, one function body at a time: a single pass over the operators with a
//! value stack (Cranelift SSA values) and a control stack; locals are frontend variables.
//!
//! Traps never fault: a trapping condition branches to a cold block that calls the `Raise`
//! libcall (recording the trap code in the instance state and setting the trap word) and then
//! jumps to the function's unwind block, which adds this function's frame to the trap's trace
//! and returns dummy results. Every call and every libcall that may trap is followed by a check
//! of the trap word that jumps to the same unwind block.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    self, AbiParam, AliasRegion, AliasRegionData, Block, BlockArg, InstBuilder, JumpTableData,
    MemFlagsData, SigRef, Signature, StackSlotData, StackSlotKind, Type, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use keel_decode::{FuncType, Module, ValType};
use keel_runtime::TrapCode;
use keel_runtime::vm::FuncData;
use wasmparser::{BlockType, MemArg, MemArgTarget, Operator};

mod simd;

use crate::libcalls::Libcall;
use crate::vmctx::VmCtx;

/// Trap codes by the number compiled code passes to the `Raise` libcall.
pub(crate) const TRAP_CODES: [TrapCode; 11] = [
    TrapCode::Unreachable,
    TrapCode::MemoryOutOfBounds,
    TrapCode::TableOutOfBounds,
    TrapCode::IndirectCallToNull,
    TrapCode::BadSignature,
    TrapCode::IntegerDivisionByZero,
    TrapCode::IntegerOverflow,
    TrapCode::BadConversionToInteger,
    TrapCode::StackOverflow,
    TrapCode::NullReference,
    TrapCode::Interrupted,
];

fn trap_number(code: TrapCode) -> usize {
    TRAP_CODES.iter().position(|c| *c == code).expect("every trap code is listed")
}

/// The one Cranelift type every v128 value has between instructions (on the value stack, in
/// locals, block parameters, signatures, globals and value slots). Each SIMD instruction
/// bitcasts its operands to the lane type it works on and its result back to this type.
pub(crate) const V128: Type = types::I8X16;

/// Cranelift type of a Wasm value type.
pub(crate) fn cl_type(ty: ValType) -> Result<Type, String> {
    Ok(match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::FuncRef | ValType::ExternRef => types::I64,
        ValType::V128 => V128,
    })
}

/// Memory flags for a value slot (value arrays, globals) of type `ty`: a v128 spans two 8-byte
/// aligned slots, so it is not known to be naturally aligned.
pub(crate) fn slot_flags(ty: Type) -> MemFlagsData {
    if ty.is_vector() { MemFlagsData::new().with_notrap() } else { MemFlagsData::trusted() }
}

fn wp_type(ty: wasmparser::ValType) -> Result<Type, String> {
    Ok(match ty {
        wasmparser::ValType::I32 => types::I32,
        wasmparser::ValType::I64 => types::I64,
        wasmparser::ValType::F32 => types::F32,
        wasmparser::ValType::F64 => types::F64,
        wasmparser::ValType::Ref(_) => types::I64,
        wasmparser::ValType::V128 => V128,
    })
}

/// The native signature of a compiled Wasm function: `(vmctx, params...) -> results`.
pub(crate) fn wasm_signature(ty: &FuncType, call_conv: CallConv) -> Result<Signature, String> {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    for p in ty.params.iter() {
        sig.params.push(AbiParam::new(cl_type(*p)?));
    }
    for r in ty.results.iter() {
        sig.returns.push(AbiParam::new(cl_type(*r)?));
    }
    Ok(sig)
}

/// What the translator needs to know about the module, the target and the variant.
pub(crate) struct ModuleEnv<'a> {
    pub(crate) module: &'a Module,
    pub(crate) call_conv: CallConv,
    /// The memories are guarded: accesses whose static offset stays within the guard region
    /// need no bounds check (an access past the end faults, see `signals.rs`).
    pub(crate) guarded: bool,
    /// Compile the listening variant: each function reports its entry and returns to its
    /// listener, if its `FuncData` has one (`CompileOptions::listening`).
    pub(crate) listening: bool,
    /// Compile for the tiered engine: the context's code array fills in as functions get
    /// compiled, so a call reads its callee's entry each time and goes through the runtime
    /// (to the interpreter) while it is null.
    pub(crate) tiered: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Loop,
    If,
}

struct Frame {
    kind: Kind,
    /// Where control continues after `end` (block parameters: the results).
    next: Block,
    /// Loop header (block parameters: the loop's parameters).
    header: Block,
    /// The else arm of an `if`.
    else_block: Block,
    else_seen: bool,
    /// The `if`'s parameters, for its else arm.
    else_params: Vec<Value>,
    params: usize,
    results: Vec<Type>,
    /// Value stack height below the frame's parameters.
    height: usize,
}

/// Translates defined function `def` of `env.module` into `func`.
pub(crate) fn translate_function(
    env: &ModuleEnv<'_>,
    def: u32,
    osr: Option<u32>,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), String> {
    let module = env.module;
    let func_index = module.num_imported_functions + def;
    let ty = module.func_type(func_index).clone();
    func.signature = match osr {
        None => wasm_signature(&ty, env.call_conv)?,
        Some(_) => osr_signature(env.call_conv),
    };
    let body = &module.bodies[def as usize];
    let (mut b, args) = start_function(func, fctx);
    let vmctx = args[0];
    let (params, osr_frame): (Vec<Value>, Option<Value>) = match osr {
        None => (args[1..].to_vec(), None),
        Some(_) => (Vec::new(), Some(args[2])),
    };

    let mut locals = Vec::new();
    if osr.is_none() {
        for (p, v) in ty.params.iter().zip(params.iter().copied()) {
            let t = cl_type(*p)?;
            let var = b.declare_var(t);
            b.def_var(var, v);
            locals.push(var);
        }
    }
    let results: Vec<Type> = ty.results.iter().map(|t| cl_type(*t)).collect::<Result<_, _>>()?;
    let mut tx = Tx::new(b, env, vmctx, func_index, results.clone());
    tx.locals = locals;
    tx.osr = osr.map(|l| (l, None));
    tx.osr_frame = osr_frame;
    if let Some(frame) = osr_frame {
        // On-stack replacement: every local (parameters included) comes from the interpreter's
        // frame, in its slot layout; the function's own start is reached only by no one.
        let declared = body.locals.iter().flat_map(|&(n, t)| std::iter::repeat_n(t, n as usize));
        let mut at = 0;
        for t in ty.params.iter().copied().chain(declared) {
            let ct = cl_type(t)?;
            let var = tx.b.declare_var(ct);
            let v = tx.b.ins().load(ct, slot_flags(ct), frame, at * 8);
            tx.b.def_var(var, v);
            tx.locals.push(var);
            at += t.slots() as i32;
        }
    } else {
        for (count, t) in body.locals.iter() {
            let t = cl_type(*t)?;
            for _ in 0..*count {
                let var = tx.b.declare_var(t);
                let zero = tx.zero(t);
                tx.b.def_var(var, zero);
                tx.locals.push(var);
            }
        }
    }

    // Stack overflow: compare the native stack pointer with the limit set at entry.
    let sp = tx.b.ins().get_stack_pointer(types::I64);
    let limit = tx.load_vmctx(VmCtx::STACK_LIMIT, false);
    let low = tx.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
    tx.trap_if(low, TrapCode::StackOverflow);
    if env.listening && osr.is_none() {
        tx.listen(Libcall::ListenBefore, &params, &ty.params);
    }
    tx.check_interrupt();
    if osr.is_some() {
        // The loop's header, entered from here; the code before it follows in a block of its
        // own that only branches back to enclosing loops reach.
        let header = tx.b.create_block();
        tx.b.ins().jump(header, &[]);
        tx.osr = osr.map(|l| (l, Some(header)));
        let start = tx.b.create_block();
        tx.b.switch_to_block(start);
    }

    let ret = tx.b.create_block();
    for t in &results {
        tx.b.append_block_param(ret, *t);
    }
    tx.frames.push(Frame {
        kind: Kind::Block,
        next: ret,
        header: ret,
        else_block: ret,
        else_seen: true,
        else_params: Vec::new(),
        params: 0,
        results,
        height: 0,
    });

    let mut reader = module.operators_reader(body);
    while !reader.eof() {
        let offset = reader.original_position();
        tx.op_offset = (offset as usize - body.code.start) as u32;
        let op = reader.read().map_err(|e| e.to_string())?;
        tx.op(op).map_err(|e| format!("{e} (at offset {offset:#x})"))?;
        if tx.frames.is_empty() {
            break;
        }
    }
    if let Some((l, Some(_))) = tx.osr {
        return Err(format!("no loop to enter at offset {l:#x} of the body"));
    }
    tx.finish();
    Ok(())
}

/// A builder for `func` (its signature set), in its entry block, and the entry's parameters:
/// the function's arguments, the context first.
fn start_function<'b>(
    func: &'b mut ir::Function,
    fctx: &'b mut FunctionBuilderContext,
) -> (FunctionBuilder<'b>, Vec<Value>) {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let args = b.block_params(entry).to_vec();
    (b, args)
}

/// Translates the lower tier's stub for functions of type `type_index` of a tiered module into
/// `func`: what a code-array entry holds until its function is compiled, so that tiered code
/// calls every entry directly, with no test. The caller names the function in the context's
/// `callee` field; the stub runs it through the runtime (`CallOwn`, so on the interpreter, or on
/// its compiled code if it got compiled meanwhile) and returns its results. A trap stays pending
/// in the trap word, which the caller checks after every call, as after any.
pub(crate) fn translate_stub(
    env: &ModuleEnv<'_>,
    type_index: u32,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), String> {
    let ty = env.module.types[type_index as usize].clone();
    func.signature = wasm_signature(&ty, env.call_conv)?;
    let (b, args) = start_function(func, fctx);
    let (vmctx, params) = (args[0], args[1..].to_vec());
    let results: Vec<Type> = ty.results.iter().map(|t| cl_type(*t)).collect::<Result<_, _>>()?;
    let mut tx = Tx::new(b, env, vmctx, u32::MAX, results);
    let def = tx.load_vmctx(VmCtx::CALLEE, false);
    let own = tx.load_vmctx(VmCtx::OWN_FUNCS, true);
    let offset = tx.b.ins().imul_imm_u(def, std::mem::size_of::<FuncData>() as i64);
    let callee = tx.b.ins().iadd(own, offset);
    let result_slots = ty.results.iter().map(|t| t.slots()).sum();
    let base = tx.value_array(&params, &ty.params, result_slots);
    tx.libcall_unchecked(Libcall::CallOwn, &[callee, base]);
    let mut values = Vec::new();
    let mut at = 0;
    for t in ty.results.iter() {
        let ct = cl_type(*t)?;
        values.push(tx.b.ins().load(ct, slot_flags(ct), base, at * 8));
        at += t.slots() as i32;
    }
    tx.b.ins().return_(&values);
    tx.finish();
    Ok(())
}

/// The signature of an on-stack-replacement entry: that of an entry trampoline,
/// `(vmctx, unused, frame)`, with the locals in `frame` on entry and the results there on return.
pub(crate) fn osr_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(types::I64); 3]);
    sig
}

struct Tx<'a, 'b> {
    b: FunctionBuilder<'b>,
    env: &'a ModuleEnv<'a>,
    vmctx: Value,
    func_index: u32,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    locals: Vec<Variable>,
    reachable: bool,
    unreachable_depth: u32,
    trap_blocks: HashMap<usize, Block>,
    unwind_block: Option<Block>,
    results: Vec<Type>,
    /// An on-stack-replacement entry: the id of the loop it enters (its operator's offset in
    /// the body) and, until that loop is translated, the header block the entry jumps to.
    osr: Option<(u32, Option<Block>)>,
    /// An on-stack-replacement entry's frame array, where the results go.
    osr_frame: Option<Value>,
    /// Offset in the body of the operator being translated.
    op_offset: u32,
    sigs: HashMap<u32, SigRef>,
    libcall_sigs: HashMap<u8, SigRef>,
    /// Alias region of linear-memory accesses.
    heap_region: AliasRegion,
    /// Alias region of the memory length, which only calls change.
    memory_len_region: AliasRegion,
}

/// A load from memory that holds the same value for the life of the instance, but whose address
/// depends on a check (an index checked just before): it must stay below that check.
fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// A load of a field of the instance context, or of an entry at a fixed index of an array it
/// points to, that never changes for the life of the instance (memory base, code and function
/// arrays, libcall table): Cranelift may merge such loads and hoist them out of loops.
fn constant() -> MemFlagsData {
    readonly().with_can_move()
}

impl<'a, 'b> Tx<'a, 'b> {
    fn new(
        b: FunctionBuilder<'b>,
        env: &'a ModuleEnv<'a>,
        vmctx: Value,
        func_index: u32,
        results: Vec<Type>,
    ) -> Self {
        let regions = &mut b.func.dfg.alias_regions;
        let heap_region =
            regions.insert(AliasRegionData { user_id: 0, description: "heap".into() });
        let memory_len_region =
            regions.insert(AliasRegionData { user_id: 1, description: "memory length".into() });
        Tx {
            b,
            env,
            vmctx,
            func_index,
            stack: Vec::new(),
            frames: Vec::new(),
            locals: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            trap_blocks: HashMap::new(),
            unwind_block: None,
            results,
            osr: None,
            osr_frame: None,
            op_offset: 0,
            sigs: HashMap::new(),
            libcall_sigs: HashMap::new(),
            heap_region,
            memory_len_region,
        }
    }

    /// Flags of linear-memory accesses. Their own alias region lets Cranelift keep the memory's
    /// length loaded across guest stores, which cannot change it.
    pub(crate) fn heap(&self) -> MemFlagsData {
        let flags = MemFlagsData::new().with_alias_region(Some(self.heap_region));
        if self.env.guarded {
            // Cranelift records where each such access is (a trap site).
            flags.with_trap_code(Some(ir::TrapCode::HEAP_OUT_OF_BOUNDS))
        } else {
            flags.with_notrap()
        }
    }

    fn zero(&mut self, t: Type) -> Value {
        match t {
            types::F32 => self.b.ins().f32const(Ieee32::with_bits(0)),
            types::F64 => self.b.ins().f64const(Ieee64::with_bits(0)),
            V128 => self.v128_const(0),
            _ => self.b.ins().iconst(t, 0),
        }
    }

    fn load_vmctx(&mut self, offset: i32, constant: bool) -> Value {
        let flags = if constant { self::constant() } else { MemFlagsData::trusted() };
        self.b.ins().load(types::I64, flags, self.vmctx, offset)
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated: value stack underflow")
    }

    fn pop2(&mut self) -> (Value, Value) {
        let y = self.pop();
        let x = self.pop();
        (x, y)
    }

    fn popn(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }

    fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn block_with_params(&mut self, tys: &[Type]) -> Block {
        let block = self.b.create_block();
        for t in tys {
            self.b.append_block_param(block, *t);
        }
        block
    }

    fn block_type(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>), String> {
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![wp_type(t)?]),
            BlockType::FuncType(i) => {
                let ft = &self.env.module.types[i as usize];
                (
                    ft.params.iter().map(|t| cl_type(*t)).collect::<Result<_, _>>()?,
                    ft.results.iter().map(|t| cl_type(*t)).collect::<Result<_, _>>()?,
                )
            }
        })
    }

    fn trap_block(&mut self, code: TrapCode) -> Block {
        let n = trap_number(code);
        if let Some(b) = self.trap_blocks.get(&n) {
            return *b;
        }
        let block = self.b.create_block();
        self.b.set_cold_block(block);
        self.trap_blocks.insert(n, block);
        block
    }

    fn unwind_block(&mut self) -> Block {
        if let Some(b) = self.unwind_block {
            return b;
        }
        let block = self.b.create_block();
        self.b.set_cold_block(block);
        self.unwind_block = Some(block);
        block
    }

    /// Branches to a trap of `code` when `cond` is non-zero.
    fn trap_if(&mut self, cond: Value, code: TrapCode) {
        let trap = self.trap_block(code);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, trap, &[], cont, &[]);
        self.switch_to_sealed(cont);
    }

    /// Leaves the function when a trap is pending (after a call or a libcall that may trap).
    fn check_trap_word(&mut self) {
        let word = self.load_vmctx(VmCtx::TRAP, false);
        let unwind = self.unwind_block();
        let cont = self.b.create_block();
        self.b.ins().brif(word, unwind, &[], cont, &[]);
        self.switch_to_sealed(cont);
    }

    /// Continues in `block`, all of whose predecessors exist: sealing it as early as this lets
    /// Cranelift's SSA construction look variables up through it at once, rather than giving
    /// every unsealed block a provisional parameter per variable read in it and resolving them
    /// all at the end (most of them into aliases).
    fn switch_to_sealed(&mut self, block: Block) {
        self.b.switch_to_block(block);
        self.b.seal_block(block);
    }

    /// Traps with `Interrupted` when the instance's interrupt flag is set. The flag is read with
    /// an atomic load: another thread sets it, and a plain load in a loop without stores would be
    /// merged with the one before the loop by Cranelift's redundant-load elimination.
    fn check_interrupt(&mut self) {
        let ptr = self.load_vmctx(VmCtx::INTERRUPT, true);
        let flag = self.b.ins().atomic_load(types::I32, MemFlagsData::trusted(), ptr);
        self.trap_if(flag, TrapCode::Interrupted);
    }

    /// Returns `vals` from the function; in listening code, reports the return first.
    fn return_(&mut self, vals: &[Value]) {
        if self.env.listening {
            let tys = self.env.module.func_type(self.func_index).results.clone();
            self.listen(Libcall::ListenAfter, vals, &tys);
        }
        self.emit_return(vals);
    }

    /// The return instruction: the results as the signature says, or, from an on-stack-
    /// replacement entry, stored into its frame array in the interpreter's slot layout.
    fn emit_return(&mut self, vals: &[Value]) {
        let Some(frame) = self.osr_frame else {
            self.b.ins().return_(vals);
            return;
        };
        let tys = self.env.module.func_type(self.func_index).results.clone();
        let mut at = 0;
        for (v, t) in vals.iter().zip(tys.iter()) {
            let v = self.widen_to_slot(*v);
            let ct = self.b.func.dfg.value_type(v);
            self.b.ins().store(slot_flags(ct), v, frame, at * 8);
            at += t.slots() as i32;
        }
        self.b.ins().return_(&[]);
    }

    /// Listening code: calls `lc` (`ListenBefore` or `ListenAfter`) with this function's
    /// `FuncData` and `vals` (of types `tys`) in a value array when the `FuncData` has a
    /// listener. Its `listening` field is set at instantiation and never changes, so entry and
    /// returns agree on whether the call is reported.
    fn listen(&mut self, lc: Libcall, vals: &[Value], tys: &[ValType]) {
        let module = self.env.module;
        let def = (self.func_index - module.num_imported_functions) as i64;
        let own = self.load_vmctx(VmCtx::OWN_FUNCS, true);
        let func = self.b.ins().iadd_imm_u(own, def * std::mem::size_of::<FuncData>() as i64);
        let listening =
            self.b.ins().load(types::I64, constant(), func, FuncData::LISTENING_OFFSET as i32);
        let report = self.b.create_block();
        self.b.set_cold_block(report);
        let cont = self.b.create_block();
        self.b.ins().brif(listening, report, &[], cont, &[]);
        self.switch_to_sealed(report);
        let base = self.value_array(vals, tys, 0);
        self.libcall(lc, &[func, base]);
        self.b.ins().jump(cont, &[]);
        self.switch_to_sealed(cont);
    }

    /// A stack array of at least `min_slots` value slots holding `vals` (of types `tys`), as
    /// the runtime passes values: its address.
    fn value_array(&mut self, vals: &[Value], tys: &[ValType], min_slots: usize) -> Value {
        let slots = tys.iter().map(|t| t.slots()).sum::<usize>().max(min_slots).max(1) as u32;
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            slots * 8,
            3,
        ));
        let base = self.b.ins().stack_addr(types::I64, ss, 0);
        let mut at = 0;
        for (a, t) in vals.iter().zip(tys.iter()) {
            let v = self.widen_to_slot(*a);
            let vt = self.b.func.dfg.value_type(v);
            self.b.ins().store(slot_flags(vt), v, base, at * 8);
            at += t.slots() as i32;
        }
        base
    }

    /// Calls a libcall through the context's table; checks the trap word if it may trap.
    fn libcall(&mut self, lc: Libcall, args: &[Value]) -> Vec<Value> {
        let results = self.libcall_unchecked(lc, args);
        if lc.may_trap() {
            self.check_trap_word();
        }
        results
    }

    /// Calls a libcall through the context's table, leaving a trap pending in the trap word.
    fn libcall_unchecked(&mut self, lc: Libcall, args: &[Value]) -> Vec<Value> {
        let sig = match self.libcall_sigs.get(&(lc as u8)) {
            Some(s) => *s,
            None => {
                let s = self.b.import_signature(lc.signature(self.env.call_conv));
                self.libcall_sigs.insert(lc as u8, s);
                s
            }
        };
        let table = self.load_vmctx(VmCtx::LIBCALLS, true);
        let addr = self.b.ins().load(types::I64, constant(), table, (lc as i32) * 8);
        let mut all = vec![self.vmctx];
        all.extend_from_slice(args);
        let call = self.b.ins().call_indirect(sig, addr, &all);
        self.b.inst_results(call).to_vec()
    }

    fn wasm_sig(&mut self, type_index: u32) -> Result<SigRef, String> {
        if let Some(s) = self.sigs.get(&type_index) {
            return Ok(*s);
        }
        let sig = wasm_signature(&self.env.module.types[type_index as usize], self.env.call_conv)?;
        let s = self.b.import_signature(sig);
        self.sigs.insert(type_index, s);
        Ok(s)
    }

    /// Fills the trap and unwind blocks, seals everything and finalises the function.
    fn finish(mut self) {
        let mut traps: Vec<(usize, Block)> = self.trap_blocks.drain().collect();
        traps.sort();
        if !traps.is_empty() {
            self.unwind_block();
        }
        for (n, block) in traps {
            self.b.switch_to_block(block);
            let code = self.b.ins().iconst(types::I32, n as i64);
            self.libcall(Libcall::Raise, &[code]);
            // `libcall` checked the trap word and branched to the unwind block; the fallthrough
            // is unreachable.
            let unwind = self.unwind_block();
            self.b.ins().jump(unwind, &[]);
        }
        if let Some(block) = self.unwind_block {
            self.b.switch_to_block(block);
            let fi = self.b.ins().iconst(types::I32, self.func_index as i64);
            self.libcall(Libcall::Unwind, &[fi]);
            let results = self.results.clone();
            let zeros: Vec<Value> = results.iter().map(|t| self.zero(*t)).collect();
            if self.osr_frame.is_some() {
                self.b.ins().return_(&[]);
            } else {
                self.b.ins().return_(&zeros);
            }
        }
        self.b.seal_all_blocks();
        let cfg = cranelift_codegen::isa::TargetFrontendConfig {
            default_call_conv: self.env.call_conv,
            pointer_width: target_lexicon::PointerWidth::U64,
            page_size_align_log2: 12,
        };
        self.b.finalize(cfg);
    }

    fn jump_args(vals: &[Value]) -> Vec<BlockArg> {
        vals.iter().map(|v| BlockArg::Value(*v)).collect()
    }

    /// The branch target of relative depth `depth` and how many values it takes.
    fn target(&self, depth: u32) -> (Block, usize) {
        let f = &self.frames[self.frames.len() - 1 - depth as usize];
        if f.kind == Kind::Loop { (f.header, f.params) } else { (f.next, f.results.len()) }
    }

    fn end_frame(&mut self) {
        let frame = self.frames.pop().expect("validated: control stack");
        if self.reachable {
            let vals = self.popn(frame.results.len());
            let args = Self::jump_args(&vals);
            self.b.ins().jump(frame.next, &args);
        }
        self.stack.truncate(frame.height);
        if frame.kind == Kind::If && !frame.else_seen {
            self.switch_to_sealed(frame.else_block);
            let args = Self::jump_args(&frame.else_params);
            self.b.ins().jump(frame.next, &args);
        }
        // Every branch to a frame's blocks comes from inside it: the loop header's back edges and
        // the exits are all known now.
        if frame.kind == Kind::Loop {
            self.b.seal_block(frame.header);
        }
        self.switch_to_sealed(frame.next);
        let params = self.b.block_params(frame.next).to_vec();
        self.stack.extend(params.iter().copied());
        self.reachable = true;
        if self.frames.is_empty() {
            self.return_(&params);
        }
    }

    fn op(&mut self, op: Operator<'_>) -> Result<(), String> {
        if !self.reachable {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.unreachable_depth += 1;
                }
                Operator::End if self.unreachable_depth > 0 => self.unreachable_depth -= 1,
                Operator::Else if self.unreachable_depth > 0 => {}
                Operator::End => self.end_frame(),
                Operator::Else => {
                    let f = self.frames.last_mut().expect("validated: else in if");
                    f.else_seen = true;
                    let (height, block, params) = (f.height, f.else_block, f.else_params.clone());
                    self.stack.truncate(height);
                    self.stack.extend(params);
                    self.switch_to_sealed(block);
                    self.reachable = true;
                }
                _ => {}
            }
            return Ok(());
        }
        use Operator as O;
        match op {
            O::Unreachable => {
                let t = self.trap_block(TrapCode::Unreachable);
                self.b.ins().jump(t, &[]);
                self.reachable = false;
            }
            O::Nop => {}
            O::Block { blockty } => {
                let (params, results) = self.block_type(blockty)?;
                let next = self.block_with_params(&results);
                self.frames.push(Frame {
                    kind: Kind::Block,
                    next,
                    header: next,
                    else_block: next,
                    else_seen: true,
                    else_params: Vec::new(),
                    params: params.len(),
                    results,
                    height: self.stack.len() - params.len(),
                });
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_type(blockty)?;
                let next = self.block_with_params(&results);
                let header = match self.osr {
                    Some((l, Some(header))) if l == self.op_offset => {
                        if !params.is_empty() || !self.stack.is_empty() {
                            return Err("the loop to enter has values on the stack".into());
                        }
                        self.osr = Some((l, None));
                        header
                    }
                    _ => self.block_with_params(&params),
                };
                let vals = self.popn(params.len());
                self.b.ins().jump(header, &Self::jump_args(&vals));
                self.b.switch_to_block(header);
                let hp = self.b.block_params(header).to_vec();
                self.stack.extend(hp);
                self.frames.push(Frame {
                    kind: Kind::Loop,
                    next,
                    header,
                    else_block: next,
                    else_seen: true,
                    else_params: Vec::new(),
                    params: params.len(),
                    results,
                    height: self.stack.len() - params.len(),
                });
                self.check_interrupt();
            }
            O::If { blockty } => {
                let (params, results) = self.block_type(blockty)?;
                let cond = self.pop();
                let next = self.block_with_params(&results);
                let then_block = self.b.create_block();
                let else_block = self.b.create_block();
                self.b.ins().brif(cond, then_block, &[], else_block, &[]);
                self.switch_to_sealed(then_block);
                let else_params = self.peekn(params.len()).to_vec();
                self.frames.push(Frame {
                    kind: Kind::If,
                    next,
                    header: next,
                    else_block,
                    else_seen: false,
                    else_params,
                    params: params.len(),
                    results,
                    height: self.stack.len() - params.len(),
                });
            }
            O::Else => {
                let f = self.frames.last_mut().expect("validated: else in if");
                f.else_seen = true;
                let (next, n) = (f.next, f.results.len());
                let (height, block, params) = (f.height, f.else_block, f.else_params.clone());
                let vals = self.popn(n);
                self.b.ins().jump(next, &Self::jump_args(&vals));
                self.stack.truncate(height);
                self.stack.extend(params);
                self.switch_to_sealed(block);
            }
            O::End => self.end_frame(),
            O::Br { relative_depth } => {
                let (block, n) = self.target(relative_depth);
                let args = Self::jump_args(self.peekn(n));
                self.b.ins().jump(block, &args);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                let (block, n) = self.target(relative_depth);
                let args = Self::jump_args(self.peekn(n));
                let cont = self.b.create_block();
                self.b.ins().brif(cond, block, &args, cont, &[]);
                self.switch_to_sealed(cont);
            }
            O::BrTable { targets } => {
                let index = self.pop();
                let (default, n) = self.target(targets.default());
                let args = Self::jump_args(self.peekn(n));
                let mut calls = Vec::new();
                for t in targets.targets() {
                    let t = t.map_err(|e| e.to_string())?;
                    let (block, _) = self.target(t);
                    calls.push(self.b.func.dfg.block_call(block, &args));
                }
                let def = self.b.func.dfg.block_call(default, &args);
                let jt = self.b.create_jump_table(JumpTableData::new(def, &calls));
                self.b.ins().br_table(index, jt);
                self.reachable = false;
            }
            O::Return => {
                let vals = self.peekn(self.results.len()).to_vec();
                self.return_(&vals);
                self.reachable = false;
            }
            O::Call { function_index } => self.call(function_index)?,
            O::CallIndirect { type_index, table_index } => {
                self.call_indirect(type_index, table_index)?
            }
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let c = self.pop();
                let (x, y) = self.pop2();
                let v = self.b.ins().select(c, x, y);
                self.push(v);
            }
            O::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize]);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated");
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::GlobalGet { global_index } => {
                let ty = cl_type(self.env.module.globals[global_index as usize].content)?;
                let p = self.global_ptr(global_index);
                let v = self.b.ins().load(ty, slot_flags(ty), p, 0);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                let p = self.global_ptr(global_index);
                let v = self.widen_to_slot(v);
                let ty = self.b.func.dfg.value_type(v);
                self.b.ins().store(slot_flags(ty), v, p, 0);
            }

            O::I32Load { memarg } => self.load(memarg, types::I32, 4, Ext::None)?,
            O::I64Load { memarg } => self.load(memarg, types::I64, 8, Ext::None)?,
            O::F32Load { memarg } => self.load(memarg, types::F32, 4, Ext::None)?,
            O::F64Load { memarg } => self.load(memarg, types::F64, 8, Ext::None)?,
            O::I32Load8S { memarg } => self.load(memarg, types::I32, 1, Ext::S)?,
            O::I32Load8U { memarg } => self.load(memarg, types::I32, 1, Ext::U)?,
            O::I32Load16S { memarg } => self.load(memarg, types::I32, 2, Ext::S)?,
            O::I32Load16U { memarg } => self.load(memarg, types::I32, 2, Ext::U)?,
            O::I64Load8S { memarg } => self.load(memarg, types::I64, 1, Ext::S)?,
            O::I64Load8U { memarg } => self.load(memarg, types::I64, 1, Ext::U)?,
            O::I64Load16S { memarg } => self.load(memarg, types::I64, 2, Ext::S)?,
            O::I64Load16U { memarg } => self.load(memarg, types::I64, 2, Ext::U)?,
            O::I64Load32S { memarg } => self.load(memarg, types::I64, 4, Ext::S)?,
            O::I64Load32U { memarg } => self.load(memarg, types::I64, 4, Ext::U)?,
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(memarg, 4, false)?,
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(memarg, 8, false)?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(memarg, 1, true)?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(memarg, 2, true)?,
            O::I64Store32 { memarg } => self.store(memarg, 4, true)?,
            O::MemorySize { mem } => {
                self.memory_index(mem)?;
                let len = self.memory_len();
                let pages = self.b.ins().ushr_imm_u(len, 16);
                let v = self.b.ins().ireduce(types::I32, pages);
                self.push(v);
            }
            O::MemoryGrow { mem } => {
                self.memory_index(mem)?;
                let delta = self.pop();
                let r = self.libcall(Libcall::MemoryGrow, &[delta]);
                self.push(r[0]);
            }
            O::MemoryFill { mem } => {
                self.memory_index(mem)?;
                let args = self.popn(3);
                self.libcall(Libcall::MemoryFill, &args);
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                self.memory_index(dst_mem)?;
                self.memory_index(src_mem)?;
                let args = self.popn(3);
                self.libcall(Libcall::MemoryCopy, &args);
            }
            O::MemoryInit { data_index, mem } => {
                self.memory_index(mem)?;
                let seg = self.b.ins().iconst(types::I32, data_index as i64);
                let mut args = vec![seg];
                args.extend(self.popn(3));
                self.libcall(Libcall::MemoryInit, &args);
            }
            O::DataDrop { data_index } => {
                let seg = self.b.ins().iconst(types::I32, data_index as i64);
                self.libcall(Libcall::DataDrop, &[seg]);
            }
            O::TableGet { table } => {
                let t = self.b.ins().iconst(types::I32, table as i64);
                let i = self.pop();
                let r = self.libcall(Libcall::TableGet, &[t, i]);
                self.push(r[0]);
            }
            O::TableSet { table } => {
                let t = self.b.ins().iconst(types::I32, table as i64);
                let (i, v) = self.pop2();
                self.libcall(Libcall::TableSet, &[t, i, v]);
            }
            O::TableSize { table } => {
                let t = self.b.ins().iconst(types::I32, table as i64);
                let r = self.libcall(Libcall::TableSize, &[t]);
                self.push(r[0]);
            }
            O::TableGrow { table } => {
                let t = self.b.ins().iconst(types::I32, table as i64);
                let (init, delta) = self.pop2();
                let r = self.libcall(Libcall::TableGrow, &[t, init, delta]);
                self.push(r[0]);
            }
            O::TableFill { table } => {
                let t = self.b.ins().iconst(types::I32, table as i64);
                let a = self.popn(3);
                self.libcall(Libcall::TableFill, &[t, a[0], a[1], a[2]]);
            }
            O::TableCopy { dst_table, src_table } => {
                let d = self.b.ins().iconst(types::I32, dst_table as i64);
                let s = self.b.ins().iconst(types::I32, src_table as i64);
                let a = self.popn(3);
                self.libcall(Libcall::TableCopy, &[d, s, a[0], a[1], a[2]]);
            }
            O::TableInit { elem_index, table } => {
                let t = self.b.ins().iconst(types::I32, table as i64);
                let s = self.b.ins().iconst(types::I32, elem_index as i64);
                let a = self.popn(3);
                self.libcall(Libcall::TableInit, &[t, s, a[0], a[1], a[2]]);
            }
            O::ElemDrop { elem_index } => {
                let s = self.b.ins().iconst(types::I32, elem_index as i64);
                self.libcall(Libcall::ElemDrop, &[s]);
            }
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(types::I64, 0);
                self.push(v);
            }
            O::RefIsNull => {
                let v = self.pop();
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, v, 0);
                let v = self.b.ins().uextend(types::I32, c);
                self.push(v);
            }
            O::RefFunc { function_index } => {
                let arr = self.load_vmctx(VmCtx::FUNC_REFS, true);
                let v = self.b.ins().load(types::I64, constant(), arr, function_index as i32 * 8);
                self.push(v);
            }

            O::I32Const { value } => {
                let v = self.b.ins().iconst(types::I32, value as i64);
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(types::I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            O::I32Eqz | O::I64Eqz => {
                let v = self.pop();
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, v, 0);
                let v = self.b.ins().uextend(types::I32, c);
                self.push(v);
            }
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),

            O::I32Clz | O::I64Clz => self.unop(|b, x| b.ins().clz(x)),
            O::I32Ctz | O::I64Ctz => self.unop(|b, x| b.ins().ctz(x)),
            O::I32Popcnt | O::I64Popcnt => self.unop(|b, x| b.ins().popcnt(x)),
            O::I32Add | O::I64Add => self.binop(|b, x, y| b.ins().iadd(x, y)),
            O::I32Sub | O::I64Sub => self.binop(|b, x, y| b.ins().isub(x, y)),
            O::I32Mul | O::I64Mul => self.binop(|b, x, y| b.ins().imul(x, y)),
            O::I32And | O::I64And => self.binop(|b, x, y| b.ins().band(x, y)),
            O::I32Or | O::I64Or => self.binop(|b, x, y| b.ins().bor(x, y)),
            O::I32Xor | O::I64Xor => self.binop(|b, x, y| b.ins().bxor(x, y)),
            O::I32Shl | O::I64Shl => self.binop(|b, x, y| b.ins().ishl(x, y)),
            O::I32ShrS | O::I64ShrS => self.binop(|b, x, y| b.ins().sshr(x, y)),
            O::I32ShrU | O::I64ShrU => self.binop(|b, x, y| b.ins().ushr(x, y)),
            O::I32Rotl | O::I64Rotl => self.binop(|b, x, y| b.ins().rotl(x, y)),
            O::I32Rotr | O::I64Rotr => self.binop(|b, x, y| b.ins().rotr(x, y)),
            O::I32DivS | O::I64DivS => self.div(true, false),
            O::I32DivU | O::I64DivU => self.div(false, false),
            O::I32RemS | O::I64RemS => self.div(true, true),
            O::I32RemU | O::I64RemU => self.div(false, true),

            O::F32Abs | O::F64Abs => self.unop(|b, x| b.ins().fabs(x)),
            O::F32Neg | O::F64Neg => self.unop(|b, x| b.ins().fneg(x)),
            O::F32Ceil | O::F64Ceil => self.unop(|b, x| b.ins().ceil(x)),
            O::F32Floor | O::F64Floor => self.unop(|b, x| b.ins().floor(x)),
            O::F32Trunc | O::F64Trunc => self.unop(|b, x| b.ins().trunc(x)),
            O::F32Nearest | O::F64Nearest => self.unop(|b, x| b.ins().nearest(x)),
            O::F32Sqrt | O::F64Sqrt => self.unop(|b, x| b.ins().sqrt(x)),
            O::F32Add | O::F64Add => self.binop(|b, x, y| b.ins().fadd(x, y)),
            O::F32Sub | O::F64Sub => self.binop(|b, x, y| b.ins().fsub(x, y)),
            O::F32Mul | O::F64Mul => self.binop(|b, x, y| b.ins().fmul(x, y)),
            O::F32Div | O::F64Div => self.binop(|b, x, y| b.ins().fdiv(x, y)),
            O::F32Min | O::F64Min => self.binop(|b, x, y| b.ins().fmin(x, y)),
            O::F32Max | O::F64Max => self.binop(|b, x, y| b.ins().fmax(x, y)),
            O::F32Copysign | O::F64Copysign => self.binop(|b, x, y| b.ins().fcopysign(x, y)),

            O::I32WrapI64 => self.unop(|b, x| b.ins().ireduce(types::I32, x)),
            O::I64ExtendI32S => self.unop(|b, x| b.ins().sextend(types::I64, x)),
            O::I64ExtendI32U => self.unop(|b, x| b.ins().uextend(types::I64, x)),
            O::I32Extend8S => self.sext_in(types::I32, types::I8),
            O::I32Extend16S => self.sext_in(types::I32, types::I16),
            O::I64Extend8S => self.sext_in(types::I64, types::I8),
            O::I64Extend16S => self.sext_in(types::I64, types::I16),
            O::I64Extend32S => self.sext_in(types::I64, types::I32),
            O::I32TruncF32S | O::I32TruncF64S => self.trunc(types::I32, true)?,
            O::I32TruncF32U | O::I32TruncF64U => self.trunc(types::I32, false)?,
            O::I64TruncF32S | O::I64TruncF64S => self.trunc(types::I64, true)?,
            O::I64TruncF32U | O::I64TruncF64U => self.trunc(types::I64, false)?,
            O::I32TruncSatF32S | O::I32TruncSatF64S => {
                self.unop(|b, x| b.ins().fcvt_to_sint_sat(types::I32, x))
            }
            O::I32TruncSatF32U | O::I32TruncSatF64U => {
                self.unop(|b, x| b.ins().fcvt_to_uint_sat(types::I32, x))
            }
            O::I64TruncSatF32S | O::I64TruncSatF64S => {
                self.unop(|b, x| b.ins().fcvt_to_sint_sat(types::I64, x))
            }
            O::I64TruncSatF32U | O::I64TruncSatF64U => {
                self.unop(|b, x| b.ins().fcvt_to_uint_sat(types::I64, x))
            }
            O::F32ConvertI32S | O::F32ConvertI64S => {
                self.unop(|b, x| b.ins().fcvt_from_sint(types::F32, x))
            }
            O::F32ConvertI32U | O::F32ConvertI64U => {
                self.unop(|b, x| b.ins().fcvt_from_uint(types::F32, x))
            }
            O::F64ConvertI32S | O::F64ConvertI64S => {
                self.unop(|b, x| b.ins().fcvt_from_sint(types::F64, x))
            }
            O::F64ConvertI32U | O::F64ConvertI64U => {
                self.unop(|b, x| b.ins().fcvt_from_uint(types::F64, x))
            }
            O::F32DemoteF64 => self.unop(|b, x| b.ins().fdemote(types::F32, x)),
            O::F64PromoteF32 => self.unop(|b, x| b.ins().fpromote(types::F64, x)),
            O::I32ReinterpretF32 => self.bitcast(types::I32),
            O::I64ReinterpretF64 => self.bitcast(types::I64),
            O::F32ReinterpretI32 => self.bitcast(types::F32),
            O::F64ReinterpretI64 => self.bitcast(types::F64),
            other => return self.simd_op(other),
        }
        Ok(())
    }

    fn unop(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) {
        let x = self.pop();
        let v = f(&mut self.b, x);
        self.push(v);
    }

    fn binop(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value) {
        let (x, y) = self.pop2();
        let v = f(&mut self.b, x, y);
        self.push(v);
    }

    fn icmp(&mut self, cc: IntCC) {
        let (x, y) = self.pop2();
        let c = self.b.ins().icmp(cc, x, y);
        let v = self.b.ins().uextend(types::I32, c);
        self.push(v);
    }

    fn fcmp(&mut self, cc: FloatCC) {
        let (x, y) = self.pop2();
        let c = self.b.ins().fcmp(cc, x, y);
        let v = self.b.ins().uextend(types::I32, c);
        self.push(v);
    }

    fn sext_in(&mut self, ty: Type, narrow: Type) {
        let x = self.pop();
        let n = self.b.ins().ireduce(narrow, x);
        let v = self.b.ins().sextend(ty, n);
        self.push(v);
    }

    fn bitcast(&mut self, ty: Type) {
        let x = self.pop();
        let v = self.b.ins().bitcast(ty, MemFlagsData::new(), x);
        self.push(v);
    }

    /// Integer division and remainder with Wasm's traps, checked before the instruction so that
    /// Cranelift's own (faulting) checks never fire.
    fn div(&mut self, signed: bool, rem: bool) {
        let (x, y) = self.pop2();
        let ty = self.b.func.dfg.value_type(x);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, TrapCode::IntegerDivisionByZero);
        let v = match (signed, rem) {
            (false, false) => self.b.ins().udiv(x, y),
            (false, true) => self.b.ins().urem(x, y),
            (true, false) => {
                let min = if ty == types::I32 { i32::MIN as i64 } else { i64::MIN };
                let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, x, min);
                let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let both = self.b.ins().band(is_min, is_m1);
                self.trap_if(both, TrapCode::IntegerOverflow);
                self.b.ins().sdiv(x, y)
            }
            (true, true) => {
                // x rem -1 is 0; x86's idiv would fault on MIN rem -1.
                let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let one = self.b.ins().iconst(ty, 1);
                let y = self.b.ins().select(is_m1, one, y);
                self.b.ins().srem(x, y)
            }
        };
        self.push(v);
    }

    /// Trapping float -> int truncation: NaN and out-of-range inputs trap before the conversion.
    fn trunc(&mut self, to: Type, signed: bool) -> Result<(), String> {
        let x = self.pop();
        let from = self.b.func.dfg.value_type(x);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.trap_if(nan, TrapCode::BadConversionToInteger);
        // Trap when x <= lo or x >= hi (both exactly representable in the source type).
        let (lo, hi): (f64, f64) = match (to == types::I32, signed, from == types::F32) {
            (true, true, true) => (-2147483904.0, 2147483648.0),
            (true, true, false) => (-2147483649.0, 2147483648.0),
            (true, false, _) => (-1.0, 4294967296.0),
            (false, true, true) => (-9223373136366403584.0, 9223372036854775808.0),
            (false, true, false) => (-9223372036854777856.0, 9223372036854775808.0),
            (false, false, _) => (-1.0, 18446744073709551616.0),
        };
        let (lo, hi) = if from == types::F32 {
            (
                self.b.ins().f32const(Ieee32::with_bits((lo as f32).to_bits())),
                self.b.ins().f32const(Ieee32::with_bits((hi as f32).to_bits())),
            )
        } else {
            (
                self.b.ins().f64const(Ieee64::with_bits(lo.to_bits())),
                self.b.ins().f64const(Ieee64::with_bits(hi.to_bits())),
            )
        };
        let below = self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, lo);
        let above = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, hi);
        let out = self.b.ins().bor(below, above);
        self.trap_if(out, TrapCode::IntegerOverflow);
        let v = if signed {
            self.b.ins().fcvt_to_sint(to, x)
        } else {
            self.b.ins().fcvt_to_uint(to, x)
        };
        self.push(v);
        Ok(())
    }

    fn memory_index(&self, mem: u32) -> Result<(), String> {
        if mem != 0 {
            return Err("multiple memories are not supported by the compiler".into());
        }
        Ok(())
    }

    fn memory_len(&mut self) -> Value {
        let p = self.load_vmctx(VmCtx::MEMORY_LEN, true);
        // Not read-only: memory.grow (here, in another instance or by the host) changes it, but
        // only inside a call, which Cranelift treats as clobbering every region; Wasm stores
        // (region `Heap`) cannot.
        let flags = MemFlagsData::trusted().with_alias_region(Some(self.memory_len_region));
        self.b.ins().load(types::I64, flags, p, 0)
    }

    /// The one bounds check of the compiler: pops a Wasm address and returns the native address
    /// of `[addr + offset, addr + offset + size)`, trapping when it passes the memory's current
    /// length. On guarded memories the check is left to the guard region when the access cannot
    /// reach past it (see `signals.rs`).
    fn heap_addr(&mut self, memarg: MemArg, size: u32) -> Result<Value, String> {
        let MemArgTarget::Memory(mem) = memarg.target else {
            return Err("GC arrays are not supported".into());
        };
        self.memory_index(mem)?;
        let addr = self.pop();
        let addr = self.b.ins().uextend(types::I64, addr);
        let reach = memarg.offset + size as u64;
        if !self.env.guarded || reach > keel_runtime::vm::GUARD_BYTES {
            let len = self.memory_len();
            let end = self.b.ins().iadd_imm_u(addr, reach as i64);
            let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
            self.trap_if(oob, TrapCode::MemoryOutOfBounds);
        }
        let base = self.load_vmctx(VmCtx::MEMORY_BASE, true);
        let p = self.b.ins().iadd(base, addr);
        Ok(self.b.ins().iadd_imm_u(p, memarg.offset as i64))
    }

    fn load(&mut self, memarg: MemArg, ty: Type, size: u32, ext: Ext) -> Result<(), String> {
        let p = self.heap_addr(memarg, size)?;
        let f = self.heap();
        let v = match (ext, size) {
            (Ext::None, _) => self.b.ins().load(ty, f, p, 0),
            (Ext::S, 1) => self.b.ins().sload8(ty, f, p, 0),
            (Ext::U, 1) => self.b.ins().uload8(ty, f, p, 0),
            (Ext::S, 2) => self.b.ins().sload16(ty, f, p, 0),
            (Ext::U, 2) => self.b.ins().uload16(ty, f, p, 0),
            (Ext::S, _) => self.b.ins().sload32(f, p, 0),
            (Ext::U, _) => self.b.ins().uload32(f, p, 0),
        };
        self.push(v);
        Ok(())
    }

    fn store(&mut self, memarg: MemArg, size: u32, narrow: bool) -> Result<(), String> {
        let v = self.pop();
        let p = self.heap_addr(memarg, size)?;
        let f = self.heap();
        if !narrow {
            self.b.ins().store(f, v, p, 0);
        } else {
            match size {
                1 => self.b.ins().istore8(f, v, p, 0),
                2 => self.b.ins().istore16(f, v, p, 0),
                _ => self.b.ins().istore32(f, v, p, 0),
            };
        }
        Ok(())
    }

    fn global_ptr(&mut self, index: u32) -> Value {
        let arr = self.load_vmctx(VmCtx::GLOBALS, true);
        self.b.ins().load(types::I64, constant(), arr, index as i32 * 8)
    }

    /// A value widened to a full 64-bit slot (what value arrays and globals hold).
    fn widen_to_slot(&mut self, v: Value) -> Value {
        match self.b.func.dfg.value_type(v) {
            types::I32 => self.b.ins().uextend(types::I64, v),
            types::F32 => {
                let i = self.b.ins().bitcast(types::I32, MemFlagsData::new(), v);
                self.b.ins().uextend(types::I64, i)
            }
            types::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            _ => v,
        }
    }

    fn call(&mut self, function_index: u32) -> Result<(), String> {
        let module = self.env.module;
        let type_index = module.functions[function_index as usize];
        let nparams = module.types[type_index as usize].params.len();
        let args = self.popn(nparams);
        // A whole function of tiered code calling itself calls compiled code, its own: it runs
        // only once its code-array entry holds it, and a compiled entry never changes again.
        // So its recursion is the eager compiler's call (no `callee` for a stub, and the entry
        // loaded once), not the one that must see a stub turn into code.
        let settled = function_index == self.func_index && self.osr.is_none();
        let results =
            if function_index >= module.num_imported_functions && self.env.tiered && !settled {
                let def = function_index - module.num_imported_functions;
                let def = self.b.ins().iconst(types::I64, def as i64);
                let code = self.load_vmctx(VmCtx::CODE, true);
                let at = self.b.ins().ishl_imm_u(def, 3);
                let at = self.b.ins().iadd(code, at);
                self.call_tiered(type_index, def, at, &args)?
            } else if function_index >= module.num_imported_functions {
                let def = function_index - module.num_imported_functions;
                let code = self.load_vmctx(VmCtx::CODE, true);
                let f = self.b.ins().load(types::I64, constant(), code, def as i32 * 8);
                self.call_native(type_index, f, &args)?
            } else {
                let arr = self.load_vmctx(VmCtx::FUNC_REFS, true);
                let f = self.b.ins().load(types::I64, constant(), arr, function_index as i32 * 8);
                self.call_through_runtime(type_index, f, &args)?
            };
        self.stack.extend(results);
        Ok(())
    }

    /// Calls compiled code of this instance at `code` with this context.
    fn call_native(
        &mut self,
        type_index: u32,
        code: Value,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        let sig = self.wasm_sig(type_index)?;
        let mut all = vec![self.vmctx];
        all.extend_from_slice(args);
        let call = self.b.ins().call_indirect(sig, code, &all);
        let results = self.b.inst_results(call).to_vec();
        self.check_trap_word();
        Ok(results)
    }

    /// Tiered code: calls this instance's defined function `def` through its code-array entry
    /// at `at`, read at each call since it changes once the function is compiled (before, it
    /// is the stub of [`translate_stub`], which finds `def` in the context's `callee` field).
    fn call_tiered(
        &mut self,
        type_index: u32,
        def: Value,
        at: Value,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        self.b.ins().store(MemFlagsData::trusted(), def, self.vmctx, VmCtx::CALLEE);
        let code = self.b.ins().load(types::I64, MemFlagsData::trusted(), at, 0);
        self.call_native(type_index, code, args)
    }

    /// Calls `func` (a `*const FuncData`) through the runtime: host functions, other instances.
    fn call_through_runtime(
        &mut self,
        type_index: u32,
        func: Value,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        self.call_via(Libcall::CallFunc, type_index, func, args)
    }

    /// Calls `func` (a `*const FuncData`) through libcall `lc` (`CallFunc` or `CallOwn`).
    fn call_via(
        &mut self,
        lc: Libcall,
        type_index: u32,
        func: Value,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        let ty = self.env.module.types[type_index as usize].clone();
        let result_slots = ty.results.iter().map(|t| t.slots()).sum();
        let base = self.value_array(args, &ty.params, result_slots);
        self.libcall(lc, &[func, base]);
        let mut results = Vec::new();
        let mut at = 0;
        for t in ty.results.iter() {
            let ct = cl_type(*t)?;
            results.push(self.b.ins().load(ct, slot_flags(ct), base, at * 8));
            at += t.slots() as i32;
        }
        Ok(results)
    }

    fn call_indirect(&mut self, type_index: u32, table: u32) -> Result<(), String> {
        let ty = self.env.module.types[type_index as usize].clone();
        let index = self.pop();
        let args = self.popn(ty.params.len());
        let t = self.b.ins().iconst(types::I32, table as i64);
        let ti = self.b.ins().iconst(types::I32, type_index as i64);
        let func = self.libcall(Libcall::Indirect, &[t, index, ti])[0];
        // A function of this instance is called natively; anything else through the runtime.
        let own = self.load_vmctx(VmCtx::OWN_FUNCS, true);
        let own_len = self.load_vmctx(VmCtx::OWN_FUNCS_LEN, true);
        let off = self.b.ins().isub(func, own);
        let is_own = self.b.ins().icmp(IntCC::UnsignedLessThan, off, own_len);
        let result_types: Vec<Type> =
            ty.results.iter().map(|t| cl_type(*t)).collect::<Result<_, _>>()?;
        let merge = self.block_with_params(&result_types);
        let own_block = self.b.create_block();
        let other_block = self.b.create_block();
        self.b.ins().brif(is_own, own_block, &[], other_block, &[]);

        self.b.switch_to_block(own_block);
        let def = self.b.ins().udiv_imm_u(off, std::mem::size_of::<FuncData>() as i64);
        let code = self.load_vmctx(VmCtx::CODE, true);
        let byte = self.b.ins().ishl_imm_u(def, 3);
        let at = self.b.ins().iadd(code, byte);
        let r = if self.env.tiered {
            self.call_tiered(type_index, def, at, &args)?
        } else {
            let f = self.b.ins().load(types::I64, readonly(), at, 0);
            self.call_native(type_index, f, &args)?
        };
        self.b.ins().jump(merge, &Self::jump_args(&r));

        self.b.switch_to_block(other_block);
        let r = self.call_through_runtime(type_index, func, &args)?;
        self.b.ins().jump(merge, &Self::jump_args(&r));

        self.b.switch_to_block(merge);
        let params = self.b.block_params(merge).to_vec();
        self.stack.extend(params);
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Ext {
    None,
    S,
    U,
}
