//! `forkhorn bench`: how many workers, and how many connections per worker, this machine wants.
//!
//! For each server (forkhorn serving APP, then every `--against` command) and each worker count,
//! the sweep starts the server as a child on a free loopback port, waits until it answers, and
//! for each connection count and engine warms up, measures, and records a [`report::Row`]:
//! requests/s, latency percentiles, errors, the server's CPU per request and memory, the
//! connections each worker held, and how busy the load generator and the machine were. Then it
//! stops the server and moves on. A progress bar shows the way; a table, CSV, JSON and an SVG
//! plot show the result.
//!
//! - [`cli`] and [`settings`]: the flags and the `[bench]` table, validated into [`Settings`];
//! - [`server`]: the child process; [`procstat`]: its CPU, memory and connections from /proc
//!   (the connections' sockets from [`sockdiag`]);
//! - [`load`]: the built-in generator (with [`response`] and [`histogram`]); [`wrk`]: wrk;
//! - [`report`]: table, CSV, JSON; [`plot`]: the SVG.

pub mod cli;
pub mod histogram;
pub mod load;
pub mod plot;
pub mod procstat;
pub mod report;
pub mod response;
pub mod server;
pub mod settings;
pub mod sockdiag;
pub mod wrk;

pub use cli::BenchCli;
pub use settings::{Engine, Mode, Settings};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use report::Row;
use server::ServerProcess;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit status for unusable settings (as clap and the server use).
const EXIT_SETTINGS: u8 = 2;
/// Exit status after Ctrl-C or TERM (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;
/// How long a server may take to exit after TERM before its process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why a sweep stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
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
pub fn run(settings: &Settings, cpus: usize, command: &str, stop: &Arc<AtomicBool>) -> Result<(), BenchError> {
    if let Some(dir) = &settings.out {
        std::fs::create_dir_all(dir).map_err(|source| BenchError::CreateOut {
            path: dir.clone(),
            source,
        })?;
    }
    crate::sys::process::raise_nofile_limit();
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
        servers: targets
            .iter()
            .map(|t| (t.label.clone(), t.template.join(" ")))
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
        let base = cmd
            .split_whitespace()
            .find(|w| !w.contains('='))
            .map(|w| w.rsplit('/').next().unwrap_or(w))
            .unwrap_or("server");
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

/// The sweep's state: progress, and the rows so far.
struct Sweep<'a> {
    settings: &'a Settings,
    cpus: usize,
    stop: Arc<AtomicBool>,
    progress: ProgressBar,
    /// Progress is counted in planned milliseconds of load; these are done.
    done_ms: u64,
    step: usize,
    steps: usize,
    rows: Vec<Row>,
}

impl<'a> Sweep<'a> {
    fn new(settings: &'a Settings, cpus: usize, targets: usize, stop: Arc<AtomicBool>) -> Sweep<'a> {
        let steps = targets * settings.workers.len() * settings.connections.len() * settings.engines.len();
        let per_step = (settings.warmup + settings.duration).as_millis() as u64;
        let progress = ProgressBar::new(steps as u64 * per_step).with_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {percent:>3}%  eta {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        progress.enable_steady_tick(Duration::from_millis(200));
        Sweep {
            settings,
            cpus,
            stop,
            progress,
            done_ms: 0,
            step: 0,
            steps,
            rows: Vec::new(),
        }
    }

    fn interrupted(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Every point of one server.
    fn target(&mut self, t: &Target) -> Result<(), BenchError> {
        for &workers in &self.settings.workers {
            if self.interrupted() {
                return Err(BenchError::Interrupt);
            }
            let port = server::free_port()?;
            self.progress.set_message(format!(
                "{} w={workers}: starting ({}/{})",
                t.label,
                self.step + 1,
                self.steps
            ));
            let mut srv = ServerProcess::start(&t.argv(workers, port), port)?;
            srv.wait_ready(&self.settings.path, t.forkhorn.then_some(workers), &self.stop)?;
            let measured = self.points(t, workers, &srv);
            let stopped = srv.stop(STOP_GRACE);
            measured?;
            stopped?;
        }
        Ok(())
    }

    /// Every connection count and engine against one running server.
    fn points(&mut self, t: &Target, workers: usize, srv: &ServerProcess) -> Result<(), BenchError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, srv.port()));
        for &connections in &self.settings.connections {
            for &engine in &self.settings.engines {
                self.step += 1;
                let point = format!("{} w={workers} c={connections} {}", t.label, engine.name());
                let m = match engine {
                    Engine::Builtin => self.measure_builtin(&point, addr, connections, srv)?,
                    Engine::Wrk => self.measure_wrk(&point, addr, connections, srv)?,
                };
                let row = self.row(t, engine, workers, connections, m);
                self.progress.suspend(|| {
                    eprintln!(
                        "[{}/{}] {point}: {:.0} req/s, p99 {:.2} ms, {} errors",
                        self.step, self.steps, row.requests_per_sec, row.latency_p99_ms, row.errors
                    )
                });
                self.rows.push(row);
                self.done_ms += (self.settings.warmup + self.settings.duration).as_millis() as u64;
                self.progress.set_position(self.done_ms);
            }
        }
        Ok(())
    }

