//! [`Config::to_toml`]: the effective configuration as a config file forkhorn reads back
//! (`--print-config`).

use super::setting::Setting;
use super::{allow, Config};
use std::fmt::Write;
use std::time::Duration;

impl Config {
    /// Every setting as TOML, in the order of `etc/forkhorn.toml`. Parsing the result gives back
    /// this configuration (host names appear as the addresses they resolved to). TOML has no
    /// null, so a setting that is not set is a comment: `# pidfile is not set`.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let file = match &self.config_file {
            Some(path) => format!("{}, ", one_line(&path.display().to_string())),
            None => String::new(),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# Effective configuration of forkhorn {}.",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "# Sources, later ones winning: defaults, {file}WEB_CONCURRENCY, command line."
        );
        for setting in Setting::ALL {
            let _ = match self.value_toml(setting) {
                Some(value) => writeln!(out, "{} = {value}", setting.key()),
                None => writeln!(out, "# {} is not set", setting.key()),
            };
        }
        out
    }

    /// The value as TOML, or `None` for an optional setting that is not set.
    pub(crate) fn value_toml(&self, setting: Setting) -> Option<String> {
        let path = |p: &std::path::Path| quote(&p.display().to_string());
        Some(match setting {
            Setting::Bind => list(self.bind.iter().map(|a| a.to_string())),
            Setting::Workers => self.workers.to_string(),
            Setting::WorkerClass => quote(self.worker_class.as_str()),
            Setting::Threads => self.threads.to_string(),
            Setting::Backlog => self.backlog.to_string(),
            Setting::WorkerConnections => self.worker_connections.to_string(),
            Setting::Timeout => seconds(self.timeout),
            Setting::GracefulTimeout => seconds(self.graceful_timeout),
            Setting::Keepalive => seconds(self.keepalive),
            Setting::LimitRequestLine => self.limit_request_line.to_string(),
            Setting::LimitRequestFields => self.limit_request_fields.to_string(),
            Setting::LimitRequestFieldSize => self.limit_request_field_size.to_string(),
            Setting::LimitRequestBody => self.limit_request_body.to_string(),
            Setting::BodyBufferSize => self.body_buffer_size.to_string(),
            Setting::HeaderTimeout => seconds(self.header_timeout),
            Setting::ServerHeader => quote(&self.server_header),
            Setting::App => quote(&self.app),
            Setting::Loglevel => quote(self.loglevel.as_str()),
            Setting::ForwardedAllowIps => list(allow::show(&self.forwarded_allow_ips).iter()),
            Setting::SecureSchemeHeaders => {
                let entries: Vec<String> = self
                    .secure_scheme_headers
                    .iter()
                    .map(|(name, value)| format!("{} = {}", quote(name), quote(value)))
                    .collect();
                if entries.is_empty() {
                    "{}".to_owned()
                } else {
                    format!("{{ {} }}", entries.join(", "))
                }
            }
            Setting::ProxyProtocol => self.proxy_protocol.to_string(),
            Setting::ProxyAllowIps => list(allow::show(&self.proxy_allow_ips).iter()),
            Setting::StaticRoot => path(self.static_root.as_deref()?),
            Setting::BootTimeout => seconds(self.boot_timeout),
            Setting::MaxRequests => self.max_requests.to_string(),
            Setting::MaxRequestsJitter => self.max_requests_jitter.to_string(),
            Setting::MaxWorkerMemory => self.max_worker_memory.to_string(),
            Setting::ReusePort => self.reuse_port.to_string(),
            Setting::BatchResponses => self.batch_responses.to_string(),
            Setting::Pidfile => path(self.pidfile.as_deref()?),
            Setting::Chdir => path(self.chdir.as_deref()?),
            Setting::Pythonpath => list(self.pythonpath.iter().map(|p| p.display().to_string())),
            Setting::Virtualenv => path(self.virtualenv.as_deref()?),
            Setting::PreloadApp => self.preload_app.to_string(),
            Setting::Errorlog => quote(&self.errorlog),
            Setting::Accesslog => quote(self.accesslog.as_deref()?),
            Setting::AccessLogFormat => quote(&self.access_log_format),
            Setting::Syslog => self.syslog.to_string(),
            Setting::SyslogAddr => quote(&self.syslog_addr),
            Setting::SyslogFacility => quote(&self.syslog_facility),
            Setting::SyslogPrefix => quote(self.syslog_prefix.as_deref()?),
            Setting::DisableRedirectAccessToSyslog => self.disable_redirect_access_to_syslog.to_string(),
            Setting::CaptureOutput => self.capture_output.to_string(),
            Setting::User => quote(self.user.as_deref()?),
            Setting::Group => quote(self.group.as_deref()?),
            // A TOML octal integer: a mode reads best in octal, and the file reads it back.
            Setting::Umask => format!("0o{:03o}", self.umask),
            Setting::ProcName => quote(self.proc_name.as_deref()?),
            Setting::RawEnv => list(self.raw_env.iter().map(|(k, v)| format!("{k}={v}"))),
            Setting::Daemon => self.daemon.to_string(),
        })
    }
}

