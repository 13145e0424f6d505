//! The behaviours the official wasi-testsuite checks (`cargo xtask wasi-testsuite`), each shown
//! here on its own, on both engines and on both file systems (a host directory and `MemFs`):
//! the suite checks them; these tests say what each one is. See docs/wasi.md "Conformance".

mod common;

use common::{
    ENGINES, FD_READ, FD_WRITE, FDFLAG_APPEND, O_CREAT, O_DIRECTORY, O_TRUNC,
    PATH_FILESTAT_SET_SIZE, SYMLINK_FOLLOW, call, setup,
};
use keel::Val::{I32, I64};
use keel::{Memory, Module, ModuleConfig};
use keel_sys::{DirFs, Errno, MemFs};

/// Guest memory layout of these tests.
const PATH: u32 = 200; // path strings
const PATH2: u32 = 300;
const OUT: u32 = 400; // an fd, a size or a filestat
const IOV: u32 = 600; // one iovec
const DATA: u32 = 1000; // its bytes

/// Runs `case` on every engine, with `/` mounted from `MemFs` and from a fresh host directory,
/// with the module and its memory.
fn each(case: impl Fn(&str, &Module, &Memory)) {
    for &engine in ENGINES {
        for fs in ["memfs", "dirfs"] {
            let host = tempfile::Builder::new().prefix("keel-wasi-conformance-").tempdir().unwrap();
            let config = match fs {
                "memfs" => ModuleConfig::new().with_mount("/", MemFs::new()),
                _ => ModuleConfig::new().with_mount("/", DirFs::open(host.path()).unwrap()),
            };
            let (_rt, m) = setup(engine, config);
            let mem = m.memory("memory").unwrap();
            case(&format!("{engine:?}/{fs}"), &m, &mem);
        }
    }
}

/// `path_open(dir, lookup, path, oflags, base, 0, fdflags)`: the errno, and the new fd.
#[allow(clippy::too_many_arguments)] // path_open's own arguments, in its order
fn open(
    m: &Module,
    mem: &Memory,
    dir: i32,
    lookup: i32,
    path: &str,
    oflags: i32,
    base: i64,
    fdflags: i32,
) -> (u16, i32) {
    mem.write(PATH as u64, path.as_bytes()).unwrap();
    let args = [
        I32(dir),
        I32(lookup),
        I32(PATH as i32),
        I32(path.len() as i32),
        I32(oflags),
        I64(base),
        I64(0),
        I32(fdflags),
        I32(OUT as i32),
    ];
    let errno = call(m, "path_open", &args);
    (errno, mem.read_u32_le(OUT as u64).unwrap() as i32)
}

/// `fd_write` or `fd_read` of `len` bytes at DATA: the errno and the count.
fn io(m: &Module, mem: &Memory, func: &str, fd: i32, len: u32) -> (u16, u32) {
    mem.write(IOV as u64, &[DATA.to_le_bytes(), len.to_le_bytes()].concat()).unwrap();
    let errno = call(m, func, &[I32(fd), I32(IOV as i32), I32(1), I32(OUT as i32)]);
    (errno, mem.read_u32_le(OUT as u64).unwrap())
}

/// `fd_fdstat_get`: the base and inheriting rights.
fn rights(m: &Module, mem: &Memory, fd: i32) -> (u64, u64) {
    assert_eq!(call(m, "fd_fdstat_get", &[I32(fd), I32(OUT as i32)]), 0);
    (mem.read_u64_le(OUT as u64 + 8).unwrap(), mem.read_u64_le(OUT as u64 + 16).unwrap())
}

fn set_rights(m: &Module, fd: i32, base: u64, inheriting: u64) -> u16 {
    call(m, "fd_fdstat_set_rights", &[I32(fd), I64(base as i64), I64(inheriting as i64)])
}

fn file_size(m: &Module, mem: &Memory, fd: i32) -> u64 {
    assert_eq!(call(m, "fd_filestat_get", &[I32(fd), I32(OUT as i32)]), 0);
    mem.read_u64_le(OUT as u64 + 32).unwrap()
}

#[test]
fn creating_a_file_asks_for_no_rights() {
    // The suite's `create_file` helper: path_open(O_CREAT) with rights_base 0. POSIX allows
    // creating a file opened read-only; std's open options do not, so keel must not pass them on.
    each(|what, m, mem| {
        let (errno, fd) = open(m, mem, 3, 0, "new", O_CREAT, 0, 0);
        assert_eq!(errno, 0, "{what}");
        assert!(fd > 3, "{what}");
        assert_eq!(call(m, "fd_close", &[I32(fd)]), 0, "{what}");
        // It exists now, and opens again without O_CREAT.
        assert_eq!(open(m, mem, 3, 0, "new", 0, 0, 0).0, 0, "{what}");
    });
}

