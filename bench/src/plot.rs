//! The sweep's picture: requests/s and p99 latency against the worker count, one line per
//! connection count (and per server and engine when there are several), as a standalone SVG.
//!
//! Written by hand rather than with plotters: its SVG backend emits bare shapes, while here each
//! series is a `<g class="series" data-connections=...>` that tools and tests can find, and every
//! point carries a `<title>` tooltip with its exact value. PNG is not produced (see
//! benches/README.md): a pure-Rust rasterizer would need a bundled font for its text.

use super::report::Row;
use std::fmt::Write;

const PANEL_W: f64 = 480.0;
const PANEL_H: f64 = 360.0;
const TOP: f64 = 70.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const BOTTOM: f64 = 50.0;
const LEGEND_ROW: f64 = 22.0;
const LEGEND_PER_ROW: usize = 3;
/// Okabe and Ito's colour-blind-safe palette (yellow left out: it vanishes on white).
const COLORS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// One line: the rows of one server, engine and connection count, by worker count.
struct Series<'a> {
    server: &'a str,
    engine: &'a str,
    connections: usize,
    rows: Vec<&'a Row>,
}

/// What a panel shows.
struct Panel {
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    value: fn(&Row) -> f64,
}

const PANELS: [Panel; 2] = [
    Panel {
        id: "requests-per-second",
        title: "Requests per second (higher is better)",
        unit: "req/s",
        value: |r| r.requests_per_sec,
    },
    Panel {
        id: "p99-latency",
        title: "p99 latency, ms (lower is better)",
        unit: "ms p99",
        value: |r| r.latency_p99_ms,
    },
];

/// The SVG for `rows`, titled `caption`.
pub fn svg(rows: &[Row], caption: &str) -> String {
    let mut workers: Vec<usize> = rows.iter().map(|r| r.workers).collect();
    workers.sort_unstable();
    workers.dedup();
    let series = group(rows);
    let several_servers = series.iter().any(|s| s.server != series[0].server);
    let several_engines = series.iter().any(|s| s.engine != series[0].engine);
    let label = |s: &Series<'_>| {
        let mut parts = Vec::new();
        if several_servers {
            parts.push(s.server.to_owned());
        }
        if several_engines {
            parts.push(s.engine.to_owned());
        }
        parts.push(format!("{} connections", s.connections));
        parts.join(", ")
    };
    let legend_rows = series.len().div_ceil(LEGEND_PER_ROW).max(1);
    let width = PANEL_W * 2.0;
    let height = PANEL_H + 10.0 + legend_rows as f64 * LEGEND_ROW;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, "<title>{}</title>", esc(caption));
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        width / 2.0,
        esc(caption)
    );
    for (p, panel) in PANELS.iter().enumerate() {
        let x0 = p as f64 * PANEL_W;
        let plot_w = PANEL_W - LEFT - RIGHT;
        let plot_h = PANEL_H - TOP - BOTTOM;
        let ymax = rows
            .iter()
            .map(panel.value)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let (step, top) = ticks(ymax);
        let x_of = |w: usize| {
            let i = workers.iter().position(|&x| x == w).unwrap_or(0) as f64;
            let n = workers.len() as f64;
            // Evenly spaced by rank, not by value: counts are usually powers of two.
            x0 + LEFT + plot_w * (i + 0.5) / n
        };
        let y_of = |v: f64| TOP + plot_h * (1.0 - v / top);
        let _ = writeln!(out, r#"<g id="{}" class="panel">"#, panel.id);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text>"#,
            x0 + LEFT + plot_w / 2.0,
            TOP - 16.0,
            panel.title
        );
        out.push_str("<g class=\"axes\">\n");
        let mut v = 0.0;
        while v <= top + step / 2.0 {
            let y = y_of(v);
            let _ = writeln!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 + LEFT,
                x0 + LEFT + plot_w,
                x0 + LEFT - 6.0,
                y + 4.0,
                tick_label(v, step)
            );
            v += step;
        }
        for &w in &workers {
            let x = x_of(w);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#888888"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{w}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 5.0,
                TOP + plot_h + 18.0
            );
        }
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888888"/>"##,
            x0 + LEFT,
            TOP + plot_h,
            x0 + LEFT + plot_w,
            TOP + plot_h
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">workers</text>"#,
            x0 + LEFT + plot_w / 2.0,
            TOP + plot_h + 38.0
        );
        out.push_str("</g>\n");
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<(f64, f64, &Row)> = s
                .rows
                .iter()
                .map(|r| (r, (panel.value)(r)))
                .filter(|(_, v)| v.is_finite())
                .map(|(r, v)| (x_of(r.workers), y_of(v), *r))
                .collect();
            let _ = writeln!(
                out,
                r#"<g class="series" data-server="{}" data-engine="{}" data-connections="{}">"#,
                esc(s.server),
                esc(s.engine),
                s.connections
            );
            let path: Vec<String> = points.iter().map(|(x, y, _)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            for (x, y, r) in &points {
                let _ = writeln!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"><title>{}: {} workers, {} connections: {} {}</title></circle>"#,
                    esc(&label(s)),
                    r.workers,
                    r.connections,
                    value_text((panel.value)(r)),
                    panel.unit
                );
            }
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n");
    }
    out.push_str("<g class=\"legend\">\n");
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let col = (i % LEGEND_PER_ROW) as f64;
        let x = LEFT + col * (width - LEFT) / LEGEND_PER_ROW as f64;
        let y = PANEL_H + 4.0 + (i / LEGEND_PER_ROW) as f64 * LEGEND_ROW;
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 24.0,
            x + 30.0,
            y + 4.0,
            esc(&label(s))
        );
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// Rows grouped into series, in order of first appearance, each sorted by worker count.
fn group(rows: &[Row]) -> Vec<Series<'_>> {
    let mut out: Vec<Series<'_>> = Vec::new();
    for r in rows {
        match out
            .iter_mut()
            .find(|s| s.server == r.server && s.engine == r.engine && s.connections == r.connections)
        {
            Some(s) => s.rows.push(r),
            None => out.push(Series {
                server: &r.server,
                engine: &r.engine,
                connections: r.connections,
                rows: vec![r],
            }),
        }
    }
    for s in &mut out {
        s.rows.sort_by_key(|r| r.workers);
    }
    out
}

