//! Build script: with the `python` feature, links forkhorn so that it finds the libpython it
//! was built against without `LD_LIBRARY_PATH` (an rpath, unless that libpython is in a
//! directory the loader searches anyway), and records that interpreter for run time.

fn main() {
    #[cfg(feature = "python")]
    python();
}

/// Emits the libpython rpath (none for a system libpython: see `is_system_lib_dir`) and
/// `FORKHORN_PYTHON` (the build interpreter, used as the embedded interpreter's program name
/// when no virtualenv is given, so that it finds the standard library of the libpython it runs).
#[cfg(feature = "python")]
fn python() {
    let config = pyo3_build_config::get();
    if !config.shared {
        panic!(
            "the `python` feature embeds CPython and needs a shared libpython (Python built with \
             --enable-shared); {} has none. Point PYO3_PYTHON at a shared build, or build with \
             --no-default-features to leave Python support out.",
            config.executable.as_deref().unwrap_or("the build interpreter")
        );
    }
    // pyo3-build-config 0.27 has no helper for this (add_libpython_rpath_link_args came later).
    if let Some(dir) = config.lib_dir.as_deref().filter(|dir| !is_system_lib_dir(dir)) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    if let Some(exe) = &config.executable {
        println!("cargo:rustc-env=FORKHORN_PYTHON={exe}");
    }
    println!(
        "cargo:rustc-env=FORKHORN_PYTHON_VERSION={}.{}",
        config.version.major, config.version.minor
    );
}

/// Whether the dynamic loader searches `dir` without being told: `/lib`, `/usr/lib`, their
/// `64` variants and the multiarch directories below them (`/usr/lib/x86_64-linux-gnu`). An
/// rpath there adds nothing, and a Debian package must carry none (the packaged binary is built
/// against Debian's libpython, which lives there).
#[cfg(feature = "python")]
fn is_system_lib_dir(dir: &str) -> bool {
    use std::path::Path;
    let standard = |d: &Path| {
        ["/lib", "/usr/lib", "/lib64", "/usr/lib64"]
            .iter()
            .any(|s| d == Path::new(s))
    };
    let dir = Path::new(dir);
    let multiarch = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("-linux-"));
    standard(dir) || (multiarch && dir.parent().is_some_and(standard))
}
