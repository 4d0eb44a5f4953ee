//! `--reload`: a change to the app's Python files, or to a `reload_extra_files` file, replaces
//! the workers as HUP does; new workers that cannot boot (a syntax error) leave the old ones
//! serving, and the next change tries again.

mod common;
use common::ops::test_dir;
use common::*;
#[cfg(feature = "python")]
use std::{
    path::Path,
    time::{Duration, Instant},
};

/// Writes a module whose app answers `body`, as an editor saving it would.
#[cfg(feature = "python")]
fn write_app(module: &Path, body: &str) {
    let source = format!(
        "def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{body}']\n"
    );
    std::fs::write(module, source).unwrap();
}

/// Polls GET / until it answers `want`; fails after 10 s with what it answered last.
#[cfg(feature = "python")]
fn wait_for_body(s: &Server, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = s.get("/").text();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {got:?}, not {want:?}, after 10 s; log:\n{}",
            s.log().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(feature = "python")]
#[test]
fn editing_the_module_reloads_and_a_syntax_error_keeps_the_old_code() {
    let dir = test_dir("reload-py");
    // The app in a package, imported from the app's directory, as a project's code would be.
    std::fs::create_dir_all(dir.join("shop")).unwrap();
    std::fs::write(dir.join("shop").join("__init__.py"), "").unwrap();
    let module = dir.join("shop").join("views.py");
    write_app(&module, "v1");
    let mut cmd = std::process::Command::new(bin());
    cmd.env_remove("VIRTUAL_ENV").args([
        "--reload",
        "--chdir",
        dir.to_str().unwrap(),
        "-b",
        "127.0.0.1:0",
        "shop.views:app",
    ]);
    let s = Server::start_cmd(&mut cmd, 1);
    assert_eq!(s.get("/").text(), "v1");

    // v1 -> v2 has the same size and may fall in the same second: no stale bytecode may serve.
    write_app(&module, "v2");
    wait_for_body(&s, "v2");
    s.wait_log(&format!("Worker reloading: {} modified", module.display()), 1);

    std::fs::write(&module, "def app(environ, start_response:\n").unwrap();
    s.wait_log("Reload failed: the new workers could not boot; keeping generation 2", 1);
    let log = s.log().join("\n");
    assert!(log.contains("SyntaxError"), "the import error is logged:\n{log}");
    assert_eq!(s.get("/").text(), "v2", "the old workers serve on");

    write_app(&module, "v3");
    wait_for_body(&s, "v3");
}

#[test]
fn reload_extra_files_reload_a_builtin_app() {
    let dir = test_dir("reload-extra");
    let template = dir.join("base.html");
    std::fs::write(&template, "<p>one</p>").unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.current_dir(&dir).args([
        "--reload",
        "--reload-extra-file",
        "base.html",
        "-b",
        "127.0.0.1:0",
        "builtin:hello",
    ]);
    let s = Server::start_cmd(&mut cmd, 1);
    let before = s.workers();
    // A Python file does not count for a builtin app: had it counted, the reload line would
    // name it, as the first change of the burst.
    std::fs::write(dir.join("unrelated.py"), "x = 1\n").unwrap();
    std::fs::write(&template, "<p>two</p>").unwrap();
    let line = s.wait_log("Worker reloading:", 1);
    assert!(
        line.ends_with(&format!("Worker reloading: {} modified", template.display())),
        "{line}"
    );
    s.wait_log("Reload complete: generation 2 is serving", 1);
    wait_until("the old worker exits", || {
        !s.workers().iter().any(|w| before.contains(w))
    });
    assert_eq!(s.get("/").text(), "Hello, World!");
}
