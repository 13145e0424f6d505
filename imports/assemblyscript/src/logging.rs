//! How host logging (`--hostlogging`) shows each function, with wazero's scopes: `abort` is
//! `proc`, `seed` is `random`, `trace` has no scope (logged only with `all`).

use keel::logging::{HostLogging, LogScopes, LoggedFunction, ParamKind, ResultKind};

use ParamKind::{F64, I32, U32};

/// Every function, for [`HostLogging::with_functions`] under [`crate::MODULE_NAME`].
pub static LOGGED_FUNCTIONS: &[LoggedFunction] = &[
    LoggedFunction {
        name: "abort",
        scope: LogScopes::PROC,
        params: &[("message", U32), ("fileName", U32), ("lineNumber", U32), ("columnNumber", U32)],
        result: ResultKind::None,
    },
    LoggedFunction {
        name: "trace",
        scope: LogScopes::NONE,
        params: &[
            ("message", U32),
            ("nArgs", I32),
            ("arg0", F64),
            ("arg1", F64),
            ("arg2", F64),
            ("arg3", F64),
            ("arg4", F64),
        ],
        result: ResultKind::None,
    },
    LoggedFunction {
        name: "seed",
        scope: LogScopes::RANDOM,
        params: &[],
        result: ResultKind::F64("rand"),
    },
];

/// A host-logging listener factory for these functions under [`crate::MODULE_NAME`], writing to
/// `writer` the functions of `scopes` (combine with other import sets' tables by calling
/// [`HostLogging::with_functions`] on it).
pub fn host_logging(
    writer: impl std::io::Write + Send + 'static,
    scopes: LogScopes,
) -> HostLogging {
    HostLogging::new(writer, scopes).with_functions(crate::MODULE_NAME, LOGGED_FUNCTIONS)
}
