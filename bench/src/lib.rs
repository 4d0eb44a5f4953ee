//! `forkhorn bench`: how many workers, and how many connections per worker, this machine wants.
//!
//! For each server (forkhorn serving APP, then every `--against` command) and each worker count,
//! the sweep starts the server as a child on a free loopback port, waits until it answers, and
//! for each connection count and engine warms up, measures, and records a `report::Row`:
//! requests/s, latency percentiles, errors, the server's CPU per request and memory, the
//! connections each worker held, and how busy the load generator and the machine were. Then it
//! stops the server and moves on. A progress bar shows the way; a table, CSV, JSON and an SVG
//! plot show the result.
//!
//! - `cli` and `settings`: the flags and the `[bench]` table, validated into `Settings`;
//! - `server`: the child process; `procstat`: its CPU, memory and connections from /proc
//!   (the connections' sockets from `sockdiag`);
//! - `load`: the built-in generator (with `response` and `histogram`); `wrk`: wrk;
//! - `sweep`: the loop over servers, worker counts, connection counts and engines;
//! - `report`: table, CSV, JSON; `plot`: the SVG.
//!
//! The crate's one entry point is [`main`], which the `forkhorn` binary calls for
//! `forkhorn bench`; the sweep starts the servers it measures from that binary's path.
#![deny(missing_docs)]

mod cli;
mod histogram;
mod load;
mod plot;
mod procstat;
mod report;
mod response;
mod server;
mod settings;
mod sockdiag;
mod sweep;
mod wrk;

use cli::BenchCli;
use settings::Settings;

use clap::Parser;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use sweep::Sweep;

