//! `builtin:static`: serves the files under `static_root` with sendfile(2), with the
//! conditional and range requests a browser or CDN sends, and no way out of the root.
//!
//! A request costs what nginx's does: one `openat2` (the kernel refuses a path that leaves the
//! root), one `fstat`, and the head and file sent by the worker's sendfile path; the path, the
//! validators and the type are handled in stack buffers, without allocating.
//!
//! No cache of open descriptors (nginx's `open_file_cache`, off there by default too): a cached
//! descriptor keeps serving the old file after a deploy replaces it, until the entry is checked
//! again, and one truncated in place makes a response shorter than its `Content-Length`; it
//! would save an open, an fstat and a close per request, and without it a request already costs
//! no more than nginx's.

use super::{AppError, Application, Body, Environ, FileBody, StartResponse};
use crate::clock::{parse_http_date, Civil};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode};
use std::ffi::{CStr, OsStr};
use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why `builtin:static` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    /// No `static_root` was configured.
    #[error("builtin:static needs the static_root setting (--static-root DIR)")]
    MissingRoot,
    /// The root cannot be resolved.
    #[error("static_root {}: {source}", path.display())]
    ResolveRoot {
        /// The configured root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The static file server.
#[derive(Debug)]
pub struct Static {
    /// The root, resolved, for the lookups `openat2` cannot make.
    root: PathBuf,
    /// The root, open (`O_PATH`), that requested paths are resolved beneath.
    dir: OwnedFd,
}

/// The longest path looked up, with its NUL (Linux's PATH_MAX).
const PATH_MAX: usize = 4096;

/// How a file is opened: for reading, and never blocking (a FIFO in the root would otherwise
/// hold the worker until a writer came; it is then refused as not a regular file).
fn open_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY
}

/// Text formatted on the stack: a header value made per request without allocating. Writing
/// past its `N` bytes fails (and the value is then not used).
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        StackText { buf: [0; N], len: 0 }
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are ever copied in, so the bytes are UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> std::fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats into a [`StackText`]; None if it does not fit.
fn stack_text<const N: usize>(args: std::fmt::Arguments<'_>) -> Option<StackText<N>> {
    let mut t = StackText::new();
    t.write_fmt(args).ok()?;
    Some(t)
}

/// `path_info` as a path relative to the root, NUL-terminated in `buf`: `.` and empty
/// components dropped, each character back to its byte (PATH_INFO is the decoded path read as
/// latin-1). None for a `..` component, a NUL, a character past U+00FF, no component at all,
/// or a path longer than `buf`.
fn relative_path<'b>(path_info: &str, buf: &'b mut [u8; PATH_MAX]) -> Option<&'b CStr> {
    let mut len = 0;
    for part in path_info.split('/') {
        match part {
            "" | "." => continue,
            ".." => return None,
            _ => {}
        }
        if len > 0 {
            buf[len] = b'/';
            len += 1;
        }
        for c in part.chars() {
            let byte = u8::try_from(u32::from(c)).ok().filter(|&b| b != 0)?;
            // Room for this byte and the final NUL.
            if len + 1 >= buf.len() {
                return None;
            }
            buf[len] = byte;
            len += 1;
        }
    }
    if len == 0 || len >= buf.len() {
        return None;
    }
    buf[len] = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).ok()
}

/// A byte range of a representation of `size` bytes, as `Range: bytes=...` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No range (or one forkhorn does not honour, such as several ranges): the whole file.
    Whole,
    /// `first..=last`.
    Part(u64, u64),
    /// Nothing of the file satisfies it: 416.
    Unsatisfiable,
}

