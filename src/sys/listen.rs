//! Binding the configured addresses into listening sockets (TCP v4/v6, Unix, inherited fds).

use crate::config::BindAddr;
use socket2::{Domain, Socket, Type};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// Why a listening socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// socket/bind/listen failed for a TCP address.
    #[error("cannot listen on {addr}: {source}")]
    BindTcp {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// bind/listen failed for a Unix socket path.
    #[error("cannot listen on unix:{}: {source}", path.display())]
    BindUnix {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The path exists and is not a socket; forkhorn will not delete it.
    #[error("cannot listen on unix:{}: the path exists and is not a socket", .0.display())]
    UnixPathTaken(PathBuf),
    /// `fd://N` does not name a listening stream socket.
    #[error("fd://{fd} is not a usable listening socket: {source}")]
    InheritFd {
        /// The descriptor.
        fd: RawFd,
        /// Why.
        source: io::Error,
    },
}

/// A bound, listening, non-blocking socket. A Unix socket file this process created is removed
/// when the listener is dropped, if it is still there (unless [`Listener::disown`] handed it to
/// another process).
#[derive(Debug)]
pub struct Listener {
    /// The socket.
    pub kind: ListenerKind,
    /// The configured address this socket serves.
    pub addr: BindAddr,
    /// Set for a Unix socket this process created, so it removes the file at exit.
    socket_file: Option<SocketFile>,
    /// `reuse_port`: this socket only reserves the address (bound, not listening); each worker
    /// listens on a socket of its own bound to the same address ([`Listener::worker_socket`]).
    pub per_worker: bool,
}

/// The two socket families forkhorn serves.
#[derive(Debug)]
pub enum ListenerKind {
    /// TCP, v4 or v6.
    Tcp(TcpListener),
    /// A Unix stream socket.
    Unix(UnixListener),
}

/// The socket file a Unix listener bound: its path, and the inode the bind created there.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// The socket file now at `path`, just bound; `None` (never removed) if it cannot be seen.
    fn bound_at(path: &Path) -> Option<SocketFile> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(SocketFile {
            path: path.to_owned(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// Removes the file if it is still the one bound here. Another server may since have taken
    /// the path over (a socket file looks stale to it), and the file there is then its own.
    fn remove(self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if ours {
            // unlink(2) removes the entry itself, never what a link there points to.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Listener {
    /// The descriptor.
    pub fn raw_fd(&self) -> RawFd {
        match &self.kind {
            ListenerKind::Tcp(l) => l.as_raw_fd(),
            ListenerKind::Unix(l) => l.as_raw_fd(),
        }
    }

    /// The connections waiting in this socket's accept queue: Linux's `tcpi_unacked` of a
    /// listening TCP socket, which gunicorn's `enable_backlog_metric` reads too. `None` for a
    /// Unix socket, or when TCP_INFO cannot be read.
    pub fn accept_queue(&self) -> Option<u32> {
        match &self.kind {
            ListenerKind::Tcp(_) => self.queue().and_then(|q| u32::try_from(q.depth).ok()),
            ListenerKind::Unix(_) => None,
        }
    }

    /// This socket's accept queue and its limit, TCP or Unix ([`super::queue`]); `None` for a
    /// `reuse_port` socket, which only holds the address (each worker listens on its own), or
    /// when the kernel does not say.
    pub fn queue(&self) -> Option<super::queue::Queue> {
        match &self.kind {
            _ if self.per_worker => None,
            ListenerKind::Tcp(l) => super::queue::tcp(l.as_fd()),
            ListenerKind::Unix(l) => super::queue::unix(l.as_raw_fd()),
        }
    }

    /// The local TCP address, for SERVER_NAME/SERVER_PORT.
    pub fn local_tcp(&self) -> Option<SocketAddr> {
        match &self.kind {
            ListenerKind::Tcp(l) => l.local_addr().ok(),
            ListenerKind::Unix(_) => None,
        }
    }

    /// Leaves the socket file in place at drop: another process (an upgraded master) serves it.
    pub fn disown(&mut self) {
        self.socket_file = None;
    }

    /// Clears close-on-exec, so an exec'd process inherits the socket.
    pub fn inherit_across_exec(&self) -> io::Result<()> {
        nix::fcntl::fcntl(self, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))
            .map(|_| ())
            .map_err(io::Error::from)
    }

    /// Whether this (inherited) socket can serve the configured `want`: same family and
    /// address, and the same port unless `want` asks for any port.
    fn serves(&self, want: &BindAddr) -> bool {
        match (&self.kind, want) {
            (ListenerKind::Tcp(l), BindAddr::Tcp(sa)) => l
                .local_addr()
                .map(|a| a.ip() == sa.ip() && (sa.port() == 0 || a.port() == sa.port()))
                .unwrap_or(false),
            (ListenerKind::Unix(l), BindAddr::Unix(path)) => l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p == path))
                .unwrap_or(false),
            // service: `fd://N` (and socket activation, which becomes fd://3...) is the inherited
            // descriptor N itself; adopting it twice would close it when the spare copy drops.
            (_, BindAddr::Fd(fd)) => self.raw_fd() == *fd,
            _ => false,
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            ListenerKind::Tcp(l) => l.as_fd(),
            ListenerKind::Unix(l) => l.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(file) = self.socket_file.take() {
            file.remove();
        }
    }
}

/// The environment variable through which an upgrading master passes its listening sockets to
/// the new binary: a comma-separated list of descriptor numbers.
pub const INHERIT_ENV: &str = "FORKHORN_LISTEN_FDS";

/// Adopts the sockets an upgrading master passed in [`INHERIT_ENV`] (and removes the variable,
/// so workers and application subprocesses do not see it).
pub fn take_inherited() -> Vec<Listener> {
    let Some(list) = std::env::var_os(INHERIT_ENV) else {
        return Vec::new();
    };
    // SAFETY: this runs as the master starts, before it preloads the app (whose import may
    // start threads), and the master starts no thread of its own, so no other thread reads the
    // environment: `forkhorn` runs it first thing, and `forkhorn::serve` asks to be called
    // before the program starts threads of its own.
    unsafe { std::env::remove_var(INHERIT_ENV) };
    list.to_string_lossy()
        .split(',')
        .filter_map(|n| n.trim().parse::<RawFd>().ok())
        .filter_map(|fd| match inherit(fd) {
            Ok(l) => Some(l),
            Err(e) => {
                log::warn!("ignoring inherited descriptor: {e}");
                None
            }
        })
        .collect()
}

impl fmt::Display for Listener {
    /// `http://127.0.0.1:8000`, `http://[::1]:8000` or `unix:/run/app.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ListenerKind::Tcp(l) => match l.local_addr() {
                Ok(a) => write!(f, "http://{a}"),
                Err(_) => f.write_str("http://?"),
            },
            ListenerKind::Unix(l) => match l.local_addr().ok().and_then(|a| a.as_pathname().map(Path::to_path_buf)) {
                Some(p) => write!(f, "unix:{}", p.display()),
                None => f.write_str("unix:?"),
            },
        }
    }
}

