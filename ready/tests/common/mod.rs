//! Socket helpers shared by ready's integration tests. (Each test file uses some of them.)
#![allow(dead_code)]

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A connected loopback TCP pair: (accepted, connecting).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (s, c)
}

/// `setsockopt(fd, SOL_SOCKET, opt, v)` for an `int` option, asserting it took.
pub fn setsockopt_int(fd: RawFd, opt: libc::c_int, v: libc::c_int) {
    // SAFETY: a valid socket and a correctly sized `c_int`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
}

/// Closes `s` with `SO_LINGER {on, 0}`: the kernel sends RST instead of FIN.
pub fn reset(s: impl AsRawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized `linger`.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    drop(s);
}

/// SIGUSR1s handled so far by [`catch_sigusr1`]'s handler.
pub static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// Installs a SIGUSR1 handler that only counts ([`SIGNALS`]), without `SA_RESTART`: a
/// blocked `poll(2)` / `epoll_wait(2)` fails with `EINTR` when the signal arrives.
pub fn catch_sigusr1() {
    // SAFETY: the handler only touches an atomic; the `sigaction` is fully initialized.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
}
