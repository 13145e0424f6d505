//! keel's benchmark harness: `cargo xtask bench [FILTER] [OPTIONS]`.
//!
//! Times each guest of `bench/guests` on every engine of [`engines::all`]: compiles and
//! instantiates it once, warms up with one call (checking that all engines return the same
//! result), then takes the median of several timed calls. The engines take turns call by call,
//! so that a noisy neighbour slows all of them alike; a ratio to a peer is the median of the
//! ratios of the samples taken in the same turn. Also times the cost of one call each way across
//! the host boundary, instantiation of a small module, compilation of the small guests and of a
//! large real module (a Go program). Each keel engine is compared with its peer: keel's
//! interpreter with wasmi, keel's compiler with wasmtime (loaded from its C API library, see
//! `wasmtime.rs`; when that is not installed, its column says `n/a` and the rest runs). The
//! language rows (`languages.rs`) run Go and Emscripten programs from start to exit on keel's
//! engines and on node (both keel engines compared with node; wasmi and wasmtime `n/a`).
//!
//! Options: `--runs N` (timed calls per benchmark and engine, default 5), `--quick` (small
//! sizes: a smoke test of the harness, not a measurement), `--engines A,B` (only those
//! columns), `-v` (every sample), `--tsv` (instead of the table, one line per row and engine:
//! `ROW<TAB>ENGINE<TAB>NANOSECONDS...`, every sample; what `cargo xtask bench --baseline` reads).
//! FILTER keeps the rows whose name contains it (or any of several, comma-separated).
//!
//! The large rows (`large.rs`) start large Go programs, built at bench time, from their bytes
//! on keel's engines (and keel's default one), wasmtime and node: the time to the first byte
//! of output, the time to exit, and the peak memory of a process doing it.

mod cache;
mod engines;
mod languages;
mod large;
mod wasi;
mod wasmtime;

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A time in nanoseconds, as a float: the call rows' times are a few nanoseconds per call, which
/// whole nanoseconds would round by up to 10%.
type Nanos = f64;

fn nanos(d: Duration) -> Nanos {
    d.as_secs_f64() * 1e9
}

use engines::{Engine, Entry, Ret};

/// What one reported time is the time of.
#[derive(Clone, Copy)]
enum Per {
    /// One call of the entry point.
    Call,
    /// One call of a batch of `repeat` calls (the time of a host -> wasm call).
    Repeat,
    /// One iteration of the guest's loop of `arg` iterations (the time of a wasm -> host call).
    ArgIteration,
}

/// One guest entry point and the argument it is timed with.
struct Benchmark {
    /// Row name.
    name: &'static str,
    /// The guest binary.
    wasm: &'static [u8],
    /// The exported entry point, `(i32) -> ret`.
    export: &'static str,
    ret: Ret,
    /// The argument for a measurement, and the result every engine must return for it
    /// (computed by the same C source built natively).
    arg: i32,
    expected: i64,
    /// The argument for `--quick`, and its result.
    quick_arg: i32,
    quick_expected: i64,
    /// How many times the entry point is called per sample (1 but for the call rows), and
    /// what the reported time is per.
    repeat: u32,
    per: Per,
    /// What the benchmark measures, for `--help`.
    about: &'static str,
}