    /// Waits until `deadline`, moving the bar; Err if interrupted.
    fn wait_until(&self, deadline: Instant, step_start: Instant, what: &str, point: &str) -> Result<(), BenchError> {
        self.progress
            .set_message(format!("{point}: {what} ({}/{})", self.step, self.steps));
        let planned = (self.settings.warmup + self.settings.duration).as_millis() as u64;
        loop {
            if self.interrupted() {
                return Err(BenchError::Interrupt);
            }
            let now = Instant::now();
            let into = (now.duration_since(step_start).as_millis() as u64).min(planned);
            self.progress.set_position(self.done_ms + into);
            if now >= deadline {
                return Ok(());
            }
            std::thread::sleep(deadline.duration_since(now).min(Duration::from_millis(100)));
        }
    }

    fn measure_builtin(
        &self,
        point: &str,
        addr: SocketAddr,
        connections: usize,
        srv: &ServerProcess,
    ) -> Result<Measured, BenchError> {
        let s = self.settings;
        let spec = load::LoadSpec {
            addr,
            path: s.path.clone(),
            mode: s.mode,
            connections,
            threads: s.threads,
            warmup: s.warmup,
            duration: s.duration,
            timeout: s.timeout,
        };
        let begun = Instant::now();
        let running = load::start(&spec, self.stop.clone())?;
        let w = running.window();
        let sampled = self.sample_during(srv, begun, w.start, w.end, point);
        let report = running.finish()?;
        let (before, held, after) = sampled?;
        Ok(Measured {
            ok: report.ok,
            elapsed: report.elapsed,
            p50: report.latency.quantile(0.5),
            p90: report.latency.quantile(0.9),
            p99: report.latency.quantile(0.99),
            max: report.latency.max(),
            errors: report.errors,
            client_cpu: report.cpu,
            client_threads: report.threads,
            before,
            held,
            after,
        })
    }

    fn measure_wrk(
        &self,
        point: &str,
        addr: SocketAddr,
        connections: usize,
        srv: &ServerProcess,
    ) -> Result<Measured, BenchError> {
        let s = self.settings;
        let spec = wrk::WrkSpec {
            program: s.wrk.clone(),
            url: format!("http://{addr}{}", s.path),
            mode: s.mode,
            connections,
            threads: s.threads,
            timeout: s.timeout,
        };
        let begun = Instant::now();
        if !s.warmup.is_zero() {
            let warm = wrk::start(&spec, s.warmup)?;
            if let Err(e) = self.wait_until(warm.started + s.warmup, begun, "warming up", point) {
                warm.kill();
                return Err(e);
            }
            warm.finish()?;
        }
        let started = Instant::now();
        let run = wrk::start(&spec, s.duration)?;
        let end = started + s.duration;
        let sampled = self.sample_during(srv, begun, started, end, point);
        let sampled = match sampled {
            Ok(v) => v,
            Err(e) => {
                run.kill();
                return Err(e);
            }
        };
        let report = run.finish()?;
        // wrk has exited: the window closes now, not at the planned end.
        let after = Sample::take(srv);
        Ok(Measured {
            ok: report.requests.saturating_sub(report.non_success),
            elapsed: report.elapsed,
            p50: report.p50,
            p90: report.p90,
            p99: report.p99,
            max: report.max,
            errors: load::Errors {
                connect: report.connect_errors,
                read: report.read_errors,
                write: report.write_errors,
                timeout: report.timeouts,
                status: report.non_success,
                protocol: 0,
            },
            client_cpu: report.cpu,
            client_threads: report.threads,
            before: sampled.0,
            held: sampled.1,
            after,
        })
    }

