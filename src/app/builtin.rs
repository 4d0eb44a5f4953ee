//! The built-in applications: `hello` (the default page) and `echo` (the environ and body as
//! JSON, for testing and debugging).

use super::{AppError, Application, Body, Environ, StartResponse};
use base64::Engine as _;
use std::io::Read;

/// The names `builtin:NAME` accepts.
pub const NAMES: &[&str] = &["hello", "echo"];

/// The built-in app called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Application>> {
    match name {
        "hello" => Some(Box::new(Hello)),
        "echo" => Some(Box::new(Echo::default())),
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
}

/// `{"environ": {...every string-valued key...}, "body_b64": "..."}` as application/json.
#[derive(Debug, Default)]
pub struct Echo {
    // Reused between requests so echo's own allocations stay flat under load.
    body: std::cell::RefCell<Vec<u8>>,
}

impl Application for Echo {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let mut body = self.body.borrow_mut();
        body.clear();
        environ.input().read_to_end(&mut body)?;
        let mut map = serde_json::Map::new();
        for (k, v) in environ.iter() {
            map.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
        }
        let doc = serde_json::json!({
            "environ": map,
            "body_b64": base64::engine::general_purpose::STANDARD.encode(&*body),
        });
        let out = serde_json::to_vec(&doc)?;
        sr.start_response("200 OK", &[("Content-Type", "application/json")], None)?;
        Ok(Body::Bytes(out))
    }
}
