//! Serving the application under a URL prefix: gunicorn's `SCRIPT_NAME`, read from the
//! environment (where `raw_env` also puts it) once when a worker starts, or per request from a
//! trusted proxy's `SCRIPT_NAME` header (which the worker puts in the environ: see
//! `forwarder_headers`), and split off the front of each request's `PATH_INFO`.

use super::{AppError, Application, Body, Environ, StartResponse};
use crate::http::uri::percent_decoded;

/// The prefix the application is mounted under: never empty, never ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptName(String);

/// Why a request could not be handed to a mounted application.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The request's path is outside the prefix. gunicorn answers it with a 500 too (its
    /// "Configuration problem"): a proxy that sends such requests is misconfigured.
    #[error("request path {path:?} does not start with SCRIPT_NAME {script_name:?}")]
    StripScriptName {
        /// The request's `PATH_INFO`.
        path: String,
        /// The prefix.
        script_name: String,
    },
}

impl ScriptName {
    /// The prefix `value` names: trailing `/`s are dropped (CGI's SCRIPT_NAME never ends in
    /// one, and `/app/` must still serve `/app`), and an empty prefix or `/` means none. The
    /// value is taken in the form PATH_INFO has, so that the two compare: `%XX` escapes
    /// decoded, and the bytes read as latin-1 (PEP 3333's native strings).
    pub fn new(value: &str) -> Option<ScriptName> {
        let decoded: String = percent_decoded(value.as_bytes()).map(char::from).collect();
        let prefix = decoded.trim_end_matches('/');
        (!prefix.is_empty()).then(|| ScriptName(prefix.to_owned()))
    }

    /// The prefix set by the `SCRIPT_NAME` environment variable, if any.
    pub fn from_env() -> Option<ScriptName> {
        std::env::var("SCRIPT_NAME").ok().and_then(|v| ScriptName::new(&v))
    }

    /// The prefix as it appears in `SCRIPT_NAME`.
    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many bytes at the front of `path` (a percent-decoded `PATH_INFO`) are the prefix, or
    /// None when the path is outside it. Unlike gunicorn's plain string test, the prefix must
    /// end at a segment boundary: under `/app`, `/apple` is outside rather than PATH_INFO `le`.
    pub fn strip(&self, path: &str) -> Option<usize> {
        let rest = path.strip_prefix(self.0.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(self.0.len())
    }
}

/// An application served under a [`ScriptName`]: `SCRIPT_NAME` is the prefix and `PATH_INFO`
/// what follows it; a request outside the prefix is an error (a 500), and the application is
/// not called. The prefix is the request's own when the environ arrives with a `SCRIPT_NAME`
/// (a trusted proxy's header, as gunicorn takes it), else the environment's, if any.
pub struct Mounted {
    app: Box<dyn Application>,
    script_name: Option<ScriptName>,
}

impl Mounted {
    /// `app` served under `script_name`, or under each request's own prefix only.
    pub fn new(app: Box<dyn Application>, script_name: Option<ScriptName>) -> Mounted {
        Mounted { app, script_name }
    }
}

/// `app` mounted under the prefix the environment's `SCRIPT_NAME` gives and, with `forwarded`
/// (a `SCRIPT_NAME` header is among `forwarder_headers`), under a trusted proxy's per request;
/// `app` itself when neither can happen, so that such an app costs nothing per request.
pub fn mount(app: Box<dyn Application>, forwarded: bool) -> Box<dyn Application> {
    match ScriptName::from_env() {
        None if !forwarded => app,
        script_name => Box::new(Mounted::new(app, script_name)),
    }
}

impl Application for Mounted {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        // The worker sets SCRIPT_NAME to '' unless a trusted proxy sent one.
        let forwarded = environ
            .get("SCRIPT_NAME")
            .filter(|v| !v.is_empty())
            .map(ScriptName::new);
        let script_name = match &forwarded {
            Some(from_proxy) => from_proxy.as_ref(),
            None => self.script_name.as_ref(),
        };
        let Some(script_name) = script_name else {
            // A proxy's `/`: no prefix, whatever the environment says.
            if forwarded.is_some() {
                environ.replace("SCRIPT_NAME", "");
            }
            return self.app.call(environ, sr);
        };
        let path = environ.get("PATH_INFO").unwrap_or_default();
        let Some(n) = script_name.strip(path) else {
            return Err(MountError::StripScriptName {
                path: path.to_owned(),
                script_name: script_name.0.clone(),
            }
            .into());
        };
        environ.trim_start("PATH_INFO", n);
        environ.replace("SCRIPT_NAME", &script_name.0);
        self.app.call(environ, sr)
    }

    fn reentrant(&self) -> bool {
        self.app.reentrant()
    }

    fn pause_for_wait(&self) -> Option<Box<dyn std::any::Any>> {
        self.app.pause_for_wait()
    }

    fn may_wait(&self) -> bool {
        self.app.may_wait()
    }

    fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        self.app.enter_thread()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::Response;
    use crate::http::response::Stamp;

    #[test]
    fn prefixes() {
        // (SCRIPT_NAME, the prefix kept)
        for (value, want) in [
            ("", None),
            ("/", None),
            ("//", None),
            ("/app", Some("/app")),
            ("/app/", Some("/app")),
            ("/a/b", Some("/a/b")),
            ("/my%20app", Some("/my app")),
            ("/caf\u{e9}", Some("/caf\u{c3}\u{a9}")),
            ("/caf%C3%A9/", Some("/caf\u{c3}\u{a9}")),
            ("/app%2F", Some("/app")),
        ] {
            assert_eq!(
                ScriptName::new(value).as_ref().map(ScriptName::as_str),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn strip_table() {
        let app = ScriptName::new("/app").unwrap();
        // (PATH_INFO, bytes of prefix, or None: outside)
        for (path, want) in [
            ("/app/x", Some(4)),
            ("/app", Some(4)),
            ("/app/", Some(4)),
            ("/app/a/b?c", Some(4)),
            ("/apple", None),
            ("/ap", None),
            ("/", None),
            ("", None),
            ("/other/app/x", None),
            ("/APP/x", None),
        ] {
            assert_eq!(app.strip(path), want, "{path:?}");
        }
        let nested = ScriptName::new("/a/b/").unwrap();
        assert_eq!(nested.strip("/a/b/c"), Some(4));
        assert_eq!(nested.strip("/a/bc"), None);
    }

    fn call(app: &Mounted, path: &str) -> (Result<(), String>, Option<String>, Option<String>) {
        call_with(app, "", path)
    }

    /// [`Mounted::call`] with the environ's SCRIPT_NAME as the worker leaves it: `forwarded`
    /// is what a trusted proxy sent, or ''.
    fn call_with(app: &Mounted, forwarded: &str, path: &str) -> (Result<(), String>, Option<String>, Option<String>) {
        let mut env = Environ::new();
        env.set("SCRIPT_NAME", forwarded);
        env.set("PATH_INFO", path);
        let mut resp = Response::default();
        let mut out = Vec::new();
        let stamp = Stamp {
            date: "Thu, 01 Jan 1970 00:00:00 GMT",
            server: "",
        };
        let mut sr = StartResponse::new(&mut resp, &mut out, stamp);
        let r = app.call(&mut env, &mut sr).map(|_| ()).map_err(|e| e.to_string());
        (
            r,
            env.get("SCRIPT_NAME").map(str::to_owned),
            env.get("PATH_INFO").map(str::to_owned),
        )
    }

    #[test]
    fn mounted_apps_see_the_split_path() {
        let inner: Box<dyn Application> = Box::new(
            |env: &mut Environ, _: &mut StartResponse<'_>| -> Result<Body, AppError> {
                assert_eq!(env.iter().filter(|(k, _)| *k == "SCRIPT_NAME").count(), 1);
                Ok(Body::Empty)
            },
        );
        let app = Mounted::new(inner, ScriptName::new("/app"));
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(call(&app, "/app/x"), (Ok(()), some("/app"), some("/x")));
        assert_eq!(call(&app, "/app"), (Ok(()), some("/app"), some("")));
        let (r, script_name, path) = call(&app, "/elsewhere");
        assert_eq!(
            r.unwrap_err(),
            "request path \"/elsewhere\" does not start with SCRIPT_NAME \"/app\""
        );
        assert_eq!((script_name, path), (some(""), some("/elsewhere")));
    }

    #[test]
    fn a_trusted_proxys_prefix_wins_over_the_environments() {
        let inner = || -> Box<dyn Application> {
            Box::new(
                |env: &mut Environ, _: &mut StartResponse<'_>| -> Result<Body, AppError> {
                    assert_eq!(env.iter().filter(|(k, _)| *k == "SCRIPT_NAME").count(), 1);
                    Ok(Body::Empty)
                },
            )
        };
        let some = |s: &str| Some(s.to_owned());
        for app in [
            Mounted::new(inner(), ScriptName::new("/env")),
            Mounted::new(inner(), None),
        ] {
            assert_eq!(call_with(&app, "/api", "/api/x"), (Ok(()), some("/api"), some("/x")));
            assert_eq!(call_with(&app, "/api/", "/api"), (Ok(()), some("/api"), some("")));
            let (r, _, _) = call_with(&app, "/api", "/env/x");
            assert_eq!(
                r.unwrap_err(),
                "request path \"/env/x\" does not start with SCRIPT_NAME \"/api\""
            );
            // `/` from the proxy: no prefix.
            assert_eq!(call_with(&app, "/", "/env/x"), (Ok(()), some(""), some("/env/x")));
        }
        // Without a header, the environment's prefix, or none.
        let app = Mounted::new(inner(), None);
        assert_eq!(call(&app, "/x"), (Ok(()), some(""), some("/x")));
    }
}