    /// Samples the server at `start`, counts its connections halfway, samples again at `end`.
    fn sample_during(
        &self,
        srv: &ServerProcess,
        begun: Instant,
        start: Instant,
        end: Instant,
        point: &str,
    ) -> Result<(Sample, Vec<usize>, Sample), BenchError> {
        self.wait_until(start, begun, "warming up", point)?;
        let before = Sample::take(srv);
        self.wait_until(start + (end - start) / 2, begun, "measuring", point)?;
        let held = connections_per_worker(srv);
        self.wait_until(end, begun, "measuring", point)?;
        Ok((before, held, Sample::take(srv)))
    }

    fn row(&self, t: &Target, engine: Engine, workers: usize, connections: usize, m: Measured) -> Row {
        let seconds = m.elapsed.as_secs_f64();
        let sample_wall = m.after.at.duration_since(m.before.at).as_secs_f64();
        let server_cpu = m.after.cpu.saturating_sub(m.before.cpu).as_secs_f64();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let capacity = seconds * m.client_threads.min(self.cpus).max(1) as f64;
        let client_busy = if capacity > 0.0 {
            m.client_cpu.as_secs_f64() / capacity
        } else {
            0.0
        };
        let machine_busy = match (m.before.machine, m.after.machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64,
            _ => 0.0,
        };
        Row {
            server: t.label.clone(),
            engine: engine.name().into(),
            mode: self.settings.mode.name().into(),
            workers,
            connections,
            requests: m.ok,
            seconds,
            requests_per_sec: if seconds > 0.0 { m.ok as f64 / seconds } else { 0.0 },
            latency_p50_ms: ms(m.p50),
            latency_p90_ms: ms(m.p90),
            latency_p99_ms: ms(m.p99),
            latency_max_ms: ms(m.max),
            errors: m.errors.total(),
            error_kinds: m.errors,
            server_cpu_us_per_request: (m.ok > 0).then(|| server_cpu * 1e6 / m.ok as f64),
            server_cpu_cores: if sample_wall > 0.0 {
                server_cpu / sample_wall
            } else {
                0.0
            },
            rss_mib: m.after.memory.rss_kib as f64 / 1024.0,
            pss_mib: m.after.memory.pss_kib.map(|k| k as f64 / 1024.0),
            connections_per_worker: m.held,
            client_cpu_busy: client_busy,
            client_bound: client_busy >= report::CLIENT_BOUND,
            machine_cpu_busy: machine_busy,
        }
    }
}

/// One point's raw measurements, from either engine.
struct Measured {
    ok: u64,
    elapsed: Duration,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    errors: load::Errors,
    client_cpu: Duration,
    client_threads: usize,
    before: Sample,
    held: Vec<usize>,
    after: Sample,
}

/// The server's cost so far, and the machine's CPU counters, at one instant.
struct Sample {
    at: Instant,
    cpu: Duration,
    memory: procstat::Memory,
    machine: Option<(u64, u64)>,
}

impl Sample {
    fn take(srv: &ServerProcess) -> Sample {
        let pids = procstat::pids(&srv.processes());
        Sample {
            at: Instant::now(),
            cpu: procstat::cpu_time(&pids),
            memory: procstat::memory(&pids),
            machine: procstat::machine_ticks(),
        }
    }
}

/// Established connections per worker ([`procstat::workers`]), largest first.
fn connections_per_worker(srv: &ServerProcess) -> Vec<usize> {
    let workers = procstat::workers(&srv.processes());
    let mut held: Vec<usize> = procstat::connections_held(&workers, srv.port())
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    held.sort_unstable_by(|a, b| b.cmp(a));
    held
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
    fn exec_goes_after_assignments() {
        assert_eq!(with_exec("a b"), "exec a b");
        assert_eq!(with_exec("  A=1 B_2=x cmd -w 2"), "A=1 B_2=x exec cmd -w 2");
        assert_eq!(with_exec("A=\"x y\" cmd"), "A=\"x y\" cmd");
        assert_eq!(with_exec("cmd --bind=1"), "exec cmd --bind=1");
    }
}
