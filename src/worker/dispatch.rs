//! Handing a complete request to the application: building the environ, calling the app under
//! the start_response/write protocol on the loop's thread (and pulling its body as the client
//! reads), or sending the request to an application thread (`pool`).

use super::conn::{Conn, FileSend, Phase, Polled};
use super::stream::{PeerText, Stream};
use super::{panic_message, Ctx, Io, Shared};
use crate::app::protocol::{send_whole, Drain, RequestInfo, StartResponse, OUTPUT_HIGH_WATER};
use crate::app::{Body, Environ};
use crate::config::{AllowIps, Config};
use crate::http::response::Stamp;
use crate::http::uri::percent_decoded;
use crate::http::{Head, Limits, Version};
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The worker's settings in the form the hot path uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Head size limits.
    pub limits: Limits,
    /// Largest head the receive buffer grows to.
    pub max_head: usize,
    /// Largest body (0 = unlimited).
    pub limit_request_body: u64,
    /// Bodies above this size are spooled to a temporary file.
    pub body_buffer_size: usize,
    /// Idle keep-alive time (zero: no keep-alive).
    pub keepalive: Duration,
    /// Time to send a complete head.
    pub header_timeout: Duration,
    /// Time allowed for a body upload or a stalled reader to make progress.
    pub timeout: Duration,
    /// `Server` header value.
    pub server_header: String,
    /// Peers believed when they set the scheme headers.
    pub forwarded_allow_ips: AllowIps,
    /// Header/value pairs meaning `https`.
    pub secure_scheme_headers: Vec<(String, String)>,
    /// Names with `_` (upper case) that those peers may send.
    pub forwarder_headers: Vec<String>,
    /// Accept a PROXY protocol header at the start of a connection.
    pub proxy_protocol: bool,
    /// Peers allowed to send one.
    pub proxy_allow_ips: AllowIps,
    /// Hold finished responses for the end of the loop's turn (see `batch`).
    pub batch_responses: bool,
}

impl Settings {
    /// Derives the hot-path settings from the configuration.
    pub fn new(cfg: &Config) -> Settings {
        let limits = Limits {
            request_line: cfg.limit_request_line,
            fields: cfg.limit_request_fields,
            field_size: cfg.limit_request_field_size,
        };
        let most = limits.effective();
        // The largest head the limits admit, plus slack for CRLFs; hard-capped so that
        // "unlimited" settings still cannot make one connection hold unbounded memory.
        let max_head =
            (most.request_line + 2 + most.fields.saturating_mul(most.field_size + 2) + 2).clamp(4096, 4 << 20);
        Settings {
            limits,
            max_head,
            limit_request_body: cfg.limit_request_body,
            body_buffer_size: cfg.body_buffer_size,
            keepalive: cfg.keepalive,
            header_timeout: cfg.header_timeout,
            timeout: if cfg.timeout.is_zero() {
                Duration::from_secs(3600)
            } else {
                cfg.timeout
            },
            server_header: cfg.server_header.clone(),
            forwarded_allow_ips: cfg.forwarded_allow_ips.clone(),
            secure_scheme_headers: cfg.secure_scheme_headers.clone(),
            forwarder_headers: cfg.forwarder_headers.clone(),
            proxy_protocol: cfg.proxy_protocol,
            proxy_allow_ips: cfg.proxy_allow_ips.clone(),
            batch_responses: cfg.batch_responses,
        }
    }
}

/// Where SERVER_NAME and SERVER_PORT come from for one listener.
#[derive(Debug, Clone)]
pub enum ServerName {
    /// A TCP listener: its own address.
    Socket {
        /// SERVER_NAME.
        name: String,
        /// SERVER_PORT.
        port: String,
    },
    /// A Unix socket, which has no host or port: the request's host (the Host header, or an
    /// absolute-form target's authority), as gunicorn takes it, since the proxy in front
    /// passes on the name the client asked for; without one, the socket's path and no port.
    FromHost {
        /// The socket's path.
        path: String,
    },
}