/// How sockets are bound.
#[derive(Clone, Copy, Debug)]
pub struct BindOptions<'a> {
    /// listen(2) backlog.
    pub backlog: i32,
    /// One SO_REUSEPORT socket per worker for TCP addresses.
    pub reuse_port: bool,
    /// TCP_DEFER_ACCEPT on TCP listeners (the `defer_accept` setting).
    pub defer_accept: bool,
    /// Every address of the configuration, of which those bound now are a part (a reload binds
    /// only the new ones): see [`v6_only`].
    pub all: &'a [BindAddr],
    /// The mode of a Unix socket file: gunicorn's, `0o777` less the `umask` setting (so 0777 by
    /// default, as open to local users as a port on loopback), so that a web server running as
    /// another user can connect.
    pub unix_mode: u32,
    /// Who owns a Unix socket file: the workers' user and group when they are set, as gunicorn
    /// gives it to them (a web server in the group can then connect to a `umask = 0o007` socket).
    pub unix_owner: super::privileges::Owner,
    /// Tries at binding a TCP address that is in use (or not yet available), a second apart:
    /// gunicorn's five at start-up, so that a restart whose old process still holds the port
    /// for a moment (a systemd restart, a container replaced) gets it; 1 where blocking the
    /// master would stall a running server (a reload).
    pub attempts: u32,
}

