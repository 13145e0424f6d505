//! Go programs of our own (testdata/scenarios.go, one scenario per first argument), built by
//! Go 1.19 (module `go`) and Go 1.23 (module `gojs`), on both engines; each scenario's output
//! and exit code as expected, and — where node and that Go release's wasm_exec.js are installed
//! — equal to node's running the same .wasm.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use keel::{CompiledModule, EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_sys::{DirFs, Fs, MemFs};

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];
const RELEASES: &[&str] = &["1.19", "1.23"];

fn wasm(release: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("testdata/go{release}/scenarios.wasm"))
}

/// A writer whose bytes the test reads afterwards.
use keel_sys::MemoryWriter as Capture;

struct Outcome {
    exit: Result<u32, String>,
    stdout: String,
    stderr: String,
}

fn run(
    runtime: &Runtime,
    compiled: &CompiledModule,
    args: &[&str],
    config: ModuleConfig,
) -> Outcome {
    let (out, err) = (Capture::default(), Capture::default());
    let argv = std::iter::once("scenarios.wasm").chain(args.iter().copied());
    let config =
        config.with_name("").with_args(argv).with_stdout(out.clone()).with_stderr(err.clone());
    let exit = match keel_gojs::run(runtime, compiled, config) {
        Ok(()) => Err("returned without exiting".into()),
        Err(e) => e.exit_code().ok_or_else(|| e.to_string()),
    };
    Outcome { exit, stdout: out.text(), stderr: err.text() }
}

/// One scenario: its arguments (`{dir}` stands for a fresh host directory), stdin, expected
/// stdout, exit code, the start of stderr, and whether node can run it the same way (it has no
/// read-only mounts and sees the host's whole file system).
struct Case {
    args: &'static [&'static str],
    stdin: &'static str,
    stdout: &'static str,
    exit: u32,
    stderr_starts: &'static str,
    like_node: bool,
}

const fn case(args: &'static [&'static str], stdout: &'static str) -> Case {
    Case { args, stdin: "", stdout, exit: 0, stderr_starts: "", like_node: true }
}

const FILES: &str = "cwd is the directory: true
a.txt: \"hello\\nappended\\n\"
from 6: \"appended\"
deep has 1001 entries, first er last f0999
a.txt after rename: not exist = true
b.txt: 15 bytes, regular: true dir: false
mtime: 2020-05-17T12:00:00Z
truncated: \"hel\"
link -> er/b.txt
through the link: \"hel\"
lstat is a symlink: true
missing: not exist = true
mkdir existing: exist = true
remove non-empty dir fails: true
after RemoveAll: not exist = true
";

const MODES: &str = "created 0666 under umask 027: -rw-r-----
written again with 0600: -rw-r-----
chmod 0456: -r--r-xrw-
fchmod 0123, fstat: ---x-w--wx
mkdir 0777 under umask 027: drwxr-x---
mkdir sticky 0755: dtrwxr-x---
fchmod of a directory 0700: drwx------
lstat of a link: Lrwxrwxrwx
chmod through the link, its target: -rw-------
chmod of a missing file: not exist = true
";

const CROSSMOUNT: &str = "through an absolute link into the other directory: \"in b\"
readlink gives the absolute target: true
written through a link to a directory, read where it is: \"written from a\"
stat is a directory: true lstat is a link: true
entry through the link: new.txt
entry through the link: t.txt
through a relative link up and into the other directory: \"in b\"
readlink gives it as made: true
EvalSymlinks leads to the other directory: true
removing the link keeps the target: true
a loop between the two: true
";

const OWNERS: &str = "a new file is the user's: true true
chown to the user and its groups: true
chown of a missing file: true
";

const ABSLINKS: &str = "readlink gives the absolute target: true
through the link: \"target\"
moved, readlink still gives it: true
through the moved link: \"target\"
a relative link at the same place: t.txt
EvalSymlinks of a relative link to an absolute path: true
";

