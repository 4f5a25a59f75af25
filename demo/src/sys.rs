//! The few OS facts and knobs the demo needs (Linux first; other Unixes where noted): socket
//! options through `socket2`; `getrlimit`, `sysconf` and `malloc_trim` through `libc`.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Resident set size of this process in bytes (`/proc/self/statm`; 0 where there is none).
pub fn rss_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// Heap bytes the allocator has handed out and not had back (glibc's `mallinfo2`: `uordblks`
/// plus `hblkhd`, the mmapped blocks), `None` where the allocator does not say. Against
/// [`rss_bytes`] it tells live data from what freeing left resident (fragmentation).
pub fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's own counters.
        let m = unsafe { libc::mallinfo2() };
        Some((m.uordblks + m.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Raises the soft open-file limit to the hard one and checks that `need` descriptors fit.
///
/// # Errors
/// A message saying how many descriptors are needed and allowed when they do not fit.
// `rlim_t` is `u64` on Linux but not everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn ensure_fds(need: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit within the hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    let have = lim.rlim_cur as u64;
    if need > have {
        return Err(format!(
            "this needs {need} open files in one process but the limit here is {have} (hard \
             limit {}); use fewer connections (--conns)",
            lim.rlim_max as u64
        ));
    }
    Ok(have)
}

/// Gives freed heap memory back to the OS where the allocator can (glibc's `malloc_trim`).
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Sets `SO_SNDBUF` (tests use a small one so that output has to wait for writability).
///
/// # Errors
/// The OS error.
pub fn set_send_buffer(sock: &TcpStream, bytes: usize) -> io::Result<()> {
    socket2::SockRef::from(sock).set_send_buffer_size(bytes)
}

/// A listening socket on `addr` with an accept backlog of `backlog` (std listens with 128;
/// the kernel caps it at `net.core.somaxconn`).
///
/// # Errors
/// The OS error of `socket`, `bind` or `listen`.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    Ok(sock.into())
}

/// Connects to `addr` with `SO_RCVBUF` set first (it must be set before the handshake to
/// shape the window).
///
/// # Errors
/// The OS error of `socket`, `setsockopt` or `connect`.
pub fn connect_with_recv_buffer(addr: SocketAddr, bytes: usize) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_recv_buffer_size(bytes)?;
    sock.connect(&addr.into())?;
    Ok(sock.into())
}