/// Whether the IPv6 socket for `sa` is IPv6-only. The IPv6 wildcard (`[::]:PORT`) takes IPv4
/// connections too, as gunicorn leaves it (the system's default, `net.ipv6.bindv6only` = 0),
/// unless the configuration also binds IPv4 on that port (`0.0.0.0:PORT` and `[::]:PORT`, as
/// nginx configurations do), which a dual-stack socket would keep from binding. A specific IPv6
/// address is IPv6-only either way.
fn v6_only(sa: SocketAddr, all: &[BindAddr]) -> bool {
    sa.is_ipv6()
        && sa.port() != 0
        && all
            .iter()
            .any(|a| matches!(a, BindAddr::Tcp(other) if other.is_ipv4() && other.port() == sa.port()))
}

/// Binds every address, using a matching socket from `inherited` instead of binding where one
/// serves it; on any failure, nothing this call bound stays bound (sockets close and Unix
/// socket files are removed as the listeners drop).
pub fn bind_all(
    addrs: &[BindAddr],
    opts: BindOptions,
    inherited: &mut Vec<Listener>,
) -> Result<Vec<Listener>, ListenError> {
    let mut out: Vec<Listener> = Vec::with_capacity(addrs.len());
    for addr in addrs {
        if let Some(i) = inherited.iter().position(|l| l.serves(addr)) {
            let mut l = inherited.swap_remove(i);
            l.addr = addr.clone();
            out.push(l);
            continue;
        }
        out.push(bind_one(addr, opts)?);
    }
    for l in &out {
        // Inherited sockets too: a reload or an upgrade applies the setting as it is now. A
        // failure (which a TCP socket does not have) leaves a listener that only wakes earlier.
        if let ListenerKind::Tcp(t) = &l.kind {
            if let Err(e) = set_defer_accept(t, opts.defer_accept) {
                log::warn!("cannot set TCP_DEFER_ACCEPT on {}: {e}", l.addr);
            }
        }
    }
    Ok(out)
}

/// Sets or clears TCP_DEFER_ACCEPT on a TCP listener: with it, the kernel queues a connection
/// for accept(2) only once data has arrived, or once it has retried the handshake for the
/// second asked for here (a client that sends nothing is still accepted, later).
pub fn set_defer_accept(sock: &impl std::os::fd::AsRawFd, on: bool) -> io::Result<()> {
    let secs = libc::c_int::from(on);
    // SAFETY: setsockopt reads an int of the size given from a live local; the descriptor is
    // only a number to it.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn tcp_socket(sa: SocketAddr, reuse_port: bool, only_v6: bool) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM.cloexec(), None)?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    if sa.is_ipv6() {
        // Set either way: the system's default (bindv6only) is not the configuration's.
        sock.set_only_v6(only_v6)?;
    }
    sock.bind(&sa.into())?;
    Ok(sock)
}

impl Listener {
    /// For a `reuse_port` listener: a listening socket of the worker's own on the same address,
    /// which the kernel balances connections across. Workers call it after fork.
    pub fn worker_socket(&self, backlog: i32, defer_accept: bool) -> io::Result<TcpListener> {
        let (local, only_v6) = match &self.kind {
            ListenerKind::Tcp(l) => {
                let local = l.local_addr()?;
                (local, local.is_ipv6() && socket2::SockRef::from(l).only_v6()?)
            }
            ListenerKind::Unix(_) => return Err(io::Error::other("reuse_port applies to TCP only")),
        };
        // The group's sockets take the same addresses as the master's.
        let sock = tcp_socket(local, true, only_v6)?;
        set_defer_accept(&sock, defer_accept)?;
        sock.listen(backlog)?;
        sock.set_nonblocking(true)?;
        Ok(sock.into())
    }
}

/// Binds a TCP address, trying again a second later while it is in use, as gunicorn does
/// (with its log lines), up to `opts.attempts` tries.
fn bind_tcp(sa: SocketAddr, opts: BindOptions<'_>) -> io::Result<Socket> {
    let mut tried = 1;
    loop {
        match tcp_socket(sa, opts.reuse_port, v6_only(sa, opts.all)) {
            Err(e)
                if tried < opts.attempts
                    && matches!(e.raw_os_error(), Some(libc::EADDRINUSE | libc::EADDRNOTAVAIL)) =>
            {
                match e.raw_os_error() {
                    Some(libc::EADDRINUSE) => log::error!("Connection in use: {sa}"),
                    _ => log::error!("Invalid address: {sa}"),
                }
                log::error!("connection to {sa} failed: {e}");
                log::debug!("Retrying in 1 second.");
                // Start-up only: nothing is served yet, and signals wait in the signalfd.
                std::thread::sleep(std::time::Duration::from_secs(1));
                tried += 1;
            }
            other => return other,
        }
    }
}

