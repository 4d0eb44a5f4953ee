//! `builtin:static`: serves the files under `static_root` with sendfile(2), with the
//! conditional and range requests a browser or CDN sends, and no way out of the root.

use super::{AppError, Application, Body, Environ, FileBody, StartResponse};
use crate::clock::{parse_http_date, Civil};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

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
    root: PathBuf,
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

/// The Content-Type for a file name, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "text" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/vnd.microsoft.icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

impl Static {
    /// Serves `root`, resolved now (symlinks in the root's own path are fine).
    pub fn new(root: Option<&Path>) -> Result<Static, StaticError> {
        let root = root.ok_or(StaticError::MissingRoot)?;
        let resolved = root.canonicalize().map_err(|source| StaticError::ResolveRoot {
            path: root.to_owned(),
            source,
        })?;
        Ok(Static { root: resolved })
    }

    /// The file a decoded request path names, if it is a regular file inside the root: no `..`,
    /// and no symlink leading out.
    fn resolve(&self, path_info: &str) -> Option<PathBuf> {
        if path_info.contains('\0') {
            return None;
        }
        let mut rel = PathBuf::new();
        for c in Path::new(path_info.trim_start_matches('/')).components() {
            match c {
                Component::Normal(part) => rel.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        let real = self.root.join(rel).canonicalize().ok()?;
        (real.starts_with(&self.root) && real.is_file()).then_some(real)
    }
}

fn plain(sr: &mut StartResponse<'_>, status: &str, extra: &[(&str, &str)]) -> Result<Body, AppError> {
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    headers.extend_from_slice(extra);
    sr.start_response(status, &headers, None)?;
    Ok(Body::Bytes(format!("{status}\n").into_bytes()))
}

impl Application for Static {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let method = environ.get("REQUEST_METHOD").unwrap_or("");
        if method != "GET" && method != "HEAD" {
            return plain(sr, "405 Method Not Allowed", &[("Allow", "GET, HEAD")]);
        }
        let Some(path) = self.resolve(environ.get("PATH_INFO").unwrap_or("/")) else {
            return plain(sr, "404 Not Found", &[]);
        };
        let Ok(file) = File::open(&path) else {
            return plain(sr, "404 Not Found", &[]);
        };
        let meta = file.metadata()?;
        let size = meta.len();
        let mtime = meta.mtime();
        let etag = format!("\"{:x}-{:x}-{:x}\"", size, mtime, meta.mtime_nsec());
        let last_modified = Civil::from_unix(mtime).http_date();
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
        let validators = [("ETag", etag.as_str()), ("Last-Modified", last_modified.as_str())];
        if not_modified {
            sr.start_response("304 Not Modified", &validators, None)?;
            return Ok(Body::Empty);
        }
        let ctype = content_type(&path);
        match range(environ.get("HTTP_RANGE"), size) {
            RangeAnswer::Unsatisfiable => {
                let cr = format!("bytes */{size}");
                plain(sr, "416 Range Not Satisfiable", &[("Content-Range", &cr)])
            }
            RangeAnswer::Part(first, last) => {
                let len = last - first + 1;
                let (cr, cl) = (format!("bytes {first}-{last}/{size}"), len.to_string());
                let mut headers = vec![("Content-Type", ctype), ("Content-Length", &cl), ("Content-Range", &cr)];
                headers.extend_from_slice(&validators);
                headers.push(("Accept-Ranges", "bytes"));
                sr.start_response("206 Partial Content", &headers, None)?;
                Ok(Body::Iter(Box::new(FileBody::region(file, first, len))))
            }
            RangeAnswer::Whole => {
                let cl = size.to_string();
                let mut headers = vec![("Content-Type", ctype), ("Content-Length", &cl)];
                headers.extend_from_slice(&validators);
                headers.push(("Accept-Ranges", "bytes"));
                sr.start_response("200 OK", &headers, None)?;
                Ok(Body::Iter(Box::new(FileBody::region(file, 0, size))))
            }
        }
    }
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
        assert_eq!(content_type(Path::new("a/b.HTML")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("x.png")), "image/png");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
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
