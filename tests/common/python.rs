//! Test support for the Python bridge: the test apps' directory and a virtualenv with the
//! pinned frameworks (`tests/python/requirements.txt`), created once by whichever test binary
//! needs it first (a file lock keeps parallel binaries from racing) and reused afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/python`: the test apps.
pub fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("python")
}

/// The interpreter forkhorn was built against (its venvs must use the same libpython).
pub fn build_python() -> &'static str {
    env!("FORKHORN_PYTHON")
}

/// The test virtualenv with Flask and Django, created on first use.
pub fn venv() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(tmp).expect("create target tmp dir");
    let venv = tmp.join("test-venv");
    let requirements = apps_dir().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("read requirements.txt");
    let stamp = venv.join("forkhorn-requirements.txt");
    let lock = std::fs::File::create(tmp.join("test-venv.lock")).expect("create venv lock");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).expect("lock the test venv");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return venv;
    }
    // The stamp, written last, marks a finished venv: a failed install is rebuilt from scratch.
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new(build_python()).args(["-m", "venv"]).arg(&venv));
    run(Command::new(venv.join("bin").join("python"))
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r"])
        .arg(&requirements));
    std::fs::write(&stamp, &wanted).expect("write venv stamp");
    venv
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
