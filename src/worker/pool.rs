//! Application threads (`threads`, gunicorn's gthread): the worker's loop keeps all I/O
//! (accepting, reading and parsing, bodies, timeouts, writing, sendfile) and hands complete
//! requests to a pool of threads that call the application; what they produce comes back to
//! the loop through a channel, and a mio [`Waker`] wakes the loop when it sleeps in poll.
//!
//! Why a queue and a waker, not leader/follower (the thread that read a request runs it and
//! hands the loop to an idle thread): with one loop that owns every socket, a hand-off costs one
//! channel send each way and, only when the loop sleeps, one eventfd write (wake-ups are
//! coalesced by [`Pool::wake_pending`]); leader/follower would move the epoll set between
//! threads on every request and make every connection's state shared. On this project's
//! 2-core machine the sleep-20 ms benchmark runs at the limit of workers × threads / 20 ms, so
//! the hand-off is not what bounds it (`benches/blocking-apps.sh`).
//!
//! Bounds: at most `3 × threads` requests are handed to the pool at once (one running per
//! thread, two waiting per thread, so a thread that finishes takes the next request without a
//! round trip through the loop); further complete requests wait in their connections, which
//! read nothing more meanwhile, and the worker stops accepting at `worker_connections`.
//! A worker whose threads all have a request leaves new connections on a shared listening
//! socket to the other workers for about as long as a new request would wait for a thread
//! ([`Pool::defer_for`]), then takes one itself (so that nothing starves when every worker is
//! busy, and the least loaded worker comes back first): whichever worker wins an
//! accept keeps a keep-alive connection for its life, and without this one worker could hold
//! nearly all of a client's connections with only its own threads to serve them (64 connections
//! over 2 workers of 16 threads measured 4/68 in one run, half the throughput).
//! An application thread's unsent output is bounded by [`OUTPUT_HIGH_WATER`]: past it, its
//! `write` (or the next chunk of its body) waits until the client has read half of it.

use super::conn::{Conn, FileSend, InApp, Link, Phase};
use super::panic_message;
use crate::app::protocol::{send_whole, Drain, Ending, Response, StartResponse, OUTPUT_HIGH_WATER};
use crate::app::{AppError, Application, Body, BodyIter, Environ};
use crate::http::response::{self, Stamp};
use crate::http::Version;
use crate::logging::AccessLog;
use crate::sys::heartbeat::Heartbeat;
use crossbeam_channel::{Receiver, Sender};
use mio::Waker;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Requests handed to the pool at once, per thread.
const QUEUED_PER_THREAD: usize = 3;

/// One request on its way through an application thread, and back. Jobs are reused.
pub struct Job {
    /// The connection's slot in the worker's table.
    pub key: usize,
    /// The request's environ (its body inside, as `wsgi.input`).
    pub environ: Environ,
    /// The response's protocol state; swapped with the connection's when the job returns.
    pub resp: Response,
    /// Output the application thread made and did not hand over yet.
    pub out: Vec<u8>,
    /// The request's protocol version (for a 500).
    pub version: Version,
    /// The `Date` header when the request was handed over.
    pub date: String,
    /// Method and target, for the heartbeat (`method_len` bytes of method first).
    pub line: Vec<u8>,
    /// Where the method ends in `line`.
    pub method_len: usize,
    /// The connection's back-pressure link.
    pub link: Option<Arc<Link>>,
    /// What the call came to.
    pub outcome: Outcome,
    /// How long the call took on its thread, body included.
    pub took: Duration,
    /// The application asked for the worker's retirement ([`crate::app::RetireWorker`]).
    pub retire: bool,
}

/// What an application call came to, for the loop to carry on with.
#[derive(Default)]
pub enum Outcome {
    /// Not run yet.
    #[default]
    Pending,
    /// The response is complete (its last bytes in [`Job::out`]).
    Ended(Ending),
    /// The rest of the body is a file for the loop to send with sendfile.
    File(FileSend),
    /// The application failed before the head went out: [`Job::out`] holds a 500 whose body
    /// has this many bytes.
    Failed(u64),
    /// The application failed after the head went out: the connection is aborted.
    Aborted,
}