/// Exit status for unusable settings (as clap and the server use).
const EXIT_SETTINGS: u8 = 2;
/// Exit status after Ctrl-C or TERM (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Why a sweep stopped before its end.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    /// The path of this program, needed to start forkhorn servers, is unknown.
    #[error("cannot find the forkhorn executable: {0}")]
    LocateExe(std::io::Error),
    /// The output directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateOut {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A server could not be started, checked or stopped.
    #[error("{0}")]
    RunServer(server::ServerError),
    /// The built-in load generator failed.
    #[error("{0}")]
    RunLoad(#[from] load::LoadError),
    /// wrk failed.
    #[error("{0}")]
    RunWrk(#[from] wrk::WrkError),
    /// A result file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteResult {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Ctrl-C or TERM.
    #[error("interrupted")]
    Interrupt,
}

impl From<server::ServerError> for BenchError {
    fn from(e: server::ServerError) -> Self {
        match e {
            server::ServerError::Interrupt => BenchError::Interrupt,
            e => BenchError::RunServer(e),
        }
    }
}

/// `forkhorn bench ARGS...` (`args` starts with the word `bench`). Prints the table to stdout
/// and everything else to stderr; returns the exit status.
///
/// The caller raises the soft limit of open files first, as the `forkhorn` binary does with
/// the server's own helper: a sweep holds a socket per connection of every point.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let argv: Vec<OsString> = args.into_iter().collect();
    let cli = match BenchCli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let settings = match settings::resolve(&cli, cpus) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("forkhorn bench: {e}");
            return ExitCode::from(EXIT_SETTINGS);
        }
    };
    let command = std::iter::once("forkhorn".to_owned())
        .chain(argv.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once; servers then get TERM from the kernel
        // (see server.rs), since no destructor runs.
        let registered =
            signal_hook::flag::register_conditional_shutdown(sig, i32::from(EXIT_INTERRUPTED), stop.clone())
                .and_then(|_| signal_hook::flag::register(sig, stop.clone()));
        if let Err(e) = registered {
            eprintln!("forkhorn bench: cannot handle signal {sig}: {e}");
        }
    }
    match run(&settings, cpus, &command, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(BenchError::Interrupt) => {
            eprintln!("forkhorn bench: interrupted");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("forkhorn bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the sweep, prints the table, and writes the files. Points measured before a failure are
/// still printed and written.
fn run(settings: &Settings, cpus: usize, command: &str, stop: &Arc<AtomicBool>) -> Result<(), BenchError> {
    if let Some(dir) = &settings.out {
        std::fs::create_dir_all(dir).map_err(|source| BenchError::CreateOut {
            path: dir.clone(),
            source,
        })?;
    }
    let exe = std::env::current_exe().map_err(BenchError::LocateExe)?;
    let targets = targets(settings, &exe);
    let meta = report::Meta {
        forkhorn_version: env!("CARGO_PKG_VERSION"),
        command: command.to_owned(),
        cpus,
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        app: settings.app.clone(),
        duration_s: settings.duration.as_secs_f64(),
        warmup_s: settings.warmup.as_secs_f64(),
        threads: settings.threads,
        path: settings.path.clone(),
        // This machine's path to the binary says nothing to a reader of the file.
        servers: targets
            .iter()
            .map(|t| {
                (
                    t.label.clone(),
                    t.template.join(" ").replacen(&*exe.to_string_lossy(), "forkhorn", 1),
                )
            })
            .collect(),
    };
    let mut sweep = Sweep::new(settings, cpus, targets.len(), stop.clone());
    let outcome = targets.iter().try_for_each(|t| sweep.target(t));
    sweep.progress.finish_and_clear();
    let rows = sweep.rows;
    if !rows.is_empty() {
        if outcome.is_err() {
            eprintln!("forkhorn bench: the sweep stopped early; results so far:");
        }
        print!("{}", report::table(&rows));
        if let Some(dir) = &settings.out {
            let caption = caption(settings, &targets);
            let files = [
                ("results.csv", report::csv(&rows)),
                ("results.json", report::json(&meta, &rows)),
                ("plot.svg", plot::svg(&rows, &caption)),
            ];
            for (name, text) in files {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|source| BenchError::WriteResult { path, source })?;
            }
            eprintln!(
                "forkhorn bench: wrote results.csv, results.json and plot.svg in {}",
                dir.display()
            );
        }
    }
    outcome
}

/// The plot's title.
fn caption(s: &Settings, targets: &[Target]) -> String {
    let names: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
    format!(
        "{} serving {}: {}, GET {}, {} s per point",
        names.join(" vs "),
        s.app,
        s.mode.name(),
        s.path,
        s.duration.as_secs_f64()
    )
}

/// A server to measure: a name, and its command line with `{port}` and `{workers}` left open.
struct Target {
    label: String,
    template: Vec<String>,
    /// forkhorn's master has exactly one child per worker; other servers may not.
    forkhorn: bool,
}

impl Target {
    /// The command line for one point.
    fn argv(&self, workers: usize, port: u16) -> Vec<String> {
        self.template
            .iter()
            .map(|a| {
                a.replace("{port}", &port.to_string())
                    .replace("{workers}", &workers.to_string())
            })
            .collect()
    }
}

/// forkhorn first, then the `--against` commands, run by `sh -c` with `exec` so that the shell
/// is replaced by the server, which then gets the TERM when the point is done.
fn targets(s: &Settings, exe: &Path) -> Vec<Target> {
    let mut out = vec![Target {
        label: "forkhorn".into(),
        template: [
            exe.to_string_lossy().as_ref(),
            "-w",
            "{workers}",
            "-b",
            "127.0.0.1:{port}",
            "--log-level",
            "warning",
        ]
        .into_iter()
        .map(String::from)
        .chain(s.server_args.iter().cloned())
        .chain(std::iter::once(s.app.clone()))
        .collect(),
        forkhorn: true,
    }];
    for cmd in &s.against {
        let base = program_name(cmd);
        let mut label = base.to_owned();
        let mut n = 2;
        while out.iter().any(|t| t.label == label) {
            label = format!("{base}#{n}");
            n += 1;
        }
        out.push(Target {
            label,
            template: vec!["sh".into(), "-c".into(), with_exec(cmd)],
            forkhorn: false,
        });
    }
    out
}

/// Programs that run another program: the label is that program's name, not theirs.
const WRAPPERS: [&str; 12] = [
    "env", "exec", "nice", "ionice", "chrt", "taskset", "numactl", "setsid", "stdbuf", "timeout", "sudo", "nohup",
];

/// A short name for a command: the program it runs, past assignments, wrappers like `taskset`
/// and their options (`taskset -c 0 /usr/bin/gunicorn ...` is `gunicorn`).
fn program_name(cmd: &str) -> &str {
    cmd.split_whitespace()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .find(|w| {
            !w.contains('=')
                && !w.starts_with('-')
                && !w.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')
                && !WRAPPERS.contains(w)
        })
        .unwrap_or("server")
}

/// `CMD` as `exec CMD`, after any leading `NAME=value` assignments (`FOO=1 exec cmd` passes FOO
/// to cmd; `exec FOO=1 cmd` fails). A quoted assignment is not taken apart: the command then
/// runs under the shell, which the process-tree sampling covers too.
fn with_exec(cmd: &str) -> String {
    let mut rest = cmd.trim_start();
    let mut assignments = String::new();
    loop {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        let Some((name, value)) = word.split_once('=') else {
            break;
        };
        let is_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            break;
        }
        if value.contains(['"', '\'', '\\', '$', '`']) {
            return cmd.to_owned();
        }
        assignments.push_str(word);
        assignments.push(' ');
        rest = rest[end..].trim_start();
    }
    format!("{assignments}exec {rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn against_commands_become_targets() {
        let mut s = Settings::defaults(2);
        s.against = vec![
            "FOO=1 /usr/bin/gunicorn -w {workers} -b 127.0.0.1:{port} app:app".into(),
            "gunicorn --workers={workers} --bind=127.0.0.1:{port} other:app".into(),
        ];
        s.server_args = vec!["--keep-alive".into(), "5".into()];
        let t = targets(&s, Path::new("/bin/forkhorn"));
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["forkhorn", "gunicorn", "gunicorn#2"]);
        assert_eq!(
            t[0].argv(4, 8080),
            [
                "/bin/forkhorn",
                "-w",
                "4",
                "-b",
                "127.0.0.1:8080",
                "--log-level",
                "warning",
                "--keep-alive",
                "5",
                "builtin:hello"
            ]
        );
        assert_eq!(
            t[1].argv(2, 9000),
            [
                "sh",
                "-c",
                "FOO=1 exec /usr/bin/gunicorn -w 2 -b 127.0.0.1:9000 app:app"
            ]
        );
        assert_eq!(
            t[2].argv(1, 1)[2],
            "exec gunicorn --workers=1 --bind=127.0.0.1:1 other:app"
        );
        assert!(t[0].forkhorn && !t[1].forkhorn);
    }

    #[test]
    fn labels_name_the_server_not_its_wrapper() {
        assert_eq!(program_name("taskset -c 0 /usr/bin/gunicorn -w {workers}"), "gunicorn");
        assert_eq!(program_name("env A=1 nice -n 5 uwsgi --http :{port}"), "uwsgi");
        assert_eq!(program_name("taskset -c 0,1 ./forkhorn"), "forkhorn");
        assert_eq!(program_name("A=1"), "server");
    }

    #[test]
    fn exec_goes_after_assignments() {
        assert_eq!(with_exec("a b"), "exec a b");
        assert_eq!(with_exec("  A=1 B_2=x cmd -w 2"), "A=1 B_2=x exec cmd -w 2");
        assert_eq!(with_exec("A=\"x y\" cmd"), "A=\"x y\" cmd");
        assert_eq!(with_exec("cmd --bind=1"), "exec cmd --bind=1");
    }
}
