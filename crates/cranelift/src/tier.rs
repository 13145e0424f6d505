//! The compiler as the upper tier of a tiered engine: functions compiled a batch at a time,
//! while the module runs, each batch loaded into executable memory of its own and published in
//! the module's code array, which every instance's context points to (`VmCtx::code`). Tiered
//! code reads its callee's entry from that array at each call and calls it. Until a function is
//! compiled its entry holds the stub of its type (`translate_stub`, made with the first batch),
//! which runs it through the runtime, on the interpreter: so a call needs no test. See
//! `docs/tiering.md`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use cranelift_codegen::isa::OwnedTargetIsa;
use keel_runtime::vm::Instance;
use keel_runtime::{CompileError, CompileOptions, Error, Trap};

use crate::artifact::{self, Job, Loaded};
use crate::translate::ModuleEnv;
use crate::{Compiler, Entry, signals};

/// What one [`TierCode::compile`] made available.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Published {
    /// Defined functions now compiled.
    pub functions: Vec<u32>,
    /// On-stack-replacement entries now compiled, as (function, loop id).
    pub osr: Vec<(u32, u32)>,
    /// The batch as a cache payload ([`TierCode::load`] takes it back), for a compile.
    pub payload: Option<Vec<u8>>,
}

/// A module's code in the upper tier: what is compiled of it so far.
pub struct TierCode {
    module: Arc<keel_decode::Module>,
    isa: OwnedTargetIsa,
    guarded: bool,
    listening: bool,
    /// Per defined function, its machine code once compiled, its type's stub before (null
    /// until the first batch): the instances' code array. Each write is of code already
    /// executable.
    code: Box<[AtomicPtr<u8>]>,
    /// Per defined function, its entry trampoline once compiled (null before: what says that a
    /// function is compiled).
    trampolines: Box<[AtomicPtr<u8>]>,
    /// The stubs, once made (see `ensure_stubs`).
    stubs: Mutex<Option<Arc<Loaded>>>,
    /// On-stack-replacement entries by (function, loop id).
    osr: Mutex<HashMap<(u32, u32), usize>>,
    /// Every batch loaded, with its jobs (for naming the frames of a fault); appended under
    /// the lock, which also serialises pushes to `regions`.
    batches: Mutex<Vec<(Arc<Loaded>, Vec<Job>)>>,
    /// The batches' code, for the signal handler.
    regions: signals::Regions,
    /// Per defined function, the value slots an entry needs: (parameters or results; locals
    /// or results for an on-stack-replacement entry). Counted once, checked on every entry.
    slots: Box<[(usize, usize)]>,
}

impl std::fmt::Debug for TierCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierCode").field("functions", &self.code.len()).finish()
    }
}

impl Compiler {
    /// The upper tier of a tiered engine for `module`: nothing compiled yet; functions get
    /// compiled by [`TierCode::compile`] and run by [`TierCode::call`].
    pub fn tier(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
    ) -> Result<TierCode, Error> {
        let isa = self.host_isa()?.clone();
        if module.memories.len() > 1 {
            let what = "multiple memories".to_string();
            return Err(CompileError::Unsupported { engine: "compiler", what }.into());
        }
        let n = module.bodies.len();
        let null = || (0..n).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect();
        let slots = (0..n as u32)
            .map(|def| {
                let ty = module.func_type(module.num_imported_functions + def);
                let params: usize = ty.params.iter().map(|t| t.slots()).sum();
                let results: usize = ty.results.iter().map(|t| t.slots()).sum();
                let body = &module.bodies[def as usize];
                let locals: usize = body.locals.iter().map(|&(n, t)| n as usize * t.slots()).sum();
                (params.max(results), (params + locals).max(results))
            })
            .collect();
        Ok(TierCode {
            module: module.clone(),
            isa,
            guarded: self.guarded,
            listening: options.listening,
            code: null(),
            trampolines: null(),
            stubs: Mutex::new(None),
            osr: Mutex::new(HashMap::new()),
            batches: Mutex::new(Vec::new()),
            regions: signals::Regions::new(),
            slots,
        })
    }
}

impl TierCode {
    /// Compiles defined functions `defs` (those not compiled yet) and the on-stack-replacement
    /// entries `osr` ((function, loop id), those not compiled yet) on this thread, and
    /// publishes them: a function's next call runs its compiled code. Returns what it
    /// published.
    pub fn compile(&self, defs: &[u32], osr: &[(u32, u32)]) -> Result<Published, CompileError> {
        let mut jobs: Vec<Job> = defs
            .iter()
            .filter(|&&d| !self.is_compiled(d))
            .map(|&def| Job { def, osr: None })
            .collect();
        jobs.sort_by_key(|j| j.def);
        jobs.dedup();
        {
            let have = self.osr.lock().unwrap_or_else(|e| e.into_inner());
            let mut entries: Vec<Job> = osr
                .iter()
                .filter(|k| !have.contains_key(k))
                .map(|&(def, l)| Job { def, osr: Some(l) })
                .collect();
            entries.sort_by_key(|j| (j.def, j.osr));
            entries.dedup();
            jobs.extend(entries);
        }
        if jobs.is_empty() {
            return Ok(Published::default());
        }
        self.ensure_stubs()?;
        let art = artifact::compile_jobs(&self.env(), &*self.isa, &jobs, 1)?;
        let mut payload = encode_jobs(&jobs);
        payload.extend_from_slice(&art.to_bytes());
        let loaded = Loaded::load(art).map_err(CompileError::Engine)?;
        let mut published = self.publish(loaded, jobs);
        published.payload = Some(payload);
        Ok(published)
    }