#[test]
fn truncating_does_not_need_write_access() {
    each(|what, m, mem| {
        let (_, fd) = open(m, mem, 3, 0, "f", O_CREAT, FD_WRITE, 0);
        mem.write(DATA as u64, b"0123456789").unwrap();
        assert_eq!(io(m, mem, "fd_write", fd, 10), (0, 10), "{what}");
        // O_TRUNC with rights 0 (the suite's truncation_rights), then with fd_read alone.
        for base in [0, FD_READ] {
            let (errno, fd2) = open(m, mem, 3, 0, "f", O_TRUNC, base, 0);
            assert_eq!(errno, 0, "{what}");
            assert_eq!(file_size(m, mem, fd2), 0, "{what}: truncated");
            assert_eq!(io(m, mem, "fd_write", fd, 3), (0, 3), "{what}");
        }
    });
}

#[test]
fn preopens_can_be_closed_and_renumbered_over() {
    each(|what, m, mem| {
        // Renumbering a directory over the preopen: fd 3 is that directory now, not a preopen.
        assert_eq!(open(m, mem, 3, 0, ".", O_DIRECTORY, 0, 0).0, 0, "{what}");
        let dir = mem.read_u32_le(OUT as u64).unwrap() as i32;
        assert_eq!(call(m, "fd_renumber", &[I32(dir), I32(3)]), 0, "{what}");
        assert_eq!(call(m, "fd_fdstat_get", &[I32(dir), I32(OUT as i32)]), Errno::EBADF.0);
        assert_eq!(call(m, "fd_prestat_get", &[I32(3), I32(OUT as i32)]), Errno::EBADF.0);
        assert_eq!(open(m, mem, 3, 0, "x", O_CREAT, 0, 0).0, 0, "{what}: still usable");
        // Closing it: the guest gives up its access, nothing else.
        assert_eq!(call(m, "fd_close", &[I32(3)]), 0, "{what}");
        assert_eq!(call(m, "fd_fdstat_get", &[I32(3), I32(OUT as i32)]), Errno::EBADF.0);
        assert_eq!(open(m, mem, 3, 0, "x", 0, 0, 0).0, Errno::EBADF.0, "{what}");
    });
}

#[test]
fn a_directory_cannot_be_opened_for_writing() {
    each(|what, m, mem| {
        let rw = FD_READ | FD_WRITE;
        assert_eq!(open(m, mem, 3, 0, ".", O_DIRECTORY, rw, 0).0, Errno::EISDIR.0, "{what}");
        assert_eq!(open(m, mem, 3, 0, ".", O_DIRECTORY, FD_READ, 0).0, 0, "{what}");
        assert_eq!(open(m, mem, 3, 0, ".", O_DIRECTORY, 0, 0).0, 0, "{what}");
        assert_eq!(
            open(m, mem, 3, 0, ".", 0, 0, 0).0,
            0,
            "{what}: a directory without O_DIRECTORY"
        );
    });
}

#[test]
fn pwrite_on_an_append_file_honours_its_offset() {
    // The suite's pwrite-with-append: O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, which std's open
    // options refuse (truncating an append-only file).
    each(|what, m, mem| {
        let (errno, fd) = open(m, mem, 3, 0, "log", O_CREAT | O_TRUNC, FD_WRITE, FDFLAG_APPEND);
        assert_eq!(errno, 0, "{what}");
        mem.write(DATA as u64, b"abcd").unwrap();
        assert_eq!(io(m, mem, "fd_write", fd, 2), (0, 2), "{what}");
        assert_eq!(call(m, "fd_seek", &[I32(fd), I64(0), I32(0), I32(OUT as i32)]), 0);
        assert_eq!(io(m, mem, "fd_write", fd, 2), (0, 2), "{what}: appended");
        assert_eq!(call(m, "fd_tell", &[I32(fd), I32(OUT as i32)]), 0);
        assert_eq!(mem.read_u64_le(OUT as u64).unwrap(), 4, "{what}");
        mem.write(IOV as u64, &[DATA.to_le_bytes(), 3u32.to_le_bytes()].concat()).unwrap();
        let pwrite = [I32(fd), I32(IOV as i32), I32(1), I64(0), I32(OUT as i32)];
        assert_eq!(call(m, "fd_pwrite", &pwrite), 0, "{what}");
        assert_eq!(call(m, "fd_tell", &[I32(fd), I32(OUT as i32)]), 0);
        assert_eq!(mem.read_u64_le(OUT as u64).unwrap(), 4, "{what}: pwrite keeps the position");
        assert_eq!(file_size(m, mem, fd), 4, "{what}: written at offset 0, not appended");
    });
}

