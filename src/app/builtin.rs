//! The built-in applications: `hello` (the default page), `echo` (the environ and body as
//! JSON) and `sleep` (answers after a delay), the last two for testing and debugging.

use super::{AppError, Application, Body, Environ, StartResponse};
use base64::Engine as _;
use std::io::Read;

/// The names `builtin:NAME` accepts.
pub const NAMES: &[&str] = &["hello", "echo", "sleep", "static"];

/// The built-in app called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Application>> {
    match name {
        "hello" => Some(Box::new(Hello)),
        "echo" => Some(Box::new(Echo)),
        "sleep" => Some(Box::new(Sleep)),
        _ => None,
    }
}

/// `Hello, World!` as text/plain.
#[derive(Debug, Clone, Copy)]
pub struct Hello;

impl Application for Hello {
    fn call(&self, _: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        sr.start_response("200 OK", &[("Content-Type", "text/plain; charset=utf-8")], None)?;
        Ok(Body::Static(b"Hello, World!"))
    }

    fn may_wait(&self) -> bool {
        false
    }
}

/// `{"environ": {...every string-valued key...}, "body_b64": "..."}` as application/json.
#[derive(Debug, Default)]
pub struct Echo;

thread_local! {
    // Reused between requests so echo's own allocations stay flat under load; one per thread
    // that calls the app.
    static ECHO_BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Application for Echo {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        ECHO_BODY.with_borrow_mut(|body| Echo::answer(environ, sr, body))
    }

    /// The body is read already (memory or a spool file): nothing to wait for.
    fn may_wait(&self) -> bool {
        false
    }
}

impl Echo {
    fn answer(environ: &mut Environ, sr: &mut StartResponse<'_>, body: &mut Vec<u8>) -> Result<Body, AppError> {
        let mut map = serde_json::Map::new();
        for (k, v) in environ.iter() {
            map.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
        }
        if environ.input().len() > ECHO_WHOLE {
            return Echo::stream(environ, sr, &map);
        }
        body.clear();
        environ.input().read_to_end(body)?;
        let doc = serde_json::json!({
            "environ": map,
            "body_b64": base64::engine::general_purpose::STANDARD.encode(&body[..]),
        });
        let out = serde_json::to_vec(&doc)?;
        sr.start_response("200 OK", &[("Content-Type", "application/json")], None)?;
        Ok(Body::Bytes(out))
    }

    /// A large body is encoded as it is read, a block at a time: memory stays flat however
    /// large the upload (the worker spooled it to a file).
    fn stream(
        environ: &mut Environ,
        sr: &mut StartResponse<'_>,
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Body, AppError> {
        let input = std::mem::take(environ.input());
        let mut head = b"{\"environ\":".to_vec();
        serde_json::to_writer(&mut head, map)?;
        head.extend_from_slice(b",\"body_b64\":\"");
        let length = head.len() as u64 + input.len().div_ceil(3) * 4 + ECHO_TAIL.len() as u64;
        sr.start_response(
            "200 OK",
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", &length.to_string()),
            ],
            None,
        )?;
        Ok(Body::Iter(Box::new(EchoStream {
            head: Some(head),
            input,
            block: vec![0; ECHO_BLOCK],
            done: false,
        })))
    }
}

/// Request bodies up to this size are echoed from memory in one piece.
const ECHO_WHOLE: u64 = 64 * 1024;
/// Bytes of the request body encoded at a time: a multiple of 3, so that no block but the last
/// is padded.
const ECHO_BLOCK: usize = 48 * 1024;
/// What closes the JSON document after the encoded body.
const ECHO_TAIL: &[u8] = b"\"}";

/// The echo of a large body: the JSON before it, the body base64-encoded a block at a time,
/// the JSON after it.
struct EchoStream {
    head: Option<Vec<u8>>,
    input: crate::app::Input,
    block: Vec<u8>,
    done: bool,
}

impl crate::app::BodyIter for EchoStream {
    fn next_chunk(&mut self, _: &mut StartResponse<'_>) -> Option<Result<crate::app::Chunk, AppError>> {
        if let Some(head) = self.head.take() {
            return Some(Ok(head.into()));
        }
        if self.done {
            return None;
        }
        let mut filled = 0;
        while filled < self.block.len() {
            match self.input.read(&mut self.block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
        if filled == 0 {
            self.done = true;
            return Some(Ok(ECHO_TAIL.into()));
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&self.block[..filled]);
        Some(Ok(encoded.into_bytes().into()))
    }
}

/// Sleeps for the number of seconds in the query string's `s` parameter (default 1, at most
/// 3600), then answers `slept S`: a stand-in for an application that is slow or stuck.
#[derive(Debug, Clone, Copy)]
pub struct Sleep;

impl Application for Sleep {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let secs = environ
            .get("QUERY_STRING")
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("s="))
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(1.0)
            .min(3600.0);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
        sr.start_response("200 OK", &[("Content-Type", "text/plain; charset=utf-8")], None)?;
        Ok(Body::Bytes(format!("slept {secs}").into_bytes()))
    }
}
