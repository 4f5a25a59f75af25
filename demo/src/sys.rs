//! The few OS facts and knobs the demo needs (Linux first; other Unixes where noted).

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

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

fn setsockopt_int(sock: &TcpStream, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` outlives the call and its size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&v as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets `SO_SNDBUF` (tests use a small one so that output has to wait for writability).
///
/// # Errors
/// The OS error.
pub fn set_send_buffer(sock: &TcpStream, bytes: usize) -> io::Result<()> {
    setsockopt_int(
        sock,
        libc::SOL_SOCKET,
        libc::SO_SNDBUF,
        i32::try_from(bytes).unwrap_or(i32::MAX),
    )
}

/// Raises a listening socket's accept backlog (std listens with 128; calling `listen` again
/// on a listening socket changes it on Linux, capped by `net.core.somaxconn`).
///
/// # Errors
/// The OS error.
pub fn set_backlog(listener: &std::net::TcpListener, n: i32) -> io::Result<()> {
    // SAFETY: listen on a valid, owned listening socket.
    if unsafe { libc::listen(listener.as_raw_fd(), n) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Connects to `addr` (IPv4) with `SO_RCVBUF` set first (it must be set before the handshake
/// to shape the window).
///
/// # Errors
/// The OS error of `socket`, `setsockopt` or `connect`.
pub fn connect_with_recv_buffer(addr: std::net::SocketAddr, bytes: usize) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let std::net::SocketAddr::V4(v4) = addr else {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "IPv4 only"));
    };
    // SAFETY: plain socket(2) call; the fd is owned by the TcpStream right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket nobody else owns.
    let sock = unsafe { TcpStream::from_raw_fd(fd) };
    setsockopt_int(
        &sock,
        libc::SOL_SOCKET,
        libc::SO_RCVBUF,
        i32::try_from(bytes).unwrap_or(i32::MAX),
    )?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in and its size is passed with it.
    let r = unsafe {
        libc::connect(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}
