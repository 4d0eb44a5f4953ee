//! Settings as TOML: [`Config::to_toml`], the effective configuration as a config file forkhorn
//! reads back (`--print-config`); [`example_toml`], the text of `etc/forkhorn.toml`; and the
//! printing helpers the table's `show` functions use.

use super::table::Setting;
use super::Config;
use std::fmt::Display;
use std::fmt::Write;
use std::path::PathBuf;
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
            "# Sources, later ones winning: defaults (with PORT, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS), \
             {file}GUNICORN_CMD_ARGS, FORKHORN_CMD_ARGS, command line."
        );
        for setting in Setting::ALL {
            let _ = match self.value_toml(setting) {
                Some(value) => writeln!(out, "{} = {value}", setting.key()),
                None => writeln!(out, "# {} is not set", setting.key()),
            };
        }
        out
    }
}

/// The opening comment of `etc/forkhorn.toml`, before the settings.
const EXAMPLE_HEADER: &str = "\
# forkhorn example configuration: every setting, set to its default value.
#
# Use it with `forkhorn -c /etc/forkhorn.toml`; check a file with
# `forkhorn -c FILE --check-config`, and see what is in effect with `--print-config`.
#
# Setting names are gunicorn's. A gunicorn.conf.py is read too (-c FILE.py, or
# ./gunicorn.conf.py when -c is not given, as gunicorn does); `forkhorn -c gunicorn.conf.py
# --print-config > forkhorn.toml` turns one into this format. A forkhorn.toml is never read
# unless -c names it: a server's behaviour should not depend on the directory it happens to
# be started from beyond what gunicorn users already rely on.
#
# Precedence, as in gunicorn: defaults (PORT, WEB_CONCURRENCY and FORWARDED_ALLOW_IPS in the
# environment set those of bind, workers and forwarded_allow_ips) < this file <
# GUNICORN_CMD_ARGS < FORKHORN_CMD_ARGS < the command line. A mistake in any of them stops
# forkhorn before anything is bound, with one line naming the file and line (or the flag, or
# the variable) and what is wrong.
#
# Durations are in seconds: integers, or floats such as 0.5. Settings that are not set by
# default are shown commented out, with an example value.
#
# This file is generated from forkhorn's table of settings (src/config/table.rs):
# `cargo run --example example_config > etc/forkhorn.toml`.
";

/// The width the paragraphs of `etc/forkhorn.toml` are wrapped to, `# ` included.
const EXAMPLE_WIDTH: usize = 96;

/// The text of `etc/forkhorn.toml`: every setting with its paragraph, set to its default, or
/// for a setting that is unset by default, commented out with an example value.
pub fn example_toml() -> String {
    let defaults = Config::default();
    let mut out = String::from(EXAMPLE_HEADER);
    for setting in Setting::ALL {
        let d = setting.describe();
        if let Some(section) = d.section {
            let _ = writeln!(out, "\n# --- {section} ---");
        }
        out.push('\n');
        comment(&mut out, d.doc);
        let _ = match (defaults.value_toml(setting), d.example) {
            (Some(value), _) => writeln!(out, "{} = {value}", d.key),
            (None, Some(example)) => writeln!(out, "# {} = {example}", d.key),
            (None, None) => writeln!(out, "# {} is not set", d.key),
        };
    }
    out
}

/// `text` as `# ` lines of at most [`EXAMPLE_WIDTH`] (a longer word gets a line of its own).
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > EXAMPLE_WIDTH {
            out.push_str(&line);
            out.push('\n');
            line.truncate(1);
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// `show` for a value whose `Display` is its TOML (numbers, booleans).
pub(super) fn display<T: Display>(value: &T) -> Option<String> {
    Some(value.to_string())
}

/// `show` for a duration.
pub(super) fn secs(d: &Duration) -> Option<String> {
    Some(seconds(*d))
}

/// `show` for text.
pub(super) fn quoted<S: AsRef<str>>(s: &S) -> Option<String> {
    Some(quote(s.as_ref()))
}

/// `show` for optional text.
pub(super) fn opt_quoted(s: &Option<String>) -> Option<String> {
    s.as_deref().map(quote)
}

/// `show` for an optional path.
pub(super) fn opt_path(p: &Option<PathBuf>) -> Option<String> {
    p.as_deref().map(|p| quote(&p.display().to_string()))
}

/// `show` for an optional number or boolean.
pub(super) fn opt_display<T: Display>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(ToString::to_string)
}

/// `show` for an optional list of strings.
pub(super) fn opt_list(items: &Option<Vec<String>>) -> Option<String> {
    items.as_ref().map(|items| list(items.iter()))
}

/// A TOML array of strings, on one line.
pub(super) fn list<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
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
pub(super) fn quote(s: &str) -> String {
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
        // etc/forkhorn.toml pins the defaults (see the_example_file_is_generated_from_the_table):
        // printed, each is its line there, and each commented-out example is "# KEY is not set".
        let want: Vec<String> = example_toml()
            .lines()
            .filter(|l| !l.is_empty())
            .filter_map(|l| match l.strip_prefix('#') {
                None => Some(l.to_owned()),
                Some(comment) => {
                    let (key, _) = comment.trim_start().split_once(" = ")?;
                    Setting::KEYS.contains(&key).then(|| format!("# {key} is not set"))
                }
            })
            .collect();
        let text = Config::default().to_toml();
        let got: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(got, want);
        assert!(got.contains(&"bind = [\"127.0.0.1:8000\"]"), "{text}");
        assert!(got.contains(&"# pidfile is not set"), "{text}");
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
    fn the_example_file_is_generated_from_the_table() {
        // Regenerate with `cargo run --example example_config > etc/forkhorn.toml`.
        assert_eq!(include_str!("../../etc/forkhorn.toml"), example_toml());
    }

    #[test]
    fn comments_wrap() {
        // "# " + the a's + " b" fills a line exactly; the c's are longer than a line.
        let (a, c) = ("a".repeat(EXAMPLE_WIDTH - 4), "c".repeat(EXAMPLE_WIDTH + 1));
        let mut out = String::new();
        comment(&mut out, &format!("{a} b {c} d"));
        assert_eq!(out, format!("# {a} b\n# {c}\n# d\n"));
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
