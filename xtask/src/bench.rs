//! `cargo xtask bench [FILTER] [OPTIONS]`: runs the benchmark harness of `bench/`.
//!
//! The harness is its own cargo workspace (so that its peers, wasmi and later wasmtime, are
//! never part of the main build); this builds it in release mode with its own target directory,
//! `bench/target`, and streams its output. The arguments go to the harness unchanged: see
//! `cargo xtask bench --help` and docs/performance.md.
//!
//! `cargo xtask bench --baseline REV [--tip REV2] [--rounds N] [FILTER] [OPTIONS]` compares this
//! tree's keel (or keel at REV2) with keel at git revision REV instead: it builds the harness
//! (this tree's source, so both sides run the same benchmark code) a second time against the
//! keel crates of REV, extracted with `git archive` into `bench/target/baseline/`, then runs the
//! two binaries in turns, `N` rounds (default 5) each alternating which goes first, and prints
//! per row and keel engine the median over the rounds of the ratio of this tree's median to
//! REV's. Default rows: the call-cost ones (`fib`, `call-host-to-wasm`, `call-wasm-to-host`);
//! default engines: keel's two.

use crate::repo_root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// The task.
pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let root = repo_root();
    let manifest = root.join("bench").join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("{} is missing", manifest.display()));
    }
    if let Some(compare) = Compare::parse(args)? {
        return compare.run(&root);
    }
    let status = cargo_harness(&root, &manifest, "run")
        .arg("--")
        .args(args)
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// `cargo build|run --release` of the harness whose manifest is `manifest`, in `bench/target`.
fn cargo_harness(root: &Path, manifest: &Path, verb: &str) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([verb, "--release", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(root.join("bench").join("target"))
        .current_dir(root)
        // The main workspace's settings for the xtask build must not leak into this one.
        .env_remove("CARGO_TARGET_DIR");
    command
}

/// The rows `--baseline` compares unless a FILTER is given: the cost of calls.
const CALL_ROWS: &str = "fib,call-host-to-wasm,call-wasm-to-host";
/// The engines `--baseline` compares unless `--engines` is given.
const KEEL_ENGINES: &str = "keel-interp,keel-compiler";

/// A `--baseline` run: this tree (or revision `tip`) against revision `rev`.
#[derive(Debug, PartialEq)]
struct Compare {
    rev: String,
    tip: Option<String>,
    rounds: usize,
    /// The arguments for both harnesses.
    harness_args: Vec<String>,
}

impl Compare {
    /// The comparison `args` ask for, or `None` without `--baseline`.
    fn parse(args: &[String]) -> Result<Option<Compare>, String> {
        let (mut rev, mut tip, mut rounds) = (None, None, 5);
        let (mut filter, mut engines) = (false, false);
        let mut harness_args = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--baseline" => rev = Some(it.next().ok_or("--baseline needs a revision")?.clone()),
                "--tip" => tip = Some(it.next().ok_or("--tip needs a revision")?.clone()),
                "--rounds" => {
                    let n = it.next().ok_or("--rounds needs a number")?;
                    rounds = n.parse().map_err(|_| format!("--rounds: not a number: {n}"))?;
                    if rounds == 0 {
                        return Err("--rounds must be at least 1".into());
                    }
                }
                "--runs" | "--engines" => {
                    engines |= arg == "--engines";
                    harness_args.push(arg.clone());
                    harness_args.push(it.next().ok_or(format!("{arg} needs a value"))?.clone());
                }
                "--tsv" | "-v" | "--verbose" => {}
                a => {
                    filter |= !a.starts_with('-');
                    harness_args.push(a.to_string());
                }
            }
        }
        let Some(rev) = rev else {
            return match tip {
                Some(_) => Err("--tip goes with --baseline".into()),
                None => Ok(None),
            };
        };
        if !filter {
            harness_args.push(CALL_ROWS.into());
        }
        if !engines {
            harness_args.extend(["--engines".into(), KEEL_ENGINES.into()]);
        }
        harness_args.push("--tsv".into());
        Ok(Some(Compare { rev, tip, rounds, harness_args }))
    }

    fn run(&self, root: &Path) -> Result<ExitCode, String> {
        let (base_bin, short) = harness_at(root, &self.rev)?;
        let (this_bin, this) = match &self.tip {
            Some(tip) => harness_at(root, tip)?,
            None => {
                let head = git(root, &["rev-parse", "--short=9", "HEAD"])?;
                let status = git(root, &["status", "--porcelain", "--untracked-files=no"])?;
                let this = format!("{head}{}", if status.is_empty() { "" } else { "+changes" });
                let this = format!("this tree ({this})");
                let bin =
                    root.join("bench").join("target").join("baseline").join("keel-bench-this");
                eprintln!("building the harness against this tree ({this})");
                build(root, &root.join("bench").join("Cargo.toml"), &bin, &[])?;
                (bin, this)
            }
        };
        let short = short.as_str();

        let mut results: BTreeMap<(String, String), [Side; 2]> = BTreeMap::new();
        let sides = [(&this_bin, this.as_str()), (&base_bin, short)];
        for round in 0..self.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                let (bin, label) = sides[side];
                eprintln!("round {}/{}: {label}", round + 1, self.rounds);
                for (row, engine, samples) in run_harness(bin, &self.harness_args)? {
                    let s = &mut results.entry((row, engine)).or_default()[side];
                    s.medians.push(median(&samples));
                    s.min = s.min.min(samples.iter().copied().fold(f64::INFINITY, f64::min));
                }
            }
        }
        print_comparison(&this, short, self, &results);
        Ok(ExitCode::SUCCESS)
    }
}

