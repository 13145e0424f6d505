//! Emscripten guests of our own (testdata/files.c, testdata/time.c, testdata/time_cpp.cpp,
//! built by emcc 3.1.6 with `cargo xtask testdata`) on both engines, with a host directory mounted at `/`: each one's
//! output exactly as expected (testdata/*.out) and — where node is installed — equal to node's
//! running the same .wasm through its JS glue from a directory prepared the same way. Then
//! hostile guests in WAT: pointers out of memory trap.

use std::path::{Path, PathBuf};
use std::process::Command;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig, TrapCode};
use keel_sys::{DirFs, MemoryWriter};

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

struct Outcome {
    exit: u32,
    stdout: String,
    stderr: String,
}

/// Runs `testdata/NAME.wasm` with `args` and `dir` mounted at `/`.
fn run_keel(engine: EngineKind, name: &str, args: &[&str], dir: &Path) -> Outcome {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    let wasm = std::fs::read(testdata(&format!("{name}.wasm"))).unwrap();
    let compiled = runtime.compile(&wasm).unwrap();
    keel_emscripten::instantiate_wasi(&runtime, &compiled).unwrap();
    keel_emscripten::instantiate_for(&runtime, &compiled).unwrap();
    let (out, err) = (MemoryWriter::new(), MemoryWriter::new());
    let config = ModuleConfig::new()
        .with_args(std::iter::once(name).chain(args.iter().copied()))
        .with_stdout(out.clone())
        .with_stderr(err.clone())
        .with_mount("/", DirFs::open(dir).unwrap());
    let exit = keel_emscripten::run(&runtime, &compiled, config)
        .unwrap_or_else(|e| panic!("{engine:?} {name}: {e}\nstdout:\n{}", out.text()));
    Outcome { exit, stdout: out.text(), stderr: err.text() }
}

/// node running `testdata/NAME.js` (the glue emcc made with the .wasm) from `dir`, in UTC;
/// `None` without node.
fn run_node(name: &str, args: &[&str], dir: &Path) -> Option<Outcome> {
    let version = Command::new("node").arg("--version").output().ok()?;
    if !version.status.success() {
        return None;
    }
    let out = Command::new("node")
        .arg("--no-experimental-fetch")
        .arg(testdata(&format!("{name}.js")))
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    Some(Outcome {
        exit: out.status.code().expect("node exited by a signal") as u32,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap()
}

/// Compares line by line, so that a failure shows the first line that differs.
fn assert_same(what: &str, got: &str, want: &str) {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{what}: line {} differs", i + 1);
    }
    assert_eq!(got, want, "{what}: lengths differ");
}

/// A guest of testdata/: its name, arguments, the files holding its expected stdout (one after
/// the other) and its exit code; `like_node` when node running its JS glue in a fresh directory
/// prints the same.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    stdout: &'static [&'static str],
    exit: u32,
    like_node: bool,
}

const CASES: &[Case] = &[
    Case { name: "files", args: &[], stdout: &["files.out"], exit: 3, like_node: true },
    Case {
        name: "files",
        args: &["keel"],
        stdout: &["files.out", "files_keel.out"],
        exit: 3,
        like_node: false,
    },
    Case { name: "time", args: &[], stdout: &["time.out"], exit: 0, like_node: true },
    Case { name: "time_cpp", args: &[], stdout: &["time_cpp.out"], exit: 0, like_node: true },
];

#[test]
fn guests_as_expected_on_both_engines() {
    for case in CASES {
        let want: String = case.stdout.iter().map(|f| expected(f)).collect();
        for &engine in ENGINES {
            let what = format!("{engine:?} {} {:?}", case.name, case.args);
            let dir = tempfile::tempdir().unwrap();
            let got = run_keel(engine, case.name, case.args, dir.path());
            assert_same(&what, &got.stdout, &want);
            assert_eq!(got.exit, case.exit, "{what}: {}", got.stderr);
            if case.name == "files" {
                // What the guest left in the directory, seen from the host.
                let b = std::fs::read_to_string(dir.path().join("b.bin")).unwrap();
                assert_eq!(b, "01zz", "{what}");
                let link = std::fs::read_link(dir.path().join("link")).unwrap();
                assert_eq!(link, Path::new("a.txt"), "{what}");
                assert!(dir.path().join("d/f.txt").is_file(), "{what}");
            }
            if case.args == ["keel"] {
                // `..` past the root stayed inside the mount.
                assert!(dir.path().join("escape.txt").is_file(), "{what}");
                assert!(!dir.path().parent().unwrap().join("escape.txt").exists(), "{what}");
            }
        }
    }
}

