#![deny(unsafe_code)]
#![warn(missing_docs)]
//! keel's tiered engine: a module starts on the interpreter, each function translated on its
//! first call, and the functions that get hot — by calls, or by loop iterations — are compiled
//! by Cranelift on background threads and switched to at their next call (a running hot loop
//! continues in compiled code at its next iteration: on-stack replacement). See
//! `docs/tiering.md`.
//!
//! The pieces are the two engines' own: keel-interp's lazily translated, counting bytecode
//! ([`Interpreter::compile_lazy`]) and keel-cranelift's [`TierCode`], which compiles functions a
//! batch at a time into a code array that compiled code calls through. This crate decides what
//! gets compiled when, and on which thread.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

use keel_cranelift::{Compiler, TierCode};
use keel_interp::{InterpCode, Interpreter, Tier, TierConfig, TierState, UpperTier};
use keel_runtime::cache::ModuleCache;
use keel_runtime::vm::{Instance, listen};
use keel_runtime::{CompileError, CompileOptions, CompiledCode, Engine, Error, Reservation, Trap};

/// Most functions one background compile takes at once (of one module): one load into
/// executable memory for all of them.
const BATCH: usize = 8;

/// The tiered engine.
pub struct Tiered {
    compiler: Compiler,
    tiering: keel_runtime::Tiering,
    pool: Arc<Pool>,
    stats: Arc<Stats>,
}

/// What a tiered engine did so far, over every module it compiled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TierStats {
    /// Functions compiled by Cranelift.
    pub functions: u64,
    /// On-stack-replacement entries compiled.
    pub osr_entries: u64,
    /// Times a running loop continued in compiled code.
    pub osr_transfers: u64,
    /// Functions whose compilation failed (they stay interpreted).
    pub failures: u64,
    /// Functions loaded compiled from the cache (stored by earlier runs), included in
    /// `functions`.
    pub loaded: u64,
}

#[derive(Debug, Default)]
struct Stats {
    functions: AtomicU64,
    osr_entries: AtomicU64,
    osr_transfers: AtomicU64,
    failures: AtomicU64,
    loaded: AtomicU64,
}

impl std::fmt::Debug for Tiered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiered").field("tiering", &self.tiering).finish()
    }
}

impl Tiered {
    /// A tiered engine for memories of `reservation` (as [`Compiler::for_reservation`]) with
    /// `tiering`'s thresholds.
    pub fn new(reservation: Reservation, tiering: keel_runtime::Tiering) -> Tiered {
        Tiered {
            compiler: Compiler::for_reservation(reservation),
            tiering,
            pool: Arc::new(Pool::default()),
            stats: Arc::new(Stats::default()),
        }
    }

    /// What this engine did so far.
    pub fn stats(&self) -> TierStats {
        let s = &self.stats;
        TierStats {
            functions: s.functions.load(Ordering::Relaxed),
            osr_entries: s.osr_entries.load(Ordering::Relaxed),
            osr_transfers: s.osr_transfers.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            loaded: s.loaded.load(Ordering::Relaxed),
        }
    }

    /// Whether the host is supported (the compiler's hosts: x86_64 and aarch64).
    pub fn is_supported() -> bool {
        Compiler::is_supported()
    }
}

impl Drop for Tiered {
    fn drop(&mut self) {
        self.pool.shutdown();
    }
}

impl Engine for Tiered {
    fn name(&self) -> &'static str {
        "tiered"
    }

    fn compile(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        self.build(module, options, None)
    }

    /// As `compile`, and the batches earlier runs of this module compiled start compiled; the
    /// batches compiled now are stored as they are produced.
    fn compile_with_cache(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
        cache: ModuleCache,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        self.build(module, options, Some(cache))
    }

    /// The eager compiler's: a module it compiled whole and cached starts compiled here.
    fn cache_id(&self) -> Option<String> {
        self.compiler.cache_id()
    }

    fn cache_name(&self) -> &'static str {
        self.compiler.name()
    }

    /// Only code loaded whole from the cache (tiered code is stored batch by batch as it is
    /// compiled, under the module's own tags: `compile_with_cache`).
    fn serialize(&self, code: &dyn CompiledCode) -> Option<Vec<u8>> {
        self.compiler.serialize(code)
    }

    fn deserialize(
        &self,
        module: &Arc<keel_decode::Module>,
        bytes: &[u8],
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        self.compiler.deserialize(module, bytes, options)
    }
}

/// The cache tag of the list of batches a module has stored.
const PROFILE_TAG: &[u8] = b"tiered: batches";

/// The cache tag of one batch: this prefix, then the batch's own tag.
const BATCH_TAG: &[u8] = b"tiered: batch ";