/// SERVER_NAME and SERVER_PORT from a request's host (`name`, `name:port`, `[v6]:port`), which
/// the parser has checked: the port is the scheme's default when absent (as gunicorn has it:
/// 80 for http, 443 for https).
fn split_host<'a>(host: &'a [u8], scheme: &str) -> (&'a [u8], &'a [u8]) {
    let default: &'static [u8] = match scheme {
        "https" => b"443",
        "http" => b"80",
        _ => b"",
    };
    match crate::http::uri::host_port(host) {
        Some(parts) => (parts.host, parts.port.filter(|p| !p.is_empty()).unwrap_or(default)),
        None => (host, default),
    }
}

/// `write` for the connection whose application call runs on the worker's thread: sends the
/// output before `write` returns (PEP 3333: the loop cannot go on sending while the application
/// runs), and while the client is slow, runs turns of the worker's loop so that the other
/// connections are served meanwhile (or, for an application that cannot be re-entered, waits
/// on this one socket).
struct WorkerDrain<'a, 'c> {
    ctx: &'a Ctx<'a>,
    io: &'a mut Io,
    key: usize,
    stream: &'c mut Stream,
    polled: &'c mut Polled,
    wpos: &'c mut usize,
    timeout: Duration,
    reentrant: bool,
}

impl Drain for WorkerDrain<'_, '_> {
    fn drain(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut deadline = Instant::now() + self.timeout;
        while out.len() > *self.wpos {
            match self.stream.write(&out[*self.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *self.wpos += n;
                    deadline = Instant::now() + self.timeout;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"));
                    }
                    let wait = deadline.saturating_duration_since(now).min(Duration::from_millis(250));
                    // The loop's turns learn that the socket drained only if it is polled.
                    self.io.watch(self.key, self.stream, self.polled)?;
                    if self.reentrant && self.io.wait_writable(self.ctx, self.key, wait) {
                        continue;
                    }
                    if self.io.quit_requested() {
                        return Err(io::Error::new(io::ErrorKind::Interrupted, "the worker is stopping"));
                    }
                    // Waiting on this one socket: what other requests finished goes out first.
                    self.io.flush_held(self.ctx);
                    let ms = PollTimeout::try_from(wait.as_millis().min(i32::MAX as u128) as i32)
                        .unwrap_or(PollTimeout::MAX);
                    let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLOUT)];
                    let paused = self.ctx.app.pause_for_wait();
                    let polled = poll(&mut fds, ms);
                    drop(paused);
                    match polled {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        out.clear();
        *self.wpos = 0;
        Ok(())
    }
}

/// Hands the complete request in `conn` to the application: on an application thread when the
/// worker has them (or queued for one), otherwise on this thread, now. Returns the phase that
/// follows.
pub fn begin_call(conn: &mut Conn, sh: &mut Shared<'_>) -> Phase {
    match &mut sh.io.pool {
        // An application that never waits gains nothing from a thread (Application::may_wait).
        Some(_) if !sh.ctx.app.may_wait() => call_app(conn, sh),
        Some(pool) if !pool.has_room() => {
            sh.io.parked.push_back(conn.key);
            Phase::Queued
        }
        Some(_) => to_thread(conn, sh),
        None => call_app(conn, sh),
    }
}

/// Sends the request in `conn` to the application threads (which have room).
pub fn to_thread(conn: &mut Conn, sh: &mut Shared<'_>) -> Phase {
    let Some(pool) = sh.io.pool.as_mut() else {
        return call_app(conn, sh);
    };
    let mut job = pool.job();
    let info = begin_request(conn, sh, &mut job.environ);
    job.resp.begin(info);
    job.version = info.version;
    job.key = conn.key;
    job.date.clear();
    job.date.push_str(sh.io.date.get());
    let method = conn.head.method.of(&conn.head_buf);
    job.line.clear();
    job.line.extend_from_slice(method);
    job.method_len = method.len();
    job.line.extend_from_slice(conn.head.target.of(&conn.head_buf));
    std::mem::swap(&mut conn.body, job.environ.input());
    let phase = super::pool::hand_over(conn, &mut job);
    if let Some(pool) = sh.io.pool.as_mut() {
        pool.submit(job);
    }
    phase
}

/// The request in `conn` goes to the application: fills `environ` and returns the response
/// facts; the request takes one of the worker's `max_requests`.
fn begin_request(conn: &Conn, sh: &mut Shared<'_>, environ: &mut Environ) -> RequestInfo {
    // An application that reads only a few variables gets only those, unless the access log
    // shows others (`%({key}e)s`).
    let only = sh.ctx.app.environ_keys().filter(|_| !sh.io.access.reads_environ());
    build_environ_of(
        environ,
        &conn.head,
        &conn.head_buf,
        &conn.client,
        conn.scheme,
        &sh.ctx.servers[conn.listener],
        only,
    );
    if let Some(facts) = conn.stream.tls_facts() {
        tls_environ(environ, facts);
    }
    if conn.trusted && !sh.ctx.settings.forwarder_headers.is_empty() {
        forwarded_headers(environ, &conn.head, &conn.head_buf, &sh.ctx.settings.forwarder_headers);
    }
    let head = &conn.head;
    let left = sh.io.requests_left.saturating_sub(1);
    sh.io.requests_left = left;
    RequestInfo {
        version: head.version,
        head: head.method.of(&conn.head_buf) == b"HEAD",
        // The request that uses up `max_requests` already says the connection will close.
        keep_alive: head.keep_alive
            && sh.io.life == super::Life::Serving
            && left > 0
            && !sh.ctx.settings.keepalive.is_zero(),
    }
}

/// Calls the application for the request in `conn` on this thread and returns the phase that
/// follows.
pub fn call_app(conn: &mut Conn, sh: &mut Shared<'_>) -> Phase {
    // An environ of its own: the application may run the loop (through `write`), and with it
    // other requests, before this one is done.
    let mut environ = sh.io.environs.pop().unwrap_or_default();
    let phase = call_app_with(conn, sh, &mut environ);
    sh.io.environs.push(environ);
    phase
}

fn call_app_with(conn: &mut Conn, sh: &mut Shared<'_>, environ: &mut Environ) -> Phase {
    let info = begin_request(conn, sh, environ);
    let head = &conn.head;
    conn.began = sh
        .ctx
        .heartbeat
        .begin_request(0, head.method.of(&conn.head_buf), head.target.of(&conn.head_buf));
    conn.resp.begin(info);
    conn.resp_start = conn.wbuf.len();
    // A copy: the loop may refresh the cache while the application runs.
    let date = sh.io.date.snapshot();
    let ctx = sh.ctx;
    let stamp = Stamp {
        date: date.as_str(),
        server: &ctx.settings.server_header,
    };
    std::mem::swap(&mut conn.body, environ.input());
    let key = conn.key;
    let (resp, wbuf, stream, polled, wpos) = conn.app_parts();
    let mut drain = WorkerDrain {
        ctx,
        io: &mut *sh.io,
        key,
        stream,
        polled,
        wpos,
        timeout: ctx.settings.timeout,
        reentrant: ctx.app.reentrant(),
    };
    let mut sr = StartResponse::new(resp, wbuf, stamp).with_drain(&mut drain);
    let app = ctx.app;
    let result = catch_unwind(AssertUnwindSafe(|| app.call(environ, &mut sr)));
    let result = match result {
        Ok(Ok(body)) => match body {
            Body::Empty => sr.finish(),
            Body::Static(b) => send_whole(&mut sr, b),
            Body::Bytes(v) => send_whole(&mut sr, &v),
            Body::Iter(mut iter) => {
                // A file body goes out with sendfile unless the framing is chunked.
                let raw = iter.file().map(|region| (region, sr.send_raw(region.len)));
                sh.io.access.capture_environ(&mut conn.access, || environ.iter()); // service: %({key}e)s
                std::mem::swap(&mut conn.body, environ.input());
                conn.body.clear();
                return match raw {
                    Some((region, Ok(Some(len)))) => Phase::SendFile(FileSend::new(iter, region, len)),
                    Some((_, Err(e))) => {
                        iter.close();
                        conn.fail(sh, e)
                    }
                    _ => Phase::Streaming(iter),
                };
            }
        },
        Ok(Err(e)) => Err(e),
        Err(panic) => Err(panic_message(panic).into()),
    };
    sh.io.access.capture_environ(&mut conn.access, || environ.iter()); // service: %({key}e)s
    std::mem::swap(&mut conn.body, environ.input());
    conn.body.clear();
    app_returned(conn.began, sh);
    match result {
        Ok(ending) => Phase::Done(ending),
        Err(e) => conn.fail(sh, e),
    }
}

/// The application is done with the request that entered it at `began` (its body included):
/// the heartbeat says so, and response batching learns how long the call took.
pub fn app_returned(began: u64, sh: &mut Shared<'_>) {
    let ended = sh.ctx.heartbeat.end_request(0);
    sh.io.batch.called(ended.saturating_sub(began));
}

/// Pulls chunks from the body of the response in `conn` until one is left to send (or, once the body
/// has its whole `Content-Length`, until the output is above the high-water mark), or the
/// body ends.
pub fn pull_body(conn: &mut Conn, sh: &mut Shared<'_>) {
    let Phase::Streaming(iter) = &mut conn.phase else {
        return;
    };
    let stamp = Stamp {
        date: sh.io.date.get(),
        server: &sh.ctx.settings.server_header,
    };
    let mut sr = StartResponse::new(&mut conn.resp, &mut conn.wbuf, stamp);
    let outcome = loop {
        let unsent = sr.pending() - conn.wpos;
        if unsent > 0 && (!sr.body_complete() || unsent >= OUTPUT_HIGH_WATER) {
            return;
        }
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| iter.next_chunk(&mut sr)));
        match next {
            Ok(Some(Ok(chunk))) => {
                if let Err(e) = sr.send_chunk(&chunk, None) {
                    break Err(e);
                }
            }
            Ok(None) => break sr.finish(),
            Ok(Some(Err(e))) => break Err(e),
            Err(panic) => break Err(panic_message(panic).into()),
        }
    };
    conn.close_body();
    app_returned(conn.began, sh);
    conn.phase = match outcome {
        Ok(ending) => Phase::Done(ending),
        Err(e) => conn.fail(sh, e),
    };
}

