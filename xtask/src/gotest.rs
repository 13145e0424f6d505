//! `cargo xtask gotest [--go PATH]... [--keel PATH] [PKG...]`: Go's own standard-library tests
//! for `GOOS=js GOARCH=wasm`, run by `go test -exec` once under keel and once under node with
//! that Go release's wasm_exec.js, in the same run; prints a table per Go release and package of
//! both results, and every test that passes under node but not under keel. It takes long (each
//! package is a Go test binary of several MB, run twice): it is not part of CI.
//!
//! keel runs each test binary as `keel run --mount=/:/ --env-inherit` (the test reads its
//! package's testdata from its working directory, which keel-gojs takes from `PWD`, as node
//! takes its own). node runs it through imports/gojs/testdata/node_run.js, since Go 1.19's own
//! go_js_wasm_exec no longer starts on node 20 (it assigns the read-only `globalThis.crypto`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::repo_root;

const USAGE: &str = "usage: cargo xtask gotest [--go PATH]... [--keel PATH] [PKG...]";

/// The packages the issue names.
const PACKAGES: &[&str] = &[
    "bytes",
    "strings",
    "strconv",
    "sort",
    "unicode/utf8",
    "math",
    "math/big",
    "encoding/json",
    "encoding/base64",
    "encoding/binary",
    "regexp",
    "text/template",
    "compress/gzip",
    "archive/tar",
    "archive/zip",
    "crypto/sha256",
    "hash/crc32",
    "container/heap",
    "path",
    "path/filepath",
    "bufio",
    "io",
    "io/fs",
    "os",
    "time",
    "fmt",
    "errors",
    "context",
    "sync",
];

pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut gos = Vec::new();
    let mut keel = None;
    let mut packages = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            a if crate::is_flag(a, "--go") => {
                gos.push(PathBuf::from(crate::flag_value(a, "--go", &mut args, USAGE)?))
            }
            a if crate::is_flag(a, "--keel") => {
                keel = Some(PathBuf::from(crate::flag_value(a, "--keel", &mut args, USAGE)?))
            }
            a if a.starts_with('-') => return Err(format!("unknown flag {a}\n{USAGE}")),
            a => packages.push(a.to_string()),
        }
    }
    if gos.is_empty() {
        gos = default_gos();
    }
    if gos.is_empty() {
        return Err(
            "no Go found: apt-get install golang-go (and golang-1.23-go from bookworm-backports)"
                .into(),
        );
    }
    if packages.is_empty() {
        packages = PACKAGES.iter().map(|p| p.to_string()).collect();
    }
    let keel = match keel {
        Some(k) => k,
        None => build_keel()?,
    };
    let work = std::env::temp_dir().join(format!("keel-gotest-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let mut all_good = true;
    for go in &gos {
        let goroot = output(Command::new(go).args(["env", "GOROOT"]))?;
        let version = output(Command::new(go).arg("version"))?;
        let keel_exec = wrapper(
            &work,
            "keel_exec",
            &format!("exec '{}' run --mount=/:/ --env-inherit \"$@\"", keel.display()),
        )?;
        let node_exec = wrapper(
            &work,
            "node_exec",
            &format!(
                "exec node '{}' '{goroot}/misc/wasm/wasm_exec.js' \"$@\"",
                repo_root().join("imports/gojs/testdata/node_run.js").display()
            ),
        )?;
        println!("\n{version}\n");
        println!("{:<16} {:<30} {:<30} keel passes all node passes", "package", "node", "keel");
        let mut missing = Vec::new();
        for pkg in &packages {
            let node = go_test(go, &node_exec, pkg)?;
            let keel = go_test(go, &keel_exec, pkg)?;
            let lost: Vec<&String> = node.passed.difference(&keel.passed).collect();
            let good = lost.is_empty() && (keel.ok || !node.ok);
            all_good &= good;
            println!(
                "{pkg:<16} {:<30} {:<30} {}",
                node.summary(),
                keel.summary(),
                if good { "yes" } else { "NO" }
            );
            for t in lost {
                missing.push(format!("{pkg}: {t}"));
            }
        }
        if !missing.is_empty() {
            println!("passing under node, not under keel:");
            for m in &missing {
                println!("  {m}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(if all_good { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Debian's Go 1.19 and the newest Go of /usr/lib/go-1.*.
fn default_gos() -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor: u32 = name.strip_prefix("go-1.")?.parse().ok()?;
            let go = e.path().join("bin/go");
            go.exists().then_some((minor, go))
        })
        .collect();
    found.sort();
    let mut gos: Vec<PathBuf> =
        found.iter().filter(|(m, _)| *m == 19).map(|(_, p)| p.clone()).collect();
    if let Some((m, newest)) = found.last()
        && *m != 19
    {
        gos.push(newest.clone());
    }
    gos
}

fn build_keel() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "keel-cli", "--bin", "keel"])
        .current_dir(repo_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building keel failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    std::fs::canonicalize(target.join("release/keel")).map_err(|e| e.to_string())
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// A shell script `name` in `dir` that runs `body`.
fn wrapper(dir: &Path, name: &str, body: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(path)
}

/// What one `go test` run of one package did.
struct Result_ {
    ok: bool,
    passed: BTreeSet<String>,
    failed: usize,
    skipped: usize,
}

impl Result_ {
    fn summary(&self) -> String {
        format!(
            "{} {} pass {} fail {} skip",
            if self.ok { "ok  " } else { "FAIL" },
            self.passed.len(),
            self.failed,
            self.skipped
        )
    }
}

fn go_test(go: &Path, exec: &Path, pkg: &str) -> Result<Result_, String> {
    let o = Command::new(go)
        .args(["test", "-count=1", "-v", "-timeout=20m"])
        .arg(format!("-exec={}", exec.display()))
        .arg(pkg)
        .env("GOOS", "js")
        .env("GOARCH", "wasm")
        .env("CGO_ENABLED", "0")
        .output()
        .map_err(|e| format!("go test {pkg}: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout);
    let mut r = Result_ { ok: o.status.success(), passed: BTreeSet::new(), failed: 0, skipped: 0 };
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("--- PASS: ") {
            r.passed.insert(rest.split(' ').next().unwrap_or("").to_string());
        } else if line.starts_with("--- FAIL: ") {
            r.failed += 1;
        } else if line.starts_with("--- SKIP: ") {
            r.skipped += 1;
        }
    }
    Ok(r)
}
