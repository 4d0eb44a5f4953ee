//! Tests that need something this machine may lack (a tool such as `logrotate`, root, a user).
//!
//! libtest cannot mark a test ignored at run time, and it hides what a passing test prints, so
//! a test that returned early would pass silently. Instead such a test asks [`tool_or_skip`] or
//! [`met_or_skip`] first. Where the need is met they return true. Where it is not:
//! - under CI (the `CI` environment variable set, as CI runners and `.ci/run` do) they panic,
//!   because CI installs everything the tests need and a skip there would hide a gap;
//! - elsewhere they record the skip and return false (the test then returns), and when the test
//!   binary exits the skips are listed on stderr right under its `test result:` line, which no
//!   output capture hides.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once};

/// What was skipped in this test binary: (test, reason).
static SKIPS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Whether `program` is installed (on PATH). If not: see the module docs; `package` is the
/// Debian package that provides it, named in the message.
pub fn tool_or_skip(program: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    met_or_skip(found, &format!("{program} is not installed (Debian package {package})"))
}

/// `met`, for a need other than a tool; `missing` says what is missing when it is not met.
pub fn met_or_skip(met: bool, missing: &str) -> bool {
    if met {
        return true;
    }
    assert!(
        !under_ci(),
        "{missing}; under CI every test must run (.ci/run installs what the tests need)"
    );
    static REPORT: Once = Once::new();
    // SAFETY: atexit only stores the pointer to a function that takes and returns nothing.
    REPORT.call_once(|| assert_eq!(unsafe { libc::atexit(report_skips) }, 0, "atexit"));
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let skip = (test, missing.to_string());
    let mut skips = SKIPS.lock().unwrap();
    if !skips.contains(&skip) {
        skips.push(skip);
    }
    false
}

/// Whether this is a CI run: `CI` set to anything but empty, `0` or `false`.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Lists the skips on stderr when the process exits, after libtest's summary.
extern "C" fn report_skips() {
    // A panic cannot unwind out of an extern "C" function, so nothing here unwraps.
    let skips = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    let mut tests: Vec<&str> = skips.iter().map(|(test, _)| test.as_str()).collect();
    tests.sort_unstable();
    tests.dedup();
    let mut text = format!(
        "SKIPPED in {} of the tests above (each passed without running, or ran only its checks that \
         need none of this); under CI they fail instead:\n",
        tests.len()
    );
    for (test, missing) in skips.iter() {
        text.push_str(&format!("    {test}: {missing}\n"));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
