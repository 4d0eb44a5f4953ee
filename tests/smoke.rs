mod common;
use common::*;

#[test]
fn hello_answers() {
    let s = Server::start(&["-w", "2", "builtin:hello"], 2);
    let r = s.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
}
