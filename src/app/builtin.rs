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
        body.clear();
        environ.input().read_to_end(body)?;
        let mut map = serde_json::Map::new();
        for (k, v) in environ.iter() {
            map.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
        }
        let doc = serde_json::json!({
            "environ": map,
            "body_b64": base64::engine::general_purpose::STANDARD.encode(&body[..]),
        });
        let out = serde_json::to_vec(&doc)?;
        sr.start_response("200 OK", &[("Content-Type", "application/json")], None)?;
        Ok(Body::Bytes(out))
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
