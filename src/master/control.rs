//! The master's answers to `forkhorn ctl` and to `/metrics`: what it reports from its worker
//! table, the workers' shared counters and the kernel (listen queues, `/proc`), and the
//! actions a client may ask for, which do what the matching signal does.

use super::{Cause, Life, Master, MasterError, State, CONTROL_TOKEN, SCRAPE_TOKEN};
use crate::config::Config;
use crate::control::protocol::{self, ListenerInfo, ProtocolError, Request, Stats, Status, WorkerInfo};
use crate::control::scrape::{self, Ask};
use crate::control::{ControlSocket, Scrape};
use crate::metrics::prometheus::{self, Page, QueueSample, WorkerSample};
use crate::metrics::tally::{Snapshot, CLASSES};
use crate::sys::heartbeat::monotonic_ms;
use crate::sys::procstat;
use mio::{Poll, Token};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The file name of the default control socket in `$RUNTIME_DIRECTORY`.
const DEFAULT_NAME: &str = "forkhorn.ctl";

/// The request rate over the last window of about a second.
#[derive(Debug, Default)]
pub(super) struct Rate {
    window: Option<(Instant, u64)>,
    per_second: f64,
}

/// Where the control socket goes: `control_socket`, else `$RUNTIME_DIRECTORY/forkhorn.ctl`
/// under systemd (the first directory when it lists several), else nowhere.
pub(super) fn socket_path(cfg: &Config) -> Option<PathBuf> {
    if cfg.control_socket_disable {
        return None;
    }
    if let Some(path) = &cfg.control_socket {
        return Some(path.clone());
    }
    let dirs = std::env::var_os("RUNTIME_DIRECTORY")?;
    let first = std::env::split_paths(&dirs).next()?;
    (!first.as_os_str().is_empty()).then(|| first.join(DEFAULT_NAME))
}

/// Opens the control socket and the metrics listener the configuration asks for. While
/// `upgrading` (a new master started by USR2, whose old master still holds both), the
/// control socket is taken over, and a metrics address still in use is a warning.
pub(super) fn open(
    cfg: &Config,
    upgrading: bool,
    poll: &Poll,
) -> Result<(Option<ControlSocket>, Option<Scrape>), MasterError> {
    let control = socket_path(cfg)
        .map(|path| {
            ControlSocket::bind(
                &path,
                cfg.control_socket_mode,
                upgrading,
                poll.registry(),
                CONTROL_TOKEN,
            )
        })
        .transpose()?;
    let scrape = match cfg
        .metrics_bind
        .map(|addr| Scrape::bind(addr, poll.registry(), SCRAPE_TOKEN))
    {
        Some(Err(e)) if upgrading => {
            log::warn!("{e}; the old master serves them until it stops");
            None
        }
        other => other.transpose()?,
    };
    Ok((control, scrape))
}