const BENCHMARKS: &[Benchmark] = &[
    Benchmark {
        name: "fib",
        wasm: include_bytes!("../guests/fib.wasm"),
        export: "fib",
        ret: Ret::I32,
        arg: 35,
        expected: 9_227_465,
        quick_arg: 15,
        quick_expected: 610,
        repeat: 1,
        per: Per::Call,
        about: "recursive calls and returns",
    },
    Benchmark {
        name: "sieve",
        wasm: include_bytes!("../guests/sieve.wasm"),
        export: "run",
        ret: Ret::I32,
        arg: 20,
        expected: 1_569_960,
        quick_arg: 1,
        quick_expected: 78_498,
        repeat: 1,
        per: Per::Call,
        about: "byte loads and stores in tight loops",
    },
    Benchmark {
        name: "matmul",
        wasm: include_bytes!("../guests/matmul.wasm"),
        export: "run",
        ret: Ret::I64,
        arg: 280,
        expected: 4_644_862_316_093_237_936,
        quick_arg: 16,
        quick_expected: 4_627_476_958_677_309_565,
        repeat: 1,
        per: Per::Call,
        about: "f64 arithmetic and indexed loads",
    },
    Benchmark {
        name: "interp",
        wasm: include_bytes!("../guests/interp.wasm"),
        export: "run",
        ret: Ret::I32,
        arg: 750_000,
        expected: -599_097_212,
        quick_arg: 1000,
        quick_expected: 16_536_458,
        repeat: 1,
        per: Per::Call,
        about: "switch dispatch (br_table) and unpredictable branches",
    },
    Benchmark {
        name: "sha256",
        wasm: include_bytes!("../guests/sha256.wasm"),
        export: "run",
        ret: Ret::I64,
        arg: 160,
        expected: 2_032_459_587_512_011_103,
        quick_arg: 1,
        quick_expected: 7_791_598_690_592_227_977,
        repeat: 1,
        per: Per::Call,
        about: "32-bit integer arithmetic, rotates and byte loads",
    },
    Benchmark {
        name: "simd",
        wasm: include_bytes!("../guests/simd.wasm"),
        export: "run",
        ret: Ret::I64,
        arg: 300,
        expected: -2_321_740_434_405_146_624,
        quick_arg: 1,
        quick_expected: 35_862_187_764_301_824,
        repeat: 1,
        per: Per::Call,
        about: "128-bit SIMD: an 8-bit image blur and a f32x4 dot product (wasm_simd128.h)",
    },
    Benchmark {
        name: "call-host-to-wasm",
        wasm: include_bytes!("../guests/calls.wasm"),
        export: "nop",
        ret: Ret::I32,
        arg: 7,
        expected: 7,
        quick_arg: 7,
        quick_expected: 7,
        repeat: 1_000_000,
        per: Per::Repeat,
        about: "one call from the host of an exported (i32) -> i32 that returns its argument",
    },
    Benchmark {
        name: "call-wasm-to-host",
        wasm: include_bytes!("../guests/calls.wasm"),
        export: "loop",
        ret: Ret::I32,
        arg: 1_000_000,
        expected: 1_784_293_664,
        quick_arg: 1000,
        quick_expected: 500_500,
        repeat: 1,
        per: Per::ArgIteration,
        about: "one call from wasm of the imported host function env.inc (x -> x + 1)",
    },
];

/// The guests whose compilation the `compile` row times: the five computing benchmarks.
const COMPILE_GUESTS: &[&str] = &["fib", "sieve", "matmul", "interp", "sha256"];

/// The large real module whose compilation the `compile-large` row times: a Go program
/// (`guests/gojson.go`, GOOS=js GOARCH=wasm), about 3 MB of Wasm.
const LARGE_WASM: &[u8] = include_bytes!("../guests/gojson.wasm");

/// The small module whose instantiation is timed.
const INSTANTIATE_WASM: &[u8] = include_bytes!("../guests/fib.wasm");
/// Instantiations per timed batch.
const INSTANTIATE_BATCH: usize = 1000;
/// Compilations of all guests per timed sample.
const COMPILE_BATCH: usize = 5;

struct Options {
    filter: Option<String>,
    runs: usize,
    quick: bool,
    engines: Option<Vec<String>>,
    verbose: bool,
    tsv: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut opts =
        Options { filter: None, runs: 5, quick: false, engines: None, verbose: false, tsv: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                let n = args.next().ok_or("--runs needs a number")?;
                opts.runs = n.parse().map_err(|_| format!("--runs: not a number: {n}"))?;
                if opts.runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "--quick" => opts.quick = true,
            "--engines" => {
                let list = args.next().ok_or("--engines needs a comma-separated list")?;
                opts.engines = Some(list.split(',').map(str::to_string).collect());
            }
            "-v" | "--verbose" => opts.verbose = true,
            "--tsv" => opts.tsv = true,
            "-h" | "--help" => {
                print_help();
                std::process::exit(0);
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg} (see --help)")),
            _ if opts.filter.is_none() => opts.filter = Some(arg),
            _ => return Err(format!("unexpected argument {arg} (see --help)")),
        }
    }
    Ok(opts)
}

