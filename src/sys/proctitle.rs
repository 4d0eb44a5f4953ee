//! The process title shown by `ps`: `forkhorn: master [NAME]`, `forkhorn: worker [NAME]`.
//!
//! Linux shows `/proc/PID/cmdline`, which is the memory of the original argv. We overwrite that
//! memory in place (truncating to its length) and also set the 15-byte thread name.

use std::ffi::CString;

/// Sets the title to `title`, as far as the original command line's space allows.
pub fn set(title: &str) {
    if let Ok(name) = CString::new(title.as_bytes().iter().copied().take(15).collect::<Vec<u8>>()) {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
        }
    }
    if let Some((start, end)) = argv_area() {
        let len = end - start;
        if len < 2 {
            return;
        }
        let mut bytes = vec![0u8; len];
        let n = title.len().min(len - 1);
        bytes[..n].copy_from_slice(&title.as_bytes()[..n]);
        // SAFETY: [arg_start, arg_end) is this process's own argv block, mapped writable on the
        // initial stack, and `bytes` is exactly that long. Nothing reads the block meanwhile:
        // std reads it only when std::env::args is called, and the title is set before the
        // process starts threads (the master before preloading, a worker before its
        // application threads); what needs argv later copies it first (`Upgrade::capture`,
        // `python::keep_argv`).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, len);
        }
    }
}

/// arg_start and arg_end from /proc/self/stat (fields 48 and 49).
fn argv_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields resume after its closing paren.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so field N is fields[N - 3].
    let start = fields.get(45)?.parse().ok()?;
    let end = fields.get(46)?.parse().ok()?;
    (end > start).then_some((start, end))
}