impl Tiered {
    fn build(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
        cache: Option<ModuleCache>,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        let tier = self.compiler.tier(module, options)?;
        let config = TierConfig {
            call_threshold: self.tiering.call_threshold,
            loop_threshold: self.tiering.loop_threshold,
        };
        let state = Arc::new(TierState::new(module.bodies.len(), config));
        let upper = Arc::new_cyclic(|me| Upper {
            me: me.clone(),
            tier,
            state: state.clone(),
            pool: self.tiering.background.then(|| self.pool.clone()),
            failed: Mutex::new(Vec::new()),
            stats: self.stats.clone(),
            cache: cache.map(|c| (c, Mutex::new(Vec::new()))),
        });
        upper.load_cached();
        let interp = Interpreter::compile_lazy(
            module,
            options,
            Some(Tier { state, upper: upper.clone() as Arc<dyn UpperTier> }),
        );
        Ok(Arc::new(TieredCode { interp, upper, listening: options.listening }))
    }
}

/// A module's code on the tiered engine.
pub struct TieredCode {
    interp: InterpCode,
    upper: Arc<Upper>,
    listening: bool,
}

impl std::fmt::Debug for TieredCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCode").field("interp", &self.interp).finish()
    }
}

impl TieredCode {
    /// Whether defined function `def` runs compiled code now.
    pub fn is_compiled(&self, def: u32) -> bool {
        self.upper.state.is_compiled(def)
    }