#[test]
fn dropped_rights_are_enforced_and_never_regranted() {
    each(|what, m, mem| {
        let (_, fd) = open(m, mem, 3, 0, "f", O_CREAT, FD_READ | FD_WRITE, 0);
        let (base, _) = rights(m, mem, fd);
        assert_eq!(base & (FD_READ | FD_WRITE) as u64, (FD_READ | FD_WRITE) as u64, "{what}");
        let dropped = base & !((FD_READ | FD_WRITE) as u64);
        assert_eq!(set_rights(m, fd, dropped, 0), 0, "{what}");
        assert_eq!(rights(m, mem, fd).0, dropped, "{what}");
        assert_eq!(io(m, mem, "fd_read", fd, 4).0, Errno::EBADF.0, "{what}");
        assert_eq!(io(m, mem, "fd_write", fd, 4).0, Errno::EBADF.0, "{what}");
        assert_eq!(set_rights(m, fd, base, 0), Errno::ENOTCAPABLE.0, "{what}: no regrant");
        // A read-only file has no write rights to begin with.
        let (_, ro) = open(m, mem, 3, 0, "f", 0, FD_READ, 0);
        assert_eq!(rights(m, mem, ro).0 & FD_WRITE as u64, 0, "{what}");
        assert_eq!(io(m, mem, "fd_write", ro, 1).0, Errno::EBADF.0, "{what}");
        // A directory without path_filestat_set_size cannot truncate through path_open, and
        // what it no longer passes on, descriptors opened through it do not get.
        let (dir_base, dir_inheriting) = rights(m, mem, 3);
        let no_size = dir_base & !(PATH_FILESTAT_SET_SIZE as u64);
        assert_eq!(set_rights(m, 3, no_size, dir_inheriting & !(FD_WRITE as u64)), 0, "{what}");
        assert_eq!(open(m, mem, 3, 0, "f", O_TRUNC, 0, 0).0, Errno::ENOTCAPABLE.0, "{what}");
        let (_, f2) = open(m, mem, 3, 0, "f", 0, FD_READ | FD_WRITE, 0);
        assert_eq!(rights(m, mem, f2).0 & FD_WRITE as u64, 0, "{what}: not inherited");
        assert_eq!(io(m, mem, "fd_write", f2, 1).0, Errno::EBADF.0, "{what}");
    });
}

#[test]
fn dot_dot_cannot_climb_above_the_directory_descriptor() {
    // The suite's interesting_paths: a descriptor of a subdirectory is a capability for what lies
    // below it, even though the mount goes on above it.
    each(|what, m, mem| {
        mem.write(PATH as u64, b"sub/in").unwrap();
        assert_eq!(call(m, "path_create_directory", &[I32(3), I32(PATH as i32), I32(3)]), 0);
        assert_eq!(call(m, "path_create_directory", &[I32(3), I32(PATH as i32), I32(6)]), 0);
        let (_, sub) = open(m, mem, 3, 0, "sub", O_DIRECTORY, 0, 0);
        assert_eq!(open(m, mem, sub, 0, "in/../../sub/x", O_CREAT, 0, 0).0, Errno::ENOTCAPABLE.0);
        assert_eq!(open(m, mem, sub, 0, "..", O_DIRECTORY, 0, 0).0, Errno::ENOTCAPABLE.0);
        assert_eq!(open(m, mem, sub, 0, "in/../x", O_CREAT, 0, 0).0, 0, "{what}: within");
    });
}

#[test]
fn path_link_follows_a_symlink_when_asked() {
    each(|what, m, mem| {
        let (_, fd) = open(m, mem, 3, 0, "target", O_CREAT, FD_WRITE, 0);
        mem.write(DATA as u64, b"xyz").unwrap();
        assert_eq!(io(m, mem, "fd_write", fd, 3), (0, 3), "{what}");
        let symlink = |target: &str, link: &str| {
            mem.write(PATH as u64, target.as_bytes()).unwrap();
            mem.write(PATH2 as u64, link.as_bytes()).unwrap();
            let args = [
                I32(PATH as i32),
                I32(target.len() as i32),
                I32(3),
                I32(PATH2 as i32),
                I32(link.len() as i32),
            ];
            call(m, "path_symlink", &args)
        };
        let link = |flags: i32, from: &str, to: &str| {
            mem.write(PATH as u64, from.as_bytes()).unwrap();
            mem.write(PATH2 as u64, to.as_bytes()).unwrap();
            let args = [
                I32(3),
                I32(flags),
                I32(PATH as i32),
                I32(from.len() as i32),
                I32(3),
                I32(PATH2 as i32),
                I32(to.len() as i32),
            ];
            call(m, "path_link", &args)
        };
        assert_eq!(symlink("target", "sym"), 0, "{what}");
        assert_eq!(link(SYMLINK_FOLLOW, "sym", "hard"), 0, "{what}");
        // "hard" is the file, not a link: its size is the file's.
        mem.write(PATH as u64, b"hard").unwrap();
        let stat = [I32(3), I32(0), I32(PATH as i32), I32(4), I32(OUT as i32)];
        assert_eq!(call(m, "path_filestat_get", &stat), 0, "{what}");
        let mut ty = [0u8; 1];
        mem.read(OUT as u64 + 16, &mut ty).unwrap();
        assert_eq!(ty[0], 4, "{what}: a regular file");
        assert_eq!(mem.read_u64_le(OUT as u64 + 32).unwrap(), 3, "{what}");
        // Without the flag the link itself is linked; a dangling one followed is ENOENT.
        assert_eq!(link(0, "sym", "hard2"), 0, "{what}");
        assert_eq!(symlink("nowhere", "dangling"), 0, "{what}");
        assert_eq!(link(SYMLINK_FOLLOW, "dangling", "hard3"), Errno::ENOENT.0, "{what}");
    });
}