fn print_help() {
    println!(
        "usage: cargo xtask bench [FILTER[,FILTER...]] [--runs N] [--quick] [--engines A,B] [-v] \
         [--tsv] [--baseline REV [--rounds N]]"
    );
    println!();
    println!("rows:");
    for b in BENCHMARKS {
        println!("  {:<17} {} ({}({}))", b.name, b.about, b.export, b.arg);
    }
    println!("  {:<17} instantiating a small module (fib.wasm) and dropping it", "instantiate");
    println!("  {:<17} validating and compiling the five guests fib..sha256", "compile");
    println!(
        "  {:<17} validating and compiling a {:.1} MB Go program (guests/gojson.go)",
        "compile-large",
        LARGE_WASM.len() as f64 / 1e6
    );
    for b in wasi::BENCHMARKS {
        println!("  {:<17} {}", b.name, b.about);
    }
    for b in languages::BENCHMARKS {
        println!("  {:<17} {}", b.name, b.about);
    }
    // The large rows' names are longer: a column of their own width.
    let large = large::rows();
    let width = large.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, about) in large {
        println!("  {name:<width$} {about}");
    }
    println!();
    print!("engines:");
    for e in engines::all() {
        print!(" {}{}", e.name(), if e.is_peer() { " (peer)" } else { "" });
    }
    println!();
}

/// One cell of the table.
#[derive(Clone)]
enum Cell {
    /// Median time of one operation, and every sample.
    Time(Nanos, Vec<Nanos>),
    /// Median of a size in megabytes (10^6 bytes), and every sample: the peak-memory rows.
    Megabytes(f64, Vec<f64>),
    /// The engine failed; the message is printed under the table.
    Failed,
    /// The engine is not available on this machine (a note under the table says why).
    Unavailable,
    /// The engine has nothing to run for this row (wasmi and wasmtime on the language rows,
    /// node on the others).
    NotApplicable,
}

/// What the run found: a row of cells per benchmark, and the failures.
struct Report {
    rows: Vec<(String, Vec<Cell>)>,
    errors: Vec<String>,
    /// Notes for under the table (what is not available for some rows, and why).
    notes: Vec<String>,
}

impl Report {
    /// Records that `engine` failed at `what`.
    fn fail(&mut self, what: &str, engine: &dyn Engine, error: impl std::fmt::Display) -> Cell {
        self.errors.push(format!("{what} on {}: {error}", engine.name()));
        Cell::Failed
    }