/// A tick step of 1, 2 or 5 times a power of ten giving about five ticks, and the axis top.
fn ticks(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (0.2, 1.0);
    }
    let rough = max / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    (step, (max / step).ceil() * step)
}

/// `40k`, `2.5k`, `0.5`: short labels for the y axis.
fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if step >= 1000.0 {
        trim(v / 1000.0) + "k"
    } else {
        trim(v)
    }
}

/// A number without trailing zeros, to at most three decimals.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// An exact value for a tooltip.
fn value_text(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Text safe inside XML elements and attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::row;

    #[test]
    fn one_series_per_connection_count_in_each_panel() {
        let rows = [
            row("forkhorn", 1, 64, 30_000.0, 2.0),
            row("forkhorn", 1, 256, 31_000.0, 8.0),
            row("forkhorn", 2, 64, 55_000.0, 1.5),
            row("forkhorn", 2, 256, 58_000.0, 6.0),
            row("forkhorn", 4, 64, 54_000.0, 1.7),
            row("forkhorn", 4, 256, 57_000.0, 7.0),
        ];
        let text = svg(&rows, "forkhorn bench <builtin:hello> & co");
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        for panel in ["requests-per-second", "p99-latency"] {
            let p = doc
                .descendants()
                .find(|n| n.attribute("id") == Some(panel))
                .expect(panel);
            let series: Vec<_> = p
                .descendants()
                .filter(|n| n.attribute("class") == Some("series"))
                .collect();
            let conns: Vec<&str> = series.iter().filter_map(|s| s.attribute("data-connections")).collect();
            assert_eq!(conns, ["64", "256"], "{panel}");
            for s in series {
                let circles = s.children().filter(|n| n.has_tag_name("circle")).count();
                assert_eq!(circles, 3, "{panel}: one point per worker count");
                let line = s.children().find(|n| n.has_tag_name("polyline")).expect("polyline");
                assert_eq!(line.attribute("points").unwrap().split(' ').count(), 3);
            }
        }
        // Legend labels say only what differs.
        let legend: Vec<String> = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("legend"))
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").to_owned())
            .collect();
        assert_eq!(legend, ["64 connections", "256 connections"]);
    }

    #[test]
    fn several_servers_are_told_apart() {
        let rows = [row("forkhorn", 1, 32, 10.0, 1.0), row("gunicorn", 1, 32, 5.0, 2.0)];
        let text = svg(&rows, "x");
        let doc = roxmltree::Document::parse(&text).unwrap();
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("series"))
            .filter_map(|n| n.attribute("data-server"))
            .collect();
        assert_eq!(labels, ["forkhorn", "gunicorn", "forkhorn", "gunicorn"]);
        assert!(text.contains(">gunicorn, 32 connections</text>"));
    }

    #[test]
    fn axis_ticks() {
        assert_eq!(ticks(57_000.0), (20_000.0, 60_000.0));
        assert_eq!(ticks(9.0), (2.0, 10.0));
        assert_eq!(ticks(0.37), (0.1, 0.4));
        assert_eq!(ticks(0.0), (0.2, 1.0));
        assert_eq!(tick_label(40_000.0, 20_000.0), "40k");
        assert_eq!(tick_label(2_500.0, 500.0), "2500");
        assert_eq!(tick_label(0.5, 0.1), "0.5");
        assert_eq!(tick_label(0.0, 20_000.0), "0");
    }
}