fn cases() -> Vec<Case> {
    vec![
        case(&["hello"], "hello, world\n"),
        case(
            &["args", "one", "two words"],
            "args: args|one|two words\nenv: GUEST_A=1\nenv: GUEST_B=b c\nlookup: \"b c\"\n",
        ),
        Case { exit: 7, ..case(&["exit", "7"], "exiting with 7\n") },
        Case { exit: 0, ..case(&["exit", "0"], "exiting with 0\n") },
        Case {
            exit: 2,
            stderr_starts: "panic: boom\n\ngoroutine 1 [running]:\nmain.main()",
            ..case(&["panic"], "about to panic\n")
        },
        Case {
            stdin: "first line\nsecond\n",
            ..case(&["stdin"], "18 bytes, 2 lines, first \"first line\"\n")
        },
        case(&["files", "{dir}"], FILES),
        // File modes on a host directory (DirFs) and in memory (MemFs, the root here).
        case(&["modes", "{dir}"], MODES),
        Case { like_node: false, ..case(&["modes", "/in/memory"], MODES) },
        // Links to absolute paths, which keel-sys stores relative.
        case(&["abslinks", "{dir}"], ABSLINKS),
        Case { like_node: false, ..case(&["abslinks", "/in/memory"], ABSLINKS) },
        // Links from one mount into another, as node follows them between two host directories.
        case(&["crossmount", "{dir}", "{dir2}"], CROSSMOUNT),
        Case { like_node: false, ..case(&["crossmount", "{dir}", "/tmp/in-memory"], CROSSMOUNT) },
        // Owners: the user's own on a host directory; in memory, the guest is root and gives
        // files away.
        case(&["owners", "{dir}"], OWNERS),
        Case {
            like_node: false,
            ..case(
                &["owners", "/in/memory", "giveaway"],
                "a new file is the user's: true true\nchown to the user and its groups: true\nchown of a missing file: true\ngiven away: 1234 4321\nthe link given away: 77 88\nits target still: 1234 4321\n",
            )
        },
        // About 10 000 Wasm frames deep: the compiler's native stack budget.
        case(
            &["deepjson"],
            "nested arrays: 10000\none more: invalid character '[' exceeded max depth\n",
        ),
        Case {
            like_node: false,
            ..case(
                &["readonly", "{ro}"],
                "read: \"read only\"\nwrite fails with a permission error: true true\nremove fails: true\n",
            )
        },
        Case {
            like_node: false,
            ..case(
                &["outside"],
                "read /etc/passwd: not exist=true\nread ../../../../etc/passwd: not exist=true\nread /proc/self/environ: not exist=true\n",
            )
        },
        case(
            &["sleep"],
            "slept at least 20ms: true\ntimer fired\ntick 1\ntick 2\ntick 3\ntimeout\nstopped a timer: true\norder: fast slow\n",
        ),
        case(
            &["goroutines"],
            "sum of squares: 385\nping-pong: 1000\ncounter: 5000\nbufio: \"line one\\n\"\n",
        ),
        Case {
            exit: 2,
            stderr_starts: "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:",
            ..case(&["deadlock"], "waiting forever\n")
        },
        case(&["rand"], "random bytes: 32 all zero: false\n"),
        case(
            &["json"],
            "[{\"X\":1,\"Y\":2},{\"X\":3,\"Y\":4,\"tags\":[\"a\",\"b\"]}]\n[{X:1 Y:2 Tags:[]} {X:3 Y:4 Tags:[a b]}]\n",
        ),
        case(
            &["funcof"],
            "add(2, 40) = 42\nobject: keel 7 true\narray length: 3 second: two\ncopied 4 [1 2 3 4]\nencoded length: 6\ncalled back with go\ntimezone offset in range: true\n",
        ),
        Case {
            exit: 2,
            stderr_starts: "panic: syscall/js: call of Value.Call on undefined\n",
            ..case(&["jsmissing"], "reading a missing property\ndocument is undefined: true\n")
        },
    ]
}

/// The host directories a case needs, mounted at their own host path so that node (which sees
/// host paths) and keel see the same paths.
struct Dirs {
    rw: tempfile::TempDir,
    rw2: tempfile::TempDir,
    ro: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        let ro = tempfile::Builder::new().prefix("keel-gojs-ro-").tempdir().unwrap();
        std::fs::write(ro.path().join("ro.txt"), "read only").unwrap();
        let rw = || tempfile::Builder::new().prefix("keel-gojs-").tempdir().unwrap();
        Dirs { rw: rw(), rw2: rw(), ro }
    }

    fn args(&self, case: &Case) -> Vec<String> {
        case.args
            .iter()
            .map(|a| match *a {
                "{dir}" => self.rw.path().display().to_string(),
                "{dir2}" => self.rw2.path().display().to_string(),
                "{ro}" => self.ro.path().display().to_string(),
                a => a.to_string(),
            })
            .collect()
    }

    fn config(&self, case: &Case) -> ModuleConfig {
        let rw = self.rw.path().display().to_string();
        let rw2 = self.rw2.path().display().to_string();
        let ro = self.ro.path().display().to_string();
        // The root in memory has a /tmp of its own, beside the host directories mounted in it.
        let root = MemFs::new();
        root.mkdir("tmp").unwrap();
        ModuleConfig::new()
            .with_env("GUEST_B", "b c")
            .with_env("GUEST_A", "1")
            .with_env("OTHER", "x")
            .with_stdin(std::io::Cursor::new(case.stdin.as_bytes().to_vec()))
            .with_mount("/", root)
            .with_mount(&rw, DirFs::open(&rw).unwrap())
            .with_mount(&rw2, DirFs::open(&rw2).unwrap())
            .with_read_only_mount(&ro, DirFs::open(&ro).unwrap())
    }
}

