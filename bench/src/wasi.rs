//! The WASI rows: whole WASI commands (`_start` to exit) built with wasi-libc, timed from
//! instantiation to exit with the module already compiled.
//!
//! Every engine gets the same setup, made afresh for each run: the arguments, the same host
//! directory (empty, in a temporary directory of this process) mounted at `/` for the guests
//! that touch files, stdout into a host file (created by the engine's own WASI configuration, as
//! its embedders would do it), stderr discarded. After each run the harness checks the exit
//! code, that stdout holds exactly the expected text and that the guest left the mounted
//! directory empty; none of that is timed.
//!
//! The temporary directory is on `/dev/shm` (a tmpfs) where there is one, else in the system's
//! temporary directory; `KEEL_BENCH_TMPDIR` overrides both. A disk file system's own costs would
//! swamp the runtimes' differences: ext4, for one, scans its inode bitmap for recently deleted
//! inodes at every file creation, so each run's 10,000 deletions slow the next run's creations,
//! and the same native program's `meta` phase varies from 0.4 s to 4 s there.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engines::{Compiled, Engine};
use crate::{Cell, Nanos, Options, Report, available, initial_cells, median, nanos};

/// What one WASI run gets.
pub struct WasiRun<'a> {
    /// `argv`, the program name first.
    pub args: &'a [&'a str],
    /// The host directory mounted (preopened) at `/`, if any.
    pub mount: Option<&'a Path>,
    /// The host file stdout goes to; the engine creates it (truncating it).
    pub stdout: &'a Path,
}

/// One WASI command and how it is run.
pub struct WasiBenchmark {
    /// Row name.
    pub name: &'static str,
    /// The guest binary.
    wasm: &'static [u8],
    /// Its arguments, and the exact stdout every engine must produce with them (computed by the
    /// same C source built natively).
    args: &'static [&'static str],
    expected: &'static str,
    /// The same for `--quick`.
    quick_args: &'static [&'static str],
    quick_expected: &'static str,
    /// Whether the guest gets the directory mounted at `/`.
    mount: bool,
    /// Runs per sample (the reported time is that of one run), and for `--quick`.
    batch: u32,
    quick_batch: u32,
    /// What the row measures, for `--help`.
    pub about: &'static str,
}

const FILES_WASM: &[u8] = include_bytes!("../guests/files.wasm");

/// The WASI rows, in table order.
pub const BENCHMARKS: &[WasiBenchmark] = &[
    WasiBenchmark {
        name: "wasi-files-rw",
        wasm: FILES_WASM,
        args: &["files", "rw", "100"],
        expected: "rw 104857600 bytes ok, checksum 0fcd83511e4d5d20\n",
        quick_args: &["files", "rw", "1"],
        quick_expected: "rw 1048576 bytes ok, checksum e91e3712bb2ea908\n",
        mount: true,
        batch: 1,
        quick_batch: 1,
        about: "WASI: write 100 MiB to a file in 64 KiB chunks, read it back, check, unlink",
    },
    WasiBenchmark {
        name: "wasi-files-meta",
        wasm: FILES_WASM,
        args: &["files", "meta", "10000"],
        expected: "meta 10000 files ok, 110000 bytes\n",
        quick_args: &["files", "meta", "100"],
        quick_expected: "meta 100 files ok, 1100 bytes\n",
        mount: true,
        batch: 1,
        quick_batch: 1,
        about: "WASI: create, stat and unlink 10,000 small files in a subdirectory",
    },
    WasiBenchmark {
        name: "wasi-hello",
        wasm: include_bytes!("../guests/hello.wasm"),
        args: &["hello"],
        expected: "hello world\n",
        quick_args: &["hello"],
        quick_expected: "hello world\n",
        mount: false,
        batch: 1000,
        quick_batch: 3,
        about: "WASI: instantiate a hello-world C program and run it to exit (module compiled)",
    },
];

