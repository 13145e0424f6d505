//! What safe code cannot do with keel's API, shown by code that must not compile (each
//! `compile_fail` example beside one that does compile, so that it fails for the reason shown).
//!
//! A host function reaches its caller's memory only through a [`MemoryView`](crate::MemoryView),
//! which borrows the `Caller` (it cannot outlive the host call), is neither `Send` nor `Sync`
//! (it stays on the thread that holds the instance's lock), and while it lives keeps every other
//! way into that memory shut (calls into the guest and `Memory` handles fail with
//! `UsageError::MemoryBorrowed`):
//!
//! ```
//! fn host(c: &mut keel::Caller<'_>) -> usize {
//!     let mut view = c.memory().unwrap();
//!     view.as_mut_slice()[0] = 1;
//!     view.len()
//! }
//! ```
//!
//! No engine object comes out of a `Caller` (the race of the soundness issue: a shared memory
//! object kept past the call, or written from another thread):
//!
//! ```compile_fail
//! fn leak(c: &keel::Caller<'_>) -> impl Send + Sync + 'static {
//!     c.instance().unwrap().memories()[0].clone()
//! }
//! ```
//!
//! A view cannot outlive the host call:
//!
//! ```compile_fail
//! fn keep<'a>(c: &mut keel::Caller<'a>) -> keel::MemoryView<'a> {
//!     c.memory().unwrap()
//! }
//! ```
//!
//! nor go to another thread:
//!
//! ```compile_fail
//! fn send(c: &mut keel::Caller<'_>) {
//!     let view = c.memory().unwrap();
//!     std::thread::spawn(move || drop(view));
//! }
//! ```
//!
//! nor be shared with scoped threads that would write the memory at once:
//!
//! ```compile_fail
//! fn share(c: &mut keel::Caller<'_>) {
//!     let view = c.memory().unwrap();
//!     std::thread::scope(|s| {
//!         s.spawn(|| view.len());
//!         s.spawn(|| view.len());
//!     });
//! }
//! ```
//!
//! (One thread may take the bytes themselves, exclusively, and give them back before the host
//! function returns: that is no race.)
//!
//! ```
//! fn scoped(c: &mut keel::Caller<'_>) {
//!     let mut view = c.memory().unwrap();
//!     let bytes = view.as_mut_slice();
//!     std::thread::scope(|s| {
//!         s.spawn(|| bytes[0] = 1);
//!     });
//! }
//! ```
//!
//! The runtime's store and engine are not reachable through the facade:
//!
//! ```compile_fail
//! let runtime = keel::Runtime::new();
//! let _store = runtime.store();
//! ```
//!
//! Below the facade, keel-runtime's `vm` module is the engines' view of an instance: its
//! accessors read and write guest state as plain memory, sound only under the instance's lock.
//! Safe code cannot reach that state outside a call: the runtime alone makes memories, tables
//! and globals, an instance's own `Arc` stays inside the runtime, and the one place an engine is
//! handed an instance, `CompiledCode::call`, belongs to an `unsafe` trait whose contract is
//! "only here, only on this thread":
//!
//! ```
//! // The types are there, for engines; what reaches them is not.
//! fn size(m: &keel_runtime::vm::MemoryData) -> usize {
//!     m.len()
//! }
//! ```
//!
//! ```compile_fail
//! fn make(ty: keel::MemoryType) {
//!     let _ = keel_runtime::vm::MemoryData::with_reservation(ty, 1, keel::Reservation::Maximum);
//! }
//! ```
//!
//! ```compile_fail
//! fn keep(i: &keel_runtime::vm::Instance) -> impl Send + 'static {
//!     i.arc()
//! }
//! ```
//!
//! ```compile_fail
//! struct Engine;
//! impl keel::CompiledCode for Engine {
//!     fn call(
//!         &self,
//!         _: &keel_runtime::vm::Instance,
//!         _: u32,
//!         _: &mut [u64],
//!     ) -> Result<(), keel::Trap> {
//!         Ok(())
//!     }
//!     fn as_any(&self) -> &dyn std::any::Any {
//!         self
//!     }
//! }
//! ```