/// The headers with `_` in their names that [`build_environ`] dropped and a trusted peer may
/// send (`names`, gunicorn's `forwarder_headers`): each is set as `HTTP_NAME`, and a
/// `SCRIPT_NAME` header also as `SCRIPT_NAME`, the prefix the application's mount then takes
/// off `PATH_INFO` for this request (`app::mount`).
fn forwarded_headers(env: &mut Environ, head: &Head, buf: &[u8], names: &[String]) {
    for (name, value) in &head.headers {
        let (name, value) = (name.of(buf), value.of(buf));
        if !name.contains(&b'_') || !names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name)) {
            continue;
        }
        env.set_header(name, value);
        if name.eq_ignore_ascii_case(b"SCRIPT_NAME") {
            let latin1: String = value.iter().map(|&b| char::from(b)).collect();
            env.replace("SCRIPT_NAME", &latin1);
        }
    }
}

/// The variables of a TLS connection, as nginx's and Apache's mod_ssl set them for CGI: `HTTPS`,
/// the protocol and suite, and the client certificate's verification, subject and PEM.
fn tls_environ(env: &mut Environ, facts: &crate::tls::Facts) {
    env.set("HTTPS", "on");
    env.set("SSL_PROTOCOL", facts.protocol);
    env.set("SSL_CIPHER", facts.cipher);
    env.set("SSL_CLIENT_VERIFY", facts.verify);
    if let Some((subject, pem)) = &facts.client {
        env.set("SSL_CLIENT_S_DN", subject);
        env.set("SSL_CLIENT_CERT", pem);
    }
}

