//! One client connection: the read/parse/dispatch/write state machine. I/O happens only in
//! `fill` and `flush`; everything else moves bytes between buffers.

use super::stream::{Peer, PeerText, RecvBuf, Stream};
use super::Shared;
use crate::app::protocol::{Ending, Response, StartResponse, OUTPUT_HIGH_WATER};
use crate::app::AppError;
use crate::app::{BodyIter, FileRegion, Input};
use crate::http::response::{self, Stamp};
use crate::http::{forwarded, parse_head, proxy, BodyFraming, ChunkedDecoder, Head, ParseError, Version};
use crate::logging::access::{self, AccessLog, Exchange, RequestLog};
use crate::metrics::tally::TallyRef;
use std::io::{self, Write};
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Why a connection ends.
#[derive(Debug)]
pub enum Close {
    /// The exchange is complete, or the client went away.
    Done,
    /// A socket error.
    Io(io::Error),
}

impl From<io::Error> for Close {
    fn from(e: io::Error) -> Self {
        Close::Io(e)
    }
}

/// Where a connection stands.
pub enum Phase {
    /// Waiting for (the rest of) a request head.
    Head {
        /// Bytes of this head have arrived.
        started: bool,
    },
    /// Receiving the request body.
    Body(BodyReader),
    /// The request is complete and waits to be handed to the application.
    Ready,
    /// Pulling the application's body iterable as the client reads.
    Streaming(Box<dyn BodyIter>),
    /// Sending the application's file body with sendfile(2) as the client reads.
    SendFile(FileSend),
    /// A complete request waits for room in the application threads' queue; nothing more is
    /// read meanwhile.
    Queued,
    /// The request is with an application thread; its output comes back through the loop.
    InApp(InApp),
    /// The response is complete in the output buffer; what happens once it is flushed.
    Done(Ending),
    /// The server's own answer to a request it refused is in the output buffer, and the
    /// connection ends after it. The client may still be sending (the rest of an oversized
    /// head, a refused body): closing with input unread would send a reset, which can destroy
    /// the answer before the client reads it. So once it is out the write side is shut and
    /// what arrives is read and dropped ([`Phase::Draining`]), as nginx's lingering close.
    Refused,
    /// The refused request's answer is out and the write side shut: input is read and dropped
    /// until the client closes, or `deadline` ([`LINGER`] after the answer) passes.
    Draining,
}

/// How long a refused client's input is drained after the answer (nginx's `lingering_time`
/// is 30 s, its `lingering_timeout` 5 s; one read of a few hundred kilobytes, what is in flight
/// on a fast link, takes far less).
const LINGER: Duration = Duration::from_secs(2);

/// What driving a connection came to, when it stops short of its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing more to do until the socket is ready again, or output comes back from an
    /// application thread.
    Wait,
    /// A complete request is ready for the application ([`Phase::Ready`]).
    Call,
    /// The application's body may give its next chunk ([`Phase::Streaming`]).
    Pull,
}

/// A body sent from a file: the body (closed at the end) and the part of its file still to go.
pub struct FileSend {
    body: Box<dyn BodyIter>,
    fd: RawFd,
    offset: u64,
    remaining: u64,
    /// Whether the stream was corked for the close that follows (`Stream::cork_until_close`).
    corked: bool,
}

impl FileSend {
    /// Sends `len` bytes of `body`'s file from `offset`.
    pub fn new(body: Box<dyn BodyIter>, region: FileRegion, len: u64) -> FileSend {
        FileSend {
            body,
            fd: region.fd,
            offset: region.offset,
            remaining: len,
            corked: false,
        }
    }
}

/// Files up to this size go out copied after their head rather than with sendfile(2)
/// (`Conn::copy_small_file`). Measured on loopback (wrk, 64 connections, server pinned to one
/// CPU): the copy saved 0.8 to 1.5 µs of the worker's CPU per `Connection: close` request for
/// 1 KB to 8 KB files, nothing measurable at 16 KB, and about the same with keep-alive, where
/// at 10 KB it already cost 0.35 µs more (11.98 against 11.63 µs).
const COPY_AT_MOST: u64 = 8 * 1024;
/// The same before a close, where sendfile also costs the `TCP_CORK` that lets its FIN leave
/// with the last bytes (a copy has `MSG_MORE` for that): at 10 KB the copy saved 1.9 µs per
/// request (21.46 against 23.32 µs of worker CPU, 9 interleaved rounds).
const COPY_BEFORE_CLOSE_AT_MOST: u64 = 12 * 1024;

/// Back-pressure between an application thread that produces a connection's output and the
/// loop that sends it; one per connection, reused for each of its requests.
#[derive(Default)]
pub struct Link {
    /// Bytes handed to the loop and not yet sent.
    pub(super) unsent: AtomicUsize,
    /// The client went away: output is dropped, and `write` fails.
    gone: AtomicBool,
    /// The application thread waits for `unsent` to fall.
    pub(super) waiting: AtomicBool,
    pub(super) lock: Mutex<()>,
    pub(super) cond: Condvar,
}