/// Interprets a `Range` header against a file of `size` bytes (RFC 9110 §14.1.2). Only a
/// single range is served; a list is answered with the whole file, as the RFC allows.
pub fn range(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAnswer::Whole;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (a, b) {
        ("", n) if digits(n) => {
            // A suffix longer than u64 is simply "the whole file".
            let n = n.parse::<u64>().unwrap_or(u64::MAX);
            if n == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(size.saturating_sub(n), size - 1)
            }
        }
        (f, l) if digits(f) && (l.is_empty() || digits(l)) => {
            let Ok(first) = f.parse::<u64>() else {
                return RangeAnswer::Unsatisfiable;
            };
            if first >= size {
                return RangeAnswer::Unsatisfiable;
            }
            let last = if l.is_empty() {
                size - 1
            } else {
                match l.parse::<u64>() {
                    Ok(last) if last < first => return RangeAnswer::Whole,
                    Ok(last) => last.min(size - 1),
                    Err(_) => size - 1,
                }
            };
            RangeAnswer::Part(first, last)
        }
        _ => RangeAnswer::Whole,
    }
}

/// The Content-Type for the last component of `path`, by its extension (as
/// [`Path::extension`] finds it: after the last dot, not a leading one), without allocating.
fn by_extension(path: &[u8]) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("html", "text/html; charset=utf-8"),
        ("htm", "text/html; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
        ("js", "text/javascript; charset=utf-8"),
        ("mjs", "text/javascript; charset=utf-8"),
        ("json", "application/json"),
        ("txt", "text/plain; charset=utf-8"),
        ("text", "text/plain; charset=utf-8"),
        ("xml", "application/xml"),
        ("svg", "image/svg+xml"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
        ("ico", "image/vnd.microsoft.icon"),
        ("woff", "font/woff"),
        ("woff2", "font/woff2"),
        ("pdf", "application/pdf"),
        ("wasm", "application/wasm"),
        ("mp4", "video/mp4"),
        ("gz", "application/gzip"),
        ("zip", "application/zip"),
    ];
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => b"",
    };
    TYPES
        .iter()
        .find(|(e, _)| e.as_bytes().eq_ignore_ascii_case(ext))
        .map_or("application/octet-stream", |&(_, t)| t)
}

impl Static {
    /// Serves `root`, resolved now (symlinks in the root's own path are fine).
    pub fn new(root: Option<&Path>) -> Result<Static, StaticError> {
        let root = root.ok_or(StaticError::MissingRoot)?;
        let fail = |source| StaticError::ResolveRoot {
            path: root.to_owned(),
            source,
        };
        let resolved = root.canonicalize().map_err(fail)?;
        let dir = nix::fcntl::open(
            &resolved,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| fail(e.into()))?;
        Ok(Static { root: resolved, dir })
    }

    /// Opens the regular file at `rel` (from [`relative_path`]) inside the root, with its
    /// metadata. The kernel resolves it beneath the root (`RESOLVE_BENEATH`), which refuses
    /// any step out, including an absolute symlink even to a file inside: those, and kernels
    /// without openat2, take [`Static::open_resolved`].
    fn open(&self, rel: &CStr) -> Option<(File, FileStat)> {
        let how = OpenHow::new()
            .flags(open_flags())
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = match nix::fcntl::openat2(&self.dir, rel, how) {
            Ok(fd) => fd,
            // EXDEV: the path left the root, or met an absolute symlink; EAGAIN: a rename
            // raced with the lookup; ENOSYS/EPERM: no openat2 here (old kernel, seccomp).
            Err(Errno::EXDEV | Errno::EAGAIN | Errno::ENOSYS | Errno::EPERM) => return self.open_resolved(rel),
            Err(_) => return None,
        };
        regular(File::from(fd))
    }

