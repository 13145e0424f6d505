//! `cargo xtask testdata [--check] [FILTER]`: rebuilds every committed guest `.wasm` from its
//! source.
//!
//! Each guest is one entry of [`guests`]: its output, its sources, the tool that builds it and
//! the arguments. Builds are deterministic (no debug info, no paths or dates in the output), so
//! running this twice gives identical bytes; `--check` builds into a temporary directory and
//! compares with the committed files, changing nothing, so it tells whether a committed `.wasm`
//! is stale. FILTER keeps the guests whose output path contains it.
//!
//! Commands run from the repository root with paths relative to it; `{out}` in an argument
//! stands for the output path.

use crate::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// A program that builds guests.
struct Tool {
    /// The executable, looked up on `PATH`.
    program: &'static str,
    /// An environment variable that, when set, names the executable instead (a path).
    program_env: Option<&'static str>,
    /// Every executable the build needs (the program itself first), with the arguments that
    /// make it print its version: running them checks that the tools are there.
    checks: &'static [(&'static str, &'static [&'static str])],
    /// How to install the tools.
    install: &'static str,
}

/// clang targeting wasm32, linking with lld's `wasm-ld`: freestanding C guests.
const CLANG: Tool = Tool {
    program: "clang",
    program_env: None,
    checks: &[("clang", &["--version"]), ("wasm-ld", &["--version"])],
    install: "apt-get update && apt-get install -y clang lld   (Debian/Ubuntu; clang >= 14)",
};

/// Flags of freestanding C guests: no libc, no entry point, and no calls to memset/memcpy that
/// the optimiser would otherwise invent (there is no libc to provide them). Exports are named
/// in the sources with `__attribute__((export_name(...)))`.
const C_FREESTANDING: &[&str] =
    &["--target=wasm32", "-O2", "-ffreestanding", "-nostdlib", "-Wl,--no-entry"];

/// clang with wasi-libc: C guests that import `wasi_snapshot_preview1`.
const CLANG_WASI: Tool = Tool {
    program: "clang",
    program_env: None,
    checks: &[("clang", &["--version"]), ("wasm-ld", &["--version"])],
    install: "apt-get update && apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32",
};

/// Flags of WASI C guests: wasi-libc from Debian's `wasi-libc` package (sysroot `/usr`), no
/// debug info (Debian's libc carries DWARF; the name section stays, for stack traces).
const C_WASI: &[&str] = &["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wl,--strip-debug"];

/// Go for `GOOS=js GOARCH=wasm`. The bytes depend on the Go version: the committed guests are
/// built by Debian bookworm's Go 1.19 (`go1.19.8`); another version rebuilds them differently.
const GO: Tool = Tool {
    program: "go",
    program_env: None,
    checks: &[("go", &["version"])],
    install: "apt-get update && apt-get install -y golang-go   (Debian bookworm: Go 1.19)",
};

/// Go 1.23 from bookworm-backports (module `gojs`, as every Go since 1.21 imports).
const GO_1_23: Tool = Tool {
    program: "/usr/lib/go-1.23/bin/go",
    program_env: None,
    checks: &[("/usr/lib/go-1.23/bin/go", &["version"])],
    install: "add bookworm-backports to the apt sources, then apt-get update && apt-get install -y golang-1.23-go",
};

/// Zig's C compiler (from PyPI's `ziglang`) with the newer wasi-libc Zig bundles: the same C
/// guests again, against the libc most current toolchains ship.
const ZIG_CC: Tool = Tool {
    program: "python3",
    program_env: None,
    checks: &[("python3", &["-m", "ziglang", "version"])],
    install: "pip install ziglang==0.17.1",
};

/// rustc with the standard library for `wasm32-wasip1`: Rust WASI guests of one source file.
const RUSTC_WASI: Tool = Tool {
    program: "rustc",
    program_env: None,
    checks: &[("rustc", &["--version"])],
    install: "rustup target add wasm32-wasip1",
};

/// AssemblyScript's compiler from npm (`npm install assemblyscript@0.28
/// @assemblyscript/wasi-shim` in a directory outside the repository), found as `$ASC` or as
/// `asc` on `PATH` (`node_modules/.bin/asc`). The committed guests are built by 0.28.20.
const ASC: Tool = Tool {
    program: "asc",
    program_env: Some("ASC"),
    checks: &[("asc", &["--version"]), ("node", &["--version"])],
    install: "mkdir -p /work/asc && cd /work/asc && npm install assemblyscript@0.28 \
              @assemblyscript/wasi-shim, then export ASC=/work/asc/node_modules/.bin/asc \
              (or put that .bin on PATH)",
};

