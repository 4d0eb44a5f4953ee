//! A Rust application that exercises every rule of the start_response/write protocol, one route
//! per rule; forkhorn's protocol tests drive it through the real server, and it doubles as a
//! reference for writing apps against `forkhorn::app`.
//!
//!     cargo run --example pep3333 -- 127.0.0.1:8000
//!     curl -i localhost:8000/lazy
//!
//! Routes report protocol errors the app received in the body, so a client can see them.

use forkhorn::app::{BodyIter, Chunk};
use forkhorn::config::BindAddr;
use forkhorn::{AppError, Application, Body, Config, Environ, StartResponse};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts bodies made and closed in this worker, to prove close() runs exactly once.
#[derive(Default)]
struct Counters {
    made: AtomicU64,
    closed: AtomicU64,
}

struct Probe {
    counters: Arc<Counters>,
}

/// A body of `n` chunks of `size` bytes, started lazily if `lazy`, counting its close.
struct Chunks {
    left: u64,
    chunk: Vec<u8>,
    lazy: bool,
    panic_at: Option<u64>,
    counters: Arc<Counters>,
    closed: bool,
}

impl BodyIter for Chunks {
    fn next_chunk(&mut self, sr: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
        if self.lazy {
            self.lazy = false;
            if let Err(e) = sr.start_response("200 OK", &[("Content-Type", "text/plain")], None) {
                return Some(Err(e));
            }
        }
        if self.left == 0 {
            return None;
        }
        if self.panic_at == Some(self.left) {
            panic!("body failed on purpose");
        }
        self.left -= 1;
        Some(Ok(Chunk::Owned(self.chunk.clone())))
    }

