//! The access log's cost per request, without sockets: `begin` + `finish` for one request in
//! the default combined format (time, request line, referer, user agent), written to a file with
//! the production flush policy; and a count of heap allocations per line (0 once warm).

use criterion::{criterion_group, criterion_main, Criterion};
use forkhorn::config::Config;
use forkhorn::http::{parse_head, Head, Limits};
use forkhorn::unstable::{AccessLog, Exchange, RequestLog};
use std::hint::black_box;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A browser-like request with a referer and a user agent.
const REQUEST: &[u8] = b"GET /api/items/42?expand=owner HTTP/1.1\r\n\
Host: app.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Referer: https://app.example.com/items\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\r\n";

fn access_log(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("forkhorn-bench-access-{}.log", std::process::id()));
    // To a file: formatting plus the kernel's copy into the page cache.
    one_target(c, "access_log/combined_line_to_file", &path);
    let _ = std::fs::remove_file(&path);
    // To /dev/null: the formatting and buffering alone.
    one_target(
        c,
        "access_log/combined_line_to_dev_null",
        std::path::Path::new("/dev/null"),
    );
}

fn one_target(c: &mut Criterion, name: &str, path: &std::path::Path) {
    let cfg = Config {
        accesslog: Some(path.display().to_string()),
        ..Config::default()
    };
    let mut log = AccessLog::open(&cfg).expect("open the access log");
    let mut head = Head::default();
    let limits = Limits {
        request_line: 4094,
        fields: 100,
        field_size: 8190,
    };
    parse_head(REQUEST, &limits, &mut head).unwrap();
    let ex = Exchange {
        head: &head,
        buf: REQUEST,
        peer: Some("192.0.2.7:51234".parse().unwrap()),
        status: 200,
        body_bytes: 13,
        resp_head: b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
        resp_length: None,
    };
    let mut req = RequestLog::default();
    // The worker ticks once per loop iteration, which handles many requests under load; here
    // once per 16 lines.
    let mut n = 0u32;
    let mut line = || {
        log.begin(&mut req);
        log.finish(&mut req, black_box(&ex));
        n = n.wrapping_add(1);
        if n % 16 == 0 {
            log.tick(std::time::Instant::now());
        }
    };
    for _ in 0..10_000 {
        line();
    }
    let before = allocations();
    for _ in 0..100_000 {
        line();
    }
    let per_line = (allocations() - before) as f64 / 100_000.0;
    println!("{name}: {per_line} heap allocations per line");
    c.bench_function(name, |b| b.iter(&mut line));
}

criterion_group!(benches, access_log);
criterion_main!(benches);
