//! TLS (`certfile`, `keyfile`, `ca_certs`, `cert_reqs`, `tls_watch`): handshakes with curl,
//! Python's `ssl` and `openssl s_client`; keep-alive, pipelining and 100 MB bodies over TLS;
//! client certificates in the environ; plain HTTP, stalled and garbage handshakes; certificate
//! rotation under load with HUP and with `tls_watch`; bad files at start and at HUP.
//!
//! Certificates are made by each test with `openssl` (a CA, server and client certificates it
//! signs), in a directory of its own; the test's client is rustls, trusting that CA.

mod common;

use common::skip::tool_or_skip;
use common::{read_response, wait_until, Response, Server, Signal, WAIT};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A test's certificates: a CA, and the server and client certificates it signs.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A CA, a server certificate `server` (localhost, 127.0.0.1) and a client certificate
    /// `client` (subject C=FR, O=Acme, Inc, CN=alice), in a fresh directory named for `test`.
    fn new(test: &str) -> Pki {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                &format!("/CN=forkhorn test CA {test}"),
            ],
        );
        let pki = Pki { dir };
        pki.leaf(
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
        );
        pki.leaf("client", "/C=FR/O=Acme, Inc/CN=alice", "extendedKeyUsage=clientAuth");
        pki
    }

    /// Makes NAME.key and NAME.pem, signed by the CA.
    fn leaf(&self, name: &str, subject: &str, ext: &str) {
        let ext_file = format!("{name}.ext");
        std::fs::write(self.dir.join(&ext_file), format!("basicConstraints=CA:FALSE\n{ext}\n")).unwrap();
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                subject,
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                &ext_file,
                "-out",
                &pem,
            ],
        );
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// The DER of the first certificate in file `name`.
    fn der(&self, name: &str) -> Vec<u8> {
        CertificateDer::pem_file_iter(self.dir.join(name))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    }

    /// The server flags for the `server` certificate.
    fn server_args(&self) -> Vec<String> {
        vec![
            "--certfile".into(),
            self.path("server.pem"),
            "--keyfile".into(),
            self.path("server.key"),
        ]
    }
}

/// Whether the tools these tests use are here (under CI they must be).
fn tools() -> bool {
    tool_or_skip("openssl", "openssl")
}