impl Link {
    /// Ready for the connection's next request.
    pub fn reset(&self) {
        self.unsent.store(0, Ordering::SeqCst);
        self.gone.store(false, Ordering::SeqCst);
    }

    /// Loop: `n` bytes of the application's output went to the socket.
    pub fn sent(&self, n: usize) {
        let left = self.unsent.fetch_sub(n, Ordering::SeqCst).saturating_sub(n);
        if left <= OUTPUT_HIGH_WATER / 2 && self.waiting.load(Ordering::SeqCst) {
            self.notify();
        }
    }

    /// Loop: the client is gone; a waiting application thread gives up.
    pub fn abandon(&self) {
        self.gone.store(true, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) {
            self.notify();
        }
    }

    /// Whether the client went away.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    fn notify(&self) {
        // Taking the lock orders this after a waiter's check of `unsent`: it is either before
        // the check (which then sees the new value) or inside the wait (which this wakes).
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.cond.notify_all();
    }
}

/// A request with an application thread.
pub struct InApp {
    /// Back-pressure for the thread's output.
    pub(super) link: Arc<Link>,
    /// Bytes of earlier responses that were unsent when the request left: they go out first,
    /// and only the bytes after them count as the thread's.
    pub(super) foreign: usize,
}

/// How the request body is being delimited.
pub enum BodyReader {
    /// Bytes still to come.
    Length(u64),
    /// Chunked, with the decoder's state.
    Chunked(ChunkedDecoder),
}

/// The heap parts of a connection's exchanges: receive and send buffers, the head's copy and
/// fields, the body, the response head and the access-log record. A connection holds them only
/// while an exchange is under way; between requests they go back to the worker's pool
/// ([`Conn::lend_storage`]), so that an idle keep-alive connection costs its small struct and no
/// buffers, and the next connection with bytes to read takes them, already grown to size.
pub struct Storage {
    rbuf: RecvBuf,
    wbuf: Vec<u8>,
    head_buf: Vec<u8>,
    head: Head,
    body: Input,
    resp: Response,
    access: RequestLog,
}

/// The size a receive buffer starts at and is kept at in the pool.
const RECV_SIZE: usize = 8192;
/// Send buffers, head copies and in-memory bodies larger than this are shrunk when they go back
/// to the pool: one large response must not pin its memory in the worker for good.
pub(super) const KEEP_MAX: usize = 64 * 1024;

impl Storage {
    /// New buffers, for when the pool is empty.
    fn allocate() -> Storage {
        let mut head = Head::default();
        head.headers.reserve(32);
        Storage {
            rbuf: RecvBuf::new(RECV_SIZE),
            wbuf: Vec::with_capacity(RECV_SIZE),
            head_buf: Vec::with_capacity(1024),
            head,
            body: Input::default(),
            resp: Response::default(),
            access: RequestLog::default(),
        }
    }

    /// What a connection holds while idle: empty values that own no memory.
    fn none() -> Storage {
        Storage {
            rbuf: RecvBuf::new(0),
            wbuf: Vec::new(),
            head_buf: Vec::new(),
            head: Head::default(),
            body: Input::default(),
            resp: Response::default(),
            access: RequestLog::default(),
        }
    }

    /// Ready for another connection: cleared, and no larger than the pool keeps.
    fn reset(&mut self) {
        if self.rbuf.capacity() > RECV_SIZE {
            self.rbuf = RecvBuf::new(RECV_SIZE);
        }
        self.rbuf.clear();
        self.wbuf.clear();
        self.wbuf.shrink_to(KEEP_MAX);
        self.head_buf.clear();
        self.head_buf.shrink_to(KEEP_MAX);
        self.body.clear();
        self.body.shrink_to(KEEP_MAX);
    }
}

/// Whether a connection's socket is in the worker's poll set. It is added only once the
/// connection has to wait (for bytes, for room to write, for an application thread): a short
/// exchange whose request is already there when it is accepted, and which closes after its
/// response, never costs an `epoll_ctl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// Not registered yet.
    No,
    /// Registered, readable and writable, edge-triggered.
    Yes,
}