    /// Loads a batch that [`TierCode::compile`] produced (its `payload`, from a cache) and
    /// publishes what it has that is not compiled yet. Refuses (and loads nothing from) a
    /// payload that does not fit this module and these options.
    pub fn load(&self, payload: &[u8]) -> Result<Published, CompileError> {
        let bad = |e: String| CompileError::Cache(e);
        let (jobs, rest) = decode_jobs(payload).ok_or_else(|| bad("bad job list".into()))?;
        let art = artifact::Artifact::from_bytes_for(rest, &self.module, &jobs).map_err(bad)?;
        if art.listening != self.listening {
            return Err(bad("another variant (listening or not)".into()));
        }
        self.ensure_stubs()?;
        let loaded = Loaded::load(art).map_err(CompileError::Engine)?;
        Ok(self.publish(loaded, jobs))
    }

    fn env(&self) -> ModuleEnv<'_> {
        ModuleEnv {
            module: &self.module,
            call_conv: self.isa.default_call_conv(),
            guarded: self.guarded,
            listening: self.listening,
            tiered: true,
        }
    }

    /// Makes the stub of each function type of the module's defined functions, once, and puts
    /// each function's in its code-array entry, before any compiled code (which calls through
    /// every entry) is published. A handful of small functions (a Go module's all share one
    /// type), compiled on the thread that compiles the first batch.
    fn ensure_stubs(&self) -> Result<(), CompileError> {
        let mut stubs = self.stubs.lock().unwrap_or_else(|e| e.into_inner());
        if stubs.is_some() {
            return Ok(());
        }
        let m = &self.module;
        let type_of = |d: usize| m.functions[m.num_imported_functions as usize + d];
        let mut types: Vec<u32> = (0..self.code.len()).map(type_of).collect();
        types.sort_unstable();
        types.dedup();
        let art = artifact::compile_stubs(&self.env(), &*self.isa, &types)?;
        let loaded = Arc::new(Loaded::load(art).map_err(CompileError::Engine)?);
        for (d, entry) in self.code.iter().enumerate() {
            let i = types.binary_search(&type_of(d)).expect("every type has its stub");
            let stub = loaded.function_ptrs()[i] as *mut u8;
            // Release: the stub is executable before any core can read its address.
            let _ = entry.compare_exchange(
                std::ptr::null_mut(),
                stub,
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
        *stubs = Some(loaded);
        Ok(())
    }

    /// Makes a loaded batch reachable: the signal handler's regions, then the code array (a
    /// function already compiled keeps its code).
    fn publish(&self, loaded: Loaded, jobs: Vec<Job>) -> Published {
        let loaded = Arc::new(loaded);
        // Executable before it is published (release stores below, acquire loads by readers):
        // the code is at addresses no core has run before, made executable by `mprotect`, with
        // which the kernel also makes it visible to instruction fetch (arm64 Linux cleans the
        // caches when it installs executable pages).
        let mut batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the code and trap sites live in `loaded`, which `batches` keeps as long as
        // `self` (and so `regions`) lives, and are never written after loading.
        unsafe { self.regions.push(loaded.code(), loaded.trap_sites()) };
        let (mut done, mut done_osr) = (Vec::new(), Vec::new());
        let mut osr = self.osr.lock().unwrap_or_else(|e| e.into_inner());
        for (i, job) in jobs.iter().enumerate() {
            let code = loaded.function_ptrs()[i];
            match job.osr {
                None => {
                    let d = job.def as usize;
                    if self.is_compiled(job.def) {
                        continue;
                    }
                    // The code first: a function is compiled once its trampoline is set, and
                    // then its entry holds its code, no longer the stub.
                    let trampoline = loaded.trampoline(i as u32) as *mut u8;
                    self.code[d].store(code as *mut u8, Ordering::Release);
                    self.trampolines[d].store(trampoline, Ordering::Release);
                    done.push(job.def);
                }
                Some(l) => {
                    if osr.insert((job.def, l), code as usize).is_none() {
                        done_osr.push((job.def, l));
                    }
                }
            }
        }
        batches.push((loaded, jobs));
        Published { functions: done, osr: done_osr, payload: None }
    }

    /// What a batch payload holds (its job list, in bytes): a name for it that differs from
    /// every other batch's of the module, for a cache.
    pub fn batch_tag(payload: &[u8]) -> Option<&[u8]> {
        let (jobs, rest) = decode_jobs(payload)?;
        let _ = jobs;
        Some(&payload[..payload.len() - rest.len()])
    }

    /// Whether this thread has native stack enough to enter compiled code from the other tier:
    /// no compiled code is running on it, or at least [`crate::CROSSING_ROOM`] of the running
    /// entry's budget is left.
    pub fn has_room(&self) -> bool {
        crate::stack_room().is_none_or(|left| left >= crate::CROSSING_ROOM)
    }

    /// Whether defined function `def` is compiled.
    pub fn is_compiled(&self, def: u32) -> bool {
        !self.trampolines[def as usize].load(Ordering::Acquire).is_null()
    }

    /// Runs compiled defined function `def` ([`TierCode::is_compiled`]) with its parameters in
    /// `values`, leaving its results there; the caller holds the instance's lock.
    ///
    /// # Panics
    /// If `def` is not compiled, or `values` is shorter than its parameters and results.
    pub fn call(&self, instance: &Instance, def: u32, values: &mut [u64]) -> Result<(), Trap> {
        let code = self.code[def as usize].load(Ordering::Acquire);
        let trampoline = self.trampolines[def as usize].load(Ordering::Acquire);
        assert!(!code.is_null() && !trampoline.is_null(), "function {def} is not compiled");
        self.check_slots(def, values.len(), false);
        // SAFETY: the trampoline was compiled for `def`'s signature with its code, and
        // `values` is long enough (checked above).
        unsafe { self.entry().run(instance, trampoline, code, values, |pc| self.function_at(pc)) }
    }

    /// Continues defined function `def` from the head of loop `loop_id` in its compiled
    /// on-stack-replacement entry, with its locals in the first slots of `frame` (in the
    /// interpreter's layout), leaving its results there. `None` if there is no such entry.
    ///
    /// # Panics
    /// If `frame` is shorter than the function's locals or results.
    pub fn call_osr(
        &self,
        instance: &Instance,
        def: u32,
        loop_id: u32,
        frame: &mut [u64],
    ) -> Option<Result<(), Trap>> {
        let entry = *self.osr.lock().unwrap_or_else(|e| e.into_inner()).get(&(def, loop_id))?;
        self.check_slots(def, frame.len(), true);
        // SAFETY: an on-stack-replacement entry has the trampoline's signature and reads the
        // locals (and writes the results) within `frame`, whose length was checked.
        Some(unsafe {
            self.entry().run(instance, entry as *const u8, std::ptr::null(), frame, |pc| {
                self.function_at(pc)
            })
        })
    }

    fn entry(&self) -> Entry<'_> {
        Entry {
            code_table: self.code.as_ptr().cast::<*const u8>(),
            regions: &self.regions,
            guarded: self.guarded,
        }
    }

    /// Checks that `len` slots hold `def`'s parameters (or, for an on-stack-replacement entry,
    /// its locals) and its results.
    fn check_slots(&self, def: u32, len: usize, locals: bool) {
        let (call, osr) = self.slots[def as usize];
        let need = if locals { osr } else { call };
        assert!(len >= need, "{len} slots for a call of function {def}, which needs {need}");
    }

    /// The defined function whose compiled code holds `pc`.
    fn function_at(&self, pc: usize) -> Option<u32> {
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        batches.iter().find_map(|(loaded, jobs)| {
            let offset = pc.checked_sub(loaded.code().as_ptr() as usize)?;
            if offset >= loaded.code().len() {
                return None;
            }
            let i = loaded.function_at(offset as u32)?;
            Some(jobs.get(i as usize)?.def)
        })
    }
}

