//! A small JSON API served by forkhorn from a Rust program's own `main`, with routing by hand.
//!
//!     cargo run --release --example json_api -- 127.0.0.1:8000 2
//!     curl -s localhost:8000/items
//!     curl -s -d '{"name":"antler"}' localhost:8000/items
//!     curl -s localhost:8000/items/1
//!
//! Each worker is its own process, so the item list lives per worker: a real application keeps
//! shared state in a database, opened in `make_app` (which runs in each worker after fork).

use forkhorn::config::BindAddr;
use forkhorn::{AppError, Application, Body, Config, Environ, StartResponse};
use serde_json::{json, Value};
use std::io::Read;
use std::sync::{Mutex, MutexGuard, PoisonError};

struct Api {
    items: Mutex<Vec<String>>,
}

impl Api {
    fn respond(sr: &mut StartResponse<'_>, status: &str, body: Value) -> Result<Body, AppError> {
        let bytes = serde_json::to_vec(&body)?;
        sr.start_response(status, &[("Content-Type", "application/json")], None)?;
        Ok(Body::Bytes(bytes))
    }
}

impl Api {
    /// The list; a panic while it was held leaves it as it was, so poisoning is ignored.
    fn items(&self) -> MutexGuard<'_, Vec<String>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Application for Api {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let method = environ.get("REQUEST_METHOD").unwrap_or("").to_owned();
        let path = environ.get("PATH_INFO").unwrap_or("/").to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", []) => Self::respond(
                sr,
                "200 OK",
                json!({"service": "items", "routes": ["/items", "/items/ID"]}),
            ),
            ("GET", ["items"]) => {
                let items = self.items();
                let list: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| json!({"id": i + 1, "name": n}))
                    .collect();
                Self::respond(sr, "200 OK", json!({ "items": list }))
            }
            ("POST", ["items"]) => {
                let mut body = Vec::new();
                environ.input().read_to_end(&mut body)?;
                let Some(name) = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
                else {
                    return Self::respond(sr, "400 Bad Request", json!({"error": "expected {\"name\": \"...\"}"}));
                };
                let mut items = self.items();
                items.push(name.clone());
                Self::respond(sr, "201 Created", json!({"id": items.len(), "name": name}))
            }
            ("GET", ["items", id]) => {
                let items = self.items();
                match id.parse::<usize>().ok().and_then(|i| items.get(i.checked_sub(1)?)) {
                    Some(name) => Self::respond(sr, "200 OK", json!({"id": id.parse::<usize>()?, "name": name})),
                    None => Self::respond(sr, "404 Not Found", json!({"error": "no such item"})),
                }
            }
            (_, ["items"] | ["items", _]) => {
                Self::respond(sr, "405 Method Not Allowed", json!({"error": "method not allowed"}))
            }
            _ => Self::respond(sr, "404 Not Found", json!({"error": "not found"})),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut cfg = Config::default();
    if let Some(addr) = args.next() {
        match addr.parse() {
            Ok(a) => cfg.bind = vec![BindAddr::Tcp(a)],
            Err(e) => {
                eprintln!("json_api: {addr:?} is not HOST:PORT: {e}");
                std::process::exit(2);
            }
        }
    }
    if let Some(workers) = args.next() {
        cfg.workers = workers.parse().unwrap_or(1).max(1);
    }
    let make_app = || {
        Ok(Api {
            items: Mutex::new(Vec::new()),
        })
    };
    match forkhorn::serve(cfg, make_app) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            eprintln!("json_api: {e}");
            std::process::exit(1);
        }
    }
}
