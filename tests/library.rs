//! forkhorn as a library: the `json_api` example, built by `cargo test`, served end to end.

mod common;
use common::*;
use std::io::{BufReader, Write};
use std::process::Command;

#[test]
fn json_api_example_routes() {
    let mut cmd = Command::new(example("json_api"));
    cmd.args(["127.0.0.1:0", "1"]);
    let s = Server::start_cmd(&mut cmd, 1);
    let conn = s.connect();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    let mut call = |req: String| {
        w.write_all(req.as_bytes()).unwrap();
        let resp = read_response(&mut r, false).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        (resp.status, doc)
    };
    let body = r#"{"name":"antler"}"#;
    let (st, doc) = call(format!(
        "POST /items HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!((st, doc), (201, serde_json::json!({"id": 1, "name": "antler"})));
    let (st, doc) = call("GET /items/1 HTTP/1.1\r\nHost: h\r\n\r\n".into());
    assert_eq!((st, doc), (200, serde_json::json!({"id": 1, "name": "antler"})));
    let (st, doc) = call("GET /items HTTP/1.1\r\nHost: h\r\n\r\n".into());
    assert_eq!(
        (st, doc),
        (200, serde_json::json!({"items": [{"id": 1, "name": "antler"}]}))
    );
    let (st, _) = call("GET /items/9 HTTP/1.1\r\nHost: h\r\n\r\n".into());
    assert_eq!(st, 404);
    let (st, _) = call("DELETE /items/1 HTTP/1.1\r\nHost: h\r\n\r\n".into());
    assert_eq!(st, 405);
    let (st, _) = call("POST /items HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}".into());
    assert_eq!(st, 400);
}
