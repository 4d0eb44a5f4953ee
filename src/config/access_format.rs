//! The grammar of `access_log_format`: gunicorn's `%(atom)s` syntax (Python's), compiled once
//! into the list of pieces a line is made of. The configuration checks a format with it; the
//! access log (`logging::access`) renders the compiled pieces for each request.
//!
//! Atoms (gunicorn's): `h` remote address, `l` `-`, `u` user name (HTTP Basic), `t` time,
//! `r` request line, `m` method, `U` path, `q` query, `H` protocol, `s` status, `b` body bytes
//! (`-` for none, as in Apache's common log format), `B` body bytes, `f` referer, `a` user agent,
//! `T` seconds, `M` milliseconds, `D` microseconds, `L` seconds as a decimal, `p` `<pid>`,
//! `{name}i` a request header, `{name}o` a response header, `{key}e` an environ variable.
//! `%%` is a percent sign. Anything else is an error, reported when the configuration is read.

/// Why an `access_log_format` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `%(x)s` with an `x` that is not an atom.
    #[error("unknown atom %({0})s (known: h l u t r m U q H s b B f a T M D L p, {{header}}i, {{header}}o, {{key}}e)")]
    UnknownAtom(String),
    /// `%(` without its closing `)`.
    #[error("unterminated %( at byte {0}")]
    Unterminated(usize),
    /// `%(x)` followed by something other than `s`.
    #[error("%({0}) must be followed by s, as in %({0})s")]
    Conversion(String),
    /// A `%` that starts neither `%(` nor `%%`.
    #[error("stray % at byte {0} (write %% for a percent sign)")]
    StrayPercent(usize),
}

/// One value a line can contain (the module docs give each atom's letter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// `h`.
    RemoteAddr,
    /// `l`.
    Ident,
    /// `u`.
    User,
    /// `t`.
    Time,
    /// `r`.
    RequestLine,
    /// `m`.
    Method,
    /// `U`.
    Path,
    /// `q`.
    Query,
    /// `H`.
    Protocol,
    /// `s`.
    Status,
    /// `b`.
    BytesClf,
    /// `B`.
    Bytes,
    /// `f`.
    Referer,
    /// `a`.
    UserAgent,
    /// `T`.
    Seconds,
    /// `M`.
    Millis,
    /// `D`.
    Micros,
    /// `L`.
    SecondsDecimal,
    /// `p`.
    Pid,
    /// A request header, by lower-case name.
    RequestHeader(Box<[u8]>),
    /// A response header, by lower-case name.
    ResponseHeader(Box<[u8]>),
    /// An environ variable: the index of its key in [`AccessFormat::environ_keys`].
    Environ(usize),
}

/// One piece of a line, as [`AccessFormat::pieces`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text written as it is.
    Literal(&'a [u8]),
    /// A value of the request.
    Atom(&'a Atom),
}

/// A piece as stored: literals are spans of [`AccessFormat::text`], so a compiled format is
/// one string and one list, whatever its length.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(usize, usize),
    Atom(Atom),
}

/// A compiled `access_log_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFormat {
    text: String,
    parts: Vec<Part>,
    environ_keys: Vec<String>,
    /// The format shows a duration (`T`, `M`, `D`, `L`): requests must be timed.
    timed: bool,
}

impl AccessFormat {
    /// Compiles `format`.
    pub fn parse(format: &str) -> Result<AccessFormat, FormatError> {
        let bytes = format.as_bytes();
        let mut parts = Vec::new();
        let mut environ_keys: Vec<String> = Vec::new();
        let mut lit_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                i += 1;
                continue;
            }
            if lit_start < i {
                parts.push(Part::Literal(lit_start, i));
            }
            match bytes.get(i + 1) {
                Some(b'%') => {
                    // Keep the second `%` as a one-byte literal.
                    parts.push(Part::Literal(i + 1, i + 2));
                    i += 2;
                }
                Some(b'(') => {
                    let close = format[i + 2..].find(')').ok_or(FormatError::Unterminated(i))? + i + 2;
                    let name = &format[i + 2..close];
                    if bytes.get(close + 1) != Some(&b's') {
                        return Err(FormatError::Conversion(name.to_owned()));
                    }
                    parts.push(Part::Atom(atom(name, &mut environ_keys)?));
                    i = close + 2;
                }
                _ => return Err(FormatError::StrayPercent(i)),
            }
            lit_start = i;
        }
        if lit_start < bytes.len() {
            parts.push(Part::Literal(lit_start, bytes.len()));
        }
        let timed = parts.iter().any(|p| {
            matches!(
                p,
                Part::Atom(Atom::Seconds | Atom::Millis | Atom::Micros | Atom::SecondsDecimal)
            )
        });
        Ok(AccessFormat {
            text: format.to_owned(),
            parts,
            environ_keys,
            timed,
        })
    }

    /// The pieces of a line, in order.
    pub fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        self.parts.iter().map(|part| match part {
            Part::Literal(a, b) => Piece::Literal(&self.text.as_bytes()[*a..*b]),
            Part::Atom(atom) => Piece::Atom(atom),
        })
    }

    /// Whether lines show how long the request took (so each request's start must be noted).
    pub fn timed(&self) -> bool {
        self.timed
    }

    /// The environ keys the format uses, lower case, in the order [`Atom::Environ`] counts them.
    pub fn environ_keys(&self) -> &[String] {
        &self.environ_keys
    }
}

