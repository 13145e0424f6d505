//! Runs the C test guests of testdata/ (built with wasi-libc; rebuilt by `cargo xtask testdata`)
//! on every engine, against host directories and in-memory file systems.

use std::path::Path;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_sys::{DirFs, MemFs};

/// The engines every guest runs on.
const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

/// Every engine with every guest of `guests`.
fn engines_and<'a>(guests: &'a [&'a str]) -> impl Iterator<Item = (EngineKind, &'a str)> {
    ENGINES.iter().flat_map(move |&e| guests.iter().map(move |&g| (e, g)))
}

fn guest(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A writer whose bytes the test reads afterwards.
use keel_sys::MemoryWriter as Capture;

/// What a run gave: the exit code (`None`: it trapped, with the error's text), stdout, stderr.
struct Outcome {
    exit: Result<u32, String>,
    stdout: String,
    stderr: String,
}

fn run(engine: EngineKind, name: &str, args: &[&str], config: ModuleConfig) -> Outcome {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    keel_wasi::instantiate(&runtime).unwrap();
    let (out, err) = (Capture::default(), Capture::default());
    let argv = std::iter::once(name).chain(args.iter().copied());
    let config =
        config.with_name("").with_args(argv).with_stdout(out.clone()).with_stderr(err.clone());
    let exit = match runtime.instantiate_bytes(&guest(name), config) {
        Ok(_) => Ok(0),
        Err(e) => e.exit_code().ok_or_else(|| e.to_string()),
    };
    Outcome { exit, stdout: out.text(), stderr: err.text() }
}

/// A fresh, empty host directory for one test.
fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("keel-wasi-{test}-")).tempdir().unwrap()
}

#[test]
fn cat_reads_files_from_host_and_memory_mounts_and_stdin() {
    let dir_tmp = scratch("cat");
    let dir = dir_tmp.path().to_path_buf();
    std::fs::write(dir.join("a.txt"), "from the host\n").unwrap();
    let mem = MemFs::new();
    mem.add_file("data/b.txt", "from memory\n").unwrap();
    for &engine in ENGINES {
        let config = ModuleConfig::new()
            .with_mount("/", DirFs::open(&dir).unwrap())
            .with_mount("/mem", mem.clone());
        let o = run(engine, "cat", &["/a.txt", "/mem/data/b.txt"], config);
        assert_eq!(o.exit, Ok(0), "{engine:?}: {}", o.stderr);
        assert_eq!(o.stdout, "from the host\nfrom memory\n");

        let o = run(engine, "cat", &["/missing"], ModuleConfig::new().with_fs(mem.clone()));
        assert_eq!(o.exit, Ok(1));
        assert_eq!(o.stderr, "cat: /missing: No such file or directory\n");

        let config = ModuleConfig::new().with_stdin(std::io::Cursor::new(b"piped\n".to_vec()));
        let o = run(engine, "cat", &[], config);
        assert_eq!((o.exit, o.stdout.as_str()), (Ok(0), "piped\n"));
    }
}

#[test]
fn ls_lists_many_entries_across_several_readdir_calls() {
    let dir_tmp = scratch("ls");
    let dir = dir_tmp.path().to_path_buf();
    let mem = MemFs::new();
    let mut want = vec!["dir .".to_string(), "dir ..".to_string()];
    let mut names: Vec<String> =
        (0..300).map(|i| format!("a_rather_long_file_name_to_fill_buffers_{i:03}")).collect();
    names.sort();
    for n in &names {
        std::fs::write(dir.join(n), "").unwrap();
        mem.add_file(n, "").unwrap();
        want.push(format!("file {n}"));
    }
    std::fs::create_dir(dir.join("zsub")).unwrap();
    mem.mkdir_all("zsub").unwrap();
    want.push("dir zsub".into());
    want.push(format!("{} entries", want.len()));
    let want = want.join("\n") + "\n";
    for &engine in ENGINES {
        for (what, config) in [
            ("host", ModuleConfig::new().with_mount("/d", DirFs::open(&dir).unwrap())),
            ("memory", ModuleConfig::new().with_mount("/d", mem.clone())),
        ] {
            for ls in ["ls", "zig/ls"] {
                let o = run(engine, ls, &["/d"], config.clone());
                assert_eq!(o.exit, Ok(0), "{engine:?} {ls} {what}: {}", o.stderr);
                assert_eq!(o.stdout, want, "{engine:?} {ls} {what}");
            }
        }
    }
}