/// Emscripten's C and C++ compilers (Debian bookworm's `emscripten`, 3.1.6; its emcc needs
/// `node-acorn` on `NODE_PATH`). The committed guests are built by 3.1.6.
const EMCC: Tool = Tool {
    program: "emcc",
    program_env: None,
    checks: &[("emcc", &["--version"]), ("node", &["--version"])],
    install: "apt-get update && apt-get install -y emscripten node-acorn   (scripts/guest-toolchains.sh emscripten)",
};
const EMXX: Tool = Tool { program: "em++", checks: &[("em++", &["--version"])], ..EMCC };

/// In an argument of an [`ASC`] guest: the wasi-shim's `asconfig.json`, beside the compiler in
/// its `node_modules`, as a path relative to the repository root (asc 0.28 does not find the
/// shim's library from an absolute `--config` path).
const WASI_SHIM_CONFIG: &str = "{asc-wasi-shim}";

impl Tool {
    /// The executable to run for `name` (the program or one of its checks).
    fn resolve(&self, name: &str) -> String {
        match self.program_env.and_then(|v| std::env::var(v).ok()) {
            Some(path) if name == self.program && !path.is_empty() => path,
            _ => name.to_string(),
        }
    }
}

/// The wasi-shim's config next to the `asc` that [`ASC`] runs, relative to `root`.
fn wasi_shim_config(root: &Path) -> Result<String, String> {
    let asc = ASC.resolve(ASC.program);
    let found = if asc.contains('/') {
        Some(PathBuf::from(&asc))
    } else {
        std::env::var_os("PATH")
            .and_then(|p| std::env::split_paths(&p).map(|d| d.join(&asc)).find(|p| p.is_file()))
    };
    let real = found
        .and_then(|p| p.canonicalize().ok())
        .ok_or_else(|| format!("cannot find {asc} to locate @assemblyscript/wasi-shim"))?;
    let modules = real
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "node_modules"))
        .ok_or_else(|| format!("{} is not inside a node_modules directory", real.display()))?;
    let config = modules.join("@assemblyscript/wasi-shim/asconfig.json");
    if !config.is_file() {
        return Err(format!(
            "{} is missing: npm install @assemblyscript/wasi-shim beside assemblyscript",
            config.display()
        ));
    }
    let root = root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
    Ok(relative(&root, &config))
}

/// `to` relative to the directory `from` (both absolute): `../x/y`.
fn relative(from: &Path, to: &Path) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out.to_string_lossy().into_owned()
}

/// One committed guest binary and how to rebuild it.
struct Guest {
    /// The `.wasm` written, relative to the repository root.
    output: &'static str,
    /// The files it is built from, relative to the repository root.
    sources: Vec<&'static str>,
    /// The tool that builds it.
    tool: &'static Tool,
    /// The tool's arguments; `{out}` stands for the output path.
    args: Vec<&'static str>,
    /// Extra environment variables for the build (`GOOS=js GOARCH=wasm` for Go guests, say).
    env: Vec<(&'static str, &'static str)>,
}

/// A freestanding C guest built from one source file.
fn c_freestanding(output: &'static str, source: &'static str) -> Guest {
    let mut args = C_FREESTANDING.to_vec();
    args.extend(["-o", "{out}", source]);
    Guest { output, sources: vec![source], tool: &CLANG, args, env: Vec::new() }
}

/// A freestanding C guest using 128-bit SIMD (`wasm_simd128.h`), built from one source file.
fn c_simd(output: &'static str, source: &'static str) -> Guest {
    let mut guest = c_freestanding(output, source);
    guest.args.insert(C_FREESTANDING.len(), "-msimd128");
    guest
}

/// A WASI C guest built from one source file.
fn c_wasi(output: &'static str, source: &'static str) -> Guest {
    let mut args = C_WASI.to_vec();
    args.extend(["-o", "{out}", source]);
    Guest { output, sources: vec![source], tool: &CLANG_WASI, args, env: Vec::new() }
}

/// A Go `GOOS=js GOARCH=wasm` program of one file, built without paths (`-trimpath`) or symbol
/// tables (`-s -w`: smaller, and the bench only compiles it).
fn go_js(output: &'static str, source: &'static str) -> Guest {
    Guest {
        output,
        sources: vec![source],
        tool: &GO,
        args: vec!["build", "-trimpath", "-ldflags=-s -w", "-o", "{out}", source],
        env: vec![("GOOS", "js"), ("GOARCH", "wasm"), ("CGO_ENABLED", "0")],
    }
}