/// Fills `env` with the CGI/WSGI variables of the request whose head is `head` (spans into
/// `buf`), received from `peer` on the listener named `server`.
pub fn build_environ(env: &mut Environ, head: &Head, buf: &[u8], client: &PeerText, scheme: &str, server: &ServerName) {
    build_environ_of(env, head, buf, client, scheme, server, None);
}

/// [`build_environ`], setting only the variables named in `only` when it is Some (see
/// [`crate::app::Application::environ_keys`]).
fn build_environ_of(
    env: &mut Environ,
    head: &Head,
    buf: &[u8],
    client: &PeerText,
    scheme: &str,
    server: &ServerName,
    only: Option<&[&str]>,
) {
    let want = |key: &str| only.is_none_or(|keys| keys.contains(&key));
    env.clear();
    if want("REQUEST_METHOD") {
        env.set_latin1("REQUEST_METHOD", head.method.of(buf));
    }
    if want("SCRIPT_NAME") {
        env.set("SCRIPT_NAME", "");
    }
    if want("PATH_INFO") {
        // PATH_INFO is percent-decoded; the decoded bytes are read as latin-1 (PEP 3333).
        env.set_latin1_iter("PATH_INFO", percent_decoded(head.path.of(buf)));
    }
    if only.is_none() {
        env.set_latin1("QUERY_STRING", head.query.of(buf));
        env.set_latin1("RAW_URI", head.target.of(buf));
        env.set(
            "SERVER_PROTOCOL",
            match head.version {
                Version::Http10 => "HTTP/1.0",
                Version::Http11 => "HTTP/1.1",
            },
        );
        match server {
            ServerName::Socket { name, port } => {
                env.set("SERVER_NAME", name);
                env.set("SERVER_PORT", port);
            }
            ServerName::FromHost { path } => match head.host.map(|h| h.of(buf)) {
                Some(host) => {
                    let (name, port) = split_host(host, scheme);
                    env.set_latin1("SERVER_NAME", name);
                    env.set_latin1("SERVER_PORT", port);
                }
                None => {
                    env.set("SERVER_NAME", path);
                    env.set("SERVER_PORT", "");
                }
            },
        }
        env.set("REMOTE_ADDR", &client.addr);
        env.set("REMOTE_PORT", &client.port);
        env.set("SERVER_SOFTWARE", concat!("forkhorn/", env!("CARGO_PKG_VERSION")));
        env.set("wsgi.url_scheme", scheme);
    }
    if let Some(authority) = head.authority.filter(|_| want("HTTP_HOST")) {
        env.set_latin1("HTTP_HOST", authority.of(buf));
    }
    for (name, value) in &head.headers {
        let name = name.of(buf);
        let value = value.of(buf);
        // A name with `_` could pose as one with `-` once both become `HTTP_X_Y`: drop it.
        if name.contains(&b'_') {
            continue;
        }
        if let Some(keys) = only {
            if !keys.iter().any(|key| names_header(key, name)) {
                continue;
            }
        }
        if name.eq_ignore_ascii_case(b"content-type") {
            env.set_latin1("CONTENT_TYPE", value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            env.set_latin1("CONTENT_LENGTH", value);
        } else if head.authority.is_some() && name.eq_ignore_ascii_case(b"host") {
            // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
        } else {
            env.set_header(name, value);
        }
    }
}

/// Whether the environ variable `key` is where the header `name` goes: `HTTP_` and the name
/// upper-cased with `-` as `_`, or CONTENT_TYPE and CONTENT_LENGTH.
fn names_header(key: &str, name: &[u8]) -> bool {
    if name.eq_ignore_ascii_case(b"content-type") {
        return key == "CONTENT_TYPE";
    }
    if name.eq_ignore_ascii_case(b"content-length") {
        return key == "CONTENT_LENGTH";
    }
    key.strip_prefix("HTTP_").is_some_and(|rest| {
        rest.len() == name.len()
            && rest
                .bytes()
                .zip(name)
                .all(|(k, &n)| k == if n == b'-' { b'_' } else { n.to_ascii_uppercase() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_head;

    #[test]
    fn header_names_and_their_variables() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("HTTP_RANGE", b"Range", true),
            ("HTTP_IF_NONE_MATCH", b"if-none-match", true),
            ("HTTP_IF_NONE_MATCH", b"If-None-Matc", false),
            ("HTTP_RANGE", b"X-Range", false),
            ("CONTENT_TYPE", b"Content-Type", true),
            ("HTTP_CONTENT_TYPE", b"Content-Type", false),
            ("PATH_INFO", b"Path-Info", false),
        ];
        for (key, name, want) in cases {
            assert_eq!(
                names_header(key, name),
                *want,
                "{key} {}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn a_unix_socket_takes_server_name_and_port_from_the_host() {
        let cases: [(&[u8], &str, (&str, &str)); 8] = [
            (b"example.com", "http", ("example.com", "80")),
            (b"example.com", "https", ("example.com", "443")),
            (b"example.com:8443", "https", ("example.com", "8443")),
            (b"10.0.0.1:8080", "http", ("10.0.0.1", "8080")),
            (b"[::1]", "http", ("[::1]", "80")),
            (b"[::1]:8080", "http", ("[::1]", "8080")),
            (b"example.com:", "http", ("example.com", "80")),
            (b"h", "ws", ("h", "")),
        ];
        for (host, scheme, (name, port)) in cases {
            let (n, p) = split_host(host, scheme);
            assert_eq!((n, p), (name.as_bytes(), port.as_bytes()), "{host:?} {scheme}");
        }
        let server = ServerName::FromHost {
            path: "/run/app.sock".into(),
        };
        let env_of = |raw: &[u8]| {
            let mut head = Head::default();
            parse_head(raw, &Limits::default(), &mut head).unwrap().unwrap();
            let mut env = Environ::new();
            build_environ(&mut env, &head, raw, &PeerText::default(), "http", &server);
            (
                env.get("SERVER_NAME").map(str::to_owned),
                env.get("SERVER_PORT").map(str::to_owned),
            )
        };
        let some = |n: &str, p: &str| (Some(n.to_owned()), Some(p.to_owned()));
        assert_eq!(
            env_of(b"GET / HTTP/1.1\r\nHost: shop.example:8443\r\n\r\n"),
            some("shop.example", "8443")
        );
        // RFC 9112 §3.2.2: an absolute-form target's authority is the host.
        assert_eq!(
            env_of(b"GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n"),
            some("a.example", "80")
        );
        assert_eq!(env_of(b"GET / HTTP/1.0\r\n\r\n"), some("/run/app.sock", ""));
    }

    #[test]
    fn an_environ_of_only_the_keys_asked_for() {
        let raw = b"GET /a%20b?q=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nAccept: */*\r\n\r\n";
        let mut head = Head::default();
        parse_head(raw, &Limits::default(), &mut head).unwrap().unwrap();
        let server = ServerName::Socket {
            name: "h".into(),
            port: "80".into(),
        };
        let mut env = Environ::new();
        let only: &[&str] = &["REQUEST_METHOD", "PATH_INFO", "HTTP_RANGE", "HTTP_IF_NONE_MATCH"];
        build_environ_of(&mut env, &head, raw, &PeerText::default(), "http", &server, Some(only));
        let got: Vec<(&str, &str)> = env.iter().collect();
        assert_eq!(
            got,
            [
                ("REQUEST_METHOD", "GET"),
                ("PATH_INFO", "/a b"),
                ("HTTP_RANGE", "bytes=0-1")
            ]
        );
        build_environ(&mut env, &head, raw, &PeerText::default(), "http", &server);
        assert_eq!(env.get("HTTP_ACCEPT"), Some("*/*"));
        assert_eq!(env.get("QUERY_STRING"), Some("q=1"));
    }
}
