//! The control socket's listening end in the master: created safely at `control_socket`,
//! permission-checked twice (the file's mode, then each client's uid with SO_PEERCRED), and
//! framed into request lines for the master to answer.

use super::clients::{Clients, Received};
use super::protocol::{self, ProtocolError, Request, MAX_LINE};
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use nix::sys::socket::sockopt::PeerCredentials;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Something other than a socket is at the path; forkhorn will not delete it.
    #[error("control socket {}: the path exists and is not a socket", .0.display())]
    PathTaken(PathBuf),
    /// A running server answers on the path.
    #[error("control socket {}: another server is listening there", .0.display())]
    InUse(PathBuf),
    /// A stale socket file could not be removed.
    #[error("control socket {}: cannot remove the stale socket: {source}", path.display())]
    RemoveStale {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// bind or listen failed.
    #[error("control socket {}: {source}", path.display())]
    Bind {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The listener could not be polled.
    #[error("control socket: cannot register: {0}")]
    Register(io::Error),
}

/// The listening control socket and its clients.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    token: Token,
    path: PathBuf,
    /// The socket file's identity, so that only this one is removed at exit.
    dev: u64,
    ino: u64,
    clients: Clients<UnixStream>,
    /// Removing the file at drop is someone else's job (an upgraded master serves it now).
    disowned: bool,
}

/// A request, or a refused line, from client `key`.
pub type Incoming = (usize, Result<Request, ProtocolError>);

impl ControlSocket {
    /// Listens at `path` with file mode `mode`, polled by `registry` as `token` (its clients
    /// take the tokens right after it). A socket file nobody answers on is replaced; with
    /// `take_over` (a binary upgrade, whose old master still listens there) a live one too.
    pub fn bind(
        path: &Path,
        mode: u32,
        take_over: bool,
        registry: &Registry,
        token: Token,
    ) -> Result<ControlSocket, ControlError> {
        clear_path(path, take_over)?;
        let err = |source| ControlError::Bind {
            path: path.to_owned(),
            source,
        };
        // bind(2) creates the file with the process umask applied to 0777, and never follows
        // a symbolic link there (an existing entry fails it with EADDRINUSE): a umask of the
        // mode's complement gives the file its mode from the start, with no chmod by path
        // to race with. The master is single-threaded here, so no other file is created under
        // this umask.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o777 & !mode));
        let bound = UnixListener::bind(path);
        nix::sys::stat::umask(old);
        let mut listener = bound.map_err(err)?;
        let meta = std::fs::symlink_metadata(path).map_err(err)?;
        registry
            .register(&mut listener, token, Interest::READABLE)
            .map_err(ControlError::Register)?;
        log::info!("Control socket at {}", path.display());
        Ok(ControlSocket {
            listener,
            token,
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
            clients: Clients::new(token.0),
            disowned: false,
        })
    }

    /// Whether `token` is this socket's or one of its clients'.
    pub fn owns(&self, token: Token) -> bool {
        token == self.token || self.clients.key(token).is_some()
    }

    /// Handles an event for `token`: accepts on the listener, or reads and frames a client's
    /// lines (and sends what waits). Returns the requests to answer, in order, and whether the
    /// client is done sending (its connection ends after the last answer).
    pub fn ready(&mut self, registry: &Registry, token: Token) -> (Vec<Incoming>, bool) {
        if token == self.token {
            self.accept(registry);
            return (Vec::new(), false);
        }
        let Some(key) = self.clients.key(token) else {
            return (Vec::new(), false);
        };
        self.clients.flush(registry, key);
        let mut out = Vec::new();
        // A line and its newline fit in the buffer; a fuller buffer without one is refused.
        let received = loop {
            let received = self.clients.read(key, MAX_LINE + 1);
            let Some(c) = self.clients.get_mut(key) else {
                return (out, true);
            };
            while let Some(end) = c.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = c.input.drain(..=end).collect();
                out.push((key, protocol::parse(&line[..end])));
            }
            if received != Received::Full {
                break received;
            }
            if c.input.len() > MAX_LINE {
                // No newline within the limit: answer that, and read nothing more from it.
                c.input.clear();
                out.push((key, Err(ProtocolError::ReadLine)));
                break received;
            }
        };
        let gone = received == Received::Gone;
        if gone && out.is_empty() {
            self.clients.remove(registry, key);
        }
        (out, gone)
    }

    /// Sends `line` to client `key`; with `then_close`, the connection ends once it is sent.
    pub fn answer(&mut self, registry: &Registry, key: usize, line: &[u8], then_close: bool) {
        self.clients.send(registry, key, line, then_close);
    }

    /// Drops idle clients.
    pub fn sweep(&mut self, registry: &Registry) {
        self.clients.sweep(registry, std::time::Instant::now());
    }

    /// Leaves the socket file in place at drop (an upgraded master serves it).
    pub fn disown(&mut self) {
        self.disowned = true;
    }

    fn accept(&mut self, registry: &Registry) {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: drained. Anything else (EMFILE, ...) is retried on the next
                // event rather than spun on.
                Err(_) => return,
            };
            if let Err(refusal) = admit(&stream) {
                log::warn!("control socket: {refusal}");
                let _ = io::Write::write(&mut &stream, &protocol::reply(Err(refusal)));
                continue;
            }
            if !self.clients.has_room() {
                let _ = io::Write::write(&mut &stream, &protocol::reply(Err("too many clients".into())));
                continue;
            }
            if self.clients.add(registry, stream).is_err() {
                continue;
            }
        }
    }
}

/// Lets in root and the master's own user; anyone else is refused (the file's mode may have
/// let them connect).
fn admit(stream: &UnixStream) -> Result<(), String> {
    let cred = nix::sys::socket::getsockopt(stream, PeerCredentials)
        .map_err(|e| format!("cannot read a client's credentials: {e}"))?;
    let me = nix::unistd::geteuid().as_raw();
    if cred.uid() == 0 || cred.uid() == me {
        Ok(())
    } else {
        Err(format!(
            "refused a client of uid {} (pid {}): only uid {me} and root may control this server",
            cred.uid(),
            cred.pid()
        ))
    }
}

/// Makes `path` free for bind: nothing there, or a socket file that nobody answers on (or,
/// with `take_over`, any socket file). lstat(2), so a symbolic link is never followed or
/// removed.
fn clear_path(path: &Path, take_over: bool) -> Result<(), ControlError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::PathTaken(path.to_owned()));
    }
    if !take_over && std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ControlError::InUse(path.to_owned()));
    }
    std::fs::remove_file(path).map_err(|source| ControlError::RemoveStale {
        path: path.to_owned(),
        source,
    })
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        if self.disowned {
            return;
        }
        // Only the file this socket made: another master may have replaced it since.
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_or_a_file_is_not() {
        let dir = std::env::temp_dir().join(format!("forkhorn-ctl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.ctl");
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(matches!(clear_path(&path, false), Err(ControlError::InUse(_))));
        drop(live);
        clear_path(&path, false).unwrap();
        assert!(!path.exists());
        std::fs::write(&path, b"x").unwrap();
        assert!(matches!(clear_path(&path, true), Err(ControlError::PathTaken(_))));
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
        assert!(matches!(clear_path(&path, true), Err(ControlError::PathTaken(_))));
        assert!(std::path::Path::new("/etc/passwd").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