fn check(what: &str, case: &Case, o: &Outcome) {
    assert_eq!(o.exit, Ok(case.exit), "{what}: stdout {}\nstderr {}", o.stdout, o.stderr);
    assert_eq!(o.stdout, case.stdout, "{what}");
    if case.stderr_starts.is_empty() {
        assert_eq!(o.stderr, "", "{what}");
    } else {
        assert!(o.stderr.starts_with(case.stderr_starts), "{what}: {}", o.stderr);
    }
}

fn each_runtime(mut f: impl FnMut(&str, &str, &Runtime, &CompiledModule)) {
    for &release in RELEASES {
        for &engine in ENGINES {
            let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
            keel_gojs::instantiate(&runtime).unwrap();
            let compiled = runtime.compile(&std::fs::read(wasm(release)).unwrap()).unwrap();
            f(release, &format!("go{release} {engine:?}"), &runtime, &compiled);
        }
    }
}

#[test]
fn every_scenario_on_both_releases_and_engines() {
    each_runtime(|_, what, runtime, compiled| {
        for case in cases() {
            let dirs = Dirs::new();
            let args = dirs.args(&case);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run(runtime, compiled, &args, dirs.config(&case));
            check(&format!("{what} {:?}", case.args), &case, &o);
        }
    });
}

#[test]
fn both_abis_are_detected() {
    let runtime = Runtime::with_config(RuntimeConfig::default(), EngineKind::Interpreter);
    for (release, module) in [("1.19", "go"), ("1.23", "gojs")] {
        let compiled = runtime.compile(&std::fs::read(wasm(release)).unwrap()).unwrap();
        assert!(keel_gojs::is_go(&compiled));
        assert!(compiled.imports().all(|(m, _, _)| m == module || m == "debug"), "{release}");
    }
}

/// node with the wasm_exec.js of the Go release that built the guest, if both are here.
fn node_with(release: &str) -> Option<(PathBuf, PathBuf)> {
    let node =
        Command::new("node").arg("--version").output().ok().filter(|o| o.status.success())?;
    drop(node);
    let wasm_exec = PathBuf::from(format!("/usr/lib/go-{release}/misc/wasm/wasm_exec.js"));
    wasm_exec.exists().then(|| (PathBuf::from("node"), wasm_exec))
}

#[test]
fn output_equals_node_running_the_same_wasm() {
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/node_run.js");
    let mut compared = 0;
    each_runtime(|release, what, runtime, compiled| {
        let Some((node, wasm_exec)) = node_with(release) else {
            eprintln!(
                "{what}: node or Go {release}'s wasm_exec.js is not installed: comparing with the expected output only"
            );
            return;
        };
        for case in cases().into_iter().filter(|c| c.like_node) {
            let dirs = Dirs::new();
            let args = dirs.args(&case);
            let mut child = Command::new(&node)
                .arg(&runner)
                .arg(&wasm_exec)
                .arg(wasm(release))
                .args(&args)
                .env_clear()
                .env("GUEST_B", "b c")
                .env("GUEST_A", "1")
                .env("OTHER", "x")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(case.stdin.as_bytes()).unwrap();
            let reference = child.wait_with_output().unwrap();
            let reference_out = String::from_utf8_lossy(&reference.stdout).into_owned();
            // The directory again, empty, for keel's run.
            let dirs = Dirs::new();
            let args = dirs.args(&case);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run(runtime, compiled, &args, dirs.config(&case));
            let what = format!("{what} {:?}", case.args);
            assert_eq!(o.exit, Ok(reference.status.code().unwrap() as u32), "{what}");
            assert_eq!(o.stdout, reference_out, "{what}");
            // Traces name goroutines and addresses alike; the first line is the message.
            let first = |s: &str| s.lines().next().unwrap_or("").to_string();
            assert_eq!(
                first(&o.stderr),
                first(&String::from_utf8_lossy(&reference.stderr)),
                "{what}"
            );
            compared += 1;
        }
    });
    eprintln!("{compared} runs compared with node");
}