/// The temporary directories of a row: the mounted one and the stdout file beside it.
struct Scratch {
    root: PathBuf,
    mount: PathBuf,
    stdout: PathBuf,
}

/// Where the temporary directories go: see the module docs.
pub fn scratch_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEEL_BENCH_TMPDIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable = shm.is_dir() && shm.metadata().is_ok_and(|m| !m.permissions().readonly());
    if writable { shm.to_path_buf() } else { std::env::temp_dir() }
}

impl Scratch {
    fn new(row: &str) -> std::result::Result<Scratch, String> {
        let name = format!("keel-bench-{row}-{}", std::process::id());
        let root = scratch_base().join(name);
        let _ = std::fs::remove_dir_all(&root);
        let mount = root.join("mnt");
        std::fs::create_dir_all(&mount).map_err(|e| format!("{}: {e}", mount.display()))?;
        let stdout = root.join("stdout.txt");
        Ok(Scratch { root, mount, stdout })
    }

    /// Checks what one run left: the exit code, stdout, and an empty mounted directory (which
    /// is emptied for the next run if it is not).
    fn check(&self, exit: i32, expected: &str) -> std::result::Result<(), String> {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let left: Vec<String> = std::fs::read_dir(&self.mount)
            .map_err(|e| format!("{}: {e}", self.mount.display()))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            let _ = std::fs::remove_dir_all(&self.mount);
            let _ = std::fs::create_dir_all(&self.mount);
        }
        if exit != 0 {
            return Err(format!("exited with {exit}; stdout {out:?}"));
        }
        if out != expected {
            return Err(format!("stdout {out:?}, expected {expected:?}"));
        }
        if !left.is_empty() {
            return Err(format!("left {left:?} in the mounted directory"));
        }
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Times one WASI row on every engine: compile once, then `opts.runs` samples after one
/// warm-up, each of `batch` runs from instantiation to exit, the engines taking turns.
pub fn run_benchmark(
    report: &mut Report,
    engines: &[Box<dyn Engine>],
    b: &WasiBenchmark,
    opts: &Options,
) -> Vec<Cell> {
    let (args, expected, batch) = if opts.quick {
        (b.quick_args, b.quick_expected, b.quick_batch)
    } else {
        (b.args, b.expected, b.batch)
    };
    let mut cells = initial_cells(engines);
    let scratch = match Scratch::new(b.name) {
        Ok(s) => s,
        Err(e) => {
            report.errors.push(format!("{}: {e}", b.name));
            return cells;
        }
    };
    let run = WasiRun {
        args,
        mount: b.mount.then_some(scratch.mount.as_path()),
        stdout: &scratch.stdout,
    };
    let mut live: Vec<(usize, Box<dyn Compiled>, Vec<Nanos>)> = Vec::new();
    for (i, engine) in available(engines) {
        match engine.compile(b.wasm) {
            Ok(c) => live.push((i, c, Vec::new())),
            Err(e) => cells[i] = report.fail(b.name, &**engine, e),
        }
    }
    for sample in 0..=opts.runs {
        let mut k = 0;
        while k < live.len() {
            let (i, module, samples) = &mut live[k];
            let mut timed = Duration::ZERO;
            let mut error = None;
            for _ in 0..batch {
                // So that a run which writes nothing cannot pass on the last one's output.
                let _ = std::fs::remove_file(&scratch.stdout);
                let start = Instant::now();
                let result = module.run_wasi(&run);
                timed += start.elapsed();
                if let Err(e) = result.and_then(|exit| scratch.check(exit, expected)) {
                    error = Some(e);
                    break;
                }
            }
            if let Some(e) = error {
                cells[*i] = report.fail(b.name, &*engines[*i], format!("{}: {e}", args.join(" ")));
                live.remove(k);
                continue;
            }
            if sample > 0 {
                samples.push(nanos(timed) / batch as f64);
            }
            k += 1;
        }
    }
    for (i, _, samples) in live {
        cells[i] = Cell::Time(median(&samples), samples);
    }
    cells
}
