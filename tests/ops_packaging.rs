//! What the package installs, checked with the tools that will use it: `systemd-analyze verify`
//! on the units, forkhorn itself on the packaged configuration, a real `logrotate` run on the
//! logrotate file against a running server, and the man page against the CLI definition. Where a
//! tool is missing its test is skipped and listed after the summary, or fails under CI
//! (`tests/common/skip.rs`; `.ci/run` installs the tools).

mod common;
mod ops_support;
use common::skip::{met_or_skip, tool_or_skip};
use common::*;
use ops_support::*;
use std::path::Path;
use std::process::Command;

fn packaging(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("packaging").join(path)).unwrap()
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    if !tool_or_skip("systemd-analyze", "systemd") {
        return;
    }
    let dir = test_dir("units");
    // verify checks that ExecStart's binary exists: point it at the one under test.
    let service = packaging("systemd/forkhorn.service").replace("/usr/bin/forkhorn", bin());
    std::fs::write(dir.join("forkhorn.service"), service).unwrap();
    std::fs::write(dir.join("forkhorn.socket"), packaging("systemd/forkhorn.socket")).unwrap();
    // --man=no: the man page is installed by the package, not on this machine.
    let (code, text) = output_of(Command::new("systemd-analyze").current_dir(&dir).args([
        "verify",
        "--man=no",
        "./forkhorn.service",
        "./forkhorn.socket",
    ]));
    // verify reports most problems (unknown keys, bad values) as warnings with status 0.
    assert_eq!((code, text.as_str()), (Some(0), ""), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn service_unit_is_what_the_issue_asks_for() {
    let unit = packaging("systemd/forkhorn.service");
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillMode=mixed",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ExecStart=/usr/bin/forkhorn -c /etc/forkhorn/forkhorn.toml",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    let socket = packaging("systemd/forkhorn.socket");
    assert!(socket.lines().any(|l| l.starts_with("ListenStream=")));
}

#[test]
fn the_packaged_configuration_is_valid() {
    let www_data = nix::unistd::User::from_name("www-data").ok().flatten();
    if !met_or_skip(www_data.is_some(), "no www-data user on this machine") {
        return;
    }
    let dir = test_dir("pkgconf");
    // The log directory is systemd's LogsDirectory=; here a temporary one stands in.
    let text = packaging("debian/forkhorn.toml").replace("/var/log/forkhorn", dir.to_str().unwrap());
    let cfg = dir.join("forkhorn.toml");
    std::fs::write(&cfg, text).unwrap();
    let (code, out) = output_of(Command::new(bin()).args(["--check-config", "-c", cfg.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn logrotate_rotates_a_running_server_without_losing_lines() {
    if !tool_or_skip("logrotate", "logrotate") {
        return;
    }
    let dir = test_dir("logrotate");
    let (access, cfg) = access_log_config(&dir);
    let s = Server::start(&["-c", cfg.to_str().unwrap()], 2);
    for i in 0..5 {
        assert_eq!(s.get(&format!("/before{i}")).status, 200);
    }
    wait_file(&access, "/before4", 1);

    // The shipped file, pointed at this server: its directory, its pid, this machine's user.
    let me = nix::unistd::User::from_uid(nix::unistd::geteuid()).unwrap().unwrap();
    let group = nix::unistd::Group::from_gid(me.gid).unwrap().unwrap();
    let conf = packaging("logrotate/forkhorn")
        .replace("/var/log/forkhorn", dir.to_str().unwrap())
        .replace(
            "create 0640 www-data adm",
            &format!("create 0640 {} {}", me.name, group.name),
        )
        .replace(
            "systemctl kill --kill-whom=main --signal=USR1 forkhorn.service",
            &format!("kill -USR1 {}", s.pid()),
        );
    assert!(conf.contains(&format!("kill -USR1 {}", s.pid())), "{conf}");
    let conf_path = dir.join("logrotate.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let (code, out) = output_of(Command::new("logrotate").args([
        "--force",
        "--state",
        dir.join("state").to_str().unwrap(),
        conf_path.to_str().unwrap(),
    ]));
    assert_eq!(code, Some(0), "{out}");
    s.wait_log("Reopened the log files", 3);
    for i in 0..5 {
        assert_eq!(s.get(&format!("/after{i}")).status, 200);
    }
    wait_file(&access, "/after4", 1);
    // delaycompress: the first rotation stays uncompressed, as access.log.1.
    // Two workers, two buffers: the order across workers is not the order of requests.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let rotated = sorted(lines(&dir.join("access.log.1")));
    let now = sorted(lines(&access));
    let want_old: Vec<String> = (0..5).map(|i| format!("/before{i}")).collect();
    let want_new: Vec<String> = (0..5).map(|i| format!("/after{i}")).collect();
    assert_eq!(rotated, want_old);
    assert_eq!(now, want_new);
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_man_page_documents_every_flag() {
    let (code, roff) = output_of(&mut Command::new(example("manpage")));
    assert_eq!(code, Some(0));
    assert!(roff.contains(".TH forkhorn 1"), "{roff}");
    let cmd = forkhorn::cli::Cli::command();
    for arg in cmd.get_arguments() {
        if let Some(long) = arg.get_long() {
            // roff escapes the hyphens.
            let shown = format!("\\-\\-{}", long.replace('-', "\\-"));
            assert!(roff.contains(&shown), "--{long} is not in the man page");
        }
    }
}
