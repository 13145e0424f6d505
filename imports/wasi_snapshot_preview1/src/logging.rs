//! How host logging shows each WASI function: parameter names and kinds, and scopes (the table
//! keel's runtime formats with; see `keel::logging`).

use keel::logging::{HostLogging, LogScopes, LoggedFunction, ParamKind, ResultKind};

use ParamKind::{I64, Len, OutU32, OutU64, String as Str, U32, U64};

const NONE: LogScopes = LogScopes::NONE;
const CLOCK: LogScopes = LogScopes::CLOCK;
const FS: LogScopes = LogScopes::FILESYSTEM;
const POLL: LogScopes = LogScopes::POLL;
const PROC: LogScopes = LogScopes::PROC;
const RANDOM: LogScopes = LogScopes::RANDOM;
const SOCK: LogScopes = LogScopes::SOCK;

macro_rules! f {
    ($name:literal, $scope:expr, [$(($p:literal, $k:expr)),* $(,)?]) => {
        f!($name, $scope, [$(($p, $k)),*], ResultKind::Errno)
    };
    ($name:literal, $scope:expr, [$(($p:literal, $k:expr)),* $(,)?], $r:expr) => {
        LoggedFunction { name: $name, scope: $scope, params: &[$(($p, $k)),*], result: $r }
    };
}