fn assert_all_ok(what: &str, o: &Outcome) {
    let failures: Vec<&str> = o.stdout.lines().filter(|l| !l.starts_with("ok ")).collect();
    assert!(failures.is_empty(), "{what}: {failures:#?}\nstderr: {}", o.stderr);
    assert_eq!(o.exit, Ok(0), "{what}");
    assert!(o.stdout.lines().count() > 60, "{what}: {}", o.stdout);
}

#[test]
fn file_operations_on_host_and_memory_file_systems() {
    for &engine in ENGINES {
        // The same C program against Debian's wasi-libc and against Zig's newer one.
        for fsops in ["fsops", "zig/fsops"] {
            let what = format!("{engine:?} {fsops}");
            let dir_tmp = scratch(&format!("fsops-{engine:?}-{}", fsops.replace('/', "-")));
            let dir = dir_tmp.path().to_path_buf();
            let config = ModuleConfig::new().with_mount("/work", DirFs::open(&dir).unwrap());
            assert_all_ok(&format!("{what} host"), &run(engine, fsops, &["/work"], config));
            let config = ModuleConfig::new().with_mount("/tmp", MemFs::new());
            assert_all_ok(&format!("{what} memory"), &run(engine, fsops, &["/tmp"], config));
            // Several mounts composed: / read-only, /tmp writable in memory.
            let config = ModuleConfig::new()
                .with_read_only_mount("/", MemFs::new())
                .with_mount("/tmp", MemFs::new());
            assert_all_ok(&format!("{what} composed"), &run(engine, fsops, &["/tmp"], config));
        }
    }
}

#[test]
fn args_and_environment_are_exactly_those_configured() {
    for &engine in ENGINES {
        let config = ModuleConfig::new().with_env("HOME", "/home/guest").with_env("EMPTY", "");
        let o = run(engine, "env", &["one", "two words"], config);
        assert_eq!(o.exit, Ok(0));
        assert_eq!(
            o.stdout,
            "arg 0=env\narg 1=one\narg 2=two words\nenv HOME=/home/guest\nenv EMPTY=\n"
        );
        let o = run(engine, "env", &[], ModuleConfig::new());
        assert_eq!(o.stdout, "arg 0=env\n");
    }
}

#[test]
fn clocks_and_random_are_deterministic_by_default() {
    let mut outputs = Vec::new();
    for &engine in ENGINES {
        for _ in 0..2 {
            let o = run(engine, "clock", &[], ModuleConfig::new());
            assert_eq!(o.exit, Ok(0), "{}", o.stderr);
            outputs.push(o.stdout);
        }
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]), "{outputs:#?}");
    let first = &outputs[0];
    assert!(first.starts_with("walltime 1640995200000000000\n"), "{first}");
    assert!(first.contains("walltime resolution 1000000\n"), "{first}");
    assert!(first.contains("poll returned 0\n"), "{first}");
}

#[test]
fn real_clocks_sleep_and_os_random_when_granted() {
    for &engine in ENGINES {
        let config = ModuleConfig::new()
            .with_sys_walltime()
            .with_sys_nanotime()
            .with_sys_sleep()
            .with_os_random();
        let o = run(engine, "clock", &["real"], config);
        assert_eq!(o.stdout, "slept at least 70ms: yes\nwall clock after 2020: yes\n");
    }
}