/// The harness built against keel at revision `rev` (extracted and built once, then reused):
/// the binary, and the revision's short hash.
fn harness_at(root: &Path, rev: &str) -> Result<(PathBuf, String), String> {
    let commit = git(root, &["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?;
    let short = commit[..commit.len().min(9)].to_string();
    let dir = root.join("bench").join("target").join("baseline").join(&short);
    let tree = dir.join("tree");
    if !tree.join("crates").join("keel").is_dir() {
        extract(root, &commit, &tree)?;
    }
    let manifest = write_baseline_harness(root, &dir, &tree)?;
    let bin = dir.join("keel-bench");
    eprintln!("building the harness against {short} ({})", tree.display());
    // A revision before the tiered engine gets a harness without its column.
    let features: &[&str] =
        if tree.join("crates").join("tiered").is_dir() { &[] } else { &["--no-default-features"] };
    build(root, &manifest, &bin, features)?;
    Ok((bin, short))
}

/// One side's times of one row and engine.
#[derive(Debug)]
struct Side {
    /// The median of each round's samples.
    medians: Vec<f64>,
    /// The fastest sample of all rounds.
    min: f64,
}

impl Default for Side {
    fn default() -> Self {
        Side { medians: Vec::new(), min: f64::INFINITY }
    }
}

/// Runs `git args` in `root`; its trimmed output.
fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("git {}: {}", args.join(" "), err.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Extracts the tree of `commit` into `tree` (through a temporary directory, so that an
/// interrupted extraction is never taken for a complete one).
fn extract(root: &Path, commit: &str, tree: &Path) -> Result<(), String> {
    let partial = tree.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let archive = partial.join("tree.tar");
    git(root, &["archive", "--format=tar", "-o", &archive.to_string_lossy(), commit])?;
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&partial)
        .status()
        .map_err(|e| format!("running tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar could not extract {}", archive.display()));
    }
    std::fs::remove_file(&archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let _ = std::fs::remove_dir_all(tree);
    std::fs::rename(&partial, tree).map_err(|e| format!("{}: {e}", tree.display()))
}

/// Writes a manifest for the harness built against the keel crates in `tree`: this tree's
/// `bench/Cargo.toml` with every path dependency (`path = "../..."`: keel, keel-sys, keel-wasi)
/// pointed into `tree` and the harness's source named by path, next to a copy of
/// `bench/Cargo.lock` (so that every other crate is the same version).
fn write_baseline_harness(root: &Path, dir: &Path, tree: &Path) -> Result<PathBuf, String> {
    let bench = root.join("bench");
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let manifest = read(&bench.join("Cargo.toml"))?;
    let path = |p: &Path| p.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\"");
    let relative = r#"path = "../"#;
    if !manifest.contains(r#"keel = { path = "../crates/keel" }"#) {
        return Err("bench/Cargo.toml has no keel path dependency to redirect".into());
    }
    let mut out = manifest.replace(relative, &format!(r#"path = "{}/"#, path(tree)));
    out.push_str(&format!(
        "\n[[bin]]\nname = \"keel-bench\"\npath = \"{}\"\n",
        path(&bench.join("src").join("main.rs"))
    ));
    let harness = dir.join("harness");
    std::fs::create_dir_all(&harness).map_err(|e| format!("{}: {e}", harness.display()))?;
    let target = harness.join("Cargo.toml");
    std::fs::write(&target, out).map_err(|e| format!("{}: {e}", target.display()))?;
    std::fs::copy(bench.join("Cargo.lock"), harness.join("Cargo.lock"))
        .map_err(|e| format!("copying bench/Cargo.lock: {e}"))?;
    Ok(target)
}

/// Builds the harness of `manifest` and copies the binary to `to` (both harnesses build to the
/// same `bench/target/release/keel-bench`).
fn build(root: &Path, manifest: &Path, to: &Path, args: &[&str]) -> Result<(), String> {
    let status = cargo_harness(root, manifest, "build")
        .args(args)
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the harness of {} failed", manifest.display()));
    }
    let built = root.join("bench").join("target").join("release").join("keel-bench");
    std::fs::copy(&built, to).map_err(|e| format!("copying {}: {e}", built.display()))?;
    Ok(())
}

/// Runs a harness binary in `--tsv` mode: (row, engine, samples in ns) per line.
fn run_harness(bin: &Path, args: &[String]) -> Result<Vec<(String, String, Vec<f64>)>, String> {
    let out = Command::new(bin)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", bin.display(), out.status));
    }
    parse_tsv(&String::from_utf8_lossy(&out.stdout))
}

fn parse_tsv(text: &str) -> Result<Vec<(String, String, Vec<f64>)>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let (Some(row), Some(engine), Some(samples), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(format!("unexpected harness output: {line:?}"));
            };
            let samples = samples
                .split(' ')
                .map(|s| s.parse::<f64>().map_err(|_| format!("not a number: {s:?} in {line:?}")))
                .collect::<Result<Vec<f64>, String>>()?;
            Ok((row.to_string(), engine.to_string(), samples))
        })
        .collect()
}

