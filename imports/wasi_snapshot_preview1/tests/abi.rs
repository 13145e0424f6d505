//! The ABI at the edge: errnos on error paths, guest pointers out of range, the legacy module
//! name, overriding functions, and proc_exit closing the instance. Modules written in WAT call
//! WASI functions directly.

mod common;

use common::{ENGINES, call, module, setup};
use keel::{Caller, EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_sys::{DirFs, Errno, MemFs};

use keel::Val::{I32, I64};

const PAST: i32 = 65536 - 2; // the last bytes of the page: any 4- or 8-byte write overflows

#[test]
fn out_of_range_pointers_are_efault() {
    for &engine in ENGINES {
        let (_, m) = setup(engine, ModuleConfig::new().with_args(["a", "b"]).with_env("K", "V"));
        let e = Errno::EFAULT.0;
        assert_eq!(call(&m, "args_sizes_get", &[I32(PAST), I32(0)]), e);
        assert_eq!(call(&m, "args_sizes_get", &[I32(0), I32(-1)]), e);
        assert_eq!(call(&m, "environ_get", &[I32(0), I32(PAST)]), e);
        assert_eq!(call(&m, "clock_time_get", &[I32(0), I64(0), I32(PAST)]), e);
        // An iovec array, then an iovec's buffer, out of range.
        assert_eq!(call(&m, "fd_write", &[I32(1), I32(PAST), I32(1), I32(0)]), e);
        let mem = m.memory("memory").unwrap();
        mem.write(0, &[0xf0, 0xff, 0, 0, 0x20, 0, 0, 0]).unwrap(); // buf 65520, len 32
        assert_eq!(call(&m, "fd_write", &[I32(1), I32(0), I32(1), I32(16)]), e);
        assert_eq!(call(&m, "fd_read", &[I32(0), I32(0), I32(1), I32(16)]), e);
        assert_eq!(call(&m, "random_get", &[I32(65000), I32(1000)]), e);
        assert_eq!(call(&m, "random_get", &[I32(-1), I32(2)]), e);
        assert_eq!(call(&m, "poll_oneoff", &[I32(65500), I32(0), I32(1), I32(8)]), e);
        // Within range all is well.
        assert_eq!(call(&m, "random_get", &[I32(100), I32(1000)]), 0);
        assert_eq!(call(&m, "args_sizes_get", &[I32(0), I32(4)]), 0);
        assert_eq!(mem.read_u32_le(0).unwrap(), 2);
        assert_eq!(mem.read_u32_le(4).unwrap(), 4);
    }
}

#[test]
fn errnos_of_error_paths() {
    for &engine in ENGINES {
        let config = ModuleConfig::new().with_mount("/data", MemFs::new());
        let (_, m) = setup(engine, config);
        let mem = m.memory("memory").unwrap();
        assert_eq!(call(&m, "fd_close", &[I32(42)]), Errno::EBADF.0);
        assert_eq!(call(&m, "fd_renumber", &[I32(1), I32(42)]), Errno::EBADF.0);
        assert_eq!(call(&m, "fd_seek", &[I32(1), I64(0), I32(0), I32(0)]), Errno::ESPIPE.0);
        assert_eq!(call(&m, "fd_seek", &[I32(42), I64(0), I32(0), I32(0)]), Errno::EBADF.0);
        assert_eq!(call(&m, "clock_time_get", &[I32(7), I64(0), I32(0)]), Errno::EINVAL.0);
        assert_eq!(call(&m, "fd_prestat_get", &[I32(0), I32(0)]), Errno::EBADF.0);
        assert_eq!(call(&m, "fd_prestat_get", &[I32(3), I32(0)]), 0);
        assert_eq!(mem.read_u32_le(4).unwrap(), 5, "name length of /data");
        assert_eq!(
            call(&m, "fd_prestat_dir_name", &[I32(3), I32(16), I32(4)]),
            Errno::ENAMETOOLONG.0
        );
        assert_eq!(call(&m, "fd_prestat_dir_name", &[I32(3), I32(16), I32(5)]), 0);
        let mut name = [0u8; 5];
        mem.read(16, &mut name).unwrap();
        assert_eq!(&name, b"/data");
        assert_eq!(
            call(&m, "fd_readdir", &[I32(1), I32(0), I32(64), I64(0), I32(100)]),
            Errno::ENOTDIR.0
        );
        // fd_filestat_set_times with both a time and "now" for one field.
        assert_eq!(
            call(&m, "fd_filestat_set_times", &[I32(3), I64(0), I64(0), I32(3)]),
            Errno::EINVAL.0
        );
        // path_open: empty path, missing file, bad dir fd, absolute path.
        mem.write(200, b"/etc/passwd").unwrap();
        let open = |ptr: i32, len: i32, fd: i32| {
            call(
                &m,
                "path_open",
                &[I32(fd), I32(1), I32(ptr), I32(len), I32(0), I64(2), I64(0), I32(0), I32(300)],
            )
        };
        assert_eq!(open(200, 0, 3), Errno::ENOENT.0);
        assert_eq!(open(201, 10, 3), Errno::ENOENT.0);
        assert_eq!(open(201, 10, 1), Errno::ENOTDIR.0);
        assert_eq!(open(201, 10, 9), Errno::EBADF.0);
        assert_eq!(open(200, 11, 3), Errno::ENOTCAPABLE.0);
        assert_eq!(open(65530, 100, 3), Errno::EFAULT.0);
        mem.write(200, &[0xff, 0xfe]).unwrap();
        assert_eq!(open(200, 2, 3), Errno::EILSEQ.0);
        // poll_oneoff with no subscriptions.
        assert_eq!(call(&m, "poll_oneoff", &[I32(0), I32(100), I32(0), I32(200)]), Errno::EINVAL.0);
        // Sockets: none preopened.
        assert_eq!(call(&m, "sock_accept", &[I32(3), I32(0), I32(0)]), Errno::ENOTSOCK.0);
        assert_eq!(call(&m, "sock_accept", &[I32(42), I32(0), I32(0)]), Errno::EBADF.0);
        assert_eq!(call(&m, "proc_raise", &[I32(6)]), Errno::ENOSYS.0);
    }
}

/// `path_open` without `O_DIRECTORY` tries the path as a file first and asks whether it is a
/// directory only when that fails: a read-only open of a directory gives a directory descriptor,
/// an open that would write to one is refused, and a new file is a file; alike on a host
/// directory, in memory and on a read-only mount (where the directory's errno wins over
/// `EROFS`).
#[test]
fn path_open_of_a_directory_or_a_file() {
    use common::{
        FD_READ as READ, FD_WRITE as WRITE, O_CREAT as CREAT, O_EXCL as EXCL, O_TRUNC as TRUNC,
    };
    const DIRECTORY: u8 = 3;
    const REGULAR_FILE: u8 = 4;
    let host_tmp = tempfile::Builder::new().prefix("keel-wasi-abi-open-").tempdir().unwrap();
    let host = host_tmp.path().to_path_buf();
    std::fs::create_dir_all(host.join("d")).unwrap();
    let memory = MemFs::new();
    memory.mkdir_all("d").unwrap();
    let config = |mount: &str| match mount {
        "host" => ModuleConfig::new().with_mount("/data", DirFs::open(&host).unwrap()),
        "memory" => ModuleConfig::new().with_mount("/data", memory.clone()),
        _ => ModuleConfig::new().with_read_only_mount("/data", DirFs::open(&host).unwrap()),
    };
    // (what, path, oflags, rights, errno or 0, then the file type; on a read-only mount)
    let cases: &[(&str, &str, i32, i64, u16, u8, u16)] = &[
        ("dir, read only", "d", 0, READ, 0, DIRECTORY, 0),
        ("dir, for writing", "d", 0, READ | WRITE, Errno::EISDIR.0, 0, Errno::EISDIR.0),
        ("dir, create exclusive", "d", CREAT | EXCL, WRITE, Errno::EEXIST.0, 0, Errno::EEXIST.0),
        ("dir, truncate", "d", TRUNC, WRITE, Errno::EISDIR.0, 0, Errno::EISDIR.0),
        ("new file", "n", CREAT, READ | WRITE, 0, REGULAR_FILE, Errno::EROFS.0),
        ("missing", "m", 0, READ, Errno::ENOENT.0, 0, Errno::ENOENT.0),
    ];
    for &engine in ENGINES {
        for (mount, read_only) in [("host", false), ("memory", false), ("read-only host", true)] {
            let (_, m) = setup(engine, config(mount));
            let mem = m.memory("memory").unwrap();
            for &(what, path, oflags, rights, errno, filetype, ro_errno) in cases {
                mem.write(200, path.as_bytes()).unwrap();
                let args =
                    [I32(3), I32(1), I32(200), I32(1), I32(oflags), I64(rights), I64(0), I32(0)];
                let got = call(&m, "path_open", &[&args[..], &[I32(300)]].concat());
                let want = if read_only { ro_errno } else { errno };
                assert_eq!(got, want, "{engine:?}, {mount}: {what}");
                if want == 0 {
                    let fd = mem.read_u32_le(300).unwrap() as i32;
                    assert_eq!(call(&m, "fd_fdstat_get", &[I32(fd), I32(400)]), 0);
                    let mut ty = [0u8];
                    mem.read(400, &mut ty).unwrap();
                    assert_eq!(ty[0], filetype, "{engine:?}, {mount}: {what}");
                    assert_eq!(call(&m, "fd_close", &[I32(fd)]), 0);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&host);
}

/// Scattered writes and reads through the host buffer that calls share: every iovec gets its own
/// bytes, a short read writes only what it read (never bytes an earlier, longer call left in the
/// buffer), on both engines, with `fd_write`/`fd_read` and `fd_pwrite`/`fd_pread`.
#[test]
fn iovecs_move_exactly_their_bytes() {
    let iovecs = |mem: &keel::Memory, at: u32, list: &[(u32, u32)]| {
        for (i, (ptr, len)) in list.iter().enumerate() {
            mem.write(at as u64 + i as u64 * 8, &[ptr.to_le_bytes(), len.to_le_bytes()].concat())
                .unwrap();
        }
    };
    for &engine in ENGINES {
        for positioned in [false, true] {
            let what = format!("{engine:?}, positioned: {positioned}");
            let (_, m) = setup(engine, ModuleConfig::new().with_mount("/data", MemFs::new()));
            let mem = m.memory("memory").unwrap();
            mem.write(200, b"f").unwrap();
            let open = [I32(3), I32(1), I32(200), I32(1), I32(1), I64(66), I64(0), I32(0)];
            assert_eq!(call(&m, "path_open", &[&open[..], &[I32(300)]].concat()), 0);
            let fd = mem.read_u32_le(300).unwrap() as i32;
            // Write "hello " + "" + "world" from three iovecs.
            mem.write(1000, b"hello world").unwrap();
            iovecs(&mem, 400, &[(1000, 6), (1000, 0), (1006, 5)]);
            let wrote = if positioned {
                call(&m, "fd_pwrite", &[I32(fd), I32(400), I32(3), I64(0), I32(500)])
            } else {
                call(&m, "fd_write", &[I32(fd), I32(400), I32(3), I32(500)])
            };
            assert_eq!((wrote, mem.read_u32_le(500).unwrap()), (0, 11), "{what}");
            // Read it back into 4 + 100 bytes of 0xaa: 4 + 7 are read, the rest stays.
            mem.write(2000, &[0xaa; 104]).unwrap();
            iovecs(&mem, 400, &[(2000, 4), (2004, 100)]);
            let read = if positioned {
                call(&m, "fd_pread", &[I32(fd), I32(400), I32(2), I64(0), I32(500)])
            } else {
                assert_eq!(call(&m, "fd_seek", &[I32(fd), I64(0), I32(0), I32(600)]), 0);
                call(&m, "fd_read", &[I32(fd), I32(400), I32(2), I32(500)])
            };
            assert_eq!((read, mem.read_u32_le(500).unwrap()), (0, 11), "{what}");
            let mut got = [0u8; 104];
            mem.read(2000, &mut got).unwrap();
            assert_eq!(&got[..11], b"hello world", "{what}");
            assert!(got[11..].iter().all(|&b| b == 0xaa), "{what}: bytes past the read");
        }
    }
}

#[test]
fn readdir_resumes_at_a_cookie() {
    let mem = MemFs::new();
    for i in 0..20 {
        mem.add_file(&format!("f{i:02}"), "").unwrap();
    }
    let (_, m) = setup(EngineKind::Interpreter, ModuleConfig::new().with_fs(mem));
    let memory = m.memory("memory").unwrap();
    let mut names = Vec::new();
    let mut cookie = 0i64;
    loop {
        // A 64-byte buffer holds two 27-byte entries ("fNN") and part of a third.
        assert_eq!(call(&m, "fd_readdir", &[I32(3), I32(1000), I32(64), I64(cookie), I32(900)]), 0);
        let used = memory.read_u32_le(900).unwrap() as usize;
        let mut buf = vec![0u8; used];
        memory.read(1000, &mut buf).unwrap();
        let mut at = 0;
        while at + 24 <= used {
            let next = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
            let len = u32::from_le_bytes(buf[at + 16..at + 20].try_into().unwrap()) as usize;
            if at + 24 + len > used {
                break;
            }
            names.push(String::from_utf8(buf[at + 24..at + 24 + len].to_vec()).unwrap());
            cookie = next as i64;
            at += 24 + len;
        }
        if used < 64 {
            break;
        }
    }
    let want: Vec<String> = [".".to_string(), "..".to_string()]
        .into_iter()
        .chain((0..20).map(|i| format!("f{i:02}")))
        .collect();
    assert_eq!(names, want);
}

#[test]
fn legacy_module_name_and_function_override() {
    for &engine in ENGINES {
        let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
        keel_wasi::instantiate_as(&runtime, keel_wasi::LEGACY_MODULE_NAME).unwrap();
        let wasm = wat::parse_str(module(keel_wasi::LEGACY_MODULE_NAME)).unwrap();
        let config = ModuleConfig::new().with_name("legacy").with_start_functions::<&str>([]);
        let m = runtime.instantiate_bytes(&wasm, config).unwrap();
        assert_eq!(call(&m, "random_get", &[I32(0), I32(8)]), 0);

        let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
        keel_wasi::FunctionExporter::new()
            .export_functions(runtime.host_module(keel_wasi::MODULE_NAME))
            .func("random_get", |caller: &mut Caller<'_>, ptr: i32, len: i32| -> i32 {
                let mut mem = caller.memory().unwrap();
                mem.as_mut_slice()[ptr as usize..][..len as usize].fill(0xab);
                0
            })
            .instantiate()
            .unwrap();
        let wasm = wat::parse_str(module(keel_wasi::MODULE_NAME)).unwrap();
        let config = ModuleConfig::new().with_start_functions::<&str>([]);
        let m = runtime.instantiate_bytes(&wasm, config).unwrap();
        assert_eq!(call(&m, "random_get", &[I32(0), I32(4)]), 0);
        assert_eq!(m.memory("memory").unwrap().read_u32_le(0).unwrap(), 0xabababab);
    }
}

#[test]
fn proc_exit_closes_the_module_with_its_code() {
    for &engine in ENGINES {
        let (_, m) = setup(engine, ModuleConfig::new());
        let err = m.func("call_proc_exit").unwrap().call(&[I32(255)]).unwrap_err();
        assert_eq!(err.exit_code(), Some(255));
        assert!(m.is_closed());
        assert!(m.func("nothing").unwrap().call(&[]).is_err(), "a closed module runs nothing");
    }
}

#[test]
fn stdout_and_stderr_go_to_the_configured_writers() {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (out, err) = (Buf::default(), Buf::default());
    let config = ModuleConfig::new().with_stdout(out.clone()).with_stderr(err.clone());
    let (_, m) = setup(EngineKind::Interpreter, config);
    let mem = m.memory("memory").unwrap();
    mem.write(100, b"hello ").unwrap();
    mem.write(200, b"world").unwrap();
    // Two iovecs at 0.
    mem.write(0, &[100, 0, 0, 0, 6, 0, 0, 0, 200, 0, 0, 0, 5, 0, 0, 0]).unwrap();
    assert_eq!(call(&m, "fd_write", &[I32(1), I32(0), I32(2), I32(50)]), 0);
    assert_eq!(mem.read_u32_le(50).unwrap(), 11);
    assert_eq!(call(&m, "fd_write", &[I32(2), I32(8), I32(1), I32(50)]), 0);
    assert_eq!(call(&m, "fd_write", &[I32(0), I32(8), I32(1), I32(50)]), Errno::EBADF.0);
    assert_eq!(&*out.0.lock().unwrap(), b"hello world");
    assert_eq!(&*err.0.lock().unwrap(), b"world");
}

/// One subscription at `at`: fd_read on `fd` (tag 1), or a relative clock of `ns` (tag 0).
fn subscribe(mem: &keel::Memory, at: u64, userdata: u64, fd: Option<u32>, ns: u64) {
    let mut b = [0u8; 48];
    b[0..8].copy_from_slice(&userdata.to_le_bytes());
    match fd {
        Some(fd) => {
            b[8] = 1;
            b[16..20].copy_from_slice(&fd.to_le_bytes());
        }
        None => {
            b[8] = 0;
            b[16..20].copy_from_slice(&1u32.to_le_bytes()); // monotonic
            b[24..32].copy_from_slice(&ns.to_le_bytes());
        }
    }
    mem.write(at, &b).unwrap();
}

#[test]
fn preopened_listener_accepts_polls_and_echoes() {
    use std::io::{Read, Write};
    for &engine in ENGINES {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ModuleConfig::new().with_listener(listener).with_sys_sleep();
        let (_, m) = setup(engine, config);
        let mem = m.memory("memory").unwrap();
        // Nothing to accept: a non-blocking listener says EAGAIN; a poll times out on its clock.
        assert_eq!(call(&m, "fd_fdstat_set_flags", &[I32(3), I32(4)]), 0);
        assert_eq!(call(&m, "sock_accept", &[I32(3), I32(0), I32(0)]), Errno::EAGAIN.0);
        subscribe(&mem, 1000, 7, Some(3), 0);
        subscribe(&mem, 1048, 8, None, 20_000_000);
        assert_eq!(call(&m, "poll_oneoff", &[I32(1000), I32(2000), I32(2), I32(900)]), 0);
        assert_eq!(mem.read_u32_le(900).unwrap(), 1);
        assert_eq!(mem.read_u64_le(2000).unwrap(), 8, "the clock fired");
        // A client connects: the listener is ready, then accept, recv, send, shutdown.
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"hello").unwrap();
        assert_eq!(call(&m, "poll_oneoff", &[I32(1000), I32(2000), I32(2), I32(900)]), 0);
        assert_eq!(mem.read_u32_le(900).unwrap(), 1);
        assert_eq!(mem.read_u64_le(2000).unwrap(), 7, "the listener is ready");
        assert_eq!(call(&m, "sock_accept", &[I32(3), I32(0), I32(0)]), 0);
        let fd = mem.read_u32_le(0).unwrap() as i32;
        mem.write(16, &[0, 1, 0, 0, 100, 0, 0, 0]).unwrap(); // iovec: buffer 256, length 100
        assert_eq!(call(&m, "sock_recv", &[I32(fd), I32(16), I32(1), I32(0), I32(24), I32(28)]), 0);
        assert_eq!(mem.read_u32_le(24).unwrap(), 5);
        mem.write(20, &[5, 0, 0, 0]).unwrap();
        assert_eq!(call(&m, "sock_send", &[I32(fd), I32(16), I32(1), I32(0), I32(32)]), 0);
        assert_eq!(call(&m, "sock_shutdown", &[I32(fd), I32(3)]), 0);
        assert_eq!(call(&m, "sock_shutdown", &[I32(fd), I32(9)]), Errno::EINVAL.0);
        assert_eq!(
            call(&m, "sock_recv", &[I32(3), I32(16), I32(1), I32(0), I32(24), I32(28)]),
            Errno::ENOTCONN.0
        );
        let mut back = String::new();
        client.read_to_string(&mut back).unwrap();
        assert_eq!(back, "hello");
        assert_eq!(call(&m, "fd_close", &[I32(fd)]), 0);
    }
}

/// Stdin that never has data: a read would block forever.
struct NeverReady;

impl std::io::Read for NeverReady {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

impl keel_sys::Stdin for NeverReady {
    fn ready(&mut self, timeout: Option<std::time::Duration>) -> std::io::Result<bool> {
        std::thread::sleep(timeout.unwrap_or(std::time::Duration::from_secs(3600)));
        Ok(false)
    }
}

/// A guest blocked in `poll_oneoff` (a one-hour clock, or stdin that never becomes ready) or in
/// `fd_read` on such stdin is interrupted: the host functions wait in slices and check the
/// instance's interrupt flag. Host functions do this themselves, so it holds on both engines.
#[test]
fn blocking_calls_are_interruptible() {
    use std::time::{Duration, Instant};
    const HOUR: u64 = 3600 * 1_000_000_000;
    for &engine in ENGINES {
        let config = ModuleConfig::new().with_sys_sleep().with_stdin(NeverReady);
        let (_, m) = setup(engine, config);
        let mem = m.memory("memory").unwrap();
        let cases: [(&str, Vec<keel::Val>); 3] = [
            ("poll_oneoff", vec![I32(0), I32(1024), I32(1), I32(2048)]),
            ("poll_oneoff", vec![I32(100), I32(1024), I32(1), I32(2048)]),
            ("fd_read", vec![I32(0), I32(3000), I32(1), I32(3100)]),
        ];
        subscribe(&mem, 0, 7, None, HOUR);
        subscribe(&mem, 100, 8, Some(0), 0);
        mem.write(3000, &[0, 16, 0, 0, 16, 0, 0, 0]).unwrap(); // iovec {4096, 16}
        for (name, args) in cases {
            let f = m.func(&format!("call_{name}")).unwrap();
            let start = Instant::now();
            let err = f.call_with_timeout(&args, Duration::from_millis(100)).unwrap_err();
            let took = start.elapsed();
            assert_eq!(
                err.as_trap().and_then(|t| t.code()),
                Some(keel::TrapCode::Interrupted),
                "{engine:?} {name}: {err}"
            );
            assert!(took < Duration::from_secs(1), "{engine:?} {name}: {took:?}");
        }
        // The flag was consumed by the interruption: the module keeps working.
        assert_eq!(call(&m, "random_get", &[I32(0), I32(8)]), 0);
    }
}
