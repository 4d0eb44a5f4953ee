//! Micro-benchmarks of the request path without sockets: head parsing, response encoding, and
//! one whole request through the protocol layer (environ, start_response, body, encoding),
//! with a count of heap allocations per request.
//!
//! It measures the worker's internals, which a Rust app never calls, so it reaches them
//! through `forkhorn::unstable` (hidden, no stability promise) rather than the public API.

use criterion::{criterion_group, criterion_main, Criterion};
use forkhorn::http::{parse_head, Head, Limits};
use forkhorn::unstable::{
    build_environ, builtin_app, send_whole, Peer, PeerText, RequestInfo, Response, ServerName, Stamp,
};
use forkhorn::{Body, Environ, StartResponse};
use std::hint::black_box;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A browser-like request: 9 header fields, about 450 bytes.
const REQUEST: &[u8] = b"GET /api/items/42?expand=owner&fields=id,name HTTP/1.1\r\n\
Host: app.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Cache-Control: max-age=0\r\n\r\n";

const LIMITS: Limits = Limits {
    request_line: 4094,
    fields: 100,
    field_size: 8190,
};

const STAMP: Stamp<'static> = Stamp {
    date: "Fri, 20 Nov 2026 10:00:00 GMT",
    server: "forkhorn",
};

struct Path {
    head: Head,
    environ: Environ,
    resp: Response,
    out: Vec<u8>,
    app: Box<dyn forkhorn::app::Application>,
    server: ServerName,
    client: PeerText,
}

impl Path {
    fn new() -> Path {
        Path {
            head: Head::default(),
            environ: Environ::new(),
            resp: Response::default(),
            out: Vec::with_capacity(4096),
            app: builtin_app("hello").unwrap(),
            server: ServerName::Socket {
                name: "127.0.0.1".into(),
                port: "8000".into(),
            },
            client: PeerText::of(Peer::Tcp("127.0.0.1:40000".parse().unwrap())),
        }
    }

    /// One request: parse, environ, app, encode. Returns the response size.
    fn one(&mut self) -> usize {
        let len = parse_head(REQUEST, &LIMITS, &mut self.head).unwrap().unwrap();
        build_environ(
            &mut self.environ,
            &self.head,
            &REQUEST[..len],
            &self.client,
            "http",
            &self.server,
        );
        self.resp.begin(RequestInfo {
            version: self.head.version,
            head: false,
            keep_alive: true,
        });
        self.out.clear();
        let mut sr = StartResponse::new(&mut self.resp, &mut self.out, STAMP);
        match self.app.call(&mut self.environ, &mut sr).unwrap() {
            Body::Static(b) => send_whole(&mut sr, b).unwrap(),
            other => panic!("unexpected body {other:?}"),
        };
        self.out.len()
    }
}

fn benches(c: &mut Criterion) {
    let mut head = Head::default();
    c.bench_function("parse_head (9 fields, 450 B)", |b| {
        b.iter(|| parse_head(black_box(REQUEST), &LIMITS, &mut head).unwrap())
    });

    let mut resp = Response::default();
    let mut out = Vec::with_capacity(4096);
    c.bench_function("encode response (hello)", |b| {
        b.iter(|| {
            resp.begin(RequestInfo {
                version: forkhorn::http::Version::Http11,
                head: false,
                keep_alive: true,
            });
            out.clear();
            let mut sr = StartResponse::new(&mut resp, &mut out, STAMP);
            sr.start_response("200 OK", &[("Content-Type", "text/plain; charset=utf-8")], None)
                .unwrap();
            send_whole(&mut sr, black_box(b"Hello, World!")).unwrap();
            out.len()
        })
    });

    let mut path = Path::new();
    c.bench_function("protocol path (parse + environ + hello + encode)", |b| {
        b.iter(|| path.one())
    });

    // Allocations per request once buffers are warm.
    for _ in 0..100 {
        path.one();
    }
    let before = allocations();
    const N: usize = 10_000;
    for _ in 0..N {
        black_box(path.one());
    }
    let per = (allocations() - before) as f64 / N as f64;
    println!("allocations per request on the protocol path: {per}");
    assert!(per == 0.0, "the hot path allocates: {per} per request");
}

criterion_group!(group, benches);
criterion_main!(group);
