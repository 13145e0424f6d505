//! `cargo xtask spectest [--engine interpreter|compiler|tiered|all] [--suite v1|v2|simd|v3|<proposal>|all]
//! [--timeout SECS] [--in-process] [--listening] [-v|--verbose] [FILTER]`: runs the spec test suite with the
//! `keel-spec-tests` library (see docs/spectest.md). Each .wast file runs in a child process,
//! `xtask spectest --worker ENGINE SUITE FILE`, unless `--in-process`.

use std::process::ExitCode;

use std::time::Duration;

use keel_spec_tests::{Engine, Options, ScriptOptions, Suite, Worker};

const USAGE: &str = "usage: cargo xtask spectest [--engine interpreter|compiler|tiered|all] \
                     [--suite v1|v2|simd|v3|latest|<proposal>|all] [--timeout SECS] [--in-process] \
                     [--listening] [-v|--verbose] [FILTER]";

pub fn run(args: &[String]) -> Result<ExitCode, String> {
    if let Some(("--worker", rest)) = args.split_first().map(|(a, rest)| (a.as_str(), rest)) {
        keel_spec_tests::worker_main(rest)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(options) = parse_args(args)? else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };
    let stdout = std::io::stdout();
    let summary = keel_spec_tests::run(&options, &mut stdout.lock())?;
    Ok(if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The options `args` ask for; `None` for `--help`.
fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut engine = "all".to_string();
    let mut suite = "all".to_string();
    let mut filter = None;
    let mut script = ScriptOptions::default();
    let mut in_process = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| crate::flag_value(arg, flag, &mut args, USAGE);
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-v" | "--verbose" => script.verbose = true,
            "--in-process" => in_process = true,
            "--listening" => script.listening = true,
            a if crate::is_flag(a, "--engine") => engine = value("--engine")?,
            a if crate::is_flag(a, "--suite") => suite = value("--suite")?,
            a if crate::is_flag(a, "--timeout") => {
                let secs = value("--timeout")?;
                script.timeout = secs
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("bad --timeout {secs:?}: expected seconds\n{USAGE}"))?;
            }
            a if a.starts_with('-') => return Err(format!("unknown flag {a}\n{USAGE}")),
            a if filter.is_none() => filter = Some(a.to_string()),
            a => return Err(format!("more than one FILTER given ({a})\n{USAGE}")),
        }
    }
    let engines =
        if engine == "all" { Engine::all_built() } else { vec![Engine::by_name(&engine)?] };
    let suites = if suite == "all" { Suite::ALL.to_vec() } else { vec![Suite::by_name(&suite)?] };
    let worker = if in_process {
        None
    } else {
        let program = std::env::current_exe()
            .map_err(|e| format!("cannot find the xtask executable for the workers: {e}"))?;
        Some(Worker { program, args: vec!["spectest".into(), "--worker".into()] })
    };
    Ok(Some(Options { engines, suites, filter, script, worker }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_flags() {
        let o = parse(&["--engine", "interpreter", "--suite=v2", "i32"]).unwrap().unwrap();
        assert_eq!(o.engines, vec![Engine::by_name("interpreter").unwrap()]);
        assert_eq!(o.suites, vec![Suite::V2]);
        assert_eq!(o.filter.as_deref(), Some("i32"));
        assert_eq!(o.script, ScriptOptions::default());
        let o = parse(&["-v", "--timeout", "2.5"]).unwrap().unwrap();
        assert!(o.script.verbose);
        assert!(o.worker.is_some());
        assert!(parse(&["--in-process"]).unwrap().unwrap().worker.is_none());
        assert!(!o.script.listening);
        assert!(parse(&["--listening"]).unwrap().unwrap().script.listening);
        assert_eq!(o.script.timeout, Duration::from_millis(2500));
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.suites, Suite::ALL);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(
            parse(&["--suite", "simd"]).unwrap().unwrap().suites
                == [Suite::by_name("simd").unwrap()]
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&["--engine", "jit"]).is_err());
        assert!(parse(&["--engine"]).is_err());
        assert!(parse(&["--suite", "v9"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["a", "b"]).is_err());
        assert!(parse(&["--timeout=0"]).is_err());
        assert!(parse(&["--timeout", "soon"]).is_err());
    }
}