/// A rustls client configuration trusting the test CA; with `client`, presenting NAME.pem.
fn client_config(pki: &Pki, client: Option<&str>, resume: bool) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.dir.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match client {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let certs = CertificateDer::pem_file_iter(pki.dir.join(format!("{name}.pem")))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(pki.dir.join(format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    Arc::new(cfg)
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A TLS connection to `addr` with its handshake done.
fn connect(addr: SocketAddr, cfg: &Arc<ClientConfig>) -> std::io::Result<Tls> {
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(WAIT))?;
    sock.set_write_timeout(Some(WAIT))?;
    let conn = ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// One GET on a new TLS connection (Connection: close); the response.
fn get(addr: SocketAddr, cfg: &Arc<ClientConfig>, path: &str) -> std::io::Result<Response> {
    let mut tls = connect(addr, cfg)?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())?;
    read_response(&mut BufReader::new(tls), false).ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

/// The JSON body of a response as a map of strings.
fn json(resp: &Response) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_slice(&resp.body).unwrap() {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// builtin:echo's environ.
fn environ(resp: &Response) -> serde_json::Map<String, serde_json::Value> {
    match json(resp).remove("environ") {
        Some(serde_json::Value::Object(m)) => m,
        other => panic!("no environ: {other:?}"),
    }
}

fn start(pki: &Pki, extra: &[&str], workers: usize) -> Server {
    let mut args: Vec<String> = pki.server_args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args, workers)
}

#[test]
fn curl_python_and_openssl_s_client_get_the_response() {
    if !tools() || !tool_or_skip("curl", "curl") || !tool_or_skip("python3", "python3") {
        return;
    }
    let pki = Pki::new("clients");
    let s = start(&pki, &["-w", "1", "builtin:hello"], 1);
    let port = s.addr.port();
    let url = format!("https://localhost:{port}/");
    let resolve = format!("localhost:{port}:127.0.0.1");
    for extra in [&[][..], &["--tls-max", "1.2"][..]] {
        let out = Command::new("curl")
            .args(["-sS", "--cacert", &pki.path("ca.pem"), "--resolve", &resolve])
            .args(extra)
            .args(["-w", " %{http_code} %{http_version}", &url])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Hello, World! 200 1.1",
            "curl {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let script = format!(
        "import socket, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         ctx.set_alpn_protocols(['http/1.1'])\n\
         with socket.create_connection(('127.0.0.1', {port})) as raw:\n\
         \x20   with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n\
         \x20       s.sendall(b'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n')\n\
         \x20       data = b''\n\
         \x20       while chunk := s.recv(65536):\n\
         \x20           data += chunk\n\
         \x20       print(s.version(), s.selected_alpn_protocol(), data.split(b'\\r\\n')[0].decode(), data.split(b'\\r\\n\\r\\n')[1].decode())\n",
        ca = pki.path("ca.pem"),
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "TLSv1.3 http/1.1 HTTP/1.1 200 OK Hello, World!",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .args(["-CAfile", &pki.path("ca.pem"), "-alpn", "http/1.1", "-ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "ALPN protocol: http/1.1",
        "Verify return code: 0 (ok)",
        "HTTP/1.1 200 OK",
        "Hello, World!",
    ] {
        assert!(text.contains(want), "s_client output lacks {want:?}:\n{text}");
    }
}

#[test]
fn keep_alive_and_pipelining_over_tls_with_and_without_threads() {
    if !tools() {
        return;
    }
    let pki = Pki::new("pipelining");
    for threads in ["1", "4"] {
        let s = start(&pki, &["-w", "1", "--threads", threads, "builtin:echo"], 1);
        let cfg = client_config(&pki, None, false);
        let mut r = BufReader::new(connect(s.addr, &cfg).unwrap());
        // Three requests in one write, then a fourth on the same connection.
        let mut batch = Vec::new();
        for i in 0..3 {
            batch.extend_from_slice(format!("GET /p{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        }
        r.get_mut().write_all(&batch).unwrap();
        for i in 0..3 {
            let resp = read_response(&mut r, false).expect("a pipelined response");
            assert_eq!(resp.status, 200);
            let env = environ(&resp);
            assert_eq!(env["PATH_INFO"], format!("/p{i}"));
            assert_eq!(env["wsgi.url_scheme"], "https");
            assert_eq!(env["HTTPS"], "on");
            assert_eq!(env["SSL_PROTOCOL"], "TLSv1.3");
            assert_eq!(
                env["SSL_CIPHER"], "TLS_AES_256_GCM_SHA384",
                "rustls' first suite, as the client prefers it"
            );
            assert_eq!(env["SSL_CLIENT_VERIFY"], "NONE");
        }
        r.get_mut()
            .write_all(b"POST /last HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            .unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(json(&resp)["body_b64"], "aGVsbG8=");
        assert_eq!(resp.header("Connection"), Some("close"));
        // The server ends with close_notify: a clean end of stream, not a cut.
        let mut rest = Vec::new();
        // (rustls reports a close without close_notify as an error.)
        assert_eq!(r.read_to_end(&mut rest).unwrap(), 0, "threads {threads}");
    }
}

/// A byte pattern that a shifted or repeated block would not match.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8 ^ (i >> 16) as u8
}

#[test]
fn a_100_mb_download_over_tls() {
    if !tools() {
        return;
    }
    let pki = Pki::new("download");
    const LEN: usize = 100 << 20;
    let root = pki.dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    let data: Vec<u8> = (0..LEN).map(pattern).collect();
    std::fs::write(root.join("big.bin"), &data).unwrap();
    let s = start(
        &pki,
        &["-w", "1", "--static-root", root.to_str().unwrap(), "builtin:static"],
        1,
    );
    let resp = get(s.addr, &client_config(&pki, None, false), "/big.bin").unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), LEN);
    assert!(resp.body == data, "the file arrives byte for byte");
}

#[cfg(feature = "python")]
#[test]
fn a_100_mb_upload_over_tls_to_a_threaded_python_app() {
    if !tools() {
        return;
    }
    let pki = Pki::new("upload");
    const LEN: usize = 100 << 20;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let s = start(&pki, &["-w", "1", "--threads", "2", "--chdir", dir, "tls_app:app"], 1);
    let mut tls = connect(s.addr, &client_config(&pki, None, false)).unwrap();
    tls.write_all(
        format!("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {LEN}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut block = vec![0u8; 1 << 20];
    for n in 0..LEN >> 20 {
        for (i, b) in block.iter_mut().enumerate() {
            *b = pattern((n << 20) + i);
        }
        digest.update(&block);
        tls.write_all(&block).unwrap();
    }
    let hex: String = digest.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let resp = read_response(&mut BufReader::new(tls), false).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), format!("{LEN} {hex}"));
}

#[test]
fn required_client_certificates_refuse_a_client_without_and_name_the_subject_with() {
    if !tools() {
        return;
    }
    let pki = Pki::new("required");
    let ca = pki.path("ca.pem");
    let s = start(
        &pki,
        &["-w", "1", "--ca-certs", &ca, "--cert-reqs", "2", "builtin:echo"],
        1,
    );
    // TLS 1.3: the client's handshake is over when it sends its flight; it learns of the
    // refusal from the server's alert.
    let refused = |cfg: &Arc<ClientConfig>| {
        connect(s.addr, cfg).and_then(|mut tls| {
            let mut buf = [0u8; 1];
            tls.read(&mut buf)
        })
    };
    let err = refused(&client_config(&pki, None, false)).expect_err("a client without a certificate is refused");
    assert!(err.to_string().contains("CertificateRequired"), "{err}");
    let resp = get(s.addr, &client_config(&pki, Some("client"), false), "/").unwrap();
    let env = environ(&resp);
    assert_eq!(env["SSL_CLIENT_VERIFY"], "SUCCESS");
    assert_eq!(env["SSL_CLIENT_S_DN"], "CN=alice,O=Acme\\, Inc,C=FR");
    let pem = std::fs::read_to_string(pki.dir.join("client.pem")).unwrap();
    assert_eq!(env["SSL_CLIENT_CERT"], pem.as_str());
    // A certificate from another CA is refused too.
    let other = Pki::new("required-other");
    let mut cfg = (*client_config(&pki, None, false)).clone();
    let other_cfg = client_config(&other, Some("client"), false);
    cfg.client_auth_cert_resolver = other_cfg.client_auth_cert_resolver.clone();
    let err = refused(&Arc::new(cfg)).expect_err("a certificate of another CA is refused");
    assert!(err.to_string().contains("UnknownCA"), "{err}");
}

#[test]
fn optional_client_certificates_serve_both_and_tell_them_apart() {
    if !tools() {
        return;
    }
    let pki = Pki::new("optional");
    let ca = pki.path("ca.pem");
    let s = start(
        &pki,
        &["-w", "1", "--ca-certs", &ca, "--cert-reqs", "1", "builtin:echo"],
        1,
    );
    let without = environ(&get(s.addr, &client_config(&pki, None, false), "/").unwrap());
    assert_eq!(without["SSL_CLIENT_VERIFY"], "NONE");
    assert!(!without.contains_key("SSL_CLIENT_S_DN") && !without.contains_key("SSL_CLIENT_CERT"));
    let with = environ(&get(s.addr, &client_config(&pki, Some("client"), false), "/").unwrap());
    assert_eq!(with["SSL_CLIENT_VERIFY"], "SUCCESS");
    assert_eq!(with["SSL_CLIENT_S_DN"], "CN=alice,O=Acme\\, Inc,C=FR");
}

#[test]
fn plain_http_to_the_tls_port_gets_a_400_in_plain_text() {
    if !tools() {
        return;
    }
    let pki = Pki::new("plain");
    let s = start(&pki, &["-w", "1", "builtin:hello"], 1);
    let got = s.exchange(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 50\r\nConnection: close\r\n\r\n\
         The plain HTTP request was sent to an HTTPS port.\n"
    );
}

/// The first flight of a TLS 1.3 client, as bytes.
fn client_hello(pki: &Pki) -> Vec<u8> {
    let mut conn = ClientConnection::new(
        client_config(pki, None, false),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out).unwrap();
    out
}

#[test]
fn a_stalled_handshake_is_dropped_after_header_timeout() {
    if !tools() {
        return;
    }
    let pki = Pki::new("stall");
    let s = start(&pki, &["-w", "1", "--header-timeout", "1", "builtin:hello"], 1);
    let hello = client_hello(&pki);
    for sent in [&[][..], &hello[..hello.len() / 2]] {
        // Timed from before the connection exists. The worker dates a connection from the
        // loop turn that accepted it, which a starved machine can make a little earlier.
        let began = Instant::now();
        let mut c = s.connect();
        c.write_all(sent).unwrap();
        let mut buf = [0u8; 64];
        // The server closes (without a byte: no handshake, no alert to send) rather than wait;
        // a read that times out (WAIT) is a hang.
        let n = match c.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("sent {} bytes: {e}", sent.len()),
        };
        let waited = began.elapsed();
        assert_eq!(n, 0, "sent {} bytes", sent.len());
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
            "dropped after {waited:?}, header_timeout being 1 s"
        );
    }
    // The worker serves on.
    assert_eq!(get(s.addr, &client_config(&pki, None, false), "/").unwrap().status, 200);
}

#[test]
fn a_thousand_garbage_client_hellos_do_not_crash_or_wedge_a_worker() {
    if !tools() {
        return;
    }
    let pki = Pki::new("garbage");
    let s = start(&pki, &["-w", "2", "builtin:hello"], 2);
    let workers = s.workers();
    let hello = client_hello(&pki);
    let addr = s.addr;
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let hello = hello.clone();
            std::thread::spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                for i in 0..250 {
                    let mut msg = hello.clone();
                    // A real record header, then bytes of the ClientHello overwritten at random
                    // (lengths, versions, extensions), or pure noise.
                    let start = if i % 4 == 0 { 0 } else { 5 };
                    for b in msg.iter_mut().skip(start) {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        if i % 4 == 0 || seed >> 61 == 0 {
                            *b = (seed >> 33) as u8;
                        }
                    }
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(WAIT)).unwrap();
                    let _ = c.write_all(&msg);
                    let _ = c.shutdown(std::net::Shutdown::Write);
                    // An alert, a plain 400 or nothing; then the close, never a hang.
                    let mut sink = Vec::new();
                    if let Err(e) = c.read_to_end(&mut sink) {
                        assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "garbage {i} left hanging");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let cfg = client_config(&pki, None, false);
    for _ in 0..4 {
        assert_eq!(get(s.addr, &cfg, "/").unwrap().text(), "Hello, World!");
    }
    assert_eq!(s.workers(), workers, "no worker died");
    let log = s.log().join("\n");
    assert!(!log.contains("panic") && !log.contains("exited with"), "{log}");
}

#[cfg(feature = "python")]
#[test]
fn session_tickets_resume_on_any_worker_of_the_generation() {
    if !tools() {
        return;
    }
    let pki = Pki::new("tickets");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    // Per-worker sockets: the kernel spreads connections over the workers by their ports.
    let s = start(&pki, &["-w", "2", "--reuse-port", "--chdir", dir, "tls_app:app"], 2);
    s.wait_log("Ready: 2 workers", 1);
    let cfg = client_config(&pki, None, true);
    let first = json(&get(s.addr, &cfg, "/").unwrap());
    // What a Python app sees of the connection.
    assert_eq!(first["wsgi.url_scheme"], "https");
    assert_eq!(first["HTTPS"], "on");
    assert_eq!(first["SSL_PROTOCOL"], "TLSv1.3");
    assert_eq!(first["SSL_CLIENT_VERIFY"], "NONE");
    let first_pid = first["pid"].clone();
    let mut resumed_elsewhere = false;
    for _ in 0..40 {
        let mut tls = connect(s.addr, &cfg).unwrap();
        assert_eq!(tls.conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut BufReader::new(tls), false).unwrap();
        if json(&resp)["pid"] != first_pid {
            resumed_elsewhere = true;
            break;
        }
    }
    assert!(resumed_elsewhere, "a ticket from one worker resumed on the other");
}

/// Clients that each open connections in a loop (one request each, new handshakes) until
/// stopped, counting what failed.
struct TlsLoad {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl TlsLoad {
    fn start(addr: SocketAddr, cfg: Arc<ClientConfig>, clients: usize) -> TlsLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, cfg) = (stop.clone(), ok.clone(), cfg.clone());
                std::thread::spawn(move || {
                    let mut failures = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        match get(addr, &cfg, "/") {
                            Ok(r) if r.status == 200 && r.body == b"Hello, World!" => {
                                ok.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(r) => failures.push(r.status_line.clone()),
                            Err(e) => failures.push(e.to_string()),
                        }
                    }
                    failures
                })
            })
            .collect();
        TlsLoad { stop, ok, threads }
    }

    /// Waits for `n` more successful requests.
    fn wait_more(&self, n: u64) {
        let base = self.ok.load(Ordering::SeqCst);
        wait_until("requests served", || self.ok.load(Ordering::SeqCst) >= base + n);
    }

    /// Stops the clients; the failures.
    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    }
}

