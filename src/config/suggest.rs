//! "Did you mean ...?": the valid name nearest to a misspelt key, by edit distance.

/// Levenshtein distance in characters: insertions, deletions and substitutions each cost one.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // One row of the classic table: prev[j] is the distance between the prefix of `a` seen so
    // far and b[..j].
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// The candidate nearest to `key`, if it is close enough to be a likely typo: within two edits,
/// or a third of the key's length for long keys. Case and `-` versus `_` are not counted, so
/// `graceful-timeout` finds `graceful_timeout`.
pub(crate) fn nearest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normal = |s: &str| s.to_lowercase().replace('-', "_");
    let key = normal(key);
    let limit = (key.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (levenshtein(&key, &normal(c)), c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= limit)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let cases = [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("workres", "workers", 2),
            ("timout", "timeout", 1),
            ("flaw", "lawn", 2),
            ("ünï", "uni", 2),
        ];
        for (a, b, want) in cases {
            assert_eq!(levenshtein(a, b), want, "{a} / {b}");
            assert_eq!(levenshtein(b, a), want, "{b} / {a}");
        }
    }

    #[test]
    fn suggestions() {
        let names = [
            "bind",
            "workers",
            "timeout",
            "keepalive",
            "graceful_timeout",
            "limit_request_fields",
        ];
        let cases = [
            ("workres", Some("workers")),
            ("worker", Some("workers")),
            ("WORKERS", Some("workers")),
            ("timout", Some("timeout")),
            ("keep_alive", Some("keepalive")),
            ("graceful-timeout", Some("graceful_timeout")),
            ("limit_request_field", Some("limit_request_fields")),
            ("bnd", Some("bind")),
            ("x", None),
            ("daemon", None),
            ("pidfile", None),
        ];
        for (key, want) in cases {
            assert_eq!(nearest(key, names), want, "{key}");
        }
    }
}