fn bind_one(addr: &BindAddr, opts: BindOptions<'_>) -> Result<Listener, ListenError> {
    let backlog = opts.backlog;
    match addr {
        BindAddr::Tcp(sa) => {
            let err = |source| ListenError::BindTcp { addr: *sa, source };
            let sock = bind_tcp(*sa, opts).map_err(err)?;
            // With reuse_port the master's socket only holds the address: a listening socket of
            // its own would get a share of the connections that no one accepts.
            if !opts.reuse_port {
                sock.listen(backlog).map_err(err)?;
            }
            sock.set_nonblocking(true).map_err(err)?;
            Ok(Listener {
                kind: ListenerKind::Tcp(sock.into()),
                addr: addr.clone(),
                socket_file: None,
                per_worker: opts.reuse_port,
            })
        }
        BindAddr::Unix(path) => {
            let err = |source| ListenError::BindUnix {
                path: path.clone(),
                source,
            };
            remove_stale_socket(path)?;
            let sock = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(err)?;
            sock.bind(&socket2::SockAddr::unix(path).map_err(err)?).map_err(err)?;
            let file = SocketFile::bound_at(path);
            let ready = set_socket_access(path, opts.unix_mode, opts.unix_owner)
                .and_then(|()| sock.listen(backlog))
                .and_then(|()| sock.set_nonblocking(true));
            if let Err(e) = ready {
                // The file this bind made goes again.
                if let Some(file) = file {
                    file.remove();
                }
                return Err(err(e));
            }
            Ok(Listener {
                kind: ListenerKind::Unix(sock.into()),
                addr: addr.clone(),
                socket_file: file,
                per_worker: false,
            })
        }
        BindAddr::Fd(fd) => inherit(*fd),
    }
}

/// Gives the socket file just bound at `path` its mode and owner. Through a descriptor opened
/// without following links and checked to be a socket of this process's user: the directory
/// may be writable by others (`/tmp`), who could replace the entry between the bind and here,
/// and the path itself is never followed to another file.
fn set_socket_access(path: &Path, mode: u32, (uid, gid): super::privileges::Owner) -> io::Result<()> {
    use nix::fcntl::{open, OFlag, AT_FDCWD};
    use nix::sys::stat::{fchmodat, fstat, FchmodatFlags, Mode, SFlag};
    let file = open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = fstat(&file)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK
        || st.st_uid != nix::unistd::geteuid().as_raw()
    {
        return Err(io::Error::other("the socket file was replaced after it was bound"));
    }
    // fchmod does not act on an O_PATH descriptor; its /proc link names that very inode.
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    fchmodat(
        AT_FDCWD,
        link.as_str(),
        Mode::from_bits_truncate(mode),
        FchmodatFlags::FollowSymlink,
    )?;
    if uid.is_some() || gid.is_some() {
        nix::unistd::fchownat(&file, "", uid, gid, nix::fcntl::AtFlags::AT_EMPTY_PATH)?;
    }
    Ok(())
}

/// A socket file left by a process that is gone is replaced; any other file is refused. The
/// check is lstat(2), so a symbolic link is refused too, whatever it points to.
fn remove_stale_socket(path: &Path) -> Result<(), ListenError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(|source| ListenError::BindUnix {
            path: path.to_owned(),
            source,
        }),
        Ok(_) => Err(ListenError::UnixPathTaken(path.to_owned())),
        Err(_) => Ok(()),
    }
}

