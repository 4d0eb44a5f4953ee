//! [`Config::to_toml`]: the effective configuration as a config file forkhorn reads back
//! (`--print-config`).

use super::setting::Setting;
use super::Config;
use std::fmt::Write;
use std::time::Duration;

impl Config {
    /// Every setting as TOML, in the order of `etc/forkhorn.toml`. Parsing the result gives back
    /// this configuration (host names appear as the addresses they resolved to).
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
            let _ = writeln!(out, "{} = {}", setting.key(), self.value_toml(setting));
        }
        out
    }

    fn value_toml(&self, setting: Setting) -> String {
        match setting {
            Setting::Bind => {
                let items: Vec<String> = self.bind.iter().map(|a| quote(&a.to_string())).collect();
                format!("[{}]", items.join(", "))
            }
            Setting::Workers => self.workers.to_string(),
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
        }
    }
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
    use super::*;
    use crate::config::{BindAddr, LogLevel};
    use std::net::SocketAddr;
    use std::path::Path;

    fn no_dns(host: &str, _port: u16) -> Result<SocketAddr, String> {
        Err(format!("no DNS in tests ({host})"))
    }

    #[test]
    fn defaults() {
        let text = Config::default().to_toml();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "bind = [\"127.0.0.1:8000\"]",
                "workers = 1",
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
            backlog: 1,
            timeout: Duration::ZERO,
            graceful_timeout: Duration::from_millis(1500),
            keepalive: Duration::from_nanos(1),
            header_timeout: Duration::from_secs(u32::MAX.into()),
            server_header: String::new(),
            app: "pkg:make(\"a\", 'b')".into(),
            loglevel: LogLevel::Critical,
            ..Config::default()
        };
        let text = cfg.to_toml();
        let path = Path::new("again.toml");
        let back = file::parse(&text, path, &no_dns).unwrap_or_else(|e| panic!("{e}\n{text}"));
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