/// The median (the mean of the middle two for an even count).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn format_ns(ns: f64) -> String {
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

/// Prints one line per row and engine: the medians over the rounds of each side's median, the
/// median, lowest and highest of the per-round ratios (this tree / baseline), and the ratio of
/// the fastest samples (the least disturbed by other load on a shared machine).
fn print_comparison(
    this: &str,
    base: &str,
    c: &Compare,
    results: &BTreeMap<(String, String), [Side; 2]>,
) {
    println!(
        "keel bench --baseline: {this} against {base}: {} rounds, the two builds taking turns \
         (harness arguments: {})",
        c.rounds,
        c.harness_args.join(" ")
    );
    println!(
        "ratio: {this}'s time / {base}'s, the median of the per-round ratios of the medians \
         (rounds: lowest..highest); min ratio: of the fastest samples. Lower is faster."
    );
    let mut lines = vec![
        ["benchmark", "engine", this, base, "ratio", "rounds", "min ratio"]
            .map(String::from)
            .to_vec(),
    ];
    for ((row, engine), [a, b]) in results {
        let ratios: Vec<f64> = a.medians.iter().zip(&b.medians).map(|(a, b)| a / b).collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lines.push(vec![
            row.clone(),
            engine.clone(),
            format_ns(median(&a.medians)),
            format_ns(median(&b.medians)),
            format!("{:.3}x", median(&ratios)),
            format!("{lo:.3}x..{hi:.3}x"),
            format!("{:.3}x", a.min / b.min),
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0))
        .collect();
    println!();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        println!("{}", cells.join("   ").trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Compare>, String> {
        Compare::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn baseline_options() {
        assert_eq!(parse(&["fib", "--runs", "3"]).unwrap(), None);
        let c = parse(&["--baseline", "abc123"]).unwrap().unwrap();
        assert_eq!((c.rev.as_str(), c.tip.as_deref()), ("abc123", None));
        assert_eq!(c.rounds, 5);
        assert_eq!(c.harness_args, [CALL_ROWS, "--engines", KEEL_ENGINES, "--tsv"]);
        let c = parse(&["--baseline", "main", "--rounds", "3", "sieve", "--engines", "wasmi"])
            .unwrap()
            .unwrap();
        assert_eq!((c.rev.as_str(), c.rounds), ("main", 3));
        assert_eq!(c.harness_args, ["sieve", "--engines", "wasmi", "--tsv"]);
        let c = parse(&["--runs", "7", "--baseline", "x", "-v"]).unwrap().unwrap();
        assert_eq!(c.harness_args, ["--runs", "7", CALL_ROWS, "--engines", KEEL_ENGINES, "--tsv"]);
        let c = parse(&["--baseline", "a", "--tip", "b"]).unwrap().unwrap();
        assert_eq!((c.rev.as_str(), c.tip.as_deref()), ("a", Some("b")));
        assert!(parse(&["--tip", "b"]).is_err());
        assert!(parse(&["--baseline"]).is_err());
        assert!(parse(&["--baseline", "x", "--rounds", "0"]).is_err());
        assert!(parse(&["--baseline", "x", "--runs"]).is_err());
    }

    #[test]
    fn reads_the_harness_output() {
        let rows = parse_tsv("fib\tkeel-interp\t30 10 20\ncall\tkeel-compiler\t5\n").unwrap();
        assert_eq!(rows[0], ("fib".into(), "keel-interp".into(), vec![30.0, 10.0, 20.0]));
        assert_eq!(median(&rows[0].2), 20.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(parse_tsv("fib\tkeel-interp").is_err());
        assert!(parse_tsv("fib\tkeel-interp\t1 x").is_err());
    }
}