impl Master<'_> {
    /// An event for the control socket or one of its clients.
    pub(super) fn control_ready(&mut self, token: Token) {
        let Some(control) = self.control.as_mut() else {
            return;
        };
        let (incoming, gone) = control.ready(self.poll.registry(), token);
        let last = incoming.len();
        for (i, (key, request)) in incoming.into_iter().enumerate() {
            // A client that closed its side gets its answers, then the connection ends.
            let done = gone && i + 1 == last;
            let (result, close) = match request {
                Ok(req) => (self.answer(req), done),
                Err(e @ ProtocolError::ReadLine) => (Err(e.to_string()), true),
                Err(e) => (Err(e.to_string()), done),
            };
            let line = protocol::reply(result);
            if let Some(control) = self.control.as_mut() {
                control.answer(self.poll.registry(), key, &line, close);
            }
        }
    }

    /// An event for the metrics listener or one of its clients.
    pub(super) fn scrape_ready(&mut self, token: Token) {
        let Some(scrape) = self.scrape.as_mut() else {
            return;
        };
        let Some((key, ask)) = scrape.ready(self.poll.registry(), token) else {
            return;
        };
        let mut body = String::new();
        if let Ask::Metrics { .. } = ask {
            prometheus::render(&self.page(), &mut body);
        }
        let response = scrape::response(ask, body.as_bytes());
        if let Some(scrape) = self.scrape.as_mut() {
            scrape.answer(self.poll.registry(), key, &response);
        }
    }

    /// Once per turn of the loop: the rate window, idle clients.
    pub(super) fn control_tick(&mut self) {
        if !self.counting {
            return;
        }
        let now = Instant::now();
        match self.rate.window {
            Some((at, _)) if now.duration_since(at) < Duration::from_secs(1) => return,
            Some((at, before)) => {
                let total = self.totals().requests_total();
                let secs = now.duration_since(at).as_secs_f64();
                self.rate.per_second = total.saturating_sub(before) as f64 / secs;
                self.rate.window = Some((now, total));
            }
            None => self.rate.window = Some((now, self.totals().requests_total())),
        }
        let registry = self.poll.registry();
        if let Some(c) = self.control.as_mut() {
            c.sweep(registry);
        }
        if let Some(s) = self.scrape.as_mut() {
            s.sweep(registry);
        }
    }

    /// What the request asks for, done or told.
    fn answer(&mut self, req: Request) -> Result<Value, String> {
        let json = |v: Result<Value, serde_json::Error>| v.map_err(|e| e.to_string());
        match req {
            Request::Status => json(serde_json::to_value(self.status())),
            Request::Workers => json(serde_json::to_value(self.worker_infos())),
            Request::Stats => json(serde_json::to_value(self.stats())),
            Request::Config => Ok(serde_json::json!({ "toml": self.cfg.to_toml() })),
            Request::Reload => {
                log::info!("Control socket: reload");
                self.reload()
                    .map(|generation| serde_json::json!({ "generation": generation }))
            }
            Request::Reopen => {
                log::info!("Control socket: reopen");
                self.reopen();
                Ok(serde_json::json!({}))
            }
            Request::AddWorkers { count } | Request::RemoveWorkers { count } if count == 0 || count > 1024 => {
                Err(format!("count must be from 1 to 1024, got {count}"))
            }
            Request::AddWorkers { count } => {
                self.scale(count as isize);
                Ok(serde_json::json!({ "workers": self.cfg.workers }))
            }
            Request::RemoveWorkers { count } => {
                self.scale(-(count as isize));
                Ok(serde_json::json!({ "workers": self.cfg.workers }))
            }
            Request::KillWorker { pid } => self.kill_worker(pid),
            Request::Stop { graceful } => {
                log::info!("Control socket: stop{}", if graceful { " (graceful)" } else { "" });
                self.stop(graceful);
                Ok(serde_json::json!({}))
            }
        }
    }

    /// TERM to one worker; `converge` starts its replacement.
    fn kill_worker(&mut self, pid: i32) -> Result<Value, String> {
        let Some(slot) = self.workers.get_mut(&Pid::from_raw(pid)) else {
            return Err(format!("no worker has pid {pid}"));
        };
        if !matches!(slot.life, Life::Booting | Life::Ready) {
            return Err(format!("worker {pid} is already stopping"));
        }
        log::info!("Control socket: stopping worker (pid:{pid})");
        slot.life = slot.life.told_to_stop(Instant::now());
        slot.cause.get_or_insert(Cause::Killed);
        kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| e.to_string())?;
        Ok(serde_json::json!({ "pid": pid }))
    }

    /// Every worker's counters, the retired ones' included; the live ones' gauges.
    fn totals(&self) -> Snapshot {
        let mut sum = self.retired;
        for slot in self.workers.values() {
            sum.add(&slot.heartbeat.counters().read());
        }
        sum
    }

    fn state_name(&self) -> &'static str {
        match self.state {
            State::Stopping { .. } => "stopping",
            State::Paused => "paused",
            State::Running if self.fallback.is_some() => "reloading",
            State::Running => "running",
        }
    }

    fn listener_infos(&self) -> Vec<ListenerInfo> {
        self.listeners
            .iter()
            .map(|l| {
                // None with reuse_port: each worker has its own queue, which the master lacks.
                let q = l.queue();
                ListenerInfo {
                    address: l.to_string(),
                    queue_depth: q.map(|q| q.depth),
                    queue_limit: q.map(|q| q.limit),
                }
            })
            .collect()
    }

    fn status(&self) -> Status {
        Status {
            pid: std::process::id() as i32,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            generation: self.generation,
            state: self.state_name().to_owned(),
            config_file: self.cfg.config_file.as_ref().map(|p| p.display().to_string()),
            app: self.cfg.app.clone(),
            workers_target: self.cfg.workers,
            workers: self.workers.len(),
            listeners: self.listener_infos(),
        }
    }

    fn worker_infos(&self) -> Vec<WorkerInfo> {
        let now_ms = monotonic_ms();
        let mut out: Vec<WorkerInfo> = self
            .workers
            .iter()
            .map(|(pid, slot)| {
                let counts = slot.heartbeat.counters().read();
                let usage = procstat::usage(pid.as_raw());
                let current = slot.heartbeat.oldest_request(now_ms);
                WorkerInfo {
                    pid: pid.as_raw(),
                    id: slot.id,
                    generation: slot.generation,
                    age_seconds: slot.spawned.elapsed().as_secs_f64(),
                    state: life_name(slot.life).to_owned(),
                    requests: counts.requests_total(),
                    in_flight: counts.in_flight,
                    busy_threads: slot.heartbeat.busy(),
                    threads: slot.heartbeat.threads(),
                    connections: counts.connections,
                    rss_bytes: usage.map(|u| u.rss_bytes),
                    cpu_seconds: usage.map(|u| u.cpu_seconds),
                    // Escaped: a request line is the client's text.
                    current_request: current.as_ref().map(|(line, _)| line.escape_debug().to_string()),
                    current_seconds: current.map(|(_, ms)| ms as f64 / 1000.0),
                }
            })
            .collect();
        out.sort_by_key(|w| w.id);
        out
    }

    fn stats(&self) -> Stats {
        let totals = self.totals();
        let lc = &self.lifecycle;
        Stats {
            requests_total: totals.requests_total(),
            by_status_class: CLASSES
                .iter()
                .enumerate()
                .map(|(i, c)| (c.to_string(), totals.by_class(i)))
                .collect(),
            requests_per_second: self.rate.per_second,
            mean_request_seconds: match totals.total.count() {
                0 => 0.0,
                n => totals.total.sum_us as f64 / 1e6 / n as f64,
            },
            in_flight: totals.in_flight,
            busy_threads: self.workers.values().map(|s| s.heartbeat.busy()).sum(),
            threads: self.workers.values().map(|s| s.heartbeat.threads()).sum(),
            connections: totals.connections,
            workers: self.workers.len(),
            worker_starts: lc.worker_starts,
            worker_exits: self.exits().into_iter().map(|(c, n)| (c.to_owned(), n)).collect(),
            boot_failures: lc.boot_failures,
            reloads: self.reloads().into_iter().map(|(c, n)| (c.to_owned(), n)).collect(),
        }
    }

    fn exits(&self) -> Vec<(&'static str, u64)> {
        Cause::ALL
            .iter()
            .zip(self.lifecycle.exits)
            .map(|(c, n)| (c.as_str(), n))
            .collect()
    }

    fn reloads(&self) -> Vec<(&'static str, u64)> {
        let lc = &self.lifecycle;
        vec![
            ("ok", lc.reloads_ok),
            ("rolled_back", lc.reloads_rolled_back),
            ("failed", lc.reloads_failed),
        ]
    }

    /// What `/metrics` shows.
    fn page(&self) -> Page {
        let mut workers: Vec<WorkerSample> = self
            .workers
            .iter()
            .map(|(pid, slot)| {
                let counts = slot.heartbeat.counters().read();
                let usage = procstat::usage(pid.as_raw());
                WorkerSample {
                    worker: slot.index,
                    in_flight: counts.in_flight,
                    busy_threads: slot.heartbeat.busy(),
                    threads: slot.heartbeat.threads(),
                    connections: counts.connections,
                    rss_bytes: usage.map(|u| u.rss_bytes),
                    cpu_seconds: usage.map(|u| u.cpu_seconds),
                }
            })
            .collect();
        workers.sort_by_key(|w| w.worker);
        let queues = self
            .listener_infos()
            .into_iter()
            .filter_map(|l| {
                Some(QueueSample {
                    depth: l.queue_depth?,
                    limit: l.queue_limit?,
                    listener: l.address,
                })
            })
            .collect();
        Page {
            totals: self.totals(),
            workers,
            queues,
            worker_starts: self.lifecycle.worker_starts,
            worker_exits: self.exits(),
            boot_failures: self.lifecycle.boot_failures,
            reloads: self.reloads(),
        }
    }
}

fn life_name(life: Life) -> &'static str {
    match life {
        Life::Booting => "booting",
        Life::Ready => "ready",
        Life::Retiring => "retiring",
        Life::Stopping { .. } => "stopping",
        Life::Killed => "killed",
        Life::Aborting { .. } => "aborting",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_path() {
        // Whatever the test's environment says, a configured path wins and disabling wins over it.
        let mut cfg = Config {
            control_socket: Some(PathBuf::from("/tmp/x.ctl")),
            ..Config::default()
        };
        assert_eq!(socket_path(&cfg), Some(PathBuf::from("/tmp/x.ctl")));
        cfg.control_socket_disable = true;
        assert_eq!(socket_path(&cfg), None);
    }
}
