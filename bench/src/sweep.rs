//! One sweep in motion: for each worker count, start the server, then for each connection count
//! and engine warm up, measure, sample the server around the window, and turn the numbers into
//! a [`Row`]; a progress bar shows what runs and what is left.

use super::report::{self, Row};
use super::server::{self, ServerProcess};
use super::settings::Engine;
use super::{load, procstat, wrk, BenchError, Settings, Target};
use indicatif::{ProgressBar, ProgressStyle};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a server may take to exit after TERM before its process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The sweep's state: progress, and the rows so far.
pub(super) struct Sweep<'a> {
    settings: &'a Settings,
    cpus: usize,
    stop: Arc<AtomicBool>,
    pub(super) progress: ProgressBar,
    /// Progress is counted in planned milliseconds of load; these are done.
    done_ms: u64,
    step: usize,
    steps: usize,
    pub(super) rows: Vec<Row>,
}

impl<'a> Sweep<'a> {
    pub(super) fn new(settings: &'a Settings, cpus: usize, targets: usize, stop: Arc<AtomicBool>) -> Sweep<'a> {
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
    pub(super) fn target(&mut self, t: &Target) -> Result<(), BenchError> {
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
