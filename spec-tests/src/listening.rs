//! `--listening`: runs scripts with a function listener factory that listens to every function,
//! so the engines run their listening code (entry and return hooks in every function) and the
//! suite checks that it computes exactly what plain code does. The listener checks what it is
//! told as it goes and panics (a failed check) when anything does not add up.

use std::cell::RefCell;
use std::sync::Arc;

use keel::listener::{FunctionDefinition, FunctionListener, FunctionListenerFactory};
use keel::{Caller, FrameInfo, Trap};

/// Listens to every function and checks each report against the ones before it.
pub(crate) struct Checker;

thread_local! {
    /// The frames this thread's listener was told of and not yet told the end of.
    static OPEN: RefCell<Vec<FrameInfo>> = const { RefCell::new(Vec::new()) };
}

fn slots(tys: &[keel::ValType]) -> usize {
    tys.iter().map(|t| t.slots()).sum()
}

impl FunctionListener for Checker {
    fn before(
        &self,
        _: &Caller<'_>,
        def: &FunctionDefinition,
        params: &[u64],
        stack: &[FrameInfo],
    ) {
        assert_eq!(params.len(), slots(&def.ty.params), "{}: parameters", def.debug_name());
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            open.push(def.frame());
            assert_eq!(stack, &open[..], "{}: the call stack", def.debug_name());
        });
    }

    fn after(&self, _: &Caller<'_>, def: &FunctionDefinition, params: &[u64], results: &[u64]) {
        assert_eq!(params.len(), slots(&def.ty.params), "{}: parameters", def.debug_name());
        assert_eq!(results.len(), slots(&def.ty.results), "{}: results", def.debug_name());
        end(def);
    }

    fn abort(&self, _: &Caller<'_>, def: &FunctionDefinition, _: &[u64], _: &Trap) {
        end(def);
    }
}

/// The innermost open call ends: it must be `def`'s.
fn end(def: &FunctionDefinition) {
    let top = OPEN.with(|open| open.borrow_mut().pop());
    assert_eq!(top, Some(def.frame()), "{}: ends, but is not the innermost call", def.debug_name());
}

impl FunctionListenerFactory for Checker {
    fn new_listener(&self, _: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>> {
        Some(Arc::new(Checker))
    }
}