#[test]
fn guests_like_node() {
    for case in CASES.iter().filter(|c| c.like_node) {
        let dir = tempfile::tempdir().unwrap();
        let Some(node) = run_node(case.name, case.args, dir.path()) else {
            eprintln!("node is not installed: comparing with the expected output only");
            return;
        };
        let what = format!("{}: keel vs node", case.name);
        assert_eq!(node.exit, case.exit, "{what}: {}", node.stderr.lines().last().unwrap_or(""));
        let dir = tempfile::tempdir().unwrap();
        let keel = run_keel(EngineKind::Compiler, case.name, case.args, dir.path());
        assert_same(&what, &keel.stdout, &node.stdout);
        assert_eq!(keel.exit, node.exit, "{what}");
    }
}

/// A guest whose `run` calls `env.NAME` (of `params` i32 parameters, an i32 result) with
/// `args`.
fn guest(name: &str, args: &[u32]) -> Vec<u8> {
    let params = "i32 ".repeat(args.len());
    let pushes: String = args.iter().map(|a| format!("(i32.const {})", *a as i32)).collect();
    let wat = format!(
        r#"(module
  (import "env" "{name}" (func $f (param {params}) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "dir\00")
  (data (i32.const 65534) "xy")
  (func (export "main") (result i32) {pushes} (call $f)))"#
    );
    wat::parse_str(wat).unwrap()
}

fn run_wat(engine: EngineKind, wasm: &[u8], dir: &Path) -> keel::Result<u32> {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    let compiled = runtime.compile(wasm).unwrap();
    keel_emscripten::instantiate_for(&runtime, &compiled).unwrap();
    let config = ModuleConfig::new().with_mount("/", DirFs::open(dir).unwrap());
    keel_emscripten::run(&runtime, &compiled, config)
}

#[test]
fn pointers_out_of_memory_trap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dir")).unwrap();
    let past = 0x1_0000 - 2; // a string running off the end of the one page
    for &engine in ENGINES {
        for (name, args) in [
            ("__syscall_open", vec![0xffff_fff0, 0, 0]),
            ("__syscall_open", vec![past, 0, 0]),
            ("__syscall_stat64", vec![16, 0xffff_fff0]),
            ("__syscall_stat64", vec![16, 0x1_0000 - 40]),
            ("__syscall_mkdir", vec![0x2_0000, 0]),
            ("__syscall_getcwd", vec![0xffff_ffff, 100]),
            ("__syscall_readlink", vec![0x7fff_0000, 16, 10]),
            ("__syscall_poll", vec![0xffff_fff8, 1, 0]),
            ("__syscall_utimensat", vec![-100i32 as u32, 16, 0xffff_fff0, 0]),
        ] {
            let e = run_wat(engine, &guest(name, &args), dir.path()).unwrap_err();
            assert_eq!(
                e.as_trap().and_then(|t| t.code()),
                Some(TrapCode::MemoryOutOfBounds),
                "{engine:?} {name} {args:?}: {e}"
            );
        }
        // getdents64 of a directory into a buffer past the memory: a trap too.
        let wat = r#"(module
  (import "env" "__syscall_open" (func $open (param i32 i32 i32) (result i32)))
  (import "env" "__syscall_getdents64" (func $getdents (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "dir\00")
  (func (export "main") (result i32)
    (call $getdents (call $open (i32.const 16) (i32.const 0x10000) (i32.const 0))
      (i32.const 0xff00) (i32.const 1024))))"#;
        let e = run_wat(engine, &wat::parse_str(wat).unwrap(), dir.path()).unwrap_err();
        assert_eq!(e.as_trap().and_then(|t| t.code()), Some(TrapCode::MemoryOutOfBounds));
    }
}

#[test]
fn time_functions_trap_on_pointers_out_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    let far = 0xffff_fff0;
    let edge = 0x1_0000 - 20; // a struct tm (44 bytes) running off the end
    // (import, params, has a result, args)
    let cases: &[(&str, usize, bool, &[u32])] = &[
        ("_gmtime_js", 2, false, &[far, 16]),
        ("_gmtime_js", 2, false, &[16, edge]),
        ("_localtime_js", 2, false, &[16, far]),
        ("_mktime_js", 1, true, &[edge]),
        ("_timegm_js", 1, true, &[far]),
        ("strftime", 4, true, &[far, 100, 16, 64]),
        ("strftime", 4, true, &[128, 100, far, 64]),
        ("strftime", 4, true, &[128, 100, 16, edge]),
        ("strftime_l", 5, true, &[128, 100, 16, far, 0]),
        ("clock_gettime", 2, true, &[1, far]),
        ("clock_getres", 2, true, &[0, far]),
        ("gettimeofday", 2, true, &[far, 0]),
        ("time", 1, true, &[far]),
    ];
    for &engine in ENGINES {
        for &(name, params, result, args) in cases {
            let params = "i32 ".repeat(params);
            let pushes: String =
                args.iter().map(|a| format!("(i32.const {})", *a as i32)).collect();
            let (result, drop) = if result { ("(result i32)", "drop") } else { ("", "") };
            let wat = format!(
                r#"(module
  (import "env" "{name}" (func $f (param {params}) {result}))
  (memory (export "memory") 1)
  (data (i32.const 16) "%Y-%m-%d\00")
  (func (export "main") (result i32) {pushes} (call $f) {drop} (i32.const 0)))"#
            );
            let e = run_wat(engine, &wat::parse_str(wat).unwrap(), dir.path()).unwrap_err();
            assert_eq!(
                e.as_trap().and_then(|t| t.code()),
                Some(TrapCode::MemoryOutOfBounds),
                "{engine:?} {name} {args:?}: {e}"
            );
        }
    }
}