#[test]
fn stdin_is_polled_then_echoed() {
    for &engine in ENGINES {
        let config = ModuleConfig::new().with_stdin(std::io::Cursor::new(b"echo me\n".to_vec()));
        let o = run(engine, "stdin", &[], config);
        assert_eq!((o.exit, o.stdout.as_str()), (Ok(0), "poll: ready\necho me\n"));
        // The default stdin is empty: ready at once, end of file.
        let o = run(engine, "stdin", &[], ModuleConfig::new());
        assert_eq!(o.stdout, "poll: ready\n");
    }
}

#[test]
fn exit_codes_and_traps() {
    for &engine in ENGINES {
        for code in [0u32, 3, 255] {
            let o = run(engine, "exit", &["exit", &code.to_string()], ModuleConfig::new());
            assert_eq!(o.exit, Ok(code), "{engine:?}");
            assert_eq!(o.stdout, format!("exiting with {code}\n"));
        }
        let o = run(engine, "exit", &["trap"], ModuleConfig::new());
        let err = o.exit.expect_err("a trap is not an exit");
        assert!(err.contains("unreachable") && err.contains("crash_here"), "{engine:?}: {err}");
        assert_eq!(o.stdout, "before trap\n", "output before a trap is kept");
    }
}

fn lines(s: &str) -> String {
    s.lines().map(|l| format!("{l}\n")).collect()
}

/// What the sandbox guest prints in `escape` mode: every way out refused.
fn escape_refused() -> String {
    lines(
        "open /../secret.txt: ENOTCAPABLE
open /sub/../../secret.txt: ENOTCAPABLE
stat /..: ENOTCAPABLE
open out_link: ENOTCAPABLE
open abs_link: ENOTCAPABLE
open dir_out/secret.txt: ENOTCAPABLE
stat dir_out/secret.txt: ENOTCAPABLE
open loop_a: ELOOP
create through dir_out: ENOTCAPABLE
mkdir /../planted: ENOTCAPABLE
rename to outside: ENOTCAPABLE
rename from outside: ENOTCAPABLE
link to outside: ENOTCAPABLE
link from outside: ENOTCAPABLE
symlink absolute target: ENOTCAPABLE
symlink relative escape created: ok
open newrel: ENOTCAPABLE
open dir swap: ok
rename swap away: ok
symlink swap -> ..: ok
openat swapped dir secret.txt: ENOTCAPABLE
create victim: ok
stat victim: ok
unlink victim: ok
symlink victim -> ../secret.txt: ok
open victim: ENOTCAPABLE
read inside.txt: ok",
    )
}

#[test]
fn sandbox_no_way_out_of_a_host_directory() {
    let want = escape_refused();
    for (engine, sandbox) in engines_and(&["sandbox", "zig/sandbox"]) {
        let top_tmp = scratch(&format!("sandbox-{engine:?}-{}", sandbox.replace('/', "-")));
        let top = top_tmp.path().to_path_buf();
        let root = top.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(top.join("secret.txt"), "SECRET").unwrap();
        std::fs::write(root.join("inside.txt"), "inside").unwrap();
        let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, root.join(name));
        link(Path::new("../secret.txt"), "out_link").unwrap();
        link(&top.join("secret.txt"), "abs_link").unwrap();
        link(Path::new(".."), "dir_out").unwrap();
        link(Path::new("loop_b"), "loop_a").unwrap();
        link(Path::new("loop_a"), "loop_b").unwrap();
        let config = ModuleConfig::new().with_fs(DirFs::open(&root).unwrap());
        let o = run(engine, sandbox, &["escape"], config);
        assert_eq!(o.stdout, want, "{engine:?} {sandbox}");
        // Nothing was created, moved or linked outside the mount.
        let mut outside: Vec<String> = std::fs::read_dir(&top)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        outside.sort();
        assert_eq!(outside, ["root", "secret.txt"]);
        assert_eq!(std::fs::read_to_string(top.join("secret.txt")).unwrap(), "SECRET");
    }
}

