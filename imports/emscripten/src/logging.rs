//! How host logging (`--hostlogging`) shows the functions, with wazero's scopes:
//! `emscripten_notify_memory_growth` and `emscripten_resize_heap` are `memory`; `abort`, `exit`
//! and `__assert_fail` are `proc`. The other functions have no log line.

use keel::logging::{LogScopes, LoggedFunction, ParamKind, ResultKind};

use ParamKind::{I32, U32};

/// The functions with a log line, for [`keel::logging::HostLogging::with_functions`] under
/// [`crate::MODULE_NAME`].
pub static LOGGED_FUNCTIONS: &[LoggedFunction] = &[
    LoggedFunction {
        name: "emscripten_notify_memory_growth",
        scope: LogScopes::MEMORY,
        params: &[("memory_index", U32)],
        result: ResultKind::None,
    },
    LoggedFunction {
        name: "emscripten_resize_heap",
        scope: LogScopes::MEMORY,
        params: &[("requested_size", U32)],
        result: ResultKind::I32,
    },
    LoggedFunction { name: "abort", scope: LogScopes::PROC, params: &[], result: ResultKind::None },
    LoggedFunction {
        name: "exit",
        scope: LogScopes::PROC,
        params: &[("status", I32)],
        result: ResultKind::None,
    },
    LoggedFunction {
        name: "__assert_fail",
        scope: LogScopes::PROC,
        params: &[("condition", U32), ("filename", U32), ("line", I32), ("func", U32)],
        result: ResultKind::None,
    },
];