    /// Adds a note for under the table, once.
    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

fn main() -> ExitCode {
    // The large rows' peak-memory measurement runs a guest in a child process of this binary.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(large::CHILD_ARG) {
        return large::child_main(&args[2..]);
    }
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("keel-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let mut engines = engines::all();
    if let Some(names) = &opts.engines {
        if let Some(name) = names.iter().find(|n| !engines.iter().any(|e| e.name() == *n)) {
            eprintln!("keel-bench: unknown engine {name} (see --help)");
            return ExitCode::from(2);
        }
        engines.retain(|e| names.iter().any(|n| n == e.name()));
    }
    let wanted =
        |name: &str| opts.filter.as_deref().is_none_or(|f| f.split(',').any(|f| name.contains(f)));

    if !opts.tsv {
        println!(
            "keel bench: median time per call of {} timed runs after 1 warm-up; \
             ratios: median of the per-run ratios{}",
            opts.runs,
            if opts.quick { " (--quick: small sizes, not a measurement)" } else { "" }
        );
    }
    let mut report = Report { rows: Vec::new(), errors: Vec::new(), notes: Vec::new() };
    for b in BENCHMARKS.iter().filter(|b| wanted(b.name)) {
        let cells = run_benchmark(&mut report, &engines, b, &opts);
        report.rows.push((b.name.to_string(), cells));
    }
    if wanted("instantiate") {
        let cells = run_instantiate(&mut report, &engines, &opts);
        report.rows.push(("instantiate".to_string(), cells));
    }
    if wanted("compile") {
        let small: Vec<&Benchmark> =
            BENCHMARKS.iter().filter(|b| COMPILE_GUESTS.contains(&b.name)).collect();
        let guests: Vec<(&str, &[u8])> = small.iter().map(|b| (b.name, b.wasm)).collect();
        let batch = if opts.quick { 1 } else { COMPILE_BATCH };
        let cells = run_compile(&mut report, &engines, &opts, "compile", &guests, batch);
        report.rows.push(("compile".to_string(), cells));
    }
    if wanted("compile-large") {
        let guests = [("gojson", LARGE_WASM)];
        let cells = run_compile(&mut report, &engines, &opts, "compile-large", &guests, 1);
        report.rows.push(("compile-large".to_string(), cells));
    }
    for b in wasi::BENCHMARKS.iter().filter(|b| wanted(b.name)) {
        let cells = wasi::run_benchmark(&mut report, &engines, b, &opts);
        report.rows.push((b.name.to_string(), cells));
    }
    for b in languages::BENCHMARKS.iter().filter(|b| wanted(b.name)) {
        let cells = languages::run_benchmark(&mut report, &engines, b, &opts);
        report.rows.push((b.name.to_string(), cells));
    }
    large::run(&mut report, &engines, &opts, &wanted);
    // The `cache` row is keel's compiler alone, cold against warm: a line after the table.
    let cache_line = wanted("cache").then(|| cache::run(opts.runs, opts.quick));
    if let Some(Err(e)) = &cache_line {
        report.errors.push(format!("cache: {e}"));
    }
    if report.rows.is_empty() && cache_line.is_none() {
        eprintln!("keel-bench: no benchmark matches {:?} (see --help)", opts.filter);
        return ExitCode::from(2);
    }
    if opts.tsv {
        print_tsv(&report, &engines);
    } else if !report.rows.is_empty() {
        print_table(&report, &engines, opts.verbose);
    }
    if let Some(Ok(line)) = &cache_line
        && !opts.tsv
    {
        println!();
        println!("{line}");
    }
    // An engine that is not available gets a note, unless its column is not in the table.
    let shown = shown_columns(&report, &engines);
    let mut notes: Vec<String> = engines
        .iter()
        .zip(&shown)
        .filter(|(_, shown)| **shown)
        .filter_map(|(e, _)| {
            e.unavailable().map(|why| format!("{}: not available: {why}", e.name()))
        })
        .collect();
    notes.extend(report.notes.iter().cloned());
    if !notes.is_empty() && !opts.tsv {
        println!();
        for n in &notes {
            println!("note: {n}");
        }
    }
    if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Times one benchmark on every engine: compile and instantiate once, one warm-up call, then
/// `opts.runs` timed calls, the engines taking turns. Every result is checked.
fn run_benchmark(
    report: &mut Report,
    engines: &[Box<dyn Engine>],
    b: &Benchmark,
    opts: &Options,
) -> Vec<Cell> {
    let (arg, expected) =
        if opts.quick { (b.quick_arg, b.quick_expected) } else { (b.arg, b.expected) };
    let repeat = if opts.quick { b.repeat.min(1000) } else { b.repeat };
    let per = match b.per {
        Per::Call => 1,
        Per::Repeat => repeat,
        Per::ArgIteration => arg.max(1) as u32,
    };
    let mut cells = initial_cells(engines);
    let mut instances = Vec::new();
    for (i, engine) in available(engines) {
        match engine.compile(b.wasm).and_then(|c| c.instantiate()) {
            Ok(instance) => instances.push((i, instance)),
            Err(e) => cells[i] = report.fail(b.name, &**engine, e),
        }
    }
    let mut entries: Vec<(usize, Box<dyn Entry + '_>, Vec<Nanos>)> = Vec::new();
    for (i, instance) in instances.iter_mut() {
        match instance.entry(b.export, b.ret) {
            Ok(entry) => entries.push((*i, entry, Vec::new())),
            Err(e) => cells[*i] = report.fail(b.name, &*engines[*i], e),
        }
    }
    for run in 0..=opts.runs {
        let mut k = 0;
        while k < entries.len() {
            let (i, entry, samples) = &mut entries[k];
            let start = Instant::now();
            let result = entry.call_repeat(arg, repeat);
            let elapsed = nanos(start.elapsed()) / per as f64;
            let error = match result {
                Ok(r) if r == expected => None,
                Ok(r) => Some(format!("{}({arg}) returned {r}, expected {expected}", b.export)),
                Err(e) => Some(format!("{}({arg}): {e}", b.export)),
            };
            if let Some(e) = error {
                cells[*i] = report.fail(b.name, &*engines[*i], e);
                entries.remove(k);
                continue;
            }
            if run > 0 {
                samples.push(elapsed);
            }
            k += 1;
        }
    }
    for (i, _, samples) in entries {
        cells[i] = Cell::Time(median(&samples), samples);
    }
    cells
}

/// Times instantiating a small module and dropping the instance, one at a time (the life of
/// an instance per request), in batches of [`INSTANTIATE_BATCH`].
fn run_instantiate(report: &mut Report, engines: &[Box<dyn Engine>], opts: &Options) -> Vec<Cell> {
    let batch = if opts.quick { 10 } else { INSTANTIATE_BATCH };
    let mut cells = initial_cells(engines);
    let mut compiled = Vec::new();
    for (i, engine) in available(engines) {
        match engine.compile(INSTANTIATE_WASM) {
            Ok(c) => compiled.push((i, c, Vec::new())),
            Err(e) => cells[i] = report.fail("instantiate", &**engine, e),
        }
    }
    for run in 0..=opts.runs {
        let mut k = 0;
        while k < compiled.len() {
            let (i, module, samples) = &mut compiled[k];
            let start = Instant::now();
            let mut error = None;
            for _ in 0..batch {
                if let Err(e) = module.instantiate() {
                    error = Some(e);
                    break;
                }
            }
            let elapsed = start.elapsed();
            if let Some(e) = error {
                cells[*i] = report.fail("instantiate", &*engines[*i], e);
                compiled.remove(k);
                continue;
            }
            if run > 0 {
                samples.push(nanos(elapsed) / batch as f64);
            }
            k += 1;
        }
    }
    for (i, _, samples) in compiled {
        cells[i] = Cell::Time(median(&samples), samples);
    }
    cells
}

/// Times validating and compiling every one of `guests`, `batch` times per sample.
fn run_compile(
    report: &mut Report,
    engines: &[Box<dyn Engine>],
    opts: &Options,
    row: &str,
    guests: &[(&str, &[u8])],
    batch: usize,
) -> Vec<Cell> {
    let mut cells = initial_cells(engines);
    let mut live: Vec<(usize, Vec<Nanos>)> =
        available(engines).map(|(i, _)| (i, Vec::new())).collect();
    for run in 0..=opts.runs {
        let mut k = 0;
        while k < live.len() {
            let (i, samples) = &mut live[k];
            let engine = &*engines[*i];
            let start = Instant::now();
            let mut error = None;
            'outer: for _ in 0..batch {
                for (name, wasm) in guests {
                    if let Err(e) = engine.compile(wasm) {
                        error = Some(format!("{name}.wasm: {e}"));
                        break 'outer;
                    }
                }
            }
            let elapsed = start.elapsed();
            if let Some(e) = error {
                cells[*i] = report.fail(row, engine, e);
                live.remove(k);
                continue;
            }
            if run > 0 {
                samples.push(nanos(elapsed) / batch as f64);
            }
            k += 1;
        }
    }
    for (i, samples) in live {
        cells[i] = Cell::Time(median(&samples), samples);
    }
    cells
}

/// The cells of a module row before it runs: `Failed` (until measured), `Unavailable`, or
/// `NotApplicable` for an engine that runs no modules (node, keel-default).
fn initial_cells(engines: &[Box<dyn Engine>]) -> Vec<Cell> {
    engines
        .iter()
        .map(|e| {
            if !e.runs_modules() {
                Cell::NotApplicable
            } else if e.unavailable().is_some() {
                Cell::Unavailable
            } else {
                Cell::Failed
            }
        })
        .collect()
}

/// The engines that can run the module rows here, with their column index.
fn available(engines: &[Box<dyn Engine>]) -> impl Iterator<Item = (usize, &Box<dyn Engine>)> {
    engines.iter().enumerate().filter(|(_, e)| e.runs_modules() && e.unavailable().is_none())
}

/// Which engines' columns the table shows: all but an engine that runs no modules (node,
/// keel-default) when none of the table's rows is one it runs, so that a table without language
/// or large rows looks as it did before them.
fn shown_columns(report: &Report, engines: &[Box<dyn Engine>]) -> Vec<bool> {
    (0..engines.len())
        .map(|i| {
            engines[i].runs_modules()
                || report.rows.iter().any(|(_, cells)| !matches!(cells[i], Cell::NotApplicable))
        })
        .collect()
}

/// The median of `samples` (the mean of the middle two for an even count).
fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// How long `a` took relative to `b`: the median of the ratios of the samples taken in the same
/// turn (adjacent in time, so a burst of load hits both), or the ratio of the medians if the
/// sample counts differ.
fn ratio(a: &Cell, b: &Cell) -> Option<f64> {
    let ((a, a_samples), (b, b_samples)) = match (a, b) {
        (Cell::Time(a, x), Cell::Time(b, y)) | (Cell::Megabytes(a, x), Cell::Megabytes(b, y)) => {
            ((a, x), (b, y))
        }
        _ => return None,
    };
    if a_samples.len() == b_samples.len() && b_samples.iter().all(|d| *d > 0.0) {
        let ratios: Vec<f64> = a_samples.iter().zip(b_samples).map(|(a, b)| a / b).collect();
        Some(median(&ratios))
    } else if *b > 0.0 {
        Some(a / b)
    } else {
        None
    }
}

/// A time with three or four significant digits and a unit.
fn format_duration(ns: Nanos) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A size in megabytes, with one decimal.
fn format_megabytes(mb: f64) -> String {
    format!("{mb:.1} MB")
}

/// Prints every sample, one line per row and engine: `ROW<TAB>ENGINE<TAB>NS NS ...` (times only:
/// the peak-memory rows are left out); the errors go to stderr.
fn print_tsv(report: &Report, engines: &[Box<dyn Engine>]) {
    for (name, cells) in &report.rows {
        for (engine, cell) in engines.iter().zip(cells) {
            if let Cell::Time(_, samples) = cell {
                let ns: Vec<String> = samples.iter().map(|d| format!("{d:.3}")).collect();
                println!("{name}\t{}\t{}", engine.name(), ns.join(" "));
            }
        }
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
}

/// Prints the table: a column per engine, then a ratio column per keel engine and its peer.
fn print_table(report: &Report, engines: &[Box<dyn Engine>], verbose: bool) {
    let shown = shown_columns(report, engines);
    let mut header = vec!["benchmark".to_string()];
    header.extend(engines.iter().zip(&shown).filter(|(_, s)| **s).map(|(e, _)| e.name().into()));
    // A ratio column per keel engine and peer it is compared with, grouped by peer.
    let mut ratios = Vec::new();
    for (p, peer) in engines.iter().enumerate().filter(|(p, e)| e.is_peer() && shown[*p]) {
        let keels = engines.iter().enumerate().filter(|(k, e)| !e.is_peer() && shown[*k]);
        for (k, keel) in keels.filter(|(_, k)| k.compare_with().contains(&peer.name())) {
            ratios.push((k, p));
            header.push(format!("{}/{}", keel.name(), peer.name()));
        }
    }
    let mut lines = vec![header];
    for (name, cells) in &report.rows {
        let mut line = vec![name.clone()];
        line.extend(cells.iter().zip(&shown).filter(|(_, s)| **s).map(|(c, _)| match c {
            Cell::Time(d, _) => format_duration(*d),
            Cell::Megabytes(mb, _) => format_megabytes(*mb),
            Cell::Failed => "failed".to_string(),
            Cell::Unavailable | Cell::NotApplicable => "n/a".to_string(),
        }));
        for &(k, p) in &ratios {
            line.push(match ratio(&cells[k], &cells[p]) {
                Some(r) => format!("{r:.2}x"),
                None => "-".to_string(),
            });
        }
        lines.push(line);
    }
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0))
        .collect();
    println!();
    for line in &lines {
        let mut out = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c + 1 == columns {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', widths[c] - cell.chars().count() + 3));
            }
        }
        println!("{}", out.trim_end());
    }
    if verbose {
        println!();
        for (name, cells) in &report.rows {
            for (engine, cell) in engines.iter().zip(cells) {
                let all: Vec<String> = match cell {
                    Cell::Time(_, samples) => samples.iter().map(|d| format_duration(*d)).collect(),
                    Cell::Megabytes(_, samples) => {
                        samples.iter().map(|mb| format_megabytes(*mb)).collect()
                    }
                    _ => continue,
                };
                println!("{name} on {}: {}", engine.name(), all.join(", "));
            }
        }
    }
    if !report.errors.is_empty() {
        println!();
        for e in &report.errors {
            println!("error: {e}");
        }
    }
}