/// A TOML array of strings, on one line.
fn list<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let items: Vec<String> = items.map(|s| quote(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// Whole seconds as an integer, like the defaults are written; fractions as a float, which
/// `Display` for f64 always writes with a '.' and never in exponent form, as TOML requires.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        d.as_secs_f64().to_string()
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped, so the value stays
/// on its line whatever it holds (a Unix socket path may hold anything).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A comment must not contain a newline, or its second half would be read as TOML.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::super::file;
    use super::super::system::Fake;
    use super::*;
    use crate::config::{AllowIps, BindAddr, LogLevel, WorkerClass};
    use std::net::SocketAddr;
    use std::path::Path;

    #[test]
    fn defaults() {
        let text = Config::default().to_toml();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "bind = [\"127.0.0.1:8000\"]",
                "workers = 1",
                "worker_class = \"sync\"",
                "threads = 1",
                "backlog = 2048",
                "worker_connections = 1000",
                "timeout = 30",
                "graceful_timeout = 30",
                "keepalive = 2",
                "limit_request_line = 4094",
                "limit_request_fields = 100",
                "limit_request_field_size = 8190",
                "limit_request_body = 1073741824",
                "body_buffer_size = 65536",
                "header_timeout = 15",
                "server_header = \"forkhorn\"",
                "app = \"builtin:hello\"",
                "loglevel = \"info\"",
                "forwarded_allow_ips = [\"127.0.0.1\", \"::1\"]",
                "secure_scheme_headers = { \"X-FORWARDED-PROTOCOL\" = \"ssl\", \"X-FORWARDED-PROTO\" = \"https\", \"X-FORWARDED-SSL\" = \"on\" }",
                "proxy_protocol = false",
                "proxy_allow_ips = [\"127.0.0.1\", \"::1\"]",
                "boot_timeout = 120",
                "max_requests = 0",
                "max_requests_jitter = 0",
                "max_worker_memory = 0",
                "reuse_port = false",
                "batch_responses = true",
                "pythonpath = []",
                "preload_app = false",
                "errorlog = \"-\"",
                "access_log_format = \"%(h)s %(l)s %(u)s %(t)s \\\"%(r)s\\\" %(s)s %(b)s \\\"%(f)s\\\" \\\"%(a)s\\\"\"",
                "syslog = false",
                "syslog_addr = \"unix:///dev/log\"",
                "syslog_facility = \"user\"",
                "disable_redirect_access_to_syslog = false",
                "capture_output = false",
                "umask = 0o000",
                "raw_env = []",
                "daemon = false",
            ]
        );
        let unset: Vec<&str> = text.lines().filter(|l| l.ends_with(" is not set")).collect();
        assert_eq!(
            unset,
            [
                "# static_root is not set",
                "# pidfile is not set",
                "# chdir is not set",
                "# virtualenv is not set",
                "# accesslog is not set",
                "# syslog_prefix is not set",
                "# user is not set",
                "# group is not set",
                "# proc_name is not set",
            ]
        );
    }

    #[test]
    fn round_trip() {
        let cfg = Config {
            config_file: Some(Path::new("odd\nname.toml").into()),
            bind: vec![
                BindAddr::Tcp(SocketAddr::from(([0, 0, 0, 0], 0))),
                BindAddr::Tcp("[::1]:8080".parse().expect("addr")),
                BindAddr::Unix("/tmp/we\"ird\\ \u{1}\n.sock".into()),
                BindAddr::Fd(3),
            ],
            workers: 9,
            worker_class: WorkerClass::Gthread,
            threads: 1024,
            backlog: 1,
            timeout: Duration::ZERO,
            graceful_timeout: Duration::from_millis(1500),
            keepalive: Duration::from_nanos(1),
            header_timeout: Duration::from_secs(u32::MAX.into()),
            server_header: String::new(),
            app: "pkg:make(\"a\", 'b')".into(),
            loglevel: LogLevel::Critical,
            forwarded_allow_ips: AllowIps {
                any: true,
                nets: vec![],
            },
            secure_scheme_headers: vec![],
            proxy_protocol: true,
            proxy_allow_ips: AllowIps {
                any: false,
                nets: vec![("10.0.0.0".parse().expect("ip"), 8), ("fd00::".parse().expect("ip"), 8)],
            },
            static_root: Some("/srv/www".into()),
            boot_timeout: Duration::from_millis(500),
            max_requests: 10,
            max_requests_jitter: 3,
            reuse_port: true,
            pidfile: Some("/tmp/a \"pid\"".into()),
            chdir: Some("/srv".into()),
            pythonpath: vec!["a,b".into(), "/c".into()],
            virtualenv: Some("/tmp".into()),
            preload_app: true,
            errorlog: "/tmp/e.log".into(),
            accesslog: Some("-".into()),
            access_log_format: "%(h)s \"%(r)s\"".into(),
            syslog: true,
            syslog_addr: "tcp://[::1]:601".into(),
            syslog_facility: "local7".into(),
            syslog_prefix: Some("p".into()),
            disable_redirect_access_to_syslog: true,
            capture_output: true,
            user: Some("www-data".into()),
            group: Some("0".into()),
            umask: 0o777,
            proc_name: Some("shop [eu]".into()),
            raw_env: vec![("A".into(), "x=\"y\"".into()), ("B".into(), String::new())],
            daemon: true,
            ..Config::default()
        };
        let text = cfg.to_toml();
        let path = Path::new("again.toml");
        let back = file::parse(&text, path, &Fake::MACHINE).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            back,
            Config {
                config_file: Some(path.into()),
                ..cfg
            }
        );
    }

    #[test]
    fn quoting() {
        let cases = [
            ("plain", "\"plain\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("x\u{7f}\u{0}", "\"x\\u007F\\u0000\""),
        ];
        for (s, want) in cases {
            assert_eq!(quote(s), want);
        }
    }
}