impl Job {
    fn new() -> Box<Job> {
        Box::new(Job {
            key: 0,
            environ: Environ::new(),
            resp: Response::default(),
            out: Vec::new(),
            version: Version::Http11,
            date: String::new(),
            line: Vec::new(),
            method_len: 0,
            link: None,
            outcome: Outcome::Pending,
            took: Duration::ZERO,
            retire: false,
        })
    }
}

/// What an application thread tells the loop.
pub enum Event {
    /// Output for connection `key` while the application goes on (a block of a streamed body,
    /// a `write`).
    Output {
        /// The connection.
        key: usize,
        /// The bytes, framed.
        data: Vec<u8>,
    },
    /// The call is over: the job comes back with its outcome.
    Done(Box<Job>),
}

/// The requests waiting for a thread: a lock-free channel, and a place where threads with
/// nothing to do sleep. A thread that finds no job sleeps at once (a channel's own blocking
/// receive spins and yields first, which measured 1.4 `sched_yield` calls per request under
/// load), and the loop takes the lock to wake one only when a thread sleeps; a queue under a
/// mutex instead had every thread and the loop contend for it (3.8 `futex` calls per request).
struct Queue {
    jobs: Receiver<Box<Job>>,
    /// Threads asleep waiting for a job and not yet woken (changed under `lock`; read without
    /// it by the loop's fast path).
    idle: AtomicUsize,
    /// Wake-ups given and not yet taken by a thread (under `lock`): one notify per sleeping
    /// thread, however many jobs the loop sends before the thread runs.
    lock: Mutex<usize>,
    ready: Condvar,
    /// The loop is gone: threads end once the queue is empty.
    closed: AtomicBool,
}

impl Queue {
    /// Loop: a job was sent; wakes a sleeping thread if there is one not woken yet.
    fn sent(&self) {
        // SeqCst with the thread's increment of `idle` and its second look at the channel:
        // either that look sees the job, or this load sees the thread idle.
        if self.idle.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut wakes = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if self.idle.load(Ordering::SeqCst) > 0 {
            self.idle.fetch_sub(1, Ordering::SeqCst);
            *wakes += 1;
            self.ready.notify_one();
        }
    }

    /// Thread: the next job, sleeping until there is one; None once the loop is gone and
    /// nothing is left.
    fn next(&self) -> Option<Box<Job>> {
        loop {
            match self.jobs.try_recv() {
                Ok(job) => return Some(job),
                Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
                Err(crossbeam_channel::TryRecvError::Empty) => {}
            }
            let mut wakes = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            if self.closed.load(Ordering::SeqCst) {
                return self.jobs.try_recv().ok();
            }
            self.idle.fetch_add(1, Ordering::SeqCst);
            if let Ok(job) = self.jobs.try_recv() {
                // Not asleep after all; a wake-up the loop gave meanwhile goes to another.
                if self.idle.load(Ordering::SeqCst) > 0 {
                    self.idle.fetch_sub(1, Ordering::SeqCst);
                } else {
                    *wakes = wakes.saturating_sub(1);
                }
                return Some(job);
            }
            while *wakes == 0 && !self.closed.load(Ordering::SeqCst) {
                wakes = self.ready.wait(wakes).unwrap_or_else(PoisonError::into_inner);
            }
            *wakes = wakes.saturating_sub(1);
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.ready.notify_all();
    }
}

/// The loop's side of the pool; dropping it lets the threads end.
pub struct Pool {
    jobs: Sender<Box<Job>>,
    queue: Arc<Queue>,
    /// What the threads report.
    pub events: Receiver<Event>,
    /// Set by a thread that woke the loop; cleared by the loop before it reads `events`.
    pub wake_pending: Arc<AtomicBool>,
    /// Jobs handed to the threads and not back yet.
    pub outstanding: usize,
    threads: usize,
    limit: usize,
    /// Moving average of call times, in microseconds (each call weighs 1/8).
    call_us: u64,
    // Boxed: a job moves through two channels and back, and a box moves as one pointer.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Job>>,
}

/// What the application threads share.
pub struct Threads<'a> {
    app: &'a dyn Application,
    heartbeat: &'a Heartbeat,
    jobs: Arc<Queue>,
    events: Sender<Event>,
    waker: Waker,
    wake_pending: Arc<AtomicBool>,
    server_header: &'a str,
    timeout: Duration,
}