    /// Opens `rel` the portable way: resolve every symlink, check the result is inside the root,
    /// open it. Allocates; only for what [`Static::open`] cannot decide.
    fn open_resolved(&self, rel: &CStr) -> Option<(File, FileStat)> {
        let real = self.root.join(OsStr::from_bytes(rel.to_bytes())).canonicalize().ok()?;
        if !real.starts_with(&self.root) {
            return None;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((open_flags() - OFlag::O_RDONLY - OFlag::O_CLOEXEC).bits())
            .open(real)
            .ok()?;
        regular(file)
    }

    /// The file a decoded request path names, if it is a regular file inside the root: no `..`,
    /// and no symlink leading out.
    #[cfg(test)]
    fn resolve(&self, path_info: &str) -> Option<(File, FileStat)> {
        let mut buf = [0; PATH_MAX];
        self.open(relative_path(path_info, &mut buf)?)
    }
}

/// `file` with its metadata if it is a regular file.
fn regular(file: File) -> Option<(File, FileStat)> {
    let stat = nix::sys::stat::fstat(&file).ok()?;
    (stat.st_mode & libc::S_IFMT == libc::S_IFREG).then_some((file, stat))
}

fn plain(sr: &mut StartResponse<'_>, status: &str, extra: &[(&str, &str)]) -> Result<Body, AppError> {
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    headers.extend_from_slice(extra);
    sr.start_response(status, &headers, None)?;
    Ok(Body::Bytes(format!("{status}\n").into_bytes()))
}

impl Application for Static {
    fn environ_keys(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "REQUEST_METHOD",
            "PATH_INFO",
            "HTTP_IF_NONE_MATCH",
            "HTTP_IF_MODIFIED_SINCE",
            "HTTP_RANGE",
        ])
    }

    fn may_wait(&self) -> bool {
        // An open, a stat and a few lines of code: never worth a thread's hand-over.
        false
    }

    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let method = environ.get("REQUEST_METHOD").unwrap_or("");
        if method != "GET" && method != "HEAD" {
            return plain(sr, "405 Method Not Allowed", &[("Allow", "GET, HEAD")]);
        }
        let mut buf = [0; PATH_MAX];
        let Some(rel) = relative_path(environ.get("PATH_INFO").unwrap_or("/"), &mut buf) else {
            return plain(sr, "404 Not Found", &[]);
        };
        let Some((file, stat)) = self.open(rel) else {
            return plain(sr, "404 Not Found", &[]);
        };
        let size = stat.st_size.max(0) as u64;
        let mtime = stat.st_mtime;
        // Both fit their buffers whatever the numbers (44 and 45 bytes at most).
        let etag = stack_text::<64>(format_args!("\"{:x}-{:x}-{:x}\"", size, mtime, stat.st_mtime_nsec));
        let etag = etag.as_ref().map_or("", StackText::as_str);
        let last_modified = stack_text::<64>(format_args!("{}", HttpDate(Civil::from_unix(mtime))));
        let last_modified = last_modified.as_ref().map_or("", StackText::as_str);
        // RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since otherwise.
        let not_modified = match environ.get("HTTP_IF_NONE_MATCH") {
            Some(inm) => inm
                .split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag),
            None => environ
                .get("HTTP_IF_MODIFIED_SINCE")
                .and_then(parse_http_date)
                .is_some_and(|since| mtime <= since),
        };
        let validators = &[("ETag", etag), ("Last-Modified", last_modified)];
        if not_modified {
            sr.start_response("304 Not Modified", validators, None)?;
            return Ok(Body::Empty);
        }
        let ctype = by_extension(rel.to_bytes());
        // The length is the file region's: the server sets Content-Length from it.
        match range(environ.get("HTTP_RANGE"), size) {
            RangeAnswer::Unsatisfiable => {
                let cr = stack_text::<32>(format_args!("bytes */{size}"));
                let cr = cr.as_ref().map_or("", StackText::as_str);
                plain(sr, "416 Range Not Satisfiable", &[("Content-Range", cr)])
            }
            RangeAnswer::Part(first, last) => {
                let len = last - first + 1;
                let cr = stack_text::<80>(format_args!("bytes {first}-{last}/{size}"));
                let cr = cr.as_ref().map_or("", StackText::as_str);
                respond(
                    sr,
                    "206 Partial Content",
                    &[("Content-Type", ctype), ("Content-Range", cr)],
                    validators,
                )?;
                Ok(Body::Iter(Box::new(FileBody::region(file, first, len))))
            }
            RangeAnswer::Whole => {
                respond(sr, "200 OK", &[("Content-Type", ctype)], validators)?;
                Ok(Body::Iter(Box::new(FileBody::region(file, 0, size))))
            }
        }
    }
}