/// A connection, reused across its requests.
pub struct Conn {
    /// This connection's slot in the worker's table (its poll token is derived from it).
    pub(super) key: usize,
    pub(super) stream: Stream,
    pub(super) polled: Polled,
    pub(super) peer: Peer,
    /// The client as the environ reports it: the peer, or the source a PROXY header named.
    pub(super) client: PeerText,
    /// No request has been read yet (a PROXY header may only come first).
    fresh: bool,
    /// `wsgi.url_scheme` of the current request.
    pub(super) scheme: &'static str,
    /// The peer is one `forwarded_allow_ips` trusts (with its `forwarder_headers`).
    pub(super) trusted: bool,
    pub(super) listener: usize,
    pub(super) rbuf: RecvBuf,
    pub(super) wbuf: Vec<u8>,
    pub(super) wpos: usize,
    can_read: bool,
    can_write: bool,
    /// The event said the peer closed its side: read until EOF even after a short read.
    peer_closed: bool,
    pub(super) phase: Phase,
    /// The current request head, copied out of `rbuf` so the spans stay valid while `rbuf`
    /// is consumed and refilled.
    pub(super) head_buf: Vec<u8>,
    pub(super) head: Head,
    pub(super) body: Input,
    pub(super) resp: Response,
    /// Where the current response starts in `wbuf` (earlier pipelined responses precede it).
    pub(super) resp_start: usize,
    pub(super) deadline: Instant,
    /// service: the current request's access-log state.
    pub(super) access: RequestLog,
    /// When the current request entered the application (monotonic ms).
    pub(super) began: u64,
    /// Back-pressure for application threads, made at the first request that goes to one.
    pub(super) link: Option<Arc<Link>>,
}

impl Conn {
    /// A new connection, without exchange storage until bytes arrive (see [`Storage`]).
    pub fn new(key: usize, stream: Stream, peer: Peer, listener: usize, deadline: Instant) -> Conn {
        let Storage {
            rbuf,
            wbuf,
            head_buf,
            head,
            body,
            resp,
            access,
        } = Storage::none();
        Conn {
            key,
            stream,
            polled: Polled::No,
            peer,
            client: PeerText::of(peer),
            fresh: true,
            scheme: "http",
            trusted: false,
            listener,
            rbuf,
            wbuf,
            wpos: 0,
            can_read: true,
            can_write: true,
            peer_closed: false,
            phase: Phase::Head { started: false },
            head_buf,
            head,
            body,
            resp,
            resp_start: 0,
            deadline,
            access,
            began: 0,
            link: None,
        }
    }

    /// Records readiness from a poll event; `closed`: the peer shut its side (EOF is pending).
    pub fn ready(&mut self, readable: bool, writable: bool, closed: bool) {
        self.can_read |= readable || closed;
        self.can_write |= writable;
        self.peer_closed |= closed;
    }

    /// True until the connection's first request head has arrived.
    pub fn awaiting_first_request(&self) -> bool {
        self.fresh && matches!(self.phase, Phase::Head { .. })
    }

    /// Since when the connection has been waiting for its client without a request under way
    /// (idle between requests, or with its head missing or incomplete); None while a request
    /// is. A worker at `worker_connections` closes the one waiting longest to take a new one.
    pub fn waiting_since(&self, keepalive: Duration, header_timeout: Duration) -> Option<Instant> {
        match self.phase {
            Phase::Head { .. } if self.pending() > 0 => None,
            Phase::Head { started: false } if !self.fresh && self.rbuf.data().is_empty() => {
                self.deadline.checked_sub(keepalive)
            }
            Phase::Head { .. } => self.deadline.checked_sub(header_timeout),
            _ => None,
        }
    }