/// Makes the loop's side and the threads' side of a pool of `threads` threads.
pub fn new<'a>(
    threads: usize,
    app: &'a dyn Application,
    heartbeat: &'a Heartbeat,
    waker: Waker,
    server_header: &'a str,
    timeout: Duration,
) -> (Pool, Threads<'a>) {
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let queue = Arc::new(Queue {
        jobs: jobs_rx,
        idle: AtomicUsize::new(0),
        lock: Mutex::new(0),
        ready: Condvar::new(),
        closed: AtomicBool::new(false),
    });
    let (events_tx, events_rx) = crossbeam_channel::unbounded();
    let wake_pending = Arc::new(AtomicBool::new(false));
    let pool = Pool {
        jobs: jobs_tx,
        queue: queue.clone(),
        events: events_rx,
        wake_pending: wake_pending.clone(),
        outstanding: 0,
        threads,
        limit: threads * QUEUED_PER_THREAD,
        call_us: 0,
        spare: Vec::new(),
    };
    let shared = Threads {
        app,
        heartbeat,
        jobs: queue,
        events: events_tx,
        waker,
        wake_pending,
        server_header,
        timeout,
    };
    (pool, shared)
}

impl Pool {
    /// Whether the pool takes another request now.
    pub fn has_room(&self) -> bool {
        self.outstanding < self.limit
    }

    /// Whether every thread has a request, or will have with the `coming` requests of
    /// connections just accepted: a new connection would wait here for one, where another
    /// worker may have a thread free.
    pub fn saturated(&self, coming: usize) -> bool {
        self.outstanding + coming >= self.threads
    }

    /// How long a busy worker leaves new connections to the other workers before it takes
    /// one itself: about as long as the requests in hand, `coming` ones included, would keep
    /// a new one waiting for a thread (the rounds of work per thread times the usual call,
    /// counted between 50 µs and 1 ms a round, and at most 20 rounds). The least loaded worker
    /// comes back first, and a fast app's connections never wait long in the listen queue.
    pub fn defer_for(&self, coming: usize) -> Duration {
        let rounds = ((self.outstanding + coming) / self.threads.max(1)).clamp(1, 20);
        let round = Duration::from_micros(self.call_us.clamp(50, 1000));
        round * rounds as u32
    }

    /// A job to fill (reused when one is spare).
    pub fn job(&mut self) -> Box<Job> {
        self.spare.pop().unwrap_or_else(Job::new)
    }

    /// Hands a filled job to the threads.
    pub fn submit(&mut self, job: Box<Job>) {
        self.outstanding += 1;
        // The receiving side lives as long as the threads, which outlive the loop.
        let _ = self.jobs.send(job);
        self.queue.sent();
    }

