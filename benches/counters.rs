//! What a worker adds to each request when it keeps counters for `forkhorn ctl` and `/metrics`
//! (`metrics_bind` or a control socket): the heartbeat's begin/end of the application call with
//! and without counting, plus the request-level count and the two clock reads that time it.
//! Compare the difference with the CPU time per request of `benches/metrics-overhead.sh`.
//!
//!     cargo bench --bench counters

use criterion::{criterion_group, criterion_main, Criterion};
use forkhorn::unstable::{Heartbeat, Tally};
use std::hint::black_box;
use std::time::Instant;

fn benches(c: &mut Criterion) {
    let off = Heartbeat::new(1, false).expect("map a page");
    c.bench_function("per request, counting off (heartbeat only)", |b| {
        b.iter(|| {
            off.begin_request(0, black_box(b"GET"), black_box(b"/"));
            black_box(off.end_request(0));
        })
    });
    let on = Heartbeat::new(1, true).expect("map a page");
    let tally: &Tally = on.tally().expect("counting");
    c.bench_function("per request, counting on (heartbeat + tally + timing)", |b| {
        b.iter(|| {
            let start = Instant::now();
            tally.began();
            on.begin_request(0, black_box(b"GET"), black_box(b"/"));
            black_box(on.end_request(0));
            tally.ended(black_box(b"GET"), 200, start.elapsed());
        })
    });
}

criterion_group!(group, benches);
criterion_main!(group);