    /// True when the connection sits between requests with nothing buffered.
    pub fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Head { started: false }) && self.rbuf.data().is_empty() && self.pending() == 0
    }

    /// While the worker drains: an idle connection lingers only until `by`, so a client that
    /// was about to send its next request still gets it answered (with `Connection: close`)
    /// instead of a reset.
    pub fn linger_until(&mut self, by: Instant) {
        if self.is_idle() && self.deadline > by {
            self.deadline = by;
        }
    }

    /// Output not yet sent: in `wbuf`, or sealed into TLS records the socket has not taken
    /// (counted as one byte: what matters is whether there is any).
    pub(super) fn pending(&self) -> usize {
        self.wbuf.len() - self.wpos + usize::from(self.stream.unsent())
    }

    /// Whether the connection holds exchange storage (see [`Storage`]); a receive buffer of
    /// no bytes is what marks the connection without.
    fn holds_storage(&self) -> bool {
        self.rbuf.capacity() > 0
    }

    fn swap_storage(&mut self, s: &mut Storage) {
        std::mem::swap(&mut self.rbuf, &mut s.rbuf);
        std::mem::swap(&mut self.wbuf, &mut s.wbuf);
        std::mem::swap(&mut self.head_buf, &mut s.head_buf);
        std::mem::swap(&mut self.head, &mut s.head);
        std::mem::swap(&mut self.body, &mut s.body);
        std::mem::swap(&mut self.resp, &mut s.resp);
        std::mem::swap(&mut self.access, &mut s.access);
    }

    /// Takes exchange storage from `pool` (new if the pool is empty), unless the connection
    /// has it already.
    pub(super) fn take_storage(&mut self, pool: &mut Vec<Storage>) {
        if !self.holds_storage() {
            let mut s = pool.pop().unwrap_or_else(Storage::allocate);
            self.swap_storage(&mut s);
        }
    }

    /// An idle connection gives its exchange storage back to `pool`, which keeps at most
    /// `max` (the rest is freed).
    pub(super) fn lend_storage(&mut self, pool: &mut Vec<Storage>, max: usize) {
        if !self.holds_storage() || !self.is_idle() {
            return;
        }
        let mut s = Storage::none();
        self.swap_storage(&mut s);
        self.wpos = 0;
        if pool.len() < max {
            s.reset();
            pool.push(s);
        }
    }

    /// Gives back the exchange storage of a closing connection for reuse by a later one.
    pub fn into_storage(mut self) -> Option<Storage> {
        self.close_body();
        if !self.holds_storage() {
            return None;
        }
        let mut s = Storage::none();
        self.swap_storage(&mut s);
        s.reset();
        Some(s)
    }

    /// Advances the connection as far as the socket allows, or until the application is
    /// needed (see [`Step`]).
    pub fn drive(&mut self, sh: &mut Shared<'_>) -> Result<Step, Close> {
        loop {
            let step = match &self.phase {
                Phase::Head { .. } => self.on_head(sh)?,
                Phase::Body(_) => self.on_body(sh)?,
                Phase::Ready => Some(Step::Call),
                Phase::Streaming(_) => self.on_stream(sh)?,
                Phase::SendFile(_) => self.on_file(sh)?,
                Phase::Queued | Phase::InApp(_) => {
                    // What an application thread handed over so far, or earlier responses.
                    self.flush(sh)?;
                    Some(Step::Wait)
                }
                Phase::Done(Ending::KeepAlive) => {
                    self.log_access(&mut sh.io.access, sh.io.tally); // service
                    self.phase = Phase::Head { started: false };
                    self.deadline = sh.now + sh.ctx.settings.keepalive;
                    None
                }
                Phase::Done(Ending::Close) => self.on_close(sh)?,
                Phase::Refused => self.on_refused(sh)?,
                Phase::Draining => self.on_draining()?,
            };
            if let Some(step) = step {
                return Ok(step);
            }
        }
    }

    /// Waiting for (the rest of) a request head. None: the phase moved on, drive again.
    fn on_head(&mut self, sh: &mut Shared<'_>) -> Result<Option<Step>, Close> {
        if self.pending() >= OUTPUT_HIGH_WATER && !self.rbuf.data().is_empty() {
            // A pipelining client that does not read its answers: the next request waits for
            // the output to drain, so that unread responses cannot pile up without bound.
            self.flush(sh)?;
            if self.pending() >= OUTPUT_HIGH_WATER {
                return Ok(Some(Step::Wait));
            }
        }
        let Phase::Head { started } = &mut self.phase else {
            return Ok(None);
        };
        if !self.rbuf.data().is_empty() {
            if !*started {
                *started = true;
                self.deadline = sh.now + sh.ctx.settings.header_timeout;
            }
            if self.fresh && sh.ctx.settings.proxy_protocol && proxy::looks_like_proxy(self.rbuf.data()) {
                match self.take_proxy_header(sh) {
                    Some(true) => return Ok(None),
                    Some(false) => {}
                    None => {
                        self.flush(sh)?;
                        return Ok(if self.fill(sh)? { None } else { Some(Step::Wait) });
                    }
                }
            }
            match parse_head(self.rbuf.data(), &sh.ctx.settings.limits, &mut self.head) {
                Ok(Some(len)) => {
                    self.head_buf.clear();
                    self.head_buf.extend_from_slice(&self.rbuf.data()[..len]);
                    self.rbuf.consume(len);
                    // service: access log; the request counters
                    if sh.io.access.begin(&mut self.access) {
                        if let Some(t) = sh.io.tally {
                            t.get().began();
                        }
                    }
                    self.fresh = false;
                    self.trusted = match self.peer {
                        Peer::Tcp(a) => sh.ctx.settings.forwarded_allow_ips.contains(a.ip()),
                        // Only local processes reach a Unix socket: a front proxy.
                        Peer::Unix => true,
                    };
                    match forwarded::url_scheme(
                        &self.head.headers,
                        &self.head_buf,
                        &sh.ctx.settings.secure_scheme_headers,
                        self.trusted,
                    ) {
                        // A TLS connection is https whatever a header says (gunicorn's is_ssl).
                        Ok(_) if self.stream.is_tls() => self.scheme = "https",
                        Ok(scheme) => self.scheme = scheme,
                        Err(e) => {
                            self.reject(e, sh);
                            return Ok(None);
                        }
                    }
                    self.begin_body(sh);
                    return Ok(None);
                }
                Ok(None) if self.rbuf.at_capacity(sh.ctx.settings.max_head) => {
                    self.reject(ParseError::FieldTooLarge, sh);
                    return Ok(None);
                }
                Ok(None) => {}
                Err(e) => {
                    self.reject(e, sh);
                    return Ok(None);
                }
            }
        }
        // Nothing more to read now: a finished response may wait for the end of the turn and
        // leave with the others (see `batch`).
        if sh.ctx.settings.batch_responses
            && !self.can_read
            && self.pending() > 0
            && sh.io.batch.hold(self.key, sh.ctx.heartbeat.last_beat())
        {
            return Ok(Some(Step::Wait));
        }
        self.flush(sh)?;
        match self.fill(sh) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(Step::Wait)),
            // EOF with part of a head buffered: answer it, as gunicorn does.
            Err(Close::Done) if !self.rbuf.data().is_empty() => self.reject(ParseError::Incomplete, sh),
            // The client is done sending, not reading: what it asked for goes out whole
            // before the connection closes.
            Err(Close::Done) if self.pending() > 0 => self.phase = Phase::Done(Ending::Close),
            Err(e) => return Err(e),
        }
        Ok(None)
    }

    /// Receiving the request body, into memory or a spool file.
    fn on_body(&mut self, sh: &mut Shared<'_>) -> Result<Option<Step>, Close> {
        let Phase::Body(reader) = &mut self.phase else {
            return Ok(None);
        };
        let data = self.rbuf.data();
        let finished = match reader {
            BodyReader::Length(remaining) => {
                let take = (data.len() as u64).min(*remaining) as usize;
                self.body.staging().extend_from_slice(&data[..take]);
                self.rbuf.consume(take);
                *remaining -= take as u64;
                *remaining == 0
            }
            BodyReader::Chunked(dec) => match dec.decode(data, self.body.staging()) {
                Ok(p) => {
                    self.rbuf.consume(p.consumed);
                    let limit = sh.ctx.settings.limit_request_body;
                    if limit > 0 && self.body.len() > limit {
                        self.reject(ParseError::BodyTooLarge, sh);
                        return Ok(None);
                    }
                    p.done
                }
                Err(e) => {
                    self.reject(e, sh);
                    return Ok(None);
                }
            },
        };
        let stored = if finished {
            self.body.finish()
        } else {
            self.body.settle(sh.ctx.settings.body_buffer_size)
        };
        if let Err(e) = stored {
            log::error!("cannot store request body: {e}");
            self.answer_and_close(500, "", sh);
            return Ok(None);
        }
        if finished {
            self.phase = Phase::Ready;
            return Ok(None);
        }
        self.flush(sh)?;
        match self.fill(sh) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(Step::Wait)),
            // EOF before the body is complete.
            Err(Close::Done) => self.reject(ParseError::Incomplete, sh),
            Err(e) => return Err(e),
        }
        Ok(None)
    }

    /// Sending a body the application produces as the client reads.
    fn on_stream(&mut self, sh: &mut Shared<'_>) -> Result<Option<Step>, Close> {
        // PEP 3333: a block goes out before the application is asked for the next, which may
        // take any time (a server-sent event, a progress line).
        self.flush(sh)?;
        if self.pending() > 0 && (!self.resp.body_complete() || self.pending() >= OUTPUT_HIGH_WATER) {
            return Ok(Some(Step::Wait));
        }
        Ok(Some(Step::Pull))
    }

    /// Sending a file body with sendfile(2).
    fn on_file(&mut self, sh: &mut Shared<'_>) -> Result<Option<Step>, Close> {
        self.copy_small_file(sh);
        self.flush(sh)?;
        if self.pending() > 0 || !self.send_file(sh)? {
            return Ok(Some(Step::Wait));
        }
        Ok(None)
    }

    /// The last response is out: the connection ends once its output is flushed.
    fn on_close(&mut self, sh: &mut Shared<'_>) -> Result<Option<Step>, Close> {
        self.flush(sh)?;
        if self.pending() == 0 {
            // Closing the socket sends the FIN after the queued response; a shutdown(2) first
            // would only cost a system call.
            return Err(Close::Done);
        }
        Ok(Some(Step::Wait))
    }

    /// The answer to a refused request: once it is out, shut the write side (the FIN follows
    /// the answer) and drain.
    fn on_refused(&mut self, sh: &mut Shared<'_>) -> Result<Option<Step>, Close> {
        self.flush(sh)?;
        if self.pending() > 0 {
            return Ok(Some(Step::Wait));
        }
        self.stream.shutdown_write();
        self.phase = Phase::Draining;
        self.deadline = sh.now + LINGER;
        Ok(None)
    }

    /// Reads and drops what the refused client still sends, until it closes; the deadline
    /// ends a client that keeps sending.
    fn on_draining(&mut self) -> Result<Option<Step>, Close> {
        loop {
            self.rbuf.clear();
            match self.rbuf.read_from(&mut self.stream, RECV_SIZE) {
                Ok((0, _)) => return Err(Close::Done),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Some(Step::Wait)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Close::Done),
            }
        }
    }

    /// Reads a PROXY protocol header at the start of the connection. Some(true): consumed (or
    /// rejected), go on; Some(false): not a PROXY header after all; None: need more bytes.
    fn take_proxy_header(&mut self, sh: &Shared<'_>) -> Option<bool> {
        match proxy::parse(self.rbuf.data()) {
            Ok(None) => None,
            Ok(Some((header, len))) => {
                let allowed = match self.peer {
                    Peer::Tcp(a) => sh.ctx.settings.proxy_allow_ips.contains(a.ip()),
                    Peer::Unix => true,
                };
                if !allowed {
                    log::debug!("PROXY header from a peer not in proxy_allow_ips");
                    self.answer_and_close(403, "PROXY header from an untrusted peer", sh);
                    return Some(true);
                }
                self.rbuf.consume(len);
                self.fresh = false;
                if let Some(src) = header.source {
                    self.client = PeerText::of(Peer::Tcp(src));
                }
                Some(true)
            }
            Err(e) => {
                log::debug!("{e}");
                self.answer_and_close(400, "invalid PROXY protocol header", sh);
                Some(true)
            }
        }
    }

    /// After a complete head: decide how the body arrives and answer `Expect: 100-continue`.
    fn begin_body(&mut self, sh: &mut Shared<'_>) {
        self.body.clear();
        let limit = sh.ctx.settings.limit_request_body;
        match self.head.framing {
            BodyFraming::None => {
                self.phase = Phase::Ready;
                return;
            }
            BodyFraming::Length(n) if limit > 0 && n > limit => {
                self.reject(ParseError::BodyTooLarge, sh);
                return;
            }
            BodyFraming::Length(n) => self.phase = Phase::Body(BodyReader::Length(n)),
            BodyFraming::Chunked => self.phase = Phase::Body(BodyReader::Chunked(ChunkedDecoder::new())),
        }
        self.deadline = sh.now + sh.ctx.settings.timeout;
        if self.head.expect_continue && self.head.version == Version::Http11 {
            self.wbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
    }

    /// An application error: a 500 if nothing was sent yet, otherwise the connection is
    /// aborted (a second status line is never sent). Returns the phase that follows.
    pub(super) fn fail(&mut self, sh: &mut Shared<'_>, err: AppError) -> Phase {
        let method = String::from_utf8_lossy(self.head.method.of(&self.head_buf)).into_owned();
        let target = String::from_utf8_lossy(self.head.target.of(&self.head_buf)).into_owned();
        log::error!("Error handling request {method} {target}: {err}");
        if crate::app::asks_to_retire(&err) {
            // Retire as after the last of max_requests.
            sh.io.requests_left = 0;
        }
        if !self.resp.headers_sent() {
            self.wbuf.truncate(self.resp_start);
            let stamp = Stamp {
                date: sh.io.date.get(),
                server: &sh.ctx.settings.server_header,
            };
            let start = self.wbuf.len();
            response::put_error(&mut self.wbuf, self.head.version, 500, "", &stamp);
            if self.head.method.of(&self.head_buf) == b"HEAD" {
                response::strip_body(&mut self.wbuf, start);
            }
            // service: the access log shows the 500
            self.access.answered(500, access::body_len(&self.wbuf[start..]));
        }
        // Headers already went out: what was sent stays (the client sees a body that ends
        // early, without its last chunk or short of its length) and the connection closes.
        Phase::Done(Ending::Close)
    }

    /// Answers a request the server refuses, and closes after it.
    fn reject(&mut self, err: ParseError, sh: &Shared<'_>) {
        log::debug!("rejecting request: {err}");
        self.answer_and_close(err.status(), &err.to_string(), sh);
    }

    /// Queues a response of the server's own and ends the connection after it.
    fn answer_and_close(&mut self, status: u16, detail: &str, sh: &Shared<'_>) {
        let stamp = Stamp {
            date: sh.io.date.get(),
            server: &sh.ctx.settings.server_header,
        };
        let start = self.wbuf.len();
        response::put_error(&mut self.wbuf, Version::Http11, status, detail, &stamp);
        // service: the access log shows the server's own answer.
        self.access.answered(status, access::body_len(&self.wbuf[start..]));
        self.phase = Phase::Refused;
    }

    /// service: writes the access line of the current request, once (nothing if none is open),
    /// and counts it in `tally`.
    pub(super) fn log_access(&mut self, log: &mut AccessLog, tally: Option<TallyRef>) {
        let exchange = Exchange {
            head: &self.head,
            buf: &self.head_buf,
            peer: match self.peer {
                Peer::Tcp(a) => Some(a),
                Peer::Unix => None,
            },
            status: self.resp.status(),
            body_bytes: self.resp.body_bytes(),
            resp_head: self.resp.head_bytes(),
            resp_length: self.resp.content_length(),
        };
        if let (Some(done), Some(t)) = (log.finish(&mut self.access, &exchange), tally) {
            t.get()
                .ended(self.head.method.of(&self.head_buf), done.status, done.elapsed);
        }
    }

    /// A file of at most [`COPY_AT_MOST`] bytes ([`COPY_BEFORE_CLOSE_AT_MOST`] when the connection
    /// closes after it) is read into the output after its head, and the
    /// response completes: the head and the file then leave in one send, and before a close
    /// with the FIN (`write_before_close`), with no cork. A pread(2) and a send cost less than a
    /// send and a sendfile(2) at this size (the file crosses memory twice, which is cheaper
    /// than sendfile's setup). Left to `send_file` if the read fails or comes up short, and on
    /// TLS, whose records are sealed from a read of the file anyway.
    fn copy_small_file(&mut self, sh: &mut Shared<'_>) {
        let Phase::SendFile(f) = &mut self.phase else {
            return;
        };
        let most = match self.resp.closes_after() {
            true => COPY_BEFORE_CLOSE_AT_MOST,
            false => COPY_AT_MOST,
        };
        if f.remaining > most || self.stream.is_tls() {
            return;
        }
        let start = self.wbuf.len();
        let len = f.remaining as usize;
        // Read into the spare capacity: zeroing it first would write every byte twice.
        self.wbuf.reserve(len);
        // SAFETY: `f.fd` is the body's file, open while this phase holds it (as in
        // `send_file`); pread writes at most `len` bytes at the pointer, which has room for
        // `len` after the reserve, and reads nothing there.
        let n = unsafe {
            libc::pread(
                f.fd,
                self.wbuf.as_mut_ptr().add(start).cast(),
                len,
                f.offset as libc::off_t,
            )
        };
        // Short or failed: sendfile goes on from where the file was, and its errors are the
        // ones reported.
        if n == len as isize {
            // SAFETY: the pread above wrote those `len` bytes, right after the `start` there were.
            unsafe { self.wbuf.set_len(start + len) };
            f.offset += len as u64;
            f.remaining = 0;
            self.end_file(sh);
        }
    }

    /// Sends file bytes while the socket takes them. Ok(true): the body is complete (and the
    /// phase moved on); Ok(false): the socket is full.
    fn send_file(&mut self, sh: &mut Shared<'_>) -> Result<bool, Close> {
        let Phase::SendFile(f) = &mut self.phase else {
            return Ok(true);
        };
        if !f.corked && self.resp.closes_after() {
            // The connection closes once the file is out (`on_close`), at once: the FIN can
            // leave with the file's last bytes.
            self.stream.cork_until_close();
            f.corked = true;
        }
        while f.remaining > 0 {
            if !self.can_write {
                return Ok(false);
            }
            // SAFETY: the body keeps its file open until its close() (the contract of
            // BodyIter::file) or its drop; both need this phase, which `f` borrows for as long
            // as `file` lives.
            let file = unsafe { BorrowedFd::borrow_raw(f.fd) };
            let count = f.remaining.min(1 << 30) as usize;
            match self.stream.send_file(file, &mut f.offset, count) {
                // The file shrank under us: the promised length cannot be kept.
                Ok(0) => return Err(Close::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => f.remaining -= n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.can_write = false;
                    self.deadline = sh.now + sh.ctx.settings.timeout;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.end_file(sh);
        Ok(true)
    }

    /// After the file's last byte: closes the body and ends the response.
    fn end_file(&mut self, sh: &mut Shared<'_>) {
        self.close_body();
        let stamp = Stamp {
            date: sh.io.date.get(),
            server: &sh.ctx.settings.server_header,
        };
        self.phase = match StartResponse::new(&mut self.resp, &mut self.wbuf, stamp).finish() {
            Ok(ending) => Phase::Done(ending),
            Err(e) => self.fail(sh, e),
        };
    }

    /// Calls the body's close, once, if a body is being streamed.
    pub(super) fn close_body(&mut self) {
        if let Phase::Streaming(iter) | Phase::SendFile(FileSend { body: iter, .. }) = &mut self.phase {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| iter.close()));
            self.phase = Phase::Done(Ending::Close);
        }
    }

    /// Reads what the socket has. Ok(true): new bytes arrived; Ok(false): nothing to read now.
    fn fill(&mut self, sh: &Shared<'_>) -> Result<bool, Close> {
        let max = sh.ctx.settings.max_head;
        if !self.can_read || self.rbuf.at_capacity(max) {
            return Ok(false);
        }
        loop {
            match self.rbuf.read_from(&mut self.stream, max) {
                Ok((0, _)) => return Err(Close::Done),
                Ok((_, filled)) => {
                    // A short read drained the socket, and the next arrival raises a new edge;
                    // but a FIN that came with the data raises none, so a peer that closed
                    // (seen in the event) is read until EOF.
                    self.can_read = filled || self.peer_closed;
                    if matches!(self.phase, Phase::Body(_)) {
                        // An upload may be slow but must keep moving.
                        self.deadline = sh.now + sh.ctx.settings.timeout;
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.can_read = false;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes pending output until done or the socket is full.
    pub(super) fn flush(&mut self, sh: &Shared<'_>) -> Result<(), Close> {
        if self.can_write && self.stream.unsent() {
            match self.stream.send_unsent() {
                Ok(()) if self.pending() == 0 && matches!(self.phase, Phase::Head { started: false }) => {
                    self.deadline = sh.now + sh.ctx.settings.keepalive;
                }
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.can_write = false;
                    self.deadline = sh.now + sh.ctx.settings.timeout;
                }
                Err(e) => return Err(e.into()),
            }
        }
        while self.wbuf.len() > self.wpos && self.can_write {
            let out = &self.wbuf[self.wpos..];
            let written = match &self.phase {
                // The connection closes (or its write side is shut) once this is out.
                Phase::Done(Ending::Close) | Phase::Refused => self.stream.write_before_close(out),
                // The file follows at once (`on_file`): the head leaves with its first bytes.
                Phase::SendFile(f) if f.remaining > 0 => self.stream.write_before_file(out),
                _ => self.stream.write(out),
            };
            match written {
                Ok(0) => return Err(Close::Done),
                Ok(n) => {
                    self.wpos += n;
                    if let Phase::InApp(app) = &mut self.phase {
                        let earlier = n.min(app.foreign);
                        app.foreign -= earlier;
                        if n > earlier {
                            app.link.sent(n - earlier);
                        }
                    }
                    if self.pending() > 0 {
                        self.can_write = false;
                        // A reader may be slow but must keep taking bytes, within `timeout`.
                        self.deadline = sh.now + sh.ctx.settings.timeout;
                    } else if matches!(self.phase, Phase::Head { started: false }) {
                        self.deadline = sh.now + sh.ctx.settings.keepalive;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.can_write = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if self.pending() == 0 && self.wpos > 0 {
            self.wbuf.clear();
            self.wpos = 0;
        }
        Ok(())
    }

    /// Whether the connection's deadline has passed; a client that stalled mid-head is told 408.
    pub fn expire(&mut self, sh: &Shared<'_>) -> bool {
        // A request with the application is supervised by the heartbeat, not by a deadline.
        if sh.now < self.deadline || matches!(self.phase, Phase::Queued | Phase::InApp(_)) {
            return false;
        }
        if matches!(self.phase, Phase::Head { started: true }) {
            // Best effort: the client is slow, not necessarily gone.
            self.answer_and_close(408, "", sh);
            let _ = self.flush(sh);
        }
        true
    }
}

impl Conn {
    /// Output an application thread handed over while its call goes on.
    pub(super) fn thread_output(&mut self, data: &[u8]) {
        if self.pending() == 0 {
            self.wbuf.clear();
            self.wpos = 0;
        }
        self.wbuf.extend_from_slice(data);
    }

    /// The client went away while its request is with an application thread: the thread is
    /// told (its `write` fails), and the connection waits for the call to end before its slot
    /// is freed.
    pub(super) fn abandon(&mut self) -> bool {
        match &self.phase {
            Phase::InApp(app) => {
                app.link.abandon();
                self.stream.shutdown_write();
                true
            }
            _ => false,
        }
    }

    /// Whether the client went away while its request was with an application thread.
    pub(super) fn abandoned(&self) -> bool {
        matches!(&self.phase, Phase::InApp(app) if app.link.is_gone())
    }

    /// The parts an application call needs besides the connection's state: the response, the
    /// output buffer, and the socket with its flushed position (for `write`'s back-pressure).
    pub(super) fn app_parts(&mut self) -> (&mut Response, &mut Vec<u8>, &mut Stream, &mut Polled, &mut usize) {
        self.can_write = true;
        (
            &mut self.resp,
            &mut self.wbuf,
            &mut self.stream,
            &mut self.polled,
            &mut self.wpos,
        )
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close_body();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_going_back_to_the_pool_keeps_no_large_buffer() {
        let mut s = Storage::allocate();
        s.wbuf.resize(4 << 20, b'x');
        s.head_buf.resize(1 << 20, b'h');
        s.body.staging().resize(2 << 20, b'b');
        s.reset();
        assert!(
            s.wbuf.is_empty() && s.wbuf.capacity() <= KEEP_MAX,
            "{}",
            s.wbuf.capacity()
        );
        assert!(s.head_buf.is_empty() && s.head_buf.capacity() <= KEEP_MAX);
        assert_eq!(s.body.len(), 0);
        assert!(s.body.staging().capacity() <= KEEP_MAX);
        assert_eq!(s.rbuf.capacity(), RECV_SIZE);
    }

    #[test]
    fn what_an_idle_connection_keeps_owns_no_memory() {
        let mut s = Storage::none();
        assert_eq!(s.rbuf.capacity(), 0);
        assert_eq!(s.wbuf.capacity(), 0);
        assert_eq!(s.head_buf.capacity(), 0);
        assert_eq!(s.head.headers.capacity(), 0);
        assert_eq!(s.body.staging().capacity(), 0);
    }
}
