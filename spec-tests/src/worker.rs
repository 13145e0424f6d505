//! Running each script in a child process, so that a crash of the engine (a segfault, an abort,
//! a native stack overflow) or a hang costs that script only, and the run still ends with its
//! summary.
//!
//! The child (a "worker") runs one script and prints each step on stdout as a line starting with
//! `@spectest `: `at FILE:LINE: DIRECTIVE` before a directive, then `pass ` or `fail REASON`, and
//! `done ` at the end. The parent rebuilds the [`Outcome`] from those lines; a worker that exits
//! before `done` crashed at the last `at`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::script::{ECHO_PREFIX, run_script};
use crate::{Engine, Outcome, ScriptOptions, Suite};

/// How to start a worker: `program args... ENGINE SUITE FILE [--verbose] [--listening]`. The
/// program must hand
/// the trailing arguments to [`worker_main`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the worker's own.
    pub args: Vec<String>,
}

/// The worker's side: runs the file given by `args` (`ENGINE SUITE FILE [--verbose]
/// [--listening]`) and prints its progress on stdout for the parent.
pub fn worker_main(args: &[String]) -> Result<(), String> {
    let usage =
        || format!("worker arguments: ENGINE SUITE FILE [--verbose] [--listening], got {args:?}");
    let [engine, suite, file, flags @ ..] = args else {
        return Err(usage());
    };
    // The parent enforces the timeout.
    let mut options = ScriptOptions { timeout: Duration::MAX, ..ScriptOptions::default() };
    for flag in flags {
        match flag.as_str() {
            "--verbose" => options.verbose = true,
            "--listening" => options.listening = true,
            _ => return Err(usage()),
        }
    }
    let engine = Engine::by_name(engine)?;
    let suite = Suite::by_name(suite)?;
    let (name, source) = suite
        .files()
        .into_iter()
        .find(|(name, _)| name == file)
        .ok_or_else(|| format!("suite {suite} has no file {file}"))?;
    run_script(&name, source, engine.kind, suite.features(), &options, true);
    Ok(())
}

/// Runs `file` of `suite` on `engine` in a worker started by `worker`.
pub(crate) fn run_in_worker(
    worker: &Worker,
    engine: Engine,
    suite: Suite,
    file: &str,
    options: &ScriptOptions,
) -> Outcome {
    let mut command = Command::new(&worker.program);
    command.args(&worker.args).args([engine.name, suite.name(), file]);
    if options.verbose {
        command.arg("--verbose");
    }
    if options.listening {
        command.arg("--listening");
    }
    let mut child = match command.stdout(Stdio::piped()).stdin(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(format!(
                "{file}: cannot start the worker {}: {e}",
                worker.program.display()
            ));
        }
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        while matches!(stdout.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string();
            if lines.send(text).is_err() {
                break;
            }
            line.clear();
        }
    });

    let deadline = Instant::now().checked_add(options.timeout);
    let mut outcome = Outcome::default();
    let mut at = file.to_string();
    let mut done = false;
    let mut timed_out = false;
    loop {
        let next = match deadline {
            Some(d) => received.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => received.recv().map_err(RecvTimeoutError::from),
        };
        let line = match next {
            Ok(line) => line,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
        };
        let Some(step) = line.strip_prefix(ECHO_PREFIX) else {
            // Something else printed to stdout: pass it on without disturbing the report.
            eprintln!("{line}");
            continue;
        };
        let (what, text) = step.split_once(' ').unwrap_or((step, ""));
        match what {
            "at" => at = text.to_string(),
            "pass" => outcome.passed += 1,
            "fail" => outcome.failures.push(text.to_string()),
            "done" => done = true,
            _ => eprintln!("{line}"),
        }
    }
    let status = child.wait();
    let _ = reader.join();
    if timed_out {
        outcome.failures.push(format!(
            "{at}: timed out after {} s; the rest of the script did not run",
            options.timeout.as_secs_f64()
        ));
    } else if !done {
        let status = match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        outcome
            .failures
            .push(format!("{at}: the script crashed ({status}); the rest of it did not run"));
    }
    outcome
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A worker that is a shell script.
    fn shell(script: &str, timeout: Duration) -> Outcome {
        let worker =
            Worker { program: "sh".into(), args: vec!["-c".into(), script.into(), "sh".into()] };
        let engine = Engine::by_name("interpreter").unwrap();
        let options = ScriptOptions { timeout, ..ScriptOptions::default() };
        run_in_worker(&worker, engine, Suite::V2, "x.wast", &options)
    }

    #[test]
    fn reads_the_steps_of_a_worker() {
        let outcome = shell(
            r#"test "$1 $2 $3" = "interpreter v2 x.wast" || exit 1
               echo '@spectest at x.wast:1: module'; echo '@spectest pass '
               echo 'stray output'
               echo '@spectest at x.wast:2: (invoke "f")'; echo '@spectest fail x.wast:2: bad'
               echo '@spectest done '"#,
            Duration::from_secs(60),
        );
        assert_eq!(outcome, Outcome { passed: 1, failures: vec!["x.wast:2: bad".into()] });
    }

    #[test]
    fn crashes_and_hangs_are_failures() {
        let outcome = shell(
            r#"echo '@spectest at x.wast:1: module'; echo '@spectest pass '
               echo '@spectest at x.wast:2: (invoke "f")'; kill -SEGV $$"#,
            Duration::from_secs(60),
        );
        assert_eq!(outcome.passed, 1);
        assert_eq!(outcome.failures.len(), 1);
        assert!(
            outcome.failures[0].starts_with("x.wast:2: (invoke \"f\"): the script crashed (signal"),
            "{outcome:?}"
        );

        let outcome = shell(
            r#"echo '@spectest at x.wast:1: (invoke "loop")'; exec sleep 10"#,
            Duration::from_millis(300),
        );
        assert_eq!(
            outcome.failures,
            ["x.wast:1: (invoke \"loop\"): timed out after 0.3 s; the rest of the script did not \
              run"]
        );
    }
}