    /// The functions whose compilation failed, with why (they stay interpreted).
    pub fn failures(&self) -> Vec<CompileError> {
        self.upper.failed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

// SAFETY: both tiers touch the instance only inside `call` (and the calls it makes between
// tiers), on the calling thread; the background threads compile from the module's description
// and never see an instance.
#[allow(unsafe_code)]
unsafe impl CompiledCode for TieredCode {
    fn call(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap> {
        // Low on native stack (see `UpperTier::has_room`): the interpreter, whose frames are
        // on the heap.
        if !self.upper.state.is_compiled(def_index) || !self.upper.tier.has_room() {
            return self.interp.call(instance, def_index, values);
        }
        if !self.listening {
            return self.upper.tier.call(instance, def_index, values);
        }
        // As the compiler's own entry into listening code: a trap ends the listened calls it
        // leaves unfinished.
        let scope = listen::Scope::begin();
        let result = self.upper.tier.call(instance, def_index, values);
        scope.finish(&result);
        result
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The upper tier of one module: its compiled code and where its requests go.
struct Upper {
    me: Weak<Upper>,
    tier: TierCode,
    state: Arc<TierState>,
    /// The background threads, or `None` to compile on the requesting thread.
    pool: Option<Arc<Pool>>,
    failed: Mutex<Vec<CompileError>>,
    stats: Arc<Stats>,
    /// The module's corner of the cache, with the tags of the batches stored so far.
    cache: Option<(ModuleCache, Mutex<Vec<Vec<u8>>>)>,
}

impl Upper {
    /// Compiles and publishes `defs` and `osr` entries now, on this thread.
    fn compile_now(&self, defs: &[u32], osr: &[(u32, u32)]) {
        match self.tier.compile(defs, osr) {
            Ok(done) => {
                self.mark(&done);
                if let Some(payload) = &done.payload {
                    self.store(payload);
                }
            }
            Err(e) => {
                // Every function the eager compiler takes, this one takes too: a failure here
                // is a bug, which debug builds (the tests, the suites) report.
                debug_assert!(false, "tiered compile failed: {e}");
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                self.failed.lock().unwrap_or_else(|e| e.into_inner()).push(e)
            }
        }
    }

    /// Counts and publishes to the interpreter what the upper tier has now.
    fn mark(&self, done: &keel_cranelift::Published) {
        self.stats.functions.fetch_add(done.functions.len() as u64, Ordering::Relaxed);
        self.stats.osr_entries.fetch_add(done.osr.len() as u64, Ordering::Relaxed);
        for &def in &done.functions {
            self.state.set_compiled(def);
        }
        for &(def, l) in &done.osr {
            self.state.set_osr(def, l);
        }
    }

    /// Stores a batch just compiled, and the module's list of batches with it.
    fn store(&self, payload: &[u8]) {
        let Some((cache, stored)) = &self.cache else { return };
        let Some(tag) = TierCode::batch_tag(payload) else { return };
        cache.write(&[BATCH_TAG, tag].concat(), payload);
        let mut stored = stored.lock().unwrap_or_else(|e| e.into_inner());
        stored.push(tag.to_vec());
        let mut profile = Vec::new();
        for t in stored.iter() {
            profile.extend_from_slice(&(t.len() as u32).to_le_bytes());
            profile.extend_from_slice(t);
        }
        cache.write(PROFILE_TAG, &profile);
    }

    /// Loads the batches earlier runs stored (before the module runs: what they compiled
    /// starts compiled). A batch that is missing or does not check out is skipped.
    fn load_cached(&self) {
        let Some((cache, stored)) = &self.cache else { return };
        let Some(profile) = cache.read(PROFILE_TAG) else { return };
        let mut rest = &profile[..];
        let mut stored = stored.lock().unwrap_or_else(|e| e.into_inner());
        while rest.len() >= 4 {
            let n = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let Some(tag) = rest.get(4..4 + n) else { break };
            rest = &rest[4 + n..];
            let Some(payload) = cache.read(&[BATCH_TAG, tag].concat()) else { continue };
            if let Ok(done) = self.tier.load(&payload) {
                self.stats.loaded.fetch_add(done.functions.len() as u64, Ordering::Relaxed);
                self.mark(&done);
                stored.push(tag.to_vec());
            }
        }
    }
}

impl UpperTier for Upper {
    fn request(&self, def: u32, osr_loop: Option<u32>) {
        match &self.pool {
            None => {
                let osr: Vec<(u32, u32)> = osr_loop.map(|l| (def, l)).into_iter().collect();
                self.compile_now(&[def], &osr);
            }
            Some(pool) => pool.push(Job { upper: self.me.clone(), def, osr: osr_loop }),
        }
    }

    fn call(&self, instance: &Instance, def: u32, values: &mut [u64]) -> Result<(), Trap> {
        self.tier.call(instance, def, values)
    }

    fn has_room(&self) -> bool {
        self.tier.has_room()
    }

    fn call_osr(
        &self,
        instance: &Instance,
        def: u32,
        loop_id: u32,
        frame: &mut [u64],
    ) -> Result<(), Trap> {
        self.stats.osr_transfers.fetch_add(1, Ordering::Relaxed);
        self.tier.call_osr(instance, def, loop_id, frame).unwrap_or_else(|| {
            Err(Trap::host("internal error: no on-stack-replacement entry where one was published"))
        })
    }
}

/// A request: compile `def` of a module (and an entry at loop `osr`).
struct Job {
    upper: Weak<Upper>,
    def: u32,
    osr: Option<u32>,
}

/// The background compile threads of one engine, started on the first request: as many as
/// the machine has cores less one (at least one), so that the guest keeps a core.
#[derive(Default)]
struct Pool {
    queue: Mutex<Queue>,
    wake: Condvar,
    closed: AtomicBool,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
}

impl Pool {
    fn push(self: &Arc<Self>, job: Job) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.jobs.push_back(job);
        let want = keel_runtime::engine::compile_threads().saturating_sub(1).max(1);
        if q.threads < want && q.threads < q.jobs.len() {
            q.threads += 1;
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name("keel-tier-compile".into())
                .spawn(move || pool.work());
            if spawned.is_err() {
                q.threads -= 1;
            }
        }
        drop(q);
        self.wake.notify_one();
    }

    fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).jobs.clear();
        self.wake.notify_all();
    }

    /// A background thread: takes the hottest waiting function and up to [`BATCH`] - 1 more
    /// of its module, compiles them, publishes them; until the engine is dropped.
    fn work(self: Arc<Self>) {
        loop {
            let batch = {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if self.closed.load(Ordering::Acquire) {
                        q.threads -= 1;
                        return;
                    }
                    if let Some(batch) = take_batch(&mut q.jobs) {
                        break batch;
                    }
                    q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            };
            batch.upper.compile_now(&batch.defs, &batch.osr);
        }
    }
}

/// Functions of one module to compile together.
struct Batch {
    upper: Arc<Upper>,
    defs: Vec<u32>,
    osr: Vec<(u32, u32)>,
}

/// The hottest request whose module is still alive (by calls counted so far: the order of
/// requests is already roughly that of heat), with more of the same module.
fn take_batch(jobs: &mut VecDeque<Job>) -> Option<Batch> {
    jobs.retain(|j| j.upper.strong_count() > 0);
    let hottest = (0..jobs.len().min(256)).max_by_key(|&i| {
        let j = &jobs[i];
        let calls = j.upper.upgrade().map_or(0, |u| u.state.calls(j.def));
        // A hot loop first: something is running in it now.
        (j.osr.is_some(), calls)
    })?;
    let first = jobs.remove(hottest)?;
    let upper = first.upper.upgrade()?;
    let mut batch = vec![first];
    let mut i = 0;
    while i < jobs.len() && batch.len() < BATCH {
        if Weak::ptr_eq(&jobs[i].upper, &batch[0].upper) {
            batch.push(jobs.remove(i).expect("in range"));
        } else {
            i += 1;
        }
    }
    let defs = batch.iter().map(|j| j.def).collect();
    let osr = batch.iter().filter_map(|j| Some((j.def, j.osr?))).collect();
    Some(Batch { upper, defs, osr })
}