/// Every WASI function, for [`HostLogging::with_functions`].
pub static LOGGED_FUNCTIONS: &[LoggedFunction] = &[
    f!("args_get", NONE, [("argv", U32), ("argv_buf", U32)]),
    f!("args_sizes_get", NONE, [("argc", OutU32), ("argv_len", OutU32)]),
    f!("environ_get", NONE, [("environ", U32), ("environ_buf", U32)]),
    f!("environ_sizes_get", NONE, [("environc", OutU32), ("environ_len", OutU32)]),
    f!("clock_res_get", CLOCK, [("id", U32), ("resolution", OutU64)]),
    f!("clock_time_get", CLOCK, [("id", U32), ("precision", U64), ("timestamp", OutU64)]),
    f!("fd_advise", FS, [("fd", U32), ("offset", U64), ("len", U64), ("advice", U32)]),
    f!("fd_allocate", FS, [("fd", U32), ("offset", U64), ("len", U64)]),
    f!("fd_close", FS, [("fd", U32)]),
    f!("fd_datasync", FS, [("fd", U32)]),
    f!("fd_fdstat_get", FS, [("fd", U32), ("stat", U32)]),
    f!("fd_fdstat_set_flags", FS, [("fd", U32), ("flags", U32)]),
    f!(
        "fd_fdstat_set_rights",
        FS,
        [("fd", U32), ("fs_rights_base", U64), ("fs_rights_inheriting", U64)]
    ),
    f!("fd_filestat_get", FS, [("fd", U32), ("buf", U32)]),
    f!("fd_filestat_set_size", FS, [("fd", U32), ("size", U64)]),
    f!(
        "fd_filestat_set_times",
        FS,
        [("fd", U32), ("atim", U64), ("mtim", U64), ("fst_flags", U32)]
    ),
    f!(
        "fd_pread",
        FS,
        [("fd", U32), ("iovs", U32), ("iovs_len", U32), ("offset", U64), ("nread", OutU32)]
    ),
    f!("fd_prestat_get", FS, [("fd", U32), ("prestat", U32)]),
    f!("fd_prestat_dir_name", FS, [("fd", U32), ("path", U32), ("path_len", U32)]),
    f!(
        "fd_pwrite",
        FS,
        [("fd", U32), ("iovs", U32), ("iovs_len", U32), ("offset", U64), ("nwritten", OutU32)]
    ),
    f!("fd_read", FS, [("fd", U32), ("iovs", U32), ("iovs_len", U32), ("nread", OutU32)]),
    f!(
        "fd_readdir",
        FS,
        [("fd", U32), ("buf", U32), ("buf_len", U32), ("cookie", U64), ("bufused", OutU32)]
    ),
    f!("fd_renumber", FS, [("fd", U32), ("to", U32)]),
    f!("fd_seek", FS, [("fd", U32), ("offset", I64), ("whence", U32), ("newoffset", OutU64)]),
    f!("fd_sync", FS, [("fd", U32)]),
    f!("fd_tell", FS, [("fd", U32), ("offset", OutU64)]),
    f!("fd_write", FS, [("fd", U32), ("iovs", U32), ("iovs_len", U32), ("nwritten", OutU32)]),
    f!("path_create_directory", FS, [("fd", U32), ("path", Str), ("path_len", Len)]),
    f!(
        "path_filestat_get",
        FS,
        [("fd", U32), ("flags", U32), ("path", Str), ("path_len", Len), ("buf", U32)]
    ),
    f!(
        "path_filestat_set_times",
        FS,
        [
            ("fd", U32),
            ("flags", U32),
            ("path", Str),
            ("path_len", Len),
            ("atim", U64),
            ("mtim", U64),
            ("fst_flags", U32),
        ]
    ),
    f!(
        "path_link",
        FS,
        [
            ("old_fd", U32),
            ("old_flags", U32),
            ("old_path", Str),
            ("old_path_len", Len),
            ("new_fd", U32),
            ("new_path", Str),
            ("new_path_len", Len),
        ]
    ),
    f!(
        "path_open",
        FS,
        [
            ("fd", U32),
            ("dirflags", U32),
            ("path", Str),
            ("path_len", Len),
            ("oflags", U32),
            ("fs_rights_base", U64),
            ("fs_rights_inheriting", U64),
            ("fdflags", U32),
            ("opened_fd", OutU32),
        ]
    ),
    f!(
        "path_readlink",
        FS,
        [
            ("fd", U32),
            ("path", Str),
            ("path_len", Len),
            ("buf", U32),
            ("buf_len", U32),
            ("bufused", OutU32),
        ]
    ),
    f!("path_remove_directory", FS, [("fd", U32), ("path", Str), ("path_len", Len)]),
    f!(
        "path_rename",
        FS,
        [
            ("fd", U32),
            ("old_path", Str),
            ("old_path_len", Len),
            ("new_fd", U32),
            ("new_path", Str),
            ("new_path_len", Len),
        ]
    ),
    f!(
        "path_symlink",
        FS,
        [
            ("old_path", Str),
            ("old_path_len", Len),
            ("fd", U32),
            ("new_path", Str),
            ("new_path_len", Len),
        ]
    ),
    f!("path_unlink_file", FS, [("fd", U32), ("path", Str), ("path_len", Len)]),
    f!(
        "poll_oneoff",
        POLL,
        [("in", U32), ("out", U32), ("nsubscriptions", U32), ("nevents", OutU32)]
    ),
    f!("proc_exit", PROC, [("rval", U32)], ResultKind::None),
    f!("proc_raise", PROC, [("sig", U32)]),
    f!("random_get", RANDOM, [("buf", U32), ("buf_len", U32)]),
    f!("sched_yield", NONE, []),
    f!("sock_accept", SOCK, [("fd", U32), ("flags", U32), ("fd", OutU32)]),
    f!(
        "sock_recv",
        SOCK,
        [
            ("fd", U32),
            ("ri_data", U32),
            ("ri_data_len", U32),
            ("ri_flags", U32),
            ("ro_datalen", OutU32),
            ("ro_flags", OutU32),
        ]
    ),
    f!(
        "sock_send",
        SOCK,
        [
            ("fd", U32),
            ("si_data", U32),
            ("si_data_len", U32),
            ("si_flags", U32),
            ("so_datalen", OutU32)
        ]
    ),
    f!("sock_shutdown", SOCK, [("fd", U32), ("how", U32)]),
];

/// A host-logging listener factory for WASI under both module names, writing to `writer` the
/// functions of `scopes` (set it with `RuntimeConfig::with_function_listener_factory`).
pub fn host_logging(
    writer: impl std::io::Write + Send + 'static,
    scopes: LogScopes,
) -> HostLogging {
    HostLogging::new(writer, scopes)
        .with_functions(crate::MODULE_NAME, LOGGED_FUNCTIONS)
        .with_functions(crate::LEGACY_MODULE_NAME, LOGGED_FUNCTIONS)
}