/// Adopts an inherited listening socket, telling TCP from Unix by its local address. `fd` is
/// one the process was given to serve: `fd://N` (systemd's sockets become `fd://3`...) names a
/// descriptor the process was started with, and an upgrading master lists its sockets in
/// [`INHERIT_ENV`]. A number that is not an open stream socket is refused and left as it is.
pub fn inherit(fd: RawFd) -> Result<Listener, ListenError> {
    let err = |source| ListenError::InheritFd { fd, source };
    // SAFETY: F_GETFD only reads the flags of whatever `fd` names, and fails with EBADF when
    // it names nothing (-1 included); no memory is passed.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(err(io::Error::from_raw_os_error(libc::EBADF)));
    }
    // SAFETY: `fd` is open (checked above), and nothing closes it while this borrow lives: it
    // ends before the socket is taken over below or refused.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let probe = socket2::SockRef::from(&borrowed);
    let local = probe.local_addr().map_err(err)?;
    if probe.r#type().map_err(err)? != Type::STREAM {
        return Err(err(io::Error::other("not a stream socket")));
    }
    // SAFETY: `fd` is an open stream socket, and by the meaning of `fd://N` (a descriptor the
    // process was started with) and of INHERIT_ENV (the listening sockets an upgrading master
    // left open across exec) no other value in this process owns it: from here `sock` does.
    let sock = unsafe { Socket::from_raw_fd(fd) };
    sock.set_nonblocking(true).map_err(err)?;
    sock.set_cloexec(true).map_err(err)?;
    // An inherited socket may be bound without listening (an upgraded master in reuse_port
    // mode); SO_ACCEPTCONN tells.
    let per_worker = !sock.is_listener().unwrap_or(true);
    let kind = if local.is_unix() {
        ListenerKind::Unix(sock.into())
    } else {
        ListenerKind::Tcp(sock.into())
    };
    Ok(Listener {
        kind,
        addr: BindAddr::Fd(fd),
        socket_file: None,
        per_worker,
    })
}