/// A batch's jobs as bytes: their count, then per job its function and loop id (`u32::MAX`:
/// the whole function).
fn encode_jobs(jobs: &[Job]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + jobs.len() * 8);
    out.extend_from_slice(&(jobs.len() as u32).to_le_bytes());
    for j in jobs {
        out.extend_from_slice(&j.def.to_le_bytes());
        out.extend_from_slice(&j.osr.unwrap_or(u32::MAX).to_le_bytes());
    }
    out
}

/// The jobs [`encode_jobs`] wrote at the start of `bytes`, and the bytes after them.
fn decode_jobs(bytes: &[u8]) -> Option<(Vec<Job>, &[u8])> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let n = word(0)? as usize;
    let end = n.checked_mul(8)?.checked_add(4)?;
    if end > bytes.len() {
        return None;
    }
    let jobs = (0..n)
        .map(|i| {
            let (def, l) = (word(4 + i * 8)?, word(8 + i * 8)?);
            Some(Job { def, osr: (l != u32::MAX).then_some(l) })
        })
        .collect::<Option<Vec<Job>>>()?;
    Some((jobs, &bytes[end..]))
}

// The code array is handed to compiled code as an array of plain pointers.
const _: () = assert!(
    std::mem::size_of::<AtomicPtr<u8>>() == std::mem::size_of::<*const u8>()
        && std::mem::align_of::<AtomicPtr<u8>>() == std::mem::align_of::<*const u8>()
);
