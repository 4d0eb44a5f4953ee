//! Build script: with the `python` feature, links forkhorn so that it finds the libpython it
//! was built against without `LD_LIBRARY_PATH`, and records that interpreter for run time.

fn main() {
    #[cfg(feature = "python")]
    python();
}

/// Emits the libpython rpath and `FORKHORN_PYTHON` (the build interpreter, used as the
/// embedded interpreter's program name when no virtualenv is given, so that it finds the
/// standard library of the libpython it runs).
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
    if let Some(dir) = &config.lib_dir {
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
