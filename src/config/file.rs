//! The config file format: TOML text -> [`Config`] over the defaults, or the one error that
//! names the line and key at fault. Pure: the caller reads the file and supplies the resolver.

use super::error::{ConfigError, Origin};
use super::setting::Value;
use super::system::System;
use super::table::{assign, Setting};
use super::{suggest, Config};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The settings a file sets, in the order they appear in it. Values stay untyped here so that
/// [`assign`] judges them exactly as it judges the command line, and says "expected a positive
/// integer, got "two"" rather than serde's wording; the spans give every error its line.
/// Each setting comes with the name the file used for it (its key or its alias).
struct FileSettings(Vec<(Setting, &'static str, Spanned<Value>)>);

impl<'de> Deserialize<'de> for FileSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FileSettings, D::Error> {
        deserializer.deserialize_struct("FileSettings", &Setting::KEYS, FileVisitor)
    }
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = FileSettings;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileSettings, A::Error> {
        let mut set = Vec::new();
        while let Some((setting, name)) = map.next_key_seed(KeySeed)? {
            set.push((setting, name, map.next_value::<Spanned<Value>>()?));
        }
        set.sort_by_key(|(_, _, v): &(Setting, &str, Spanned<Value>)| v.span().start);
        Ok(FileSettings(set))
    }
}

/// A key of the file. An unknown one is refused while the key is read, as serde's
/// `deny_unknown_fields` does, so that the parser's error carries the key's span.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = (Setting, &'static str);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(Setting, &'static str), D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = (Setting, &'static str);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a setting name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(Setting, &'static str), E> {
        Setting::named(key).ok_or_else(|| E::unknown_field(key, &Setting::KEYS))
    }
}

/// Parses a config file's text into a [`Config`] (defaults for what the file leaves out, and
/// `config_file` set to `path`). `path` only labels errors; nothing is read, and what the checks
/// must know about the machine comes from `sys`.
#[cfg(test)]
pub(crate) fn parse(text: &str, path: &Path, sys: &dyn System) -> Result<Config, ConfigError> {
    parse_over(Config::default(), text, path, sys)
}

/// [`parse`] over `base` instead of the defaults: the values the environment gives as defaults
/// (`PORT`, `WEB_CONCURRENCY`) stand where the file is silent.
pub(crate) fn parse_over(base: Config, text: &str, path: &Path, sys: &dyn System) -> Result<Config, ConfigError> {
    let FileSettings(settings) = toml::from_str(text).map_err(|e| toml_error(&e, text, path))?;
    let mut cfg = Config {
        config_file: Some(path.to_owned()),
        ..base
    };
    // In file order, so that of several mistakes the first one is reported.
    for (setting, name, value) in settings {
        assign(&mut cfg, setting, value.get_ref(), sys).map_err(|problem| {
            let span = match (problem.item, value.get_ref()) {
                (Some(i), Value::List(items)) => items.get(i).map_or(value.span(), Spanned::span),
                (Some(i), Value::Table(entries)) => entries.get(i).map_or(value.span(), |(_, v)| v.span()),
                _ => value.span(),
            };
            ConfigError::InvalidValue {
                at: Origin::File {
                    path: path.to_owned(),
                    line: line_of(text, span.start),
                    key: name.to_owned(),
                },
                problem: problem.message,
            }
        })?;
    }
    Ok(cfg)
}

/// Sorts a deserialization error into an unknown key (serde's `deny_unknown_fields`, whose span
/// is the key's) or a syntax error.
fn toml_error(e: &toml::de::Error, text: &str, path: &Path) -> ConfigError {
    let span = e.span();
    let line = span.as_ref().map(|s| line_of(text, s.start));
    if let (Some(key), Some(line)) = (unknown_field(e.message(), span.as_ref(), text), line) {
        let suggestion = suggest::nearest(&key, Setting::names());
        return ConfigError::UnknownKey {
            at: Origin::File {
                path: path.to_owned(),
                line,
                key,
            },
            suggestion,
        };
    }
    let mut message = e.message().to_owned();
    if message == "duplicate key" {
        // The parser's span covers the key; naming it saves a search through the file.
        if let Some(key) = span.and_then(|s| text.get(s)) {
            message = format!("duplicate key '{key}'");
        }
    }
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        message,
    }
}