/// A Rust WASI guest of one file, optimised for size, without debug info or names (the linker
/// names the module after its output file, which would make `--check` differ).
fn rust_wasi(output: &'static str, source: &'static str) -> Guest {
    let args = vec![
        "--edition=2021",
        "--target=wasm32-wasip1",
        "-Copt-level=s",
        "-Ccodegen-units=1",
        "-Cstrip=symbols",
        "-Cpanic=abort",
        "-Cmetadata=keel-testdata",
        "--crate-name=files",
        "-o",
        "{out}",
        source,
    ];
    Guest { output, sources: vec![source], tool: &RUSTC_WASI, args, env: Vec::new() }
}

/// Flags of AssemblyScript guests: optimised, with the smallest runtime (no garbage collector:
/// the guests allocate little), and no debug info or source map.
const ASC_FLAGS: &[&str] = &["-O3", "--runtime", "stub", "--noColors"];

/// An AssemblyScript test guest of keel-assemblyscript:
/// `imports/assemblyscript/testdata/NAME.ts` with asc's defaults (top-level code in the start
/// section) and `extra` flags.
fn assemblyscript(name: &str, extra: &[&'static str]) -> Guest {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let dir = "imports/assemblyscript/testdata";
    let source = leak(format!("{dir}/{name}.ts"));
    let mut args = vec![source];
    args.extend(ASC_FLAGS);
    args.extend(extra);
    args.extend(["--bindings", "raw"]); // AssemblyScript node bindings: NAME.js, the same .wasm
    args.extend(["-o", "{out}"]);
    Guest {
        output: leak(format!("{dir}/{name}.wasm")),
        sources: vec![source],
        tool: &ASC,
        args,
        env: Vec::new(),
    }
}

/// An Emscripten test guest of keel-emscripten: `imports/emscripten/testdata/NAME.c` (or `.cpp`,
/// built by em++) with `-O2` and `extra` flags, linked as `emcc -o NAME.js` does: the `.wasm`
/// and, beside it, the JS glue that runs it under node (committed too, for the comparison).
fn emscripten(name: &str, extra: &[&'static str]) -> Guest {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let dir = "imports/emscripten/testdata";
    let cpp = std::path::Path::new(&format!("{dir}/{name}.cpp")).exists()
        || !std::path::Path::new(&format!("{dir}/{name}.c")).exists();
    let source = leak(format!("{dir}/{name}.{}", if cpp { "cpp" } else { "c" }));
    let mut args = vec![source, "-O2"];
    args.extend(extra);
    args.extend(["-o", OUT_JS]);
    Guest {
        output: leak(format!("{dir}/{name}.wasm")),
        sources: vec![source],
        tool: if cpp { &EMXX } else { &EMCC },
        args,
        env: vec![("NODE_PATH", "/usr/share/nodejs")],
    }
}

/// In a guest's arguments: the output path with `.js` for `.wasm` (emcc writes the `.wasm`
/// beside the JS glue it is asked for).
const OUT_JS: &str = "{out.js}";

// AssemblyScript node bindings: `NAME.ts` again with its top-level code in an exported `_start`,
// as `NAME_exported.wasm`. asc's JS glue calls `_start` after instantiation; code in the start
// section cannot trace or abort under node (the glue has no memory yet), so these are the guests
// that compare trace's and abort's output with node's (imports/assemblyscript/tests/node.rs).
fn assemblyscript_exported(name: &str) -> Guest {
    let mut guest = assemblyscript(name, &["--exportStart", "_start"]);
    guest.output = Box::leak(guest.output.replace(".wasm", "_exported.wasm").into_boxed_str());
    guest
}

/// Every committed guest. A later guest (a WASI C program, Go, Zig, ...) is one more entry, with
/// a [`Tool`] of its own where it needs one.
fn guests() -> Vec<Guest> {
    vec![
        c_freestanding("bench/guests/fib.wasm", "bench/guests/fib.c"),
        c_freestanding("bench/guests/sieve.wasm", "bench/guests/sieve.c"),
        c_freestanding("bench/guests/matmul.wasm", "bench/guests/matmul.c"),
        c_freestanding("bench/guests/interp.wasm", "bench/guests/interp.c"),
        c_freestanding("bench/guests/sha256.wasm", "bench/guests/sha256.c"),
        c_freestanding("bench/guests/calls.wasm", "bench/guests/calls.c"),
        c_simd("bench/guests/simd.wasm", "bench/guests/simd.c"),
        go_js("bench/guests/gojson.wasm", "bench/guests/gojson.go"),
        go_js("imports/gojs/testdata/go1.19/scenarios.wasm", "imports/gojs/testdata/scenarios.go"),
        Guest {
            tool: &GO_1_23,
            ..go_js(
                "imports/gojs/testdata/go1.23/scenarios.wasm",
                "imports/gojs/testdata/scenarios.go",
            )
        },
        c_wasi("bench/guests/files.wasm", "bench/guests/files.c"),
        c_wasi("bench/guests/hello.wasm", "bench/guests/hello.c"),
        wasi("cat"),
        wasi("ls"),
        wasi("fsops"),
        wasi("sandbox"),
        wasi("env"),
        wasi("clock"),
        wasi("stdin"),
        wasi("exit"),
        wasi_zig("fsops"),
        wasi_zig("sandbox"),
        wasi_zig("ls"),
        rust_wasi(
            "imports/wasi_snapshot_preview1/testdata/rust_files.wasm",
            "imports/wasi_snapshot_preview1/testdata/rust/files.rs",
        ),
        assemblyscript("abort", &[]),
        assemblyscript("trace", &[]),
        assemblyscript("seed", &[]),
        assemblyscript("start", &[]),
        assemblyscript("export_start", &["--exportStart", "_start"]),
        assemblyscript("wasi_shim", &["--config", WASI_SHIM_CONFIG]),
        assemblyscript("bad", &[]),
        // Emscripten (exceptions, setjmp, memory)
        emscripten("exceptions", &["-fexceptions"]),
        emscripten("setjmp", &[]),
        emscripten("memory", &["-sALLOW_MEMORY_GROWTH=1"]),
        emscripten("stl", &["-fexceptions", "-std=c++17"]),
        emscripten_standalone("exceptions", &["-fexceptions"]),
        // Emscripten (syscalls, time): run under node with NODERAWFS (node's own file system)
        // for comparison. files is a stock build (fd_seek's i64 in two i32 halves), time_cpp
        // one with -sWASM_BIGINT (fd_seek's i64 as is): keel-emscripten serves both.
        emscripten("files", &["-sNODERAWFS=1"]),
        emscripten("time", &["-sNODERAWFS=1"]),
        emscripten("time_cpp", &["-sNODERAWFS=1", "-sWASM_BIGINT"]),
        assemblyscript_exported("abort"), // AssemblyScript node bindings
        assemblyscript_exported("trace"), // AssemblyScript node bindings
        assemblyscript_exported("seed"),  // AssemblyScript node bindings
    ]
}

/// NAME built with `-sSTANDALONE_WASM` as `NAME_standalone.wasm`: a `_start` program that
/// writes and exits through WASI, with no JS glue.
fn emscripten_standalone(name: &str, extra: &[&'static str]) -> Guest {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut g = emscripten(name, extra);
    g.output = leak(g.output.replace(".wasm", "_standalone.wasm"));
    let n = g.args.len();
    g.args[n - 1] = "{out}";
    g.args.insert(n - 2, "-sSTANDALONE_WASM");
    g
}

/// A WASI test guest of keel-wasi: `imports/wasi_snapshot_preview1/testdata/NAME.c`.
fn wasi(name: &str) -> Guest {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let dir = "imports/wasi_snapshot_preview1/testdata";
    c_wasi(leak(format!("{dir}/{name}.wasm")), leak(format!("{dir}/{name}.c")))
}

/// A WASI test guest built by Zig: `imports/wasi_snapshot_preview1/testdata/zig/NAME.wasm`
/// from the same `NAME.c`.
fn wasi_zig(name: &str) -> Guest {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let dir = "imports/wasi_snapshot_preview1/testdata";
    let source = leak(format!("{dir}/{name}.c"));
    Guest {
        output: leak(format!("{dir}/zig/{name}.wasm")),
        sources: vec![source],
        tool: &ZIG_CC,
        args: vec![
            "-m",
            "ziglang",
            "cc",
            "--target=wasm32-wasi",
            "-O2",
            "-s",
            "-o",
            "{out}",
            source,
        ],
        env: Vec::new(),
    }
}

/// The task.
pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut check = false;
    let mut filter = None;
    for arg in args {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: cargo xtask testdata [--check] [FILTER]");
                for g in guests() {
                    println!("  {}", g.output);
                }
                return Ok(ExitCode::SUCCESS);
            }
            a if a.starts_with('-') => return Err(format!("unknown option {a}")),
            a if filter.is_none() => filter = Some(a.to_string()),
            a => return Err(format!("unexpected argument {a}")),
        }
    }
    let root = repo_root();
    let selected: Vec<Guest> = guests()
        .into_iter()
        .filter(|g| filter.as_deref().is_none_or(|f| g.output.contains(f)))
        .collect();
    if selected.is_empty() {
        return Err(format!("no guest matches {:?}", filter.unwrap_or_default()));
    }

    // Check every tool first, so that a missing one is reported before anything is built.
    let mut missing = Vec::new();
    for g in &selected {
        if missing.iter().any(|t: &&Tool| t.program == g.tool.program) {
            continue;
        }
        if let Err(e) = check_tool(g.tool) {
            eprintln!("testdata: {e}");
            eprintln!("testdata:   needed for {}; install with: {}", g.output, g.tool.install);
            missing.push(g.tool);
        }
    }
    if !missing.is_empty() {
        return Ok(ExitCode::FAILURE);
    }

    let scratch = std::env::temp_dir().join(format!("keel-testdata-{}", std::process::id()));
    if check {
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    }
    let mut stale = 0;
    let mut result = Ok(());
    for (i, g) in selected.iter().enumerate() {
        let out = if check { scratch.join(format!("{i}.wasm")) } else { root.join(g.output) };
        if let Err(e) = build(&root, g, &out) {
            result = Err(e);
            break;
        }
        let mut outputs = vec![(out.clone(), g.output.to_string())];
        // AssemblyScript node bindings: asc writes NAME.js (committed, checked like the .wasm)
        // and NAME.d.ts (not kept) beside the .wasm.
        if g.args.contains(&"--bindings") {
            let _ = std::fs::remove_file(out.with_extension("d.ts"));
            outputs.push((out.with_extension("js"), g.output.replace(".wasm", ".js")));
        }
        for (out, output) in outputs {
            let built = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            if check {
                let committed = std::fs::read(root.join(&output)).unwrap_or_default();
                if committed == built {
                    println!("{output:<40} up to date ({} bytes)", built.len());
                } else {
                    println!("{output:<40} STALE: rebuilding gives different bytes");
                    stale += 1;
                }
            } else {
                println!("{output:<40} {} bytes", built.len());
            }
        }
    }
    if check {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result?;
    if stale > 0 {
        eprintln!("testdata: {stale} stale guest(s): run `cargo xtask testdata` and commit them");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the version commands of `tool`.
fn check_tool(tool: &Tool) -> Result<(), String> {
    for (program, args) in tool.checks {
        let program = tool.resolve(program);
        let status = Command::new(&program)
            .args(*args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("`{program}` not found ({e})"))?;
        if !status.success() {
            return Err(format!("`{program} {}` failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

/// Builds `g` into `out`.
fn build(root: &Path, g: &Guest, out: &Path) -> Result<(), String> {
    for source in &g.sources {
        if !root.join(source).is_file() {
            return Err(format!("{}: source {source} is missing", g.output));
        }
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let out = out.to_str().ok_or_else(|| format!("{}: not UTF-8", out.display()))?;
    // The committed output is named relative to the root, so that no absolute path can reach
    // the binary; a --check build goes to the scratch directory.
    let out_arg = if Path::new(out) == root.join(g.output) { g.output } else { out };
    let shim =
        if g.args.contains(&WASI_SHIM_CONFIG) { wasi_shim_config(root)? } else { String::new() };
    let out_js = out_arg.strip_suffix(".wasm").map(|s| format!("{s}.js")).unwrap_or_default();
    let args: Vec<&str> = g
        .args
        .iter()
        .map(|a| match *a {
            "{out}" => out_arg,
            OUT_JS => &out_js,
            WASI_SHIM_CONFIG => &shim,
            a => a,
        })
        .collect();
    let program = g.tool.resolve(g.tool.program);
    let status = Command::new(&program)
        .args(&args)
        .envs(g.env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("{}: running {program}: {e}", g.output))?;
    if !status.success() {
        return Err(format!("{}: `{program} {}` failed ({status})", g.output, args.join(" ")));
    }
    Ok(())
}
