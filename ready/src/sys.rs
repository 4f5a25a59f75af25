//! Thin, checked wrappers over the few libc calls this crate makes.

use std::io;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
use std::os::fd::AsRawFd;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// `-1` → the last OS error; anything else passes through.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `read(2)` into `len` bytes at `ptr`.
///
/// # Safety
/// `ptr..ptr + len` is writable memory owned by the caller.
pub(crate) unsafe fn read(fd: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: the caller guarantees the destination is writable for `len` bytes.
    let r = unsafe { libc::read(fd, ptr.cast(), len) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Sets `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL take no pointers; an invalid fd yields EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // Atomically close-on-exec where the OS can (no window for a concurrent fork + exec).
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
        // SAFETY: `pipe2` succeeded, so both are fresh descriptors owned by nobody else.
        Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        // SAFETY: `pipe` succeeded, so both are fresh descriptors owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&r, &w] {
            set_nonblocking(fd.as_raw_fd())?;
            // SAFETY: F_SETFD takes no pointers.
            cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        }
        Ok((r, w))
    }
}

/// Writes one byte to a (non-blocking) pipe; a full pipe already signals readiness.
pub(crate) fn poke(fd: RawFd) -> io::Result<()> {
    let b = 1u8;
    loop {
        // SAFETY: one readable byte at `&b`.
        let r = unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(()),
            _ => return Err(e),
        }
    }
}

/// Reads and discards everything in a non-blocking pipe.
pub(crate) fn drain(fd: RawFd) {
    let mut sink = [0u8; 64];
    // SAFETY: `sink` is writable for its length.
    while unsafe { libc::read(fd, sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
}

/// A deadline turned into `poll`'s millisecond timeout (rounded up, so a wait never ends
/// early; capped at `c_int::MAX`).
pub(crate) fn timeout_ms(deadline: Option<Instant>) -> libc::c_int {
    match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            let ms = left.as_nanos().div_ceil(1_000_000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

/// `Instant::now() + d`, or no deadline if that overflows.
pub(crate) fn deadline(d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| Instant::now().checked_add(d))
}