/// The key of serde's "unknown field `KEY`, expected one of ..." message; if the wording ever
/// changes, the key's text in the file (its span) still names it.
fn unknown_field(message: &str, span: Option<&Range<usize>>, text: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest
        .rfind("`, expected")
        .or_else(|| rest.rfind("`, there are no fields"));
    match end {
        Some(end) => Some(rest[..end].to_owned()),
        None => span
            .and_then(|s| text.get(s.clone()))
            .map(|k| k.trim_matches(['"', '\'']).to_owned()),
    }
}

/// The 1-based line holding byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// toml hands a date-time to serde as a one-entry map under this private key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        // TOML integers are i64, so this is unreachable from a file; saturate rather than fail.
        Ok(Value::Int(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Spanned<Value>)> = Vec::new();
        let mut datetime = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == TOML_DATETIME_KEY {
                // No setting takes a date, so its text is skipped, not kept.
                datetime = true;
                map.next_value::<de::IgnoredAny>()?;
            } else {
                entries.push((key, map.next_value()?));
            }
        }
        if datetime {
            return Ok(Value::Datetime);
        }
        // File order, whatever order the parser hands entries over in: the order of
        // secure_scheme_headers is the order they are tried in.
        entries.sort_by_key(|(_, v)| v.span().start);
        Ok(Value::Table(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::super::system::Fake;
    use super::*;
    use crate::config::{AllowIps, BindAddr, LogLevel, WorkerClass};
    use std::net::SocketAddr;
    use std::time::Duration;

    fn parse_ok(text: &str) -> Config {
        match parse(text, Path::new("f.toml"), &Fake::MACHINE) {
            Ok(cfg) => cfg,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn message(text: &str) -> String {
        match parse(text, Path::new("f.toml"), &Fake::MACHINE) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let cfg = parse_ok("# nothing\n");
        assert_eq!(
            cfg,
            Config {
                config_file: Some("f.toml".into()),
                ..Config::default()
            }
        );
    }

    #[test]
    fn every_setting() {
        let cfg = parse_ok(
            r#"
bind = ["127.0.0.1:9000", "unix:/tmp/f.sock"]
workers = 4
worker_class = "gthread"
threads = 8
backlog = 64
worker_connections = 10
timeout = 0
graceful_timeout = 2.5
keepalive = 0
limit_request_line = 0
limit_request_fields = 32768
limit_request_field_size = 0
limit_request_body = 0
body_buffer_size = 1024
header_timeout = 3
server_header = ""
app = "pkg.mod:make()"
loglevel = "DEBUG"
"#,
        );
        let want = Config {
            config_file: Some("f.toml".into()),
            bind: vec![
                BindAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 9000))),
                BindAddr::Unix("/tmp/f.sock".into()),
            ],
            workers: 4,
            worker_class: WorkerClass::Gthread,
            threads: 8,
            backlog: 64,
            worker_connections: 10,
            timeout: Duration::ZERO,
            graceful_timeout: Duration::from_millis(2500),
            keepalive: Duration::ZERO,
            limit_request_line: 0,
            limit_request_fields: 32768,
            limit_request_field_size: 0,
            limit_request_body: 0,
            body_buffer_size: 1024,
            header_timeout: Duration::from_secs(3),
            server_header: String::new(),
            app: "pkg.mod:make()".into(),
            loglevel: LogLevel::Debug,
            ..Config::default()
        };
        assert_eq!(cfg, want);
    }

    #[test]
    fn example_file_sets_every_setting_to_its_default() {
        let text = include_str!("../../etc/forkhorn.toml");
        assert_eq!(parse_ok(text), parse_ok(""));
        // Each setting once, with a comment right above it saying what it does: uncommented,
        // or, for a setting that is unset by default, commented out with an example value that
        // is valid (on the fake machine, which has the example's directories and users).
        let lines: Vec<&str> = text.lines().collect();
        for s in Setting::ALL {
            let unset = Config::default().value_toml(s).is_none();
            let prefix = match unset {
                false => format!("{} = ", s.key()),
                true => format!("# {} = ", s.key()),
            };
            let at: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with(&prefix)).collect();
            assert_eq!(at.len(), 1, "{} is set {} times", s.key(), at.len());
            assert!(
                at[0] > 0 && lines[at[0] - 1].starts_with("# "),
                "{} has no comment",
                s.key()
            );
            if unset {
                let example = &lines[at[0]][2..];
                let cfg = parse(example, Path::new("f.toml"), &Fake::MACHINE).unwrap_or_else(|e| panic!("{e}"));
                assert!(cfg.value_toml(s).is_some(), "{example}");
            }
        }
    }

    #[test]
    fn proxy_file_supervision_python_and_operations_settings() {
        let cfg = parse_ok(
            r#"
forwarded_allow_ips = "10.0.0.0/8, 192.168.0.1"
secure_scheme_headers = { "X-Scheme" = "https", "Front-End-Https" = "on" }
proxy_protocol = true
proxy_allow_ips = ["*"]
static_root = "/srv/www"
boot_timeout = 30
max_requests = 1000
max_requests_jitter = 50
reuse_port = true
pidfile = "/tmp/forkhorn.pid"
chdir = "/srv"
pythonpath = ["/srv/app", "/srv/lib"]
virtualenv = "/srv/www"
preload_app = true
errorlog = "/tmp/error.log"
accesslog = "-"
access_log_format = "%(h)s %(r)s"
syslog = true
syslog_addr = "udp://127.0.0.1:514"
syslog_facility = "local0"
syslog_prefix = "shop"
disable_redirect_access_to_syslog = true
capture_output = true
user = "www-data"
group = "33"
umask = 0o027
proc_name = "shop"
raw_env = ["DJANGO_SETTINGS_MODULE=shop.settings", "EMPTY="]
daemon = true
"#,
        );
        let net = |s: &str, len| (s.parse().expect("test address"), len);
        let want = Config {
            config_file: Some("f.toml".into()),
            forwarded_allow_ips: AllowIps {
                any: false,
                nets: vec![net("10.0.0.0", 8), net("192.168.0.1", 32)],
            },
            secure_scheme_headers: vec![
                ("X-SCHEME".into(), "https".into()),
                ("FRONT-END-HTTPS".into(), "on".into()),
            ],
            proxy_protocol: true,
            proxy_allow_ips: AllowIps {
                any: true,
                nets: vec![],
            },
            static_root: Some("/srv/www".into()),
            boot_timeout: Duration::from_secs(30),
            max_requests: 1000,
            max_requests_jitter: 50,
            reuse_port: true,
            pidfile: Some("/tmp/forkhorn.pid".into()),
            chdir: Some("/srv".into()),
            pythonpath: vec!["/srv/app".into(), "/srv/lib".into()],
            virtualenv: Some("/srv/www".into()),
            preload_app: true,
            errorlog: "/tmp/error.log".into(),
            accesslog: Some("-".into()),
            access_log_format: "%(h)s %(r)s".into(),
            syslog: true,
            syslog_addr: "udp://127.0.0.1:514".into(),
            syslog_facility: "local0".into(),
            syslog_prefix: Some("shop".into()),
            disable_redirect_access_to_syslog: true,
            capture_output: true,
            user: Some("www-data".into()),
            group: Some("33".into()),
            umask: 0o027,
            proc_name: Some("shop".into()),
            raw_env: vec![
                ("DJANGO_SETTINGS_MODULE".into(), "shop.settings".into()),
                ("EMPTY".into(), String::new()),
            ],
            daemon: true,
            ..Config::default()
        };
        assert_eq!(cfg, want);
    }

    #[test]
    fn scheme_headers_keep_file_order() {
        // Enough entries that a parser keeping them in a hash map would shuffle some.
        let names: Vec<String> = (0..12).map(|i| format!("X-H{}", (i * 7) % 12)).collect();
        let entries: Vec<String> = names.iter().map(|n| format!("\"{n}\" = \"on\"")).collect();
        let cfg = parse_ok(&format!("secure_scheme_headers = {{ {} }}\n", entries.join(", ")));
        let got: Vec<&str> = cfg.secure_scheme_headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, names);
    }

    #[test]
    fn bind_as_a_single_string() {
        let cfg = parse_ok("bind = \"[::1]:0\"\n");
        assert_eq!(cfg.bind, vec![BindAddr::Tcp("[::1]:0".parse().expect("addr"))]);
    }

    #[test]
    fn gunicorns_wsgi_app_is_app() {
        assert_eq!(
            parse_ok("wsgi_app = \"shop.wsgi:application\"\n").app,
            "shop.wsgi:application"
        );
        // Both names: the later line wins, as with a key given twice on the command line.
        assert_eq!(parse_ok("app = \"a:b\"\nwsgi_app = \"c:d\"\n").app, "c:d");
        // An error names the key as the file wrote it.
        assert_eq!(
            message("\nwsgi_app = 3\n"),
            "f.toml:2: key 'wsgi_app': expected builtin:NAME or module[.sub]:callable, :factory() or \
             :factory(args), got 3"
        );
        assert_eq!(
            message("wsgi_ap = \"a:b\"\n"),
            "f.toml:1: key 'wsgi_ap': unknown setting (did you mean 'wsgi_app'?)"
        );
    }

    #[test]
    fn every_key_is_known_to_serde() {
        // Every key is read as its setting, and its value checked.
        for s in Setting::ALL {
            let err = parse(
                &format!("{} = 1979-05-27\n", s.key()),
                Path::new("f.toml"),
                &Fake::MACHINE,
            )
            .expect_err("a date is never a valid value");
            assert!(matches!(err, ConfigError::InvalidValue { .. }), "{}: {err}", s.key());
        }
    }

    #[test]
    fn error_lines() {
        let cases = [
            (
                "workers = 2\n\nworkres = 3\n",
                "f.toml:3: key 'workres': unknown setting (did you mean 'workers'?)",
            ),
            ("# c\ntls_cert = \"c.pem\"\n", "f.toml:2: key 'tls_cert': unknown setting"),
            (
                "keep_alive = 5",
                "f.toml:1: key 'keep_alive': unknown setting (did you mean 'keepalive'?)",
            ),
            (
                "\"graceful-timeout\" = 5",
                "f.toml:1: key 'graceful-timeout': unknown setting (did you mean 'graceful_timeout'?)",
            ),
            ("\n[server]\nworkers = 2\n", "f.toml:2: key 'server': unknown setting"),
            (
                "app = \"x:y\"\nworkers = \"two\"\n",
                "f.toml:2: key 'workers': expected a positive integer, got \"two\"",
            ),
            (
                "bind = \"127.0.0.1:99999\"\n",
                "f.toml:1: key 'bind': \"127.0.0.1:99999\" is not a valid address (port out of range)",
            ),
            (
                "bind = [\n  \"unix:/tmp/a.sock\",\n  \"127.0.0.1:99999\",\n]\n",
                "f.toml:3: key 'bind': \"127.0.0.1:99999\" is not a valid address (port out of range)",
            ),
            (
                "workers = 0\nbacklog = 0\n",
                "f.toml:1: key 'workers': expected a positive integer, got 0",
            ),
            (
                "backlog = -1\nworkers = 0\n",
                "f.toml:1: key 'backlog': expected a non-negative integer, got -1",
            ),
            (
                "loglevel = 'loud'\n",
                "f.toml:1: key 'loglevel': expected one of debug, info, warning, error, critical, got \"loud\"",
            ),
            (
                "timeout = 1979-05-27\n",
                "f.toml:1: key 'timeout': expected a non-negative number of seconds, got a date-time",
            ),
            (
                "workers = 2\nworkers = 3\n",
                "f.toml:2: invalid TOML: duplicate key 'workers'",
            ),
            (
                "secure_scheme_headers = {\n  \"X-Proto\" = \"https\",\n  \"X Bad\" = \"on\",\n}\n",
                "f.toml:3: key 'secure_scheme_headers': header name \"X Bad\" is not a valid HTTP token",
            ),
            (
                "forwarded_allow_ips = [\n  \"10.0.0.0/8\",\n  \"10.0.0.1/8\",\n]\n",
                "f.toml:3: key 'forwarded_allow_ips': \"10.0.0.1/8\" is not a valid entry (host bits are set (the network is 10.0.0.0/8))",
            ),
            (
                "raw_env = [\"A=1\",\n\"B\"]\n",
                "f.toml:2: key 'raw_env': expected KEY=VALUE with a non-empty KEY, got \"B\"",
            ),
            (
                "\n\nuser = \"no-such-user-xyz\"\n",
                "f.toml:3: key 'user': expected an existing user name or a number, got \"no-such-user-xyz\"",
            ),
            (
                "static_root = \"/nope\"\n",
                "f.toml:1: key 'static_root': expected an existing directory, got \"/nope\"",
            ),
            (
                "workers = 2\nthreads = 1025\n",
                "f.toml:2: key 'threads': expected an integer from 0 to 1024, got 1025",
            ),
            (
                "worker_class = \"uvicorn.workers.UvicornWorker\"\n",
                "f.toml:1: key 'worker_class': \"uvicorn.workers.UvicornWorker\" is an ASGI worker class, and \
                 forkhorn serves WSGI apps only (run an ASGI app with uvicorn or another ASGI server)",
            ),
            (
                "daemon = \"yes\"\n",
                "f.toml:1: key 'daemon': expected true or false, got \"yes\"",
            ),
            (
                "umask = 0o1000\n",
                "f.toml:1: key 'umask': expected a umask from 0 to 0o777 (octal as 0o22 or 0022), got 0o1000",
            ),
            (
                "suplog = true\n",
                "f.toml:1: key 'suplog': unknown setting (did you mean 'syslog'?)",
            ),
            (
                "workers = \n",
                "f.toml:1: invalid TOML: string values must be quoted, expected literal string",
            ),
            (
                "a = 1\napp = \"x\n",
                "f.toml:2: invalid TOML: invalid basic string, expected `\"`",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(message(text), want, "{text:?}");
        }
    }

    #[test]
    fn unknown_field_key_extraction() {
        let cases = [
            (
                "unknown field `workres`, expected one of `a`, `b`",
                None,
                "",
                Some("workres"),
            ),
            ("unknown field `a`b`, expected `x`", None, "", Some("a`b")),
            ("unknown field `k`, there are no fields", None, "", Some("k")),
            ("unknown field `k` (new wording)", Some(2..5), "x=\"kk\"", Some("kk")),
            ("duplicate key", Some(0..1), "a", None),
        ];
        for (message, span, text, want) in cases {
            assert_eq!(
                unknown_field(message, span.as_ref(), text).as_deref(),
                want,
                "{message}"
            );
        }
    }

    #[test]
    fn lines() {
        let text = "a\nbb\n\nc";
        let cases = [(0, 1), (1, 1), (2, 2), (5, 3), (6, 4), (99, 4)];
        for (offset, want) in cases {
            assert_eq!(line_of(text, offset), want, "{offset}");
        }
    }
}