fn atom(name: &str, environ_keys: &mut Vec<String>) -> Result<Atom, FormatError> {
    let simple = match name {
        "h" => Some(Atom::RemoteAddr),
        "l" => Some(Atom::Ident),
        "u" => Some(Atom::User),
        "t" => Some(Atom::Time),
        "r" => Some(Atom::RequestLine),
        "m" => Some(Atom::Method),
        "U" => Some(Atom::Path),
        "q" => Some(Atom::Query),
        "H" => Some(Atom::Protocol),
        "s" => Some(Atom::Status),
        "b" => Some(Atom::BytesClf),
        "B" => Some(Atom::Bytes),
        "f" => Some(Atom::Referer),
        "a" => Some(Atom::UserAgent),
        "T" => Some(Atom::Seconds),
        "M" => Some(Atom::Millis),
        "D" => Some(Atom::Micros),
        "L" => Some(Atom::SecondsDecimal),
        "p" => Some(Atom::Pid),
        _ => None,
    };
    if let Some(a) = simple {
        return Ok(a);
    }
    let unknown = || FormatError::UnknownAtom(name.to_owned());
    let inner = name.strip_prefix('{').ok_or_else(unknown)?;
    let (key, kind) = inner.rsplit_once('}').ok_or_else(unknown)?;
    if key.is_empty() || key.bytes().any(|b| b.is_ascii_control()) {
        return Err(unknown());
    }
    let lower = key.to_ascii_lowercase();
    match kind {
        "i" => Ok(Atom::RequestHeader(lower.into_bytes().into())),
        "o" => Ok(Atom::ResponseHeader(lower.into_bytes().into())),
        "e" => {
            let index = match environ_keys.iter().position(|k| *k == lower) {
                Some(i) => i,
                None => {
                    environ_keys.push(lower);
                    environ_keys.len() - 1
                }
            };
            Ok(Atom::Environ(index))
        }
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

    #[test]
    fn format_errors() {
        for (fmt, err) in [
            ("%(h)s %(zz)s", FormatError::UnknownAtom("zz".into())),
            ("%({x}z)s", FormatError::UnknownAtom("{x}z".into())),
            ("%({}i)s", FormatError::UnknownAtom("{}i".into())),
            ("%(h", FormatError::Unterminated(0)),
            ("%(h)d", FormatError::Conversion("h".into())),
            ("50% off", FormatError::StrayPercent(2)),
            ("end %", FormatError::StrayPercent(4)),
        ] {
            assert_eq!(AccessFormat::parse(fmt), Err(err), "{fmt}");
        }
        assert!(AccessFormat::parse(DEFAULT).is_ok());
        assert!(AccessFormat::parse("no atoms at all").is_ok());
    }

    #[test]
    fn pieces_literals_and_environ_keys() {
        let f = AccessFormat::parse("a %(s)s 100%% %({X-Y}e)s%({x-y}e)s %({Z}i)s").unwrap();
        let pieces: Vec<Piece<'_>> = f.pieces().collect();
        assert_eq!(
            pieces,
            [
                Piece::Literal(b"a "),
                Piece::Atom(&Atom::Status),
                Piece::Literal(b" 100"),
                Piece::Literal(b"%"),
                Piece::Literal(b" "),
                Piece::Atom(&Atom::Environ(0)),
                Piece::Atom(&Atom::Environ(0)),
                Piece::Literal(b" "),
                Piece::Atom(&Atom::RequestHeader(b"z".to_vec().into())),
            ]
        );
        assert_eq!(f.environ_keys(), ["x-y"]);
    }

    #[test]
    fn durations_make_a_format_timed() {
        assert!(!AccessFormat::parse(DEFAULT).unwrap().timed());
        for atom in ["T", "M", "D", "L"] {
            assert!(AccessFormat::parse(&format!("%({atom})s")).unwrap().timed(), "{atom}");
        }
    }
}
