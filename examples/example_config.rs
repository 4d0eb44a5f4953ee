//! Writes the example configuration, `etc/forkhorn.toml`, to stdout: generated from the table of
//! settings, as a unit test checks. Regenerate the file after changing the table with
//! `cargo run --example example_config > etc/forkhorn.toml`.

use std::io::Write;

fn main() -> std::io::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(forkhorn::config::example_toml().as_bytes())
}
