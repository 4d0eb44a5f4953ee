//! `builtin:static` through the real server: types, validators, conditional and range
//! requests, and paths that must not escape the root; large files go out with sendfile.

mod common;
use common::*;
use std::io::{BufReader, Write};

struct Site {
    dir: std::path::PathBuf,
    root: std::path::PathBuf,
}

impl Site {
    fn new(name: &str) -> Site {
        let dir = std::env::temp_dir().join(format!("forkhorn-static-{name}-{}", std::process::id()));
        let root = dir.join("www");
        std::fs::create_dir_all(root.join("css")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>forkhorn</h1>\n").unwrap();
        std::fs::write(root.join("css/site.css"), "body{}\n").unwrap();
        std::fs::write(root.join("digits.txt"), "0123456789").unwrap();
        std::fs::write(dir.join("secret.txt"), "top secret").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("leak.txt")).unwrap();
        Site { dir, root }
    }

    fn serve(&self) -> Server {
        Server::start(&["--static-root", self.root.to_str().unwrap(), "builtin:static"], 1)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn request(s: &Server, head: &str) -> Response {
    let mut c = s.connect();
    write!(c, "{head}\r\nHost: h\r\nConnection: close\r\n\r\n").unwrap();
    read_response(&mut BufReader::new(c), head.starts_with("HEAD")).unwrap()
}

#[test]
fn files_with_types_and_validators() {
    let site = Site::new("types");
    let s = site.serve();
    let r = s.get("/index.html");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>forkhorn</h1>\n"));
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("Content-Length"), Some("18"));
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    let etag = r.header("ETag").unwrap().to_owned();
    let modified = r.header("Last-Modified").unwrap().to_owned();
    assert!(modified.ends_with(" GMT"));
    assert_eq!(
        s.get("/css/site.css").header("Content-Type"),
        Some("text/css; charset=utf-8")
    );
    // HEAD: same head, no body.
    let h = request(&s, "HEAD /index.html HTTP/1.1");
    assert_eq!(
        (h.status, h.header("Content-Length"), h.body.len()),
        (200, Some("18"), 0)
    );
    // Conditional requests.
    let r = request(&s, &format!("GET /index.html HTTP/1.1\r\nIf-None-Match: {etag}"));
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    let r = request(
        &s,
        &format!("GET /index.html HTTP/1.1\r\nIf-Modified-Since: {modified}"),
    );
    assert_eq!(r.status, 304);
    let r = request(
        &s,
        "GET /index.html HTTP/1.1\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
    );
    assert_eq!(r.status, 200);
    // If-None-Match wins over If-Modified-Since.
    let r = request(
        &s,
        &format!("GET /index.html HTTP/1.1\r\nIf-None-Match: \"other\"\r\nIf-Modified-Since: {modified}"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn single_ranges() {
    let site = Site::new("ranges");
    let s = site.serve();
    for (range, body, content_range) in [
        ("bytes=2-5", "2345", "bytes 2-5/10"),
        ("bytes=7-", "789", "bytes 7-9/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=5-100", "56789", "bytes 5-9/10"),
    ] {
        let r = request(&s, &format!("GET /digits.txt HTTP/1.1\r\nRange: {range}"));
        assert_eq!((r.status, r.text().as_str()), (206, body), "{range}");
        assert_eq!(r.header("Content-Range"), Some(content_range));
        assert_eq!(r.header("Content-Length"), Some(body.len().to_string().as_str()));
    }
    let r = request(&s, "GET /digits.txt HTTP/1.1\r\nRange: bytes=10-");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */10"));
    // Several ranges: the whole file (the RFC allows ignoring Range).
    let r = request(&s, "GET /digits.txt HTTP/1.1\r\nRange: bytes=0-1,4-5");
    assert_eq!((r.status, r.text().as_str()), (200, "0123456789"));
}

#[test]
fn nothing_outside_the_root_and_no_directories() {
    let site = Site::new("escape");
    let s = site.serve();
    for path in [
        "/../secret.txt",
        "/css/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/css/%2E%2E/%2e%2e/secret.txt",
        "/leak.txt",
        "/css",
        "/css/",
        "/",
        "/missing.txt",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("top secret"), "{path}");
    }
    let r = request(&s, "POST /index.html HTTP/1.1\r\nContent-Length: 0");
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
}

#[test]
fn large_files_go_out_with_sendfile() {
    let site = Site::new("big");
    let data: Vec<u8> = (0..(64u32 << 20) / 4).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(site.root.join("big.bin"), &data).unwrap();
    let s = site.serve();
    let worker = s.workers()[0];
    // /proc/PID/io counts read-like system calls: copying 64 MiB through userspace in 64 KiB
    // reads would take 1,024 of them; sendfile takes one per time the socket fills up.
    let syscr = || -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{worker}/io")).unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("syscr: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = syscr();
    let r = s.get("/big.bin");
    let used = syscr() - before;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "content differs");
    eprintln!("64 MiB sent with {used} read-like system calls");
    assert!(
        used < 1024,
        "{used} read-like calls: the file was copied through userspace"
    );
}

#[test]
fn a_missing_root_is_a_boot_error() {
    let out = std::process::Command::new(bin())
        .args(["-b", "127.0.0.1:0", "builtin:static"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("builtin:static needs the static_root setting"));
}