    fn close(&mut self) {
        assert!(!self.closed, "close called twice");
        self.closed = true;
        self.counters.closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Confirmation bytes from the FIFO the query string names: the client writes one after each
/// block it received, so a block the server held back leaves the client waiting. Opened at the
/// first wait (opening blocks until the client opens its end).
struct Confirmations {
    path: String,
    fifo: Option<std::fs::File>,
}

impl Confirmations {
    fn new(environ: &Environ) -> Confirmations {
        Confirmations {
            path: environ.get("QUERY_STRING").unwrap_or("").to_owned(),
            fifo: None,
        }
    }

    fn wait(&mut self) -> Result<bool, AppError> {
        use std::io::Read;
        if self.fifo.is_none() {
            self.fifo = Some(std::fs::File::open(&self.path)?);
        }
        let mut byte = [0u8; 1];
        let n = self.fifo.as_mut().map_or(Ok(0), |f| f.read(&mut byte))?;
        Ok(n == 1 && byte[0] == b'+')
    }
}

/// Five blocks `block N\n`; block N+1 is made only after the client confirmed block N.
struct ConfirmedBlocks {
    next: u64,
    confirmations: Confirmations,
}

impl BodyIter for ConfirmedBlocks {
    fn next_chunk(&mut self, _: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
        if self.next == 5 {
            return None;
        }
        if self.next > 0 {
            match self.confirmations.wait() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        self.next += 1;
        Some(Ok(Chunk::Owned(format!("block {}\n", self.next - 1).into_bytes())))
    }
}

fn text(sr: &mut StartResponse<'_>, status: &str, body: String) -> Result<Body, AppError> {
    sr.start_response(status, &[("Content-Type", "text/plain")], None)?;
    Ok(Body::Bytes(body.into_bytes()))
}

impl Probe {
    fn chunks(&self, n: u64, size: usize, lazy: bool, panic_at: Option<u64>) -> Body {
        self.counters.made.fetch_add(1, Ordering::Relaxed);
        Body::Iter(Box::new(Chunks {
            left: n,
            chunk: vec![b'x'; size],
            lazy,
            panic_at,
            counters: self.counters.clone(),
            closed: false,
        }))
    }
}

fn query_u64(environ: &Environ, key: &str, default: u64) -> u64 {
    environ
        .get("QUERY_STRING")
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Application for Probe {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let path = environ.get("PATH_INFO").unwrap_or("/").to_owned();
        match path.as_str() {
            "/lazy" => Ok(self.chunks(2, 3, true, None)),
            "/write" => {
                let mut write = sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
                write.write(b"one,")?;
                write.write(b"")?;
                write.write(b"two,")?;
                Ok(Body::from_chunks(
                    vec![Ok(Chunk::Borrowed(b"three,")), Ok(Chunk::Borrowed(b"four"))].into_iter(),
                ))
            }
            "/second-start" => {
                sr.start_response("200 OK", &[], None)?;
                let err = sr.start_response("201 Created", &[], None).err().map(|e| e.to_string());
                Ok(Body::Bytes(
                    format!("second call: {}", err.unwrap_or_default()).into_bytes(),
                ))
            }
            "/write-before-start" => {
                let err = sr.write(b"too early").err().map(|e| e.to_string()).unwrap_or_default();
                text(sr, "200 OK", format!("write: {err}"))
            }
            "/bad-status" => {
                let mut errs = Vec::new();
                for bad in ["20 OK", "200\tOK", "2000 OK", "OK 200", "200 OK\r\nX: y"] {
                    errs.push(
                        sr.start_response(bad, &[], None)
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_default(),
                    );
                }
                text(sr, "200 OK", errs.join("\n"))
            }
            "/bad-header" => {
                let mut errs = Vec::new();
                for (n, v) in [("X-Split", "a\r\nInjected: 1"), ("Bad Name", "v"), ("X-Nul", "a\0b")] {
                    errs.push(
                        sr.start_response("200 OK", &[(n, v)], None)
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_default(),
                    );
                }
                text(sr, "200 OK", errs.join("\n"))
            }
            "/unchecked-bad-header" => {
                // An app that ignores the error and returns a body: the client gets a 500.
                let _ = sr.start_response("200 OK", &[("X-Split", "a\r\nInjected: 1")], None);
                Ok(Body::Static(b"should not be seen"))
            }
            "/exc-before" => {
                sr.start_response("200 OK", &[("X-First", "1")], None)?;
                let err: AppError = "something failed".into();
                sr.start_response("503 Service Unavailable", &[("X-Replaced", "1")], Some(err))?;
                Ok(Body::Static(b"replaced"))
            }
            "/exc-after" => {
                sr.start_response("200 OK", &[], None)?.write(b"partial")?;
                let err: AppError = "failed after the headers".into();
                // PEP 3333: the error comes back, and the app propagates it.
                sr.start_response("500 Internal Server Error", &[], Some(err))?;
                Ok(Body::Empty)
            }
            "/error-before" => Err("the application failed".into()),
            "/panic-before" => panic!("the application panicked"),
            "/panic-after" => Ok(self.chunks(3, 4, true, Some(1))),
            "/stream" => {
                let mib = query_u64(environ, "mib", 1);
                sr.start_response("200 OK", &[("Content-Type", "application/octet-stream")], None)?;
                Ok(self.chunks(mib * 16, 64 * 1024, false, None))
            }
            "/write-big" => {
                // Everything through write(): back-pressure, not buffering, bounds the memory.
                let mib = query_u64(environ, "mib", 1);
                let piece = vec![b'w'; 64 * 1024];
                let mut write = sr.start_response("200 OK", &[("Content-Type", "application/octet-stream")], None)?;
                for _ in 0..mib * 16 {
                    write.write(&piece)?;
                }
                Ok(Body::Empty)
            }
            "/stream-barrier" => {
                sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
                Ok(Body::Iter(Box::new(ConfirmedBlocks {
                    next: 0,
                    confirmations: Confirmations::new(environ),
                })))
            }
            "/write-barrier" => {
                let mut confirmations = Confirmations::new(environ);
                let mut write = sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
                for i in 0..5 {
                    if i > 0 && !confirmations.wait()? {
                        break;
                    }
                    write.write(format!("block {i}\n").as_bytes())?;
                }
                Ok(Body::Empty)
            }
            "/length-short" => {
                sr.start_response("200 OK", &[("Content-Length", "10")], None)?;
                Ok(Body::Static(b"12345"))
            }
            "/length-long" => {
                sr.start_response("200 OK", &[("Content-Length", "3")], None)?;
                Ok(Body::Static(b"1234567890"))
            }
            "/counters" => text(
                sr,
                "200 OK",
                format!(
                    "made={} closed={}",
                    self.counters.made.load(Ordering::Relaxed),
                    self.counters.closed.load(Ordering::Relaxed)
                ),
            ),
            _ => text(sr, "404 Not Found", format!("no route {path}")),
        }
    }
}

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8000".into());
    let Ok(addr) = addr.parse() else {
        eprintln!("pep3333: {addr:?} is not HOST:PORT");
        std::process::exit(2);
    };
    let cfg = Config {
        bind: vec![BindAddr::Tcp(addr)],
        ..Config::default()
    };
    let make = || {
        Ok(Probe {
            counters: Arc::new(Counters::default()),
        })
    };
    match forkhorn::serve(cfg, make) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            eprintln!("pep3333: {e}");
            std::process::exit(1);
        }
    }
}