#[test]
fn sandbox_no_way_out_of_a_memory_file_system() {
    for (engine, sandbox) in engines_and(&["sandbox", "zig/sandbox"]) {
        let mem = MemFs::new();
        mem.add_file("inside.txt", "inside").unwrap();
        mem.mkdir_all("sub").unwrap();
        for (target, name) in [
            ("../secret.txt", "out_link"),
            ("/etc/passwd", "abs_link"),
            ("..", "dir_out"),
            ("loop_b", "loop_a"),
            ("loop_a", "loop_b"),
        ] {
            keel_sys::Fs::symlink(&mem, target, name).unwrap();
        }
        let o = run(engine, sandbox, &["escape"], ModuleConfig::new().with_fs(mem));
        assert_eq!(o.stdout, escape_refused(), "{engine:?} {sandbox}");
    }
}

#[test]
fn sandbox_read_only_mount_refuses_every_write() {
    let want = lines(
        "read inside.txt: ok
open for writing: EROFS
open for append: EROFS
open truncate: EROFS
create: EROFS
truncate: EROFS
mkdir: EROFS
rmdir: EROFS
unlink: EROFS
rename: EROFS
link: EROFS
symlink: EROFS
utimensat: EROFS
write to read-only fd: EBADF
ftruncate: EINVAL
futimens: EROFS
stat: ok",
    );
    let dir_tmp = scratch("readonly");
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("inside.txt"), "inside").unwrap();
    let mem = MemFs::new();
    mem.add_file("inside.txt", "inside").unwrap();
    mem.mkdir_all("sub").unwrap();
    for (engine, sandbox) in engines_and(&["sandbox", "zig/sandbox"]) {
        let host = ModuleConfig::new().with_read_only_mount("/", DirFs::open(&dir).unwrap());
        let o = run(engine, sandbox, &["readonly"], host);
        assert_eq!(o.stdout, want, "{engine:?} {sandbox}");
        let memory = ModuleConfig::new().with_read_only_mount("/", mem.clone());
        let o = run(engine, sandbox, &["readonly"], memory);
        assert_eq!(o.stdout, want, "{engine:?} {sandbox}");
    }
    assert_eq!(std::fs::read_to_string(dir.join("inside.txt")).unwrap(), "inside");
}

#[test]
fn sandbox_without_a_mount_no_host_file_is_seen() {
    for (engine, sandbox) in engines_and(&["sandbox", "zig/sandbox"]) {
        let o = run(engine, sandbox, &["nomount"], ModuleConfig::new());
        // wasi-libc finds no preopen for any path: older ones say ENOTCAPABLE, newer ENOENT.
        let errno = if sandbox.starts_with("zig/") { "ENOENT" } else { "ENOTCAPABLE" };
        let want = format!("open /etc/passwd: {errno}\nstat /: {errno}\nopen relative: {errno}\n");
        assert_eq!(o.stdout, want, "{engine:?} {sandbox}");
    }
}

/// A Rust guest (the standard library on wasm32-wasip1): its std's start-up, args, env, files
/// written, read, renamed and listed in a host mount, a path out of the mount refused (wasi's
/// `ENOTCAPABLE`, which Rust calls `Uncategorized`), and `std::process::exit`.
#[test]
fn rust_guest_runs_on_both_engines() {
    for &engine in ENGINES {
        let dir_tmp = scratch(&format!("rust-{engine:?}"));
        let dir = dir_tmp.path().to_path_buf();
        let config = ModuleConfig::new()
            .with_mount("/", DirFs::open(&dir).unwrap())
            .with_env("GREETING", "hello");
        let o = run(engine, "rust_files", &["/"], config);
        assert_eq!(o.exit, Ok(7), "{engine:?}: {}", o.stderr);
        assert_eq!(
            o.stdout, "hello from Rust\nmoved.txt\n16 bytes\nrefused: Uncategorized\n",
            "{engine:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/moved.txt")).unwrap(),
            "hello from Rust\n"
        );
    }
}
