//! The connections of the master's two small servers (the control socket and `/metrics`),
//! driven by the master's own mio loop: reads into a bounded buffer, writes whatever the socket
//! takes and keeps the rest for the next writable event, and forgets a client that is too slow
//! or sends too much. Nothing here blocks, so a stuck client can never stall the master.

use mio::event::Source;
use mio::{Interest, Registry, Token};
use slab::Slab;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Clients served at once per server; more are refused.
pub const MAX_CLIENTS: usize = 16;
/// Output a client may leave unread before it is dropped.
const MAX_PENDING: usize = 1 << 20;
/// A client idle (or trickling) this long is dropped.
pub const IDLE: Duration = Duration::from_secs(60);

/// One connection.
#[derive(Debug)]
pub struct Client<S> {
    /// The socket.
    pub stream: S,
    /// Bytes read and not yet taken by the framing.
    pub input: Vec<u8>,
    output: Vec<u8>,
    /// Close once the output is sent.
    closing: bool,
    /// Writable interest is registered.
    waiting: bool,
    last_active: Instant,
}

/// A server's connections, with tokens `base + 1 + key`.
#[derive(Debug)]
pub struct Clients<S> {
    slab: Slab<Client<S>>,
    base: usize,
}

/// What reading a client found.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Everything the socket had is in `input`.
    Drained,
    /// `input` reached the limit: more may wait in the socket once some is taken (the event
    /// that announced it will not come again).
    Full,
    /// The peer closed its side (what it sent before is in `input`), or the connection failed.
    Gone,
}

impl<S: Read + Write + Source> Clients<S> {
    /// No clients; `base` is the server's listener token.
    pub fn new(base: usize) -> Clients<S> {
        Clients {
            slab: Slab::new(),
            base,
        }
    }

    /// The client key of `token`, if it is one of these clients'.
    pub fn key(&self, token: Token) -> Option<usize> {
        let key = token.0.checked_sub(self.base + 1)?;
        self.slab.contains(key).then_some(key)
    }

    /// Whether there is room for one more.
    pub fn has_room(&self) -> bool {
        self.slab.len() < MAX_CLIENTS
    }

    /// Takes a new connection; returns its key.
    pub fn add(&mut self, registry: &Registry, mut stream: S) -> io::Result<usize> {
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        registry.register(&mut stream, Token(self.base + 1 + key), Interest::READABLE)?;
        entry.insert(Client {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            closing: false,
            waiting: false,
            last_active: Instant::now(),
        });
        Ok(key)
    }

    /// The client `key`.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut Client<S>> {
        self.slab.get_mut(key)
    }

    /// Reads what `key` sent into its `input`, up to `limit` bytes there.
    pub fn read(&mut self, key: usize, limit: usize) -> Received {
        let Some(c) = self.slab.get_mut(key) else {
            return Received::Gone;
        };
        let mut chunk = [0u8; 4096];
        loop {
            if c.input.len() >= limit {
                return Received::Full;
            }
            let room = chunk.len().min(limit - c.input.len());
            match c.stream.read(&mut chunk[..room]) {
                Ok(0) => return Received::Gone,
                Ok(n) => {
                    c.input.extend_from_slice(&chunk[..n]);
                    c.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Received::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Received::Gone,
            }
        }
    }

    /// Queues `bytes` for `key` and sends what the socket takes; with `then_close`, the
    /// connection ends once all is sent.
    pub fn send(&mut self, registry: &Registry, key: usize, bytes: &[u8], then_close: bool) {
        let Some(c) = self.slab.get_mut(key) else {
            return;
        };
        c.output.extend_from_slice(bytes);
        c.closing |= then_close;
        self.flush(registry, key);
    }

    /// Sends queued output (on a writable event too); forgets the client once it is done or
    /// failed.
    pub fn flush(&mut self, registry: &Registry, key: usize) {
        let Some(c) = self.slab.get_mut(key) else {
            return;
        };
        let mut failed = false;
        while !c.output.is_empty() {
            match c.stream.write(&c.output) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => {
                    c.output.drain(..n);
                    c.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed || c.output.len() > MAX_PENDING || (c.closing && c.output.is_empty()) {
            self.remove(registry, key);
            return;
        }
        let want = !c.output.is_empty();
        if want != c.waiting {
            c.waiting = want;
            let interest = match want {
                true => Interest::READABLE | Interest::WRITABLE,
                false => Interest::READABLE,
            };
            let token = Token(self.base + 1 + key);
            if registry.reregister(&mut c.stream, token, interest).is_err() {
                self.remove(registry, key);
            }
        }
    }

    /// Forgets `key` and closes its socket.
    pub fn remove(&mut self, registry: &Registry, key: usize) {
        if let Some(mut c) = self.slab.try_remove(key) {
            let _ = registry.deregister(&mut c.stream);
        }
    }

    /// Drops clients idle for [`IDLE`] at `now`.
    pub fn sweep(&mut self, registry: &Registry, now: Instant) {
        let idle: Vec<usize> = self
            .slab
            .iter()
            .filter(|(_, c)| now.saturating_duration_since(c.last_active) > IDLE)
            .map(|(k, _)| k)
            .collect();
        for key in idle {
            self.remove(registry, key);
        }
    }
}
