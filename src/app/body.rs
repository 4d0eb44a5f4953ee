//! What an application returns: its response body, from a static slice to a lazy iterable.

use super::protocol::StartResponse;
use super::AppError;
use std::borrow::Cow;

/// One piece of a response body.
pub type Chunk = Cow<'static, [u8]>;

/// A response body. The variants that hold all their bytes let the server add
/// `Content-Length` itself; [`Body::Iter`] is pulled only as fast as the client reads.
pub enum Body {
    /// No body.
    Empty,
    /// Bytes known at compile time.
    Static(&'static [u8]),
    /// Bytes the application built.
    Bytes(Vec<u8>),
    /// A lazily produced body (PEP 3333's iterable).
    Iter(Box<dyn BodyIter>),
}

impl Body {
    /// A body made of an iterator of chunks, with no close hook and no use of start_response.
    pub fn from_chunks<I>(chunks: I) -> Body
    where
        I: Iterator<Item = Result<Chunk, AppError>> + Send + 'static,
    {
        struct Chunks<I>(I);
        impl<I: Iterator<Item = Result<Chunk, AppError>> + Send> BodyIter for Chunks<I> {
            fn next_chunk(&mut self, _: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
                self.0.next()
            }
        }
        Body::Iter(Box::new(Chunks(chunks)))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Static(b) => write!(f, "Body::Static({} bytes)", b.len()),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Iter(_) => f.write_str("Body::Iter(..)"),
        }
    }
}

/// A lazily produced response body: PEP 3333's iterable with its `close()`.
///
/// `next_chunk` receives the request's [`StartResponse`], so an application may call
/// `start_response` lazily, from inside the iterable, as PEP 3333 allows. `Send`: a body made
/// on an application thread may be sent (with sendfile) and closed by the worker's loop.
pub trait BodyIter: Send {
    /// The next chunk, `None` at the end, or the application's error.
    fn next_chunk(&mut self, start_response: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>>;

    /// Called exactly once when the server is done with the body: finished, failed, or the
    /// client went away.
    fn close(&mut self) {}

    /// A body that is the rest of a regular file (PEP 3333's `wsgi.file_wrapper`): the server
    /// may send it with sendfile(2) instead of pulling chunks. Asked once, before the first
    /// chunk; the descriptor must stay open until `close`.
    fn file(&mut self) -> Option<FileRegion> {
        None
    }
}

/// A region of a regular file a body consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRegion {
    /// The open file (owned by the body).
    pub fd: std::os::fd::RawFd,
    /// Where the body starts in the file.
    pub offset: u64,
    /// The body's length in bytes from `offset`.
    pub len: u64,
}

/// A body that is (a region of) a file: sent with sendfile(2) where the framing allows, read
/// in chunks otherwise. forkhorn's `wsgi.file_wrapper` for Rust applications.
#[derive(Debug)]
pub struct FileBody {
    file: std::fs::File,
    offset: u64,
    len: u64,
    sent: u64,
}

impl FileBody {
    /// The whole of `file`.
    pub fn new(file: std::fs::File) -> std::io::Result<FileBody> {
        let len = file.metadata()?.len();
        Ok(FileBody::region(file, 0, len))
    }

    /// `len` bytes of `file` from `offset` (a byte range).
    pub fn region(file: std::fs::File, offset: u64, len: u64) -> FileBody {
        FileBody {
            file,
            offset,
            len,
            sent: 0,
        }
    }
}

impl BodyIter for FileBody {
    fn next_chunk(&mut self, _: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
        use std::os::unix::fs::FileExt;
        let left = self.len - self.sent;
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; left.min(64 * 1024) as usize];
        match self.file.read_at(&mut buf, self.offset + self.sent) {
            Ok(0) => Some(Err("the file is shorter than its length".into())),
            Ok(n) => {
                buf.truncate(n);
                self.sent += n as u64;
                Some(Ok(Chunk::Owned(buf)))
            }
            Err(e) => Some(Err(e.into())),
        }
    }

    fn file(&mut self) -> Option<FileRegion> {
        use std::os::fd::AsRawFd;
        Some(FileRegion {
            fd: self.file.as_raw_fd(),
            offset: self.offset,
            len: self.len,
        })
    }
}