#[cfg(test)]
const OPTS: BindOptions = BindOptions {
    backlog: 16,
    reuse_port: false,
    defer_accept: false,
    all: &[],
    unix_mode: 0o700,
    unix_owner: (None, None),
    attempts: 1,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_port_zero_and_reports_real_port() {
        let ls = bind_all(&[BindAddr::Tcp("127.0.0.1:0".parse().unwrap())], OPTS, &mut Vec::new()).unwrap();
        let text = ls[0].to_string();
        assert!(text.starts_with("http://127.0.0.1:"), "{text}");
        assert_ne!(ls[0].local_tcp().unwrap().port(), 0);
    }

    #[test]
    fn defer_accept_is_set_and_cleared_on_tcp_listeners() {
        let defer_of = |l: &Listener| {
            let ListenerKind::Tcp(t) = &l.kind else {
                unreachable!("a TCP listener")
            };
            let mut v: libc::c_int = -1;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt writes at most `len` bytes into the int `v`.
            let rc = unsafe {
                libc::getsockopt(
                    t.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_DEFER_ACCEPT,
                    (&mut v as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            assert_eq!(rc, 0);
            v
        };
        let on = BindOptions {
            defer_accept: true,
            ..OPTS
        };
        let addr = BindAddr::Tcp("127.0.0.1:0".parse().unwrap());
        let mut ls = bind_all(std::slice::from_ref(&addr), on, &mut Vec::new()).unwrap();
        assert!(defer_of(&ls[0]) > 0);
        // A reload with the setting off clears it on the listener it keeps.
        let kept = BindAddr::Tcp(ls[0].local_tcp().unwrap());
        let ls = bind_all(&[kept], OPTS, &mut ls).unwrap();
        assert_eq!(defer_of(&ls[0]), 0);
    }

    #[test]
    fn unix_socket_replaces_stale_and_refuses_regular_file() {
        let dir = std::env::temp_dir().join(format!("forkhorn-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let first = UnixListener::bind(&path).unwrap();
        drop(first); // leaves a stale socket file
        let ls = bind_all(&[BindAddr::Unix(path.clone())], OPTS, &mut Vec::new()).unwrap();
        assert_eq!(ls[0].to_string(), format!("unix:{}", path.display()));
        drop(ls);
        assert!(!path.exists());
        std::fs::write(&path, b"not a socket").unwrap();
        let err = bind_all(&[BindAddr::Unix(path.clone())], OPTS, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, ListenError::UnixPathTaken(_)));
        assert_eq!(std::fs::read(&path).unwrap(), b"not a socket", "left in place");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_socket_path_is_refused_not_followed() {
        let dir = std::env::temp_dir().join(format!("forkhorn-listen-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Even a link to a stale socket, which would be replaced if it were at the path itself.
        let target = dir.join("stale.sock");
        drop(UnixListener::bind(&target).unwrap());
        let path = dir.join("s.sock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = bind_all(&[BindAddr::Unix(path.clone())], OPTS, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, ListenError::UnixPathTaken(_)), "{err}");
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&target).unwrap().file_type().is_socket());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn at_exit_only_the_socket_file_bound_here_is_removed() {
        let dir = std::env::temp_dir().join(format!("forkhorn-listen-own-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let ls = bind_all(&[BindAddr::Unix(path.clone())], OPTS, &mut Vec::new()).unwrap();
        // Another server took the path over, replacing what was to it a socket file like any.
        std::fs::remove_file(&path).unwrap();
        let theirs = UnixListener::bind(&path).unwrap();
        drop(ls);
        assert!(path.exists(), "the other server's socket file stays");
        drop(theirs);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_ipv6_wildcard_is_dual_stack_unless_ipv4_shares_its_port() {
        let tcp = |s: &str| BindAddr::Tcp(s.parse().unwrap());
        let both = [tcp("0.0.0.0:8000"), tcp("[::]:8000")];
        let cases = [
            ("[::]:8000", &[tcp("[::]:8000")][..], false),
            ("[::]:8000", &both[..], true),
            ("[::]:8000", &[tcp("127.0.0.1:8000"), tcp("[::]:8000")][..], true),
            ("[::]:8000", &[tcp("0.0.0.0:9000"), tcp("[::]:8000")][..], false),
            ("[::]:0", &[tcp("0.0.0.0:0"), tcp("[::]:0")][..], false),
            ("0.0.0.0:8000", &both[..], false),
        ];
        for (addr, all, want) in cases {
            assert_eq!(v6_only(addr.parse().unwrap(), all), want, "{addr} in {all:?}");
        }
        // Dual stack: an IPv4 client reaches the IPv6 wildcard.
        let ls = bind_all(&[tcp("[::]:0")], OPTS, &mut Vec::new()).unwrap();
        let ListenerKind::Tcp(l) = &ls[0].kind else {
            panic!("tcp")
        };
        let port = l.local_addr().unwrap().port();
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("IPv4 to [::]");
        // Both wildcards on one port, as nginx configurations bind them.
        drop(ls);
        let all = [tcp(&format!("0.0.0.0:{port}")), tcp(&format!("[::]:{port}"))];
        let opts = BindOptions { all: &all, ..OPTS };
        let ls = bind_all(&all, opts, &mut Vec::new()).expect("0.0.0.0 and [::] on one port");
        assert_eq!(ls.len(), 2);
    }

    #[test]
    fn failed_bind_releases_earlier_sockets() {
        let dir = std::env::temp_dir().join(format!("forkhorn-listen2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.sock");
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind_all(
            &[BindAddr::Unix(path.clone()), BindAddr::Tcp(taken.local_addr().unwrap())],
            OPTS,
            &mut Vec::new(),
        );
        assert!(err.is_err());
        assert!(!path.exists(), "the unix socket bound first must be removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod inherit_tests {
    use super::*;

    #[test]
    fn inherited_sockets_serve_matching_addresses() {
        let mut first = bind_all(&[BindAddr::Tcp("127.0.0.1:0".parse().unwrap())], OPTS, &mut Vec::new()).unwrap();
        let port = first[0].local_tcp().unwrap().port();
        // As an upgraded master would see it: the same socket, adopted by descriptor.
        let dup = nix::unistd::dup(&first[0]).unwrap();
        let mut inherited = vec![inherit(std::os::fd::IntoRawFd::into_raw_fd(dup)).unwrap()];
        let want = [BindAddr::Tcp(format!("127.0.0.1:{port}").parse().unwrap())];
        let again = bind_all(&want, OPTS, &mut inherited).unwrap();
        assert!(inherited.is_empty(), "the inherited socket was used, not a new bind");
        assert_eq!(again[0].local_tcp().unwrap().port(), port);
        assert_eq!(again[0].addr, want[0]);
        first.clear();
    }
}