    /// Takes back a job that returned, for reuse.
    pub fn recycle(&mut self, mut job: Box<Job>) {
        self.outstanding = self.outstanding.saturating_sub(1);
        let took = job.took.as_micros().min(3_600_000_000) as u64;
        self.call_us = self.call_us - self.call_us / 8 + took / 8;
        job.out.clear();
        // One large response must not pin its memory in the job pool for good.
        job.out.shrink_to(super::conn::KEEP_MAX);
        job.link = None;
        job.outcome = Outcome::Pending;
        job.retire = false;
        self.spare.push(job);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl Threads<'_> {
    /// An application thread: runs jobs until the loop's side is gone. `slot`: its heartbeat
    /// slot (1 and up).
    pub fn run(&self, slot: usize) {
        let _kept = self.app.enter_thread();
        while let Some(mut job) = self.jobs.next() {
            self.call(slot, &mut job);
            let _ = self.events.send(Event::Done(job));
            self.wake();
        }
    }

    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                log::error!("cannot wake the worker's loop: {e}");
            }
        }
    }

    /// Calls the application for `job`, and pulls its body unless the loop sends it as a file.
    fn call(&self, slot: usize, job: &mut Job) {
        let Job {
            key,
            environ,
            resp,
            out,
            version,
            date,
            line,
            method_len,
            link,
            outcome,
            took,
            retire,
        } = job;
        let Some(link) = link.as_deref() else {
            return;
        };
        let (method, target) = line.split_at(*method_len);
        self.heartbeat.begin_request(slot, method, target);
        let began = Instant::now();
        let stamp = Stamp {
            date,
            server: self.server_header,
        };
        let mut drain = ThreadDrain {
            threads: self,
            slot,
            key: *key,
            link,
        };
        let mut sr = StartResponse::new(resp, out, stamp).with_drain(&mut drain);
        let app = self.app;
        let result = match catch_unwind(AssertUnwindSafe(|| app.call(environ, &mut sr))) {
            Ok(Ok(Body::Empty)) => sr.finish().map(Outcome::Ended),
            Ok(Ok(Body::Static(b))) => send_whole(&mut sr, b).map(Outcome::Ended),
            Ok(Ok(Body::Bytes(v))) => send_whole(&mut sr, &v).map(Outcome::Ended),
            Ok(Ok(Body::Iter(iter))) => stream(&mut sr, iter),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(panic_message(panic).into()),
        };
        let headers_sent = sr.headers_sent();
        *outcome = match result {
            Ok(o) => o,
            Err(e) => {
                let method = String::from_utf8_lossy(method);
                let target = String::from_utf8_lossy(target);
                if client_left(&e) {
                    // The client's doing, not the app's: as on the loop's thread.
                    log::debug!("Request {method} {target} ended early: {e}");
                } else {
                    log::error!("Error handling request {method} {target}: {e}");
                }
                *retire = crate::app::asks_to_retire(&e);
                if headers_sent {
                    Outcome::Aborted
                } else {
                    out.clear();
                    response::put_error(out, *version, 500, "", &stamp);
                    if line[..*method_len] == b"HEAD"[..] {
                        response::strip_body(out, 0);
                    }
                    Outcome::Failed(crate::logging::access::body_len(out))
                }
            }
        };
        self.heartbeat.end_request(slot);
        *took = began.elapsed();
    }
}

/// The request in `conn` leaves for an application thread in `job`: the connection keeps what
/// it needs to take the output back.
pub fn hand_over(conn: &mut Conn, job: &mut Job) -> Phase {
    let link = conn.link.get_or_insert_with(Arc::default).clone();
    link.reset();
    job.link = Some(link.clone());
    conn.resp_start = conn.wbuf.len();
    Phase::InApp(InApp {
        link,
        foreign: conn.pending(),
    })
}

/// An application thread finished the call in `job` for `conn`: the response state, the request
/// body and the last output come back, and the connection goes on with the outcome.
pub fn take_back(conn: &mut Conn, job: &mut Job, log: &AccessLog) {
    std::mem::swap(&mut conn.resp, &mut job.resp);
    log.capture_environ(&mut conn.access, || job.environ.iter()); // service: %({key}e)s
    std::mem::swap(&mut conn.body, job.environ.input());
    conn.body.clear();
    if conn.pending() == 0 {
        conn.wbuf.clear();
        conn.wpos = 0;
        std::mem::swap(&mut conn.wbuf, &mut job.out);
    } else {
        conn.wbuf.extend_from_slice(&job.out);
    }
    conn.phase = match std::mem::take(&mut job.outcome) {
        Outcome::Ended(ending) => Phase::Done(ending),
        Outcome::File(file) => Phase::SendFile(file),
        Outcome::Failed(body_len) => {
            conn.access.answered(500, body_len); // service: the access log shows the 500
            Phase::Done(Ending::Close)
        }
        Outcome::Aborted | Outcome::Pending => Phase::Done(Ending::Close),
    };
}

