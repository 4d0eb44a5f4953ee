//! Writes the forkhorn(1) manual page, in roff, to stdout: generated from the command line's
//! clap definition, so the page always matches `forkhorn --help`. Used by
//! `packaging/debian/build.sh`; an example (with clap_mangen as a dev-dependency) rather than a
//! hidden flag or a build script, so neither the CLI nor ordinary builds carry it.

fn main() -> std::io::Result<()> {
    let man = clap_mangen::Man::new(forkhorn::cli::Cli::command()).section("1");
    let mut out = std::io::stdout().lock();
    man.render(&mut out)
}