#[test]
fn paths_never_leave_the_mount() {
    // A mount of a subdirectory: `..` past its root, absolute paths and symbolic links out of
    // it all stay inside (or fail).
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret"), "no").unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("out")).unwrap();
    let cases: &[(&str, i32)] = &[
        ("../secret", -44),
        ("/../../secret", -44),
        // The link is a guest path: `..` stops at `/`, so it leads to /secret of the mount,
        // which is not there (ENOENT), never to the host's file beside the mount.
        ("out", -44),
        ("./out", -44),
    ];
    for &engine in ENGINES {
        for &(path, want) in cases {
            let wat = format!(
                r#"(module
  (import "env" "__syscall_open" (func $open (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{path}\00")
  (func (export "main") (result i32) (call $open (i32.const 16) (i32.const 0) (i32.const 0))))"#
            );
            let got = run_wat(engine, &wat::parse_str(wat).unwrap(), &root).unwrap();
            assert_eq!(got as i32, want, "{engine:?} {path}");
        }
    }
}

/// Calls `env.NAME(args)` once from a guest whose memory holds `strings` (NUL-terminated, at
/// 256, 512, 768... in order) and returns its result.
fn call_once(
    engine: EngineKind,
    name: &str,
    args: &[u32],
    strings: &[&str],
    config: ModuleConfig,
) -> i32 {
    let params = "i32 ".repeat(args.len());
    let pushes: String = args.iter().map(|a| format!("(i32.const {})", *a as i32)).collect();
    let data: String = strings
        .iter()
        .enumerate()
        .map(|(i, s)| format!("(data (i32.const {}) \"{s}\\00\")\n", 256 * (i + 1)))
        .collect();
    let wat = format!(
        r#"(module
  (import "env" "{name}" (func $f (param {params}) (result i32)))
  (memory (export "memory") 1)
  {data}
  (func (export "main") (result i32) {pushes} (call $f)))"#
    );
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    let compiled = runtime.compile(&wat::parse_str(wat).unwrap()).unwrap();
    keel_emscripten::instantiate_for(&runtime, &compiled).unwrap();
    keel_emscripten::run(&runtime, &compiled, config).unwrap() as i32
}

#[test]
fn read_only_mounts_refuse_changes() {
    let (rw, ro) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(rw.path().join("file"), "rw").unwrap();
    std::fs::write(ro.path().join("file"), "ro").unwrap();
    const EROFS: i32 = -69;
    const EXDEV: i32 = -75;
    let (o_wronly, o_creat) = (1, 0o100);
    let cases: &[(&str, &[u32], &[&str], i32)] = &[
        ("__syscall_mkdir", &[256, 0o755], &["/ro/new"], EROFS),
        ("__syscall_open", &[256, o_wronly, 0], &["/ro/file"], EROFS),
        ("__syscall_open", &[256, o_wronly | o_creat, 0], &["/ro/new"], EROFS),
        ("__syscall_unlink", &[256], &["/ro/file"], EROFS),
        ("__syscall_rmdir", &[256], &["/ro"], EROFS),
        ("__syscall_truncate64", &[256, 0, 0], &["/ro/file"], EROFS),
        ("__syscall_symlink", &[256, 512], &["file", "/ro/link"], EROFS),
        ("__syscall_rename", &[256, 512], &["/file", "/ro/x"], EXDEV),
        ("__syscall_rename", &[256, 512], &["/ro/file", "/ro/x"], EROFS),
        ("__syscall_stat64", &[256, 1024], &["/ro/file"], 0),
        ("__syscall_faccessat", &[-100i32 as u32, 256, 4, 0], &["/ro/file"], 0),
        // Opening for reading works; `..` from the mount leads to the root mount's file.
        ("__syscall_open", &[256, 0, 0], &["/ro/file"], 5),
        ("__syscall_open", &[256, o_wronly, 0], &["/ro/../file"], 5),
    ];
    for &engine in ENGINES {
        for &(name, args, strings, want) in cases {
            let config = ModuleConfig::new()
                .with_mount("/", DirFs::open(rw.path()).unwrap())
                .with_read_only_mount("/ro", DirFs::open(ro.path()).unwrap());
            let got = call_once(engine, name, args, strings, config);
            assert_eq!(got, want, "{engine:?} {name} {strings:?}");
        }
    }
    assert_eq!(std::fs::read_to_string(ro.path().join("file")).unwrap(), "ro");
    assert_eq!(std::fs::read_dir(ro.path()).unwrap().count(), 1);
}

#[test]
fn links_lead_across_mounts() {
    // Links in the root mount into the mount at /other, absolute and relative, to a file and to
    // a directory on the way; and a loop between the two mounts.
    const ELOOP: i32 = -32;
    let (root, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(other.path().join("file"), "there").unwrap();
    let cases: &[(&str, &[u32], &[&str], i32)] = &[
        ("__syscall_symlink", &[256, 512], &["/other/file", "/abs"], 0),
        ("__syscall_symlink", &[256, 512], &["/other", "/dir"], 0),
        ("__syscall_symlink", &[256, 512], &["other/file", "/rel"], 0),
        ("__syscall_symlink", &[256, 512], &["/l2", "/other/l1"], 0),
        ("__syscall_symlink", &[256, 512], &["/other/l1", "/l2"], 0),
        ("__syscall_open", &[256, 0, 0], &["/abs"], 5),
        ("__syscall_open", &[256, 0, 0], &["/dir/file"], 5),
        ("__syscall_open", &[256, 0, 0], &["/rel"], 5),
        ("__syscall_stat64", &[256, 1024], &["/dir/../dir/file"], 0),
        ("__syscall_open", &[256, 0, 0], &["/l2"], ELOOP),
        // lstat and unlink see the link itself.
        ("__syscall_lstat64", &[256, 1024], &["/l2"], 0),
        ("__syscall_unlink", &[256], &["/dir"], 0),
    ];
    for &engine in ENGINES {
        for entry in std::fs::read_dir(root.path()).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let _ = std::fs::remove_file(other.path().join("l1"));
        for &(name, args, strings, want) in cases {
            let config = ModuleConfig::new()
                .with_mount("/", DirFs::open(root.path()).unwrap())
                .with_mount("/other", DirFs::open(other.path()).unwrap());
            let got = call_once(engine, name, args, strings, config);
            assert_eq!(got, want, "{engine:?} {name} {strings:?}");
        }
        // Absolute targets are stored relative to the link, never as host paths.
        let stored = std::fs::read_link(root.path().join("abs")).unwrap();
        assert_eq!(stored, std::path::Path::new("other/file"), "{engine:?}");
        assert!(other.path().join("file").exists(), "{engine:?}: the target stays");
    }
}

#[test]
fn descriptors_asked_for_by_number_are_bounded() {
    // dup2 and F_DUPFD up to Emscripten's 4096 work; past it they fail at once (no table of
    // millions of placeholders).
    let dir = tempfile::tempdir().unwrap();
    let config = || ModuleConfig::new().with_mount("/", DirFs::open(dir.path()).unwrap());
    for &engine in ENGINES {
        assert_eq!(call_once(engine, "__syscall_dup3", &[1, 4096, 0], &[], config()), 4096);
        assert_eq!(call_once(engine, "__syscall_dup3", &[1, 4097, 0], &[], config()), -8);
        assert_eq!(call_once(engine, "__syscall_dup3", &[1, 1, 0], &[], config()), -28);
        assert_eq!(call_once(engine, "__syscall_dup3", &[99, 5, 0], &[], config()), -8);
        // fcntl(1, F_DUPFD, *(int *)256): the argument is read from the varargs.
        let dupfd =
            |min: &str| call_once(engine, "__syscall_fcntl64", &[1, 0, 256], &[min], config());
        assert_eq!(dupfd("\\00\\10\\00\\00"), 4096);
        assert_eq!(dupfd("\\01\\10\\00\\00"), -33);
        assert_eq!(dupfd("\\ff\\ff\\ff\\ff"), -28);
    }
}

#[test]
fn every_import_of_the_guests_is_provided() {
    // The guests' env imports, with the types emcc 3.1.6 gave them, are all keel-emscripten's.
    let runtime = Runtime::with_config(RuntimeConfig::default(), EngineKind::Interpreter);
    for name in ["files", "time", "time_cpp"] {
        let wasm = std::fs::read(testdata(&format!("{name}.wasm"))).unwrap();
        let compiled = runtime.compile(&wasm).unwrap();
        assert!(keel_emscripten::is_emscripten(&compiled), "{name}");
    }
}