/// A calendar time displayed as an IMF-fixdate.
struct HttpDate(Civil);

impl std::fmt::Display for HttpDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.write_http_date(f)
    }
}

/// Starts a response with `headers`, then the `validators`, then `Accept-Ranges`, in one
/// array on the stack.
fn respond(
    sr: &mut StartResponse<'_>,
    status: &str,
    headers: &[(&str, &str)],
    validators: &[(&str, &str)],
) -> Result<(), AppError> {
    let mut all = [("", ""); 6];
    let mut n = 0;
    for &h in headers.iter().chain(validators).chain(&[("Accept-Ranges", "bytes")]) {
        all[n] = h;
        n += 1;
    }
    sr.start_response(status, &all[..n], None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_table() {
        use RangeAnswer::*;
        let cases: &[(Option<&str>, u64, RangeAnswer)] = &[
            (None, 100, Whole),
            (Some("bytes=0-9"), 100, Part(0, 9)),
            (Some("bytes=90-"), 100, Part(90, 99)),
            (Some("bytes=-10"), 100, Part(90, 99)),
            (Some("bytes=-1000"), 100, Part(0, 99)),
            (Some("bytes=50-1000"), 100, Part(50, 99)),
            (Some("bytes=100-"), 100, Unsatisfiable),
            (Some("bytes=-0"), 100, Unsatisfiable),
            (Some("bytes=0-0"), 0, Unsatisfiable),
            (Some("bytes=9-3"), 100, Whole),
            (Some("bytes=0-1,5-6"), 100, Whole),
            (Some("items=0-1"), 100, Whole),
            (Some("bytes=a-b"), 100, Whole),
            (Some("bytes=+1-2"), 100, Whole),
            (Some("bytes= 1-2"), 100, Whole),
        ];
        for (h, size, want) in cases {
            assert_eq!(range(*h, *size), *want, "{h:?} of {size}");
        }
    }

    #[test]
    fn content_types() {
        let cases: &[(&[u8], &str)] = &[
            (b"a/b.HTML", "text/html; charset=utf-8"),
            (b"x.png", "image/png"),
            (b"a.tar.gz", "application/gzip"),
            (b"noext", "application/octet-stream"),
            (b".png", "application/octet-stream"),
            (b"dir.png/file", "application/octet-stream"),
            (b"file.", "application/octet-stream"),
        ];
        for (name, want) in cases {
            assert_eq!(by_extension(name), *want, "{}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn relative_paths() {
        let long = format!("/{}", "a".repeat(PATH_MAX));
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("/a.txt", Some(b"a.txt")),
            ("/sub//./b.txt/", Some(b"sub/b.txt")),
            ("sub/b.txt", Some(b"sub/b.txt")),
            ("/caf\u{e9}", Some(b"caf\xe9")),
            ("/", None),
            ("/./", None),
            ("/sub/../a.txt", None),
            ("/..", None),
            ("/a\0b", None),
            ("/\u{100}", None),
            (&long, None),
        ];
        for (path, want) in cases {
            let mut buf = [0; PATH_MAX];
            let got = relative_path(path, &mut buf).map(CStr::to_bytes);
            assert_eq!(got, *want, "{path:?}");
        }
    }

    #[test]
    fn paths_never_leave_the_root() {
        let dir = std::env::temp_dir().join(format!("forkhorn-static-unit-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("sub/b.txt"), "b").unwrap();
        std::fs::write(dir.join("secret"), "s").unwrap();
        let _ = std::os::unix::fs::symlink(dir.join("secret"), root.join("out"));
        let _ = std::os::unix::fs::symlink(root.join("a.txt"), root.join("in"));
        let s = Static::new(Some(&root)).unwrap();
        let ok = |p: &str| s.resolve(p).is_some();
        assert!(ok("/a.txt") && ok("/sub/b.txt") && ok("/./sub/./b.txt") && ok("/in"));
        for bad in [
            "/../secret",
            "/sub/../../secret",
            "/out",
            "/sub",
            "/",
            "/nope",
            "/a.txt\0",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