/// Whether an application error is only the client going away (or stalling) under `write`.
fn client_left(err: &AppError) -> bool {
    err.downcast_ref::<io::Error>().is_some_and(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::TimedOut | io::ErrorKind::ConnectionReset
        )
    })
}

/// Pulls a body on the application thread, handing each block to the loop before asking for
/// the next (the loop sends it meanwhile); a file body goes back to the loop for sendfile.
fn stream(sr: &mut StartResponse<'_>, mut iter: Box<dyn BodyIter>) -> Result<Outcome, AppError> {
    if let Some(region) = iter.file() {
        match sr.send_raw(region.len) {
            Ok(Some(len)) => return Ok(Outcome::File(FileSend::new(iter, region, len))),
            Ok(None) => {}
            Err(e) => {
                close(&mut *iter);
                return Err(e);
            }
        }
    }
    let result = loop {
        match catch_unwind(AssertUnwindSafe(|| iter.next_chunk(sr))) {
            Ok(Some(Ok(chunk))) => {
                if let Err(e) = sr.send_chunk(&chunk, None) {
                    break Err(e);
                }
                // A body that has its whole Content-Length need not hurry, up to a bound.
                if !sr.body_complete() || sr.pending() >= OUTPUT_HIGH_WATER {
                    if let Err(e) = sr.hand_over() {
                        break Err(e);
                    }
                }
            }
            Ok(None) => break sr.finish().map(Outcome::Ended),
            Ok(Some(Err(e))) => break Err(e),
            Err(panic) => break Err(panic_message(panic).into()),
        }
    };
    close(&mut *iter);
    result
}

fn close(iter: &mut dyn BodyIter) {
    let _ = catch_unwind(AssertUnwindSafe(|| iter.close()));
}

/// `write` and streamed blocks on an application thread: hands the bytes to the loop, which
/// keeps sending while the application produces the next (PEP 3333), and waits only while more
/// than [`OUTPUT_HIGH_WATER`] is unsent.
struct ThreadDrain<'t, 'a> {
    threads: &'t Threads<'a>,
    slot: usize,
    key: usize,
    link: &'t Link,
}

impl Drain for ThreadDrain<'_, '_> {
    fn drain(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        if self.link.is_gone() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"));
        }
        if out.is_empty() {
            return Ok(());
        }
        self.link.unsent.fetch_add(out.len(), Ordering::SeqCst);
        let data = std::mem::take(out);
        let _ = self.threads.events.send(Event::Output { key: self.key, data });
        self.threads.wake();
        self.threads.heartbeat.progress(self.slot);
        if self.link.unsent.load(Ordering::SeqCst) > OUTPUT_HIGH_WATER {
            self.wait()?;
        }
        Ok(())
    }
}

impl ThreadDrain<'_, '_> {
    /// Waits until the client has read down to half the high-water mark; the wait is the
    /// client's, so the heartbeat slot shows progress meanwhile, and `timeout` without any
    /// byte read ends it.
    fn wait(&self) -> io::Result<()> {
        let link = self.link;
        // A Python app's `write`: let its other threads run while this one waits.
        let _paused = self.threads.app.pause_for_wait();
        let mut guard = link.lock.lock().unwrap_or_else(PoisonError::into_inner);
        link.waiting.store(true, Ordering::SeqCst);
        let mut last = link.unsent.load(Ordering::SeqCst);
        let mut deadline = Instant::now() + self.threads.timeout;
        let outcome = loop {
            if link.is_gone() {
                break Err(io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"));
            }
            let unsent = link.unsent.load(Ordering::SeqCst);
            if unsent <= OUTPUT_HIGH_WATER / 2 {
                break Ok(());
            }
            let now = Instant::now();
            if unsent < last {
                last = unsent;
                deadline = now + self.threads.timeout;
            } else if now >= deadline {
                break Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"));
            }
            self.threads.heartbeat.progress(self.slot);
            let wait = deadline.saturating_duration_since(now).min(Duration::from_millis(250));
            guard = link
                .cond
                .wait_timeout(guard, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        link.waiting.store(false, Ordering::SeqCst);
        outcome
    }
}
