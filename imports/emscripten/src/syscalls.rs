//! The `__syscall_*` functions that Emscripten's libc routes to `env`, on the guest's keel-sys
//! mounts, sharing the descriptor table with keel-wasi.

use crate::Def;

pub(crate) const FUNCTIONS: &[Def] = &[];
