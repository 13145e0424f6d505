//! The `keel` binary end to end: output, exit codes, flags, mounts, traps.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn keel(args: &[&str]) -> Output {
    keel_with_stdin(args, b"")
}

fn keel_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn guest(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap();
    root.join("imports/wasi_snapshot_preview1/testdata")
        .join(format!("{name}.wasm"))
        .to_string_lossy()
        .into_owned()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("keel-cli-{test}-")).tempdir().unwrap()
}

#[test]
fn version() {
    let o = keel(&["version"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), format!("keel {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn run_cat_with_mounts() {
    let dir_tmp = scratch("cat");
    let dir = dir_tmp.path().to_path_buf();
    std::fs::write(dir.join("hello.txt"), "hello from the host\n").unwrap();
    let mount = format!("--mount={}:/", dir.display());
    for engine in [&[][..], &["--interpreter"][..]] {
        let mut args = vec!["run"];
        args.extend_from_slice(engine);
        let cat = guest("cat");
        args.extend([mount.as_str(), &cat, "/hello.txt"]);
        let o = keel(&args);
        assert_eq!(text(&o.stdout), "hello from the host\n", "{}", text(&o.stderr));
        assert_eq!(o.status.code(), Some(0));
    }
    // A guest path of its own, read-only.
    let mount = format!("--mount={}:/data:ro", dir.display());
    let o = keel(&["run", &mount, &guest("cat"), "/data/hello.txt"]);
    assert_eq!(text(&o.stdout), "hello from the host\n");
    // Without a mount, nothing.
    let o = keel(&["run", &guest("cat"), "/hello.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with("cat: /hello.txt: "), "{}", text(&o.stderr));
}

#[test]
fn stdin_reaches_the_guest() {
    let o = keel_with_stdin(&["run", &guest("cat")], b"through stdin\n");
    assert_eq!(text(&o.stdout), "through stdin\n");
}

#[test]
fn args_env_and_double_dash() {
    let o = keel(&["run", "--env=A=1", "--env", "B=x=y", &guest("env"), "--", "-x", "--", "z"]);
    assert_eq!(
        text(&o.stdout),
        "arg 0=env.wasm\narg 1=-x\narg 2=--\narg 3=z\nenv A=1\nenv B=x=y\n",
        "{}",
        text(&o.stderr)
    );
    let o = keel(&["run", &guest("env"), "-flag-for-guest"]);
    assert_eq!(text(&o.stdout), "arg 0=env.wasm\narg 1=-flag-for-guest\n");
    let o = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["run", "--env-inherit", &guest("env")])
        .env("KEEL_TEST_INHERITED", "yes")
        .output()
        .unwrap();
    assert!(text(&o.stdout).contains("env KEEL_TEST_INHERITED=yes\n"));
}

#[test]
fn exit_codes() {
    for code in [0, 1, 42, 255] {
        let o = keel(&["run", &guest("exit"), "exit", &code.to_string()]);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), format!("exiting with {code}\n"));
    }
}

#[test]
fn a_trap_prints_the_error_and_stack_trace_and_exits_1() {
    let o = keel(&["run", &guest("exit"), "trap"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "before trap\n");
    let err = text(&o.stderr);
    assert!(err.contains("wasm trap: unreachable"), "{err}");
    assert!(err.contains("wasm stack trace:") && err.contains("\texit.crash_here"), "{err}");
}

/// A flag value keel cannot use is a usage error, exit 2, worded as Go's flag package (and so
/// wazero) words it, with the usage line.
#[test]
fn unsupported_flags_and_imports_are_clear_errors() {
    let cases = [
        ("--timeout=1x", "invalid value \"1x\" for flag -timeout: parse error"),
        ("--timeout=s", "invalid value \"s\" for flag -timeout: parse error"),
        ("--hostlogging=bogus", "invalid value \"bogus\" for flag -hostlogging: "),
        ("--mount=:/x", "invalid value \":/x\" for flag -mount: want HOST[:GUEST][:ro]"),
        ("--env=NOVALUE", "invalid value \"NOVALUE\" for flag -env: want KEY=VALUE"),
    ];
    for (flag, want) in cases {
        let o = keel(&["run", flag, &guest("cat")]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.starts_with(&format!("error: {want}")), "{flag}: {err}");
        assert!(err.contains("\nUsage: keel run "), "{flag}: {err}");
        assert!(o.stdout.is_empty(), "{flag}");
    }
    let dir_tmp = scratch("imports");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = dir.join("needs_env.wasm");
    std::fs::write(&wasm, wat::parse_str(r#"(module (import "env" "f" (func)))"#).unwrap())
        .unwrap();
    let o = keel(&["run", wasm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("\"env\".\"f\""), "{err}");
    let o = keel(&["run", "--bogus", &guest("cat")]);
    assert_eq!(o.status.code(), Some(2));
    let o = keel(&["run"]);
    assert_eq!(o.status.code(), Some(2));
    // A file that cannot be read is not a usage error.
    let o = keel(&["run", "/no/such/file.wasm"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn reactor_initialize_is_called() {
    let dir_tmp = scratch("reactor");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = dir.join("reactor.wasm");
    let src = r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (func (export "_initialize") (call $exit (i32.const 9))))"#;
    std::fs::write(&wasm, wat::parse_str(src).unwrap()).unwrap();
    let o = keel(&["run", wasm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(9));
}

#[test]
fn compile_validates() {
    assert!(keel(&["compile", &guest("cat")]).status.success());
    let dir_tmp = scratch("compile");
    let dir = dir_tmp.path().to_path_buf();
    let bad = dir.join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x01").unwrap();
    let o = keel(&["compile", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("error compiling"), "{}", text(&o.stderr));
}

#[test]
fn cachedir_fills_and_reuses_the_cache() {
    let dir_tmp = scratch("cachedir");
    let dir = dir_tmp.path().to_path_buf();
    let cache = dir.join("cache");
    let flag = format!("--cachedir={}", cache.display());
    // compile fills the cache and prints nothing.
    let o = keel(&["compile", &flag, &guest("cat")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 1);
    // run uses it (and works), with either flag spelling.
    let o = keel_with_stdin(&["run", "--cachedir", cache.to_str().unwrap(), &guest("cat")], b"hi");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "hi");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    // A damaged entry: a tiered run ignores it (and stores nothing: its code is compiled
    // piecemeal), an eager run recompiles and rewrites it.
    let entry = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
    let good = std::fs::read(&entry).unwrap();
    let damaged = &good[..good.len() / 2];
    std::fs::write(&entry, damaged).unwrap();
    let o = keel_with_stdin(&["run", &flag, &guest("cat")], b"again");
    assert_eq!(text(&o.stdout), "again");
    assert_eq!(std::fs::read(&entry).unwrap(), damaged);
    let o = keel_with_stdin(&["run", "--eager", &flag, &guest("cat")], b"eager");
    assert_eq!(text(&o.stdout), "eager");
    assert_eq!(std::fs::read(&entry).unwrap(), good);
    // An invalid module is an error, and a cache directory that cannot be made is too.
    let bad = dir.join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x01").unwrap();
    let o = keel(&["compile", &flag, bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("error compiling"), "{}", text(&o.stderr));
    let file = dir.join("a_file");
    std::fs::write(&file, b"").unwrap();
    let o = keel(&["compile", &format!("--cachedir={}", file.display()), &guest("cat")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("cache"), "{}", text(&o.stderr));
}

/// A guest that accepts one connection on fd 3, reads a message and sends it back.
pub const ECHO_SERVER: &str = r#"(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $fd i32) (local $err i32)
    (local.set $err (call $accept (i32.const 3) (i32.const 0) (i32.const 0)))
    (if (local.get $err) (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
    (local.set $fd (i32.load (i32.const 0)))
    ;; iovec at 16: buffer 64, length 100
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (i32.const 100))
    (local.set $err (call $recv (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 0) (i32.const 24) (i32.const 28)))
    (if (local.get $err) (then (call $exit (i32.add (i32.const 150) (local.get $err)))))
    (i32.store (i32.const 20) (i32.load (i32.const 24)))
    (local.set $err (call $send (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 0) (i32.const 32)))
    (if (local.get $err) (then (call $exit (i32.add (i32.const 200) (local.get $err)))))
    (drop (call $shutdown (local.get $fd) (i32.const 3)))))"#;

#[test]
fn listen_preopens_a_socket() {
    use std::io::{Read, Write};
    let dir_tmp = scratch("listen");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = dir.join("echo.wasm");
    std::fs::write(&wasm, wat::parse_str(ECHO_SERVER).unwrap()).unwrap();
    // A free port: bind, note it, release it for keel.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["run", &format!("--listen=127.0.0.1:{port}"), wasm.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = None;
    for _ in 0..200 {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    let mut conn = conn.expect("keel listens");
    conn.write_all(b"ping").unwrap();
    let mut back = String::new();
    conn.read_to_string(&mut back).unwrap();
    assert_eq!(back, "ping");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// `keel run --timeout=1s` stops a runaway guest (a loop without calls) within 1.5 s: the module
/// is closed with wazero's deadline-exceeded code 0xefffffff, which exits as 255.
fn timeout_stops_a_runaway_guest(engine: &[&str]) {
    let dir_tmp = scratch(&format!("timeout{}", engine.len()));
    let dir = dir_tmp.path().to_path_buf();
    let wasm = dir.join("spin.wasm");
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "spinning\n")
        (func (export "_start")
          (i32.store (i32.const 0) (i32.const 16))
          (i32.store (i32.const 4) (i32.const 9))
          (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
          (loop br 0)))"#;
    std::fs::write(&wasm, wat::parse_str(wat).unwrap()).unwrap();
    let mut args = vec!["run", "--timeout=1s"];
    args.extend_from_slice(engine);
    args.push(wasm.to_str().unwrap());
    let start = std::time::Instant::now();
    let o = keel(&args);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(255), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "spinning\n");
    assert!(text(&o.stderr).contains("timeout 1s"), "{}", text(&o.stderr));
    assert!(took < std::time::Duration::from_millis(1500), "{took:?}");
    assert!(took >= std::time::Duration::from_secs(1), "{took:?}");
}

#[test]
fn timeout_stops_a_runaway_guest_compiler() {
    timeout_stops_a_runaway_guest(&[]);
}

#[test]
fn timeout_stops_a_runaway_guest_interpreter() {
    timeout_stops_a_runaway_guest(&["--interpreter"]);
}

/// A guest blocked reading stdin (which never closes) is stopped by `--timeout` too.
#[test]
fn timeout_stops_a_guest_blocked_on_stdin() {
    let dir_tmp = scratch("timeout-stdin");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = dir.join("read.wasm");
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (i32.store (i32.const 0) (i32.const 64))
          (i32.store (i32.const 4) (i32.const 16))
          (drop (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;
    std::fs::write(&wasm, wat::parse_str(wat).unwrap()).unwrap();
    // Host functions check the flag themselves, so this holds on the interpreter as well.
    for engine in [&[][..], &["--interpreter"][..]] {
        let mut args = vec!["run", "--timeout=500ms"];
        args.extend_from_slice(engine);
        args.push(wasm.to_str().unwrap());
        let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _stdin = child.stdin.take(); // kept open: the guest's read blocks
        let start = std::time::Instant::now();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(255), "{engine:?}: {}", text(&o.stderr));
        assert!(start.elapsed() < std::time::Duration::from_secs(1), "{:?}", start.elapsed());
    }
}

/// `--hostlogging=filesystem` logs each WASI file-system call to stderr as wazero does, one line
/// in and one out, with results read back from guest memory; other scopes stay silent.
#[test]
fn hostlogging_logs_filesystem_calls() {
    let dir_tmp = scratch("hostlogging");
    let dir = dir_tmp.path().to_path_buf();
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    let mount = format!("--mount={}:/", dir.display());
    for engine in [&[][..], &["--interpreter"][..]] {
        let mut args = vec!["run", "--hostlogging=filesystem"];
        args.extend_from_slice(engine);
        let cat = guest("cat");
        args.extend([mount.as_str(), &cat, "/hello.txt"]);
        let o = keel(&args);
        let err = text(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert_eq!(text(&o.stdout), "hello\n");
        assert!(err.contains("==> wasi_snapshot_preview1.path_open(fd=3,"), "{err}");
        assert!(err.contains("path=hello.txt,"), "{err}");
        assert!(err.contains("==> wasi_snapshot_preview1.fd_write(fd=1,iovs="), "{err}");
        assert!(err.contains("<== (nwritten=6,errno=ESUCCESS)"), "{err}");
        assert!(err.contains("<== (prestat=") || err.contains("errno=EBADF)"), "{err}");
        assert!(!err.contains("random_get") && !err.contains("args_sizes_get"), "{err}");
        for line in err.lines() {
            assert!(line.starts_with("==> ") || line.starts_with("<== ("), "{line}");
        }
    }
    let o = keel(&["run", "--hostlogging=all", &guest("cat"), "/nothing"]);
    assert!(
        text(&o.stderr).contains("==> wasi_snapshot_preview1.args_sizes_get()"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("<== (argc=2,argv_len="), "{}", text(&o.stderr));
}

/// A module of crates/cli/tests/testdata.
fn testdata(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata").join(name).display().to_string()
}

const ENGINES: [&[&str]; 3] = [&[], &["--eager"], &["--interpreter"]];

/// A file that does not start with `\0asm` is WebAssembly text.
#[test]
fn run_and_compile_accept_text() {
    let hello = testdata("hello.wat");
    for engine in ENGINES {
        let o = keel(&[&["run"], engine, &[&hello]].concat());
        assert_eq!(text(&o.stdout), "hello\n", "{engine:?}: {}", text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{engine:?}");
    }
    let o = keel(&["compile", &hello]);
    assert!(o.status.success() && o.stderr.is_empty(), "{}", text(&o.stderr));
}

/// Malformed text is one line with wat's position, exit 1.
#[test]
fn malformed_text_is_one_line_with_its_position() {
    let bad = testdata("malformed.wat");
    let want = format!("keel: error parsing {bad}:5:6: unknown operator or unexpected token\n");
    for command in [&["run"][..], &["run", "--interpreter"], &["compile"]] {
        let o = keel(&[command, &[&bad]].concat());
        assert_eq!(o.status.code(), Some(1), "{command:?}");
        assert_eq!(text(&o.stderr), want, "{command:?}");
        assert!(o.stdout.is_empty(), "{command:?}");
    }
    // Neither a binary nor text.
    let dir_tmp = scratch("not-text");
    let dir = dir_tmp.path().to_path_buf();
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"\xff\xfe\0\0").unwrap();
    let o = keel(&["run", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("neither a WebAssembly binary"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stack overflow prints a short trace: the repeats collapsed into one "more frames of" line.
#[test]
fn a_stack_overflow_prints_a_short_trace() {
    let cases = [
        ("recurse.wat", vec!["recurse.down"], "recurse._start"),
        ("pingpong.wat", vec!["pingpong.ping", "pingpong.pong"], "pingpong._start"),
    ];
    for (file, cycle, outermost) in cases {
        let wat = testdata(file);
        for engine in ENGINES {
            let o = keel(&[&["run"], engine, &[&wat]].concat());
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{file} {engine:?}: {err}");
            let lines: Vec<&str> = err.lines().collect();
            assert!(lines.len() <= 8, "{file} {engine:?}: {} lines:\n{err}", lines.len());
            assert!(lines[0].ends_with("wasm trap: call stack exhausted"), "{err}");
            assert_eq!(lines[1], "wasm stack trace:", "{err}");
            // Innermost first, from whichever function of the cycle overflowed (the tiered
            // engine's depends on which tier each function was in).
            let shown: Vec<&str> =
                lines[2..2 + cycle.len()].iter().map(|l| l.trim_start_matches('\t')).collect();
            let rotated = (0..cycle.len())
                .any(|k| (0..cycle.len()).all(|i| shown[i] == cycle[(i + k) % cycle.len()]));
            assert!(rotated, "{file} {engine:?}: {err}");
            let more = lines[2 + cycle.len()];
            let of = format!(" more frames of {}", shown.join(", "));
            assert!(more.starts_with("\t… ") && more.contains(&of), "{file} {engine:?}: {err}");
            // Thousands of frames: the guest overflowed, not returned early.
            let n: usize = more["\t… ".len()..].split(' ').next().unwrap().parse().unwrap();
            assert!(n > 1000, "{file} {engine:?}: {err}");
            assert_eq!(lines.last(), Some(&format!("\t{outermost}").as_str()), "{err}");
        }
    }
}

fn go_guest(release: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap();
    root.join(format!("imports/gojs/testdata/go{release}/scenarios.wasm"))
        .to_string_lossy()
        .into_owned()
}

/// Go `js/wasm` guests of both ABIs run under `keel run` with no flag: argv[0] is FILE's base
/// name, the environment is the `--env` pairs, mounts are at their guest paths, and Go's exit
/// code is keel's, on both engines.
#[test]
fn go_guests_run_with_no_flag() {
    let dir = tempfile::Builder::new().prefix("keel-cli-go-").tempdir().unwrap();
    let mount = format!("--mount={}:/work", dir.path().display());
    // One compile per release and engine, not one per run.
    let cache = tempfile::Builder::new().prefix("keel-cli-go-cache-").tempdir().unwrap();
    let cachedir = format!("--cachedir={}", cache.path().display());
    for release in ["1.19", "1.23"] {
        for engine in [&[][..], &["--interpreter"][..]] {
            let what = format!("go{release} {engine:?}");
            let run = |args: &[&str]| {
                let mut all = vec!["run", cachedir.as_str()];
                all.extend_from_slice(engine);
                all.extend_from_slice(args);
                keel(&all)
            };
            let g = go_guest(release);
            let o = run(&["--env=GUEST_A=1", &g, "args", "x"]);
            assert_eq!(text(&o.stdout), "args: args|x\nenv: GUEST_A=1\nlookup: \"\"\n", "{what}");
            assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
            let o = run(&[&g, "exit", "7"]);
            assert_eq!(
                (o.status.code(), text(&o.stdout)),
                (Some(7), "exiting with 7\n".into()),
                "{what}"
            );
            let o = run(&[&g, "panic"]);
            assert_eq!(o.status.code(), Some(2), "{what}");
            assert!(text(&o.stderr).starts_with("panic: boom\n"), "{what}: {}", text(&o.stderr));
            let o = run(&[&mount, &g, "files", "/work"]);
            assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stdout));
            assert!(text(&o.stdout).ends_with("after RemoveAll: not exist = true\n"), "{what}");
            // Real clocks in the CLI: a sleeping Go guest is stopped by --timeout.
            let start = std::time::Instant::now();
            let o = run(&["--timeout=300ms", &g, "forever", "sleep"]);
            assert_eq!(o.status.code(), Some(255), "{what}: {}", text(&o.stderr));
            assert!(start.elapsed() < std::time::Duration::from_secs(5), "{what}");
        }
    }
}

/// `--hostlogging` logs Go's imports in wazero's scopes, decoded from Go's stack: `filesystem`
/// the `fs` calls with their callbacks' results, `clock`, `random`, `proc`, `memory` theirs.
#[test]
fn hostlogging_logs_go_imports() {
    let dir = tempfile::Builder::new().prefix("keel-cli-go-log-").tempdir().unwrap();
    let mount = format!("--mount={}:/work", dir.path().display());
    for (release, module) in [("1.19", "go"), ("1.23", "gojs")] {
        let g = go_guest(release);
        let o = keel(&["run", "--hostlogging=filesystem", &mount, &g, "files", "/work"]);
        assert_eq!(o.status.code(), Some(0), "go{release}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        let open = format!(
            "==> {module}.syscall/js.valueCall(fs.open(path=a.txt,flags=WRONLY|CREATE|TRUNC,perm=-rw-r--r--))\n<== (err=<nil>,fd="
        );
        assert!(err.contains(&open), "go{release}: {err}");
        let missing = format!(
            "==> {module}.syscall/js.valueCall(fs.open(path=missing,flags=RDONLY,perm=----------))\n<== (err=ENOENT)\n"
        );
        assert!(err.contains(&missing), "go{release}: {err}");
        // Only the file system: no clock, and not the writes of stdout.
        assert!(!err.contains("nanotime1") && !err.contains("fd=1,"), "go{release}: {err}");
        assert_eq!(text(&o.stdout).lines().count(), 15, "go{release}: stdout unchanged");

        let o = keel(&["run", "--hostlogging=clock,random,proc,memory", &g, "rand"]);
        let err = text(&o.stderr);
        for line in [
            format!("==> {module}.runtime.getRandomData(r_len=32)\n<== ()\n"),
            format!("==> {module}.runtime.nanotime1()\n<== (nsec="),
            format!(
                "==> {module}.syscall/js.valueCall(crypto.getRandomValues(r_len=32))\n<== (n=32)\n"
            ),
            format!("==> {module}.runtime.wasmExit(code=0)\n"),
        ] {
            assert!(err.contains(&line), "go{release}: {line:?} in {err}");
        }
        assert!(!err.contains("fs."), "go{release}: {err}");
        // Growing memory: deepjson needs more than the initial pages.
        let o = keel(&["run", "--hostlogging=memory", &g, "deepjson"]);
        let want = format!("==> {module}.runtime.resetMemoryDataView()\n<== ()\n");
        assert!(text(&o.stderr).starts_with(&want), "go{release}: {}", text(&o.stderr));
    }
}

/// An AssemblyScript guest of imports/assemblyscript/testdata.
fn assemblyscript(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap();
    root.join("imports/assemblyscript/testdata")
        .join(format!("{name}.wasm"))
        .to_string_lossy()
        .into_owned()
}

/// Runs an AssemblyScript guest with no flag but the engine's: (stdout, stderr, exit code).
fn run_assemblyscript(engine: &[&str], name: &str) -> (String, String, Option<i32>) {
    let path = assemblyscript(name);
    let mut args = vec!["run"];
    args.extend(engine);
    args.push(&path);
    let o = keel(&args);
    (text(&o.stdout), text(&o.stderr), o.status.code())
}

/// AssemblyScript guests (env imports) get keel-assemblyscript as env, trace to stderr; a
/// wasi-shim guest runs on WASI alone.
#[test]
fn assemblyscript_guests_run_without_flags() {
    let trace = "\
trace: zero
trace: one 42
trace: five 1,2.5,-3,0.1,1e+21
trace: large 123456,1.234567e+06,1e+06,1.5e+300,1.7976931348623157e+308
trace: small 0.0001,1e-05,1.25e-07,5e-324,-0
trace: special NaN,+Inf,-Inf
trace: unicode: héllo, 世界, 🎉
";
    for engine in ENGINES {
        let abort = "trace: before the assertion\n\
                     the answer is not 43 at imports/assemblyscript/testdata/abort.ts:5:1\n";
        let want = |out: &str, err: &str, code| (out.to_string(), err.to_string(), Some(code));
        assert_eq!(run_assemblyscript(engine, "abort"), want("", abort, 255), "{engine:?}");
        assert_eq!(run_assemblyscript(engine, "trace"), want("", trace, 0), "{engine:?}");
        assert_eq!(
            run_assemblyscript(engine, "start"),
            want("", "trace: start section 55\n", 0),
            "{engine:?}"
        );
        assert_eq!(
            run_assemblyscript(engine, "export_start"),
            want("", "trace: _start 26\n", 0),
            "{engine:?}"
        );
        assert_eq!(
            run_assemblyscript(engine, "wasi_shim"),
            want("hello from AssemblyScript\none, two, three (3)\n", "to stderr\n", 3),
            "{engine:?}"
        );
        // The seed is the OS's: two integers below 2^32, then a number in [0, 1).
        let (out, err, code) = run_assemblyscript(engine, "seed");
        assert_eq!((out.as_str(), code), ("", Some(0)), "{engine:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        let halves = lines[0].strip_prefix("trace: seed ").unwrap();
        for half in halves.split(',') {
            let v: f64 = half.parse().unwrap();
            assert!((0.0..4294967296.0).contains(&v) && v.fract() == 0.0, "{half}");
        }
        let random: f64 = lines[1].strip_prefix("trace: random ").unwrap().parse().unwrap();
        assert!((0.0..1.0).contains(&random), "{random}");
    }
}

/// An env import that is not AssemblyScript's (another name, or abort of another type) is one
/// line naming it.
#[test]
fn env_imports_of_no_import_set_are_named() {
    let dir_tmp = scratch("env-imports");
    let dir = dir_tmp.path().to_path_buf();
    let cases = [
        (
            r#"(module (import "env" "abort" (func (param i32 i32 i32 i32)))
                       (import "env" "memcpy" (func (param i32 i32 i32))))"#,
            "\"env\".\"memcpy\"",
        ),
        (r#"(module (import "env" "abort" (func (param i32))))"#, "\"env\".\"abort\""),
        (
            r#"(module (import "env" "seed" (func (result f64))) (import "env" "trace" (func)))"#,
            "\"env\".\"trace\"",
        ),
    ];
    for (i, (wat, name)) in cases.iter().enumerate() {
        let wasm = dir.join(format!("env{i}.wat"));
        std::fs::write(&wasm, wat).unwrap();
        let o = keel(&["run", wasm.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(name) && err.contains("no import set"), "{err}");
    }
}

/// `--hostlogging=proc` logs AssemblyScript's abort, `random` its seed (wazero's scopes).
#[test]
fn hostlogging_logs_assemblyscript_abort_and_seed() {
    let abort = assemblyscript("abort");
    let o = keel(&["run", "--hostlogging=proc", &abort]);
    assert_eq!(o.status.code(), Some(255));
    assert_eq!(
        text(&o.stderr),
        "trace: before the assertion\n\
         ==> env.abort(message=1120,fileName=1184,lineNumber=5,columnNumber=1)\n\
         the answer is not 43 at imports/assemblyscript/testdata/abort.ts:5:1\n"
    );
    let o = keel(&["run", "--hostlogging=random", &assemblyscript("seed")]);
    assert_eq!(o.status.code(), Some(0));
    let err = text(&o.stderr);
    let logged: Vec<&str> = err.lines().filter(|l| l.starts_with("==>")).collect();
    assert_eq!(logged, ["==> env.seed()", "==> env.seed()"], "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("<== (rand=")).count(), 2, "{err}");
    // proc does not log seed; random does not log abort.
    let o = keel(&["run", "--hostlogging=random", &abort]);
    assert!(!text(&o.stderr).contains("==>"), "{}", text(&o.stderr));
}

fn emscripten(file: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap();
    root.join("imports/emscripten/testdata").join(file).to_string_lossy().into_owned()
}

/// Emscripten guests as emcc builds them (the `.wasm` beside the JS glue, and a standalone
/// build) run with no flag on both engines: exceptions, longjmp, heap growth, the C++ standard
/// library with iostream, exit codes.
#[test]
fn emscripten_guests_run_with_no_flag() {
    let expected = |name: &str| std::fs::read_to_string(emscripten(&format!("{name}.stdout")));
    for engine in [&[][..], &["--interpreter"][..]] {
        for name in ["exceptions", "setjmp", "memory", "stl"] {
            let wasm = emscripten(&format!("{name}.wasm"));
            let mut args = vec!["run"];
            args.extend_from_slice(engine);
            args.push(&wasm);
            let o = keel(&args);
            assert_eq!(text(&o.stdout), expected(name).unwrap(), "{name}: {}", text(&o.stderr));
            let stderr = std::fs::read_to_string(emscripten(&format!("{name}.stderr")));
            assert_eq!(text(&o.stderr), stderr.unwrap_or_default(), "{name}");
            assert_eq!(o.status.code(), Some(0), "{name}");
        }
        // Arguments reach main's argv; an uncaught exception is an error, exit 1.
        let wasm = emscripten("exceptions.wasm");
        let mut args = vec!["run"];
        args.extend_from_slice(engine);
        args.extend([wasm.as_str(), "uncaught"]);
        let o = keel(&args);
        assert!(text(&o.stdout).ends_with("throwing with no catch\n"));
        assert!(text(&o.stderr).contains("uncaught C++ exception"), "{}", text(&o.stderr));
        assert_eq!(o.status.code(), Some(1));
        // The standalone build (`_start`, WASI) ends at its first throw, as on every runtime.
        let wasm = emscripten("exceptions_standalone.wasm");
        let mut args = vec!["run"];
        args.extend_from_slice(engine);
        args.push(&wasm);
        let o = keel(&args);
        assert_eq!(text(&o.stdout), "throw through frames:\n");
        assert_ne!(o.status.code(), Some(0));
    }
}

/// A failed assert or abort() prints Emscripten's `Aborted(...)` and exits 1; `exit(n)` and
/// main's return value are the exit code.
#[test]
fn emscripten_abort_and_exit_codes() {
    let dir = scratch("emscripten-abort");
    let wat = dir.path().join("abort.wat");
    std::fs::write(
        &wat,
        r#"(module
            (import "env" "abort" (func $abort))
            (import "env" "exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (global $sp (mut i32) (i32.const 4096))
            (func (export "stackAlloc") (param i32) (result i32)
              (global.set $sp (i32.sub (global.get $sp) (local.get 0))) (global.get $sp))
            (func (export "main") (param $argc i32) (param $argv i32) (result i32)
              (if (i32.eq (local.get $argc) (i32.const 1)) (then (call $abort)))
              (if (i32.eq (local.get $argc) (i32.const 2)) (then (call $exit (i32.const 7))))
              (local.get $argc)))"#,
    )
    .unwrap();
    let wat = wat.to_string_lossy().into_owned();
    let o = keel(&["run", &wat]);
    assert!(text(&o.stderr).starts_with("Aborted()\n"), "{}", text(&o.stderr));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(keel(&["run", &wat, "a"]).status.code(), Some(7));
    assert_eq!(keel(&["run", &wat, "a", "b", "c"]).status.code(), Some(4));
    let o = keel(&["run", "--hostlogging=proc", &wat, "a"]);
    assert_eq!(text(&o.stderr), "==> env.exit(status=7)\n");
}

/// `--hostlogging=memory` logs Emscripten's heap functions (wazero's scope for
/// `emscripten_notify_memory_growth`).
#[test]
fn hostlogging_logs_emscripten_memory_growth() {
    let dir = scratch("emscripten-memory");
    let wat = dir.path().join("grow.wat");
    std::fs::write(
        &wat,
        r#"(module
            (import "env" "emscripten_notify_memory_growth" (func $grew (param i32)))
            (memory (export "memory") 1)
            (func (export "_start")
              (drop (memory.grow (i32.const 1)))
              (call $grew (i32.const 0))))"#,
    )
    .unwrap();
    let wat = wat.to_string_lossy().into_owned();
    let o = keel(&["run", "--hostlogging=memory", &wat]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "==> env.emscripten_notify_memory_growth(memory_index=0)\n<== ()\n"
    );
    let o = keel(&["run", "--hostlogging=proc", &wat]);
    assert_eq!(text(&o.stderr), "");
}

/// Emscripten's file and time guests (stock builds: `fd_seek` with its i64 in halves) under
/// `keel run` with a directory mounted at `/`: the output keel-emscripten's own tests expect.
#[test]
fn emscripten_files_and_time_under_keel_run() {
    for engine in [&[][..], &["--interpreter"][..]] {
        let dir = scratch("emscripten-files");
        let mount = format!("--mount={}:/", dir.path().display());
        let files = emscripten("files.wasm");
        let mut args = vec!["run"];
        args.extend_from_slice(engine);
        args.extend([mount.as_str(), files.as_str()]);
        let o = keel(&args);
        let want = std::fs::read_to_string(emscripten("files.out")).unwrap();
        assert_eq!(text(&o.stdout), want, "{}", text(&o.stderr));
        assert_eq!(o.status.code(), Some(3), "files.c returns 3 from main");
        let time = emscripten("time.wasm");
        let mut args = vec!["run"];
        args.extend_from_slice(engine);
        args.push(&time);
        let o = keel(&args);
        let want = std::fs::read_to_string(emscripten("time.out")).unwrap();
        assert_eq!((text(&o.stdout), o.status.code()), (want, Some(0)), "{}", text(&o.stderr));
    }
}

/// `--help` of keel and of each command: exit 0, the help on stdout, naming every flag.
#[test]
fn help_of_each_command() {
    let run_flags = [
        "--mount <HOST[:GUEST][:ro]>",
        "--env <KEY=VALUE>",
        "--env-inherit",
        "--interpreter",
        "--hostlogging <SCOPES>",
        "--cachedir <DIR>",
        "--timeout <DURATION>",
        "--listen <HOST:PORT>",
    ];
    for help in [&["run", "--help"][..], &["run", "-help"], &["run", "-h"], &["help", "run"]] {
        let o = keel(help);
        let out = text(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{help:?}: {}", text(&o.stderr));
        assert!(out.contains("Usage: keel run [OPTIONS] <FILE> [ARGS]..."), "{help:?}: {out}");
        for flag in run_flags {
            assert!(out.contains(flag), "{help:?} lacks {flag}: {out}");
        }
        assert!(out.contains("Stop the guest after DURATION"), "{out}");
    }
    // compile shows the flags it uses (it accepts run's others, and ignores them).
    let o = keel(&["compile", "--help"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(out.contains("Usage: keel compile [OPTIONS] <FILE>"), "{out}");
    assert!(out.contains("--cachedir <DIR>") && out.contains("--interpreter"), "{out}");
    assert!(!out.contains("--mount"), "{out}");
    for help in [&["--help"][..], &["-help"], &["-h"], &["help"]] {
        let o = keel(help);
        let out = text(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{help:?}");
        for command in ["run", "compile", "version"] {
            assert!(out.contains(&format!("\n  {command} ")), "{help:?} lacks {command}: {out}");
        }
    }
}

/// Bad usage (an unknown flag or command, no FILE, no command, a second FILE for compile) is
/// clap's error and the usage line on stderr, exit 2, and nothing run.
#[test]
fn bad_usage_exits_2_with_a_usage_line() {
    let cat = guest("cat");
    let cases: [(&[&str], &str, &str); 8] = [
        (&["run", "--bogus", &cat], "error: unexpected argument '--bogus' found", "keel run"),
        (&["run", "-bogus", &cat], "error: unexpected argument '--bogus' found", "keel run"),
        (&["compile", "--bogus=1", &cat], "error: unexpected argument '--bogus'", "keel compile"),
        (&["run", "--interpreter=maybe", &cat], "error: invalid value 'maybe'", ""),
        (&["run", "--mount"], "error: a value is required for '--mount", ""),
        (&["run"], "error: the following required arguments were not provided", "keel run"),
        (&["compile", &cat, "extra"], "error: unexpected argument 'extra' found", "keel compile"),
        (&["frob"], "error: unrecognized subcommand 'frob'", "keel <COMMAND>"),
    ];
    for (args, want, usage) in cases {
        let o = keel(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
        // clap's errors for a value it parses itself have no usage line.
        assert!(usage.is_empty() || err.contains(&format!("Usage: {usage}")), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // A similar flag is suggested; `--` is not (it would make the flag FILE).
    let err = text(&keel(&["run", "--mout=x", &cat]).stderr);
    assert!(err.contains("a similar argument exists: '--mount'"), "{err}");
    assert!(!err.contains("use '--"), "{err}");
    // No command at all: the help, on stderr.
    let o = keel(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("Usage: keel <COMMAND>"), "{}", text(&o.stderr));
}

/// Everything after FILE is the guest's as it is, flags of keel's included; only one `--` right
/// after FILE is dropped, and `--` before FILE ends keel's flags.
#[test]
fn guest_args_that_look_like_flags_pass_through() {
    let env = guest("env");
    let o = keel(&["run", &env, "-v", "--x", "--env=A=1", "-mount=/", "--help", "-h", "--", "-"]);
    assert_eq!(
        text(&o.stdout),
        "arg 0=env.wasm\narg 1=-v\narg 2=--x\narg 3=--env=A=1\narg 4=-mount=/\narg 5=--help\n\
         arg 6=-h\narg 7=--\narg 8=-\n",
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0));
    let o = keel(&["run", "--env=A=1", "--", &env, "--", "--interpreter"]);
    assert_eq!(text(&o.stdout), "arg 0=env.wasm\narg 1=--interpreter\nenv A=1\n");
    let o = keel(&["run", &env, "--", "--", "x"]);
    assert_eq!(text(&o.stdout), "arg 0=env.wasm\narg 1=--\narg 2=x\n");
}

/// As with Go's flag package: `-flag` is `--flag`, and a value is `--flag=value` or the next
/// argument, whatever it looks like; a boolean flag takes `=true` or `=false`.
#[test]
fn single_dash_flags_are_accepted() {
    let env = guest("env");
    let o = keel(&["run", "-env=A=1", "-env", "B=2", "--env", "-C=3", "-interpreter", &env, "a"]);
    assert_eq!(
        text(&o.stdout),
        "arg 0=env.wasm\narg 1=a\nenv A=1\nenv B=2\nenv -C=3\n",
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0));
    let o = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["run", "-env-inherit=false", "-env", "A=1", &env])
        .env("KEEL_TEST_INHERITED", "yes")
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "arg 0=env.wasm\nenv A=1\n", "{}", text(&o.stderr));
    // A boolean flag does not take the next argument: here it is FILE.
    let o = keel(&["run", "-interpreter", &env, "true"]);
    assert_eq!(text(&o.stdout), "arg 0=env.wasm\narg 1=true\n", "{}", text(&o.stderr));
    // -cachedir DIR and -mount=HOST:GUEST:ro, on compile and run.
    let dir = scratch("single-dash");
    let cache = dir.path().join("cache");
    let o = keel(&["compile", "-cachedir", cache.to_str().unwrap(), &guest("cat")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    std::fs::write(dir.path().join("f.txt"), "single\n").unwrap();
    let mount = format!("-mount={}:/d:ro", dir.path().display());
    let o = keel(&["run", &mount, "-timeout", "10s", &guest("cat"), "/d/f.txt"]);
    assert_eq!(text(&o.stdout), "single\n", "{}", text(&o.stderr));
}