/// The certificate a new connection is served with.
fn served_cert(addr: SocketAddr, cfg: &Arc<ClientConfig>) -> Vec<u8> {
    let tls = connect(addr, cfg).unwrap();
    tls.conn.peer_certificates().unwrap()[0].to_vec()
}

/// Replaces the server's certificate and key with `name`'s, as certbot does: each new file is
/// written aside and renamed over the old one.
fn replace_server_files(pki: &Pki, name: &str) {
    for ext in ["key", "pem"] {
        let aside = pki.dir.join(format!("server.{ext}.new"));
        std::fs::copy(pki.dir.join(format!("{name}.{ext}")), &aside).unwrap();
        std::fs::rename(&aside, pki.dir.join(format!("server.{ext}"))).unwrap();
    }
}

fn rotate_under_load(test: &str, watch: bool) {
    if !tools() {
        return;
    }
    let pki = Pki::new(test);
    pki.leaf("renewed", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    let mut extra = vec!["-w", "2", "builtin:hello"];
    if watch {
        extra.push("--tls-watch");
    }
    let s = start(&pki, &extra, 2);
    let cfg = client_config(&pki, None, false);
    let (old, new) = (pki.der("server.pem"), pki.der("renewed.pem"));
    assert_eq!(served_cert(s.addr, &cfg), old);
    let load = TlsLoad::start(s.addr, cfg.clone(), 3);
    load.wait_more(30);
    replace_server_files(&pki, "renewed");
    if watch {
        s.wait_log("Worker reloading:", 1);
    } else {
        s.signal(Signal::SIGHUP);
    }
    s.wait_log("Reloading: generation 2", 1);
    wait_until("new connections get the new certificate", || {
        served_cert(s.addr, &cfg) == new
    });
    load.wait_more(30);
    let failures = load.finish();
    assert!(failures.is_empty(), "failed requests during the rotation: {failures:?}");
    assert!(
        !s.log().iter().any(|l| l.contains("Reload failed")),
        "{}",
        s.log().join("\n")
    );
}

#[test]
fn hup_rotates_the_certificate_under_load_without_a_failed_request() {
    rotate_under_load("rotate-hup", false);
}

#[test]
fn tls_watch_rotates_the_certificate_without_a_signal() {
    rotate_under_load("rotate-watch", true);
}

#[test]
fn a_bad_certificate_at_hup_keeps_the_old_workers_serving() {
    if !tools() {
        return;
    }
    let pki = Pki::new("bad-hup");
    let s = start(&pki, &["-w", "2", "builtin:hello"], 2);
    let cfg = client_config(&pki, None, false);
    let workers = s.workers();
    let old = pki.der("server.pem");
    // The client's key in place of the server's: it does not belong to the certificate.
    std::fs::copy(pki.dir.join("client.key"), pki.dir.join("server.key")).unwrap();
    s.signal(Signal::SIGHUP);
    let line = s.wait_log("Reload failed", 1);
    assert!(
        line.ends_with(&format!(
            "Reload failed, keeping the current configuration: keyfile {}: the private key does not belong to \
             the certificate in {}",
            pki.path("server.key"),
            pki.path("server.pem")
        )),
        "{line}"
    );
    assert_eq!(s.workers(), workers, "the old workers stay");
    assert_eq!(served_cert(s.addr, &cfg), old);
    assert_eq!(get(s.addr, &cfg, "/").unwrap().text(), "Hello, World!");
}

#[test]
fn bad_tls_files_at_start_are_one_line_and_exit_2() {
    if !tools() {
        return;
    }
    let pki = Pki::new("bad-start");
    let d = |n: &str| pki.path(n);
    // An expired certificate: signed with a validity that ended yesterday.
    openssl(
        &pki.dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-signkey",
            "server.key",
            "-days",
            "-1",
            "-out",
            "expired.pem",
        ],
    );
    openssl(
        &pki.dir,
        &[
            "pkey",
            "-in",
            "server.key",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            "encrypted.key",
        ],
    );
    std::fs::write(pki.dir.join("garbage.pem"), "not a certificate\n").unwrap();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "--certfile".into(),
                d("missing.pem"),
                "--keyfile".into(),
                d("server.key"),
            ],
            format!(
                "certfile {}: cannot read: No such file or directory (os error 2)",
                d("missing.pem")
            ),
        ),
        (
            vec![
                "--certfile".into(),
                d("server.pem"),
                "--keyfile".into(),
                d("client.key"),
            ],
            format!(
                "keyfile {}: the private key does not belong to the certificate in {}",
                d("client.key"),
                d("server.pem")
            ),
        ),
        (
            vec![
                "--certfile".into(),
                d("expired.pem"),
                "--keyfile".into(),
                d("server.key"),
            ],
            format!("certfile {}: the certificate expired on ", d("expired.pem")),
        ),
        (
            vec![
                "--certfile".into(),
                d("server.pem"),
                "--keyfile".into(),
                d("encrypted.key"),
            ],
            format!("keyfile {}: the private key is encrypted", d("encrypted.key")),
        ),
        (
            vec![
                "--certfile".into(),
                d("garbage.pem"),
                "--keyfile".into(),
                d("server.key"),
            ],
            format!(
                "certfile {}: no certificate (no BEGIN CERTIFICATE block)",
                d("garbage.pem")
            ),
        ),
        (
            vec!["--certfile".into(), d("server.pem")],
            format!(
                "keyfile {}: no private key (no BEGIN PRIVATE KEY block)",
                d("server.pem")
            ),
        ),
        (
            [pki.server_args(), vec!["--cert-reqs".into(), "2".into()]].concat(),
            "cert_reqs 2: client certificates need ca_certs, the CA certificates that sign them".into(),
        ),
        (
            [
                pki.server_args(),
                vec!["--ciphers".into(), "ECDHE-RSA-AES128-GCM-SHA256:HIGH".into()],
            ]
            .concat(),
            "ciphers: \"HIGH\" is not a cipher suite forkhorn's TLS has (it has TLS_AES_128_GCM_SHA256, ".into(),
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(common::bin())
            .args(["-b", "127.0.0.1:0"])
            .args(&args)
            .arg("builtin:hello")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("forkhorn: {want}")),
            "{args:?}:\n{stderr}\nwanted: forkhorn: {want}"
        );
        assert!(out.stdout.is_empty());
    }
}
