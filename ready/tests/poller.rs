//! `Poller`: many idle sockets, no buffers; all readable at once, correct data.

mod common;
use slackwater_ready::{Events, Interest, Poller, Pool, ReadyFd, ReadyRead};
use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[test]
fn a_thousand_idle_sockets_hold_no_buffer_then_all_read_correctly() {
    const N: usize = 1000;
    let pool = Pool::new();
    let poller = Poller::new().unwrap();
    let mut conns: HashMap<u64, ReadyFd<UnixStream>> = HashMap::new();
    let mut peers = Vec::new();
    for i in 0..N as u64 {
        let (a, b) = UnixStream::pair().unwrap();
        let r = ReadyFd::new(a).unwrap();
        poller.register(r.as_fd(), i).unwrap();
        conns.insert(i, r);
        peers.push(b);
    }
    let mut events = Events::with_capacity(256);

    // Idle: nothing is ready, nothing is held.
    poller
        .wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty());
    for r in conns.values_mut() {
        let e = r.try_read_ready(16 * 1024, &pool).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }
    assert_eq!(pool.stats().in_use(), 0, "idle connections pin no buffer");

    // Everyone speaks at once.
    for (i, p) in peers.iter_mut().enumerate() {
        p.write_all(format!("message from peer {i}").as_bytes())
            .unwrap();
    }
    let mut got: HashMap<u64, Vec<u8>> = HashMap::new();
    while got.len() < N {
        poller
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(
            !events.is_empty(),
            "timed out with {} of {N} read",
            got.len()
        );
        for ev in &events {
            assert!(ev.is_readable());
            assert!(!ev.is_hangup() && !ev.is_error(), "data only: {ev:?}");
            let r = conns.get_mut(&ev.token()).unwrap();
            loop {
                match r.try_read_ready(16 * 1024, &pool) {
                    Ok(Some(b)) => got.entry(ev.token()).or_default().extend_from_slice(&b),
                    Ok(None) => panic!("unexpected EOF"),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
    for (i, data) in &got {
        assert_eq!(data, format!("message from peer {i}").as_bytes());
    }

    // Hang-ups are reported, and read as EOF.
    drop(peers);
    poller
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    let ev = *events.iter().next().unwrap();
    assert!(ev.is_hangup());
    let r = conns.get_mut(&ev.token()).unwrap();
    assert!(r.try_read_ready(1, &pool).unwrap().is_none());
}

#[test]
fn deregister_and_close_are_safe() {
    let poller = Poller::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    poller.register(a.as_fd(), 1).unwrap();
    poller.deregister(a.as_fd()).unwrap();
    b.write_all(b"x").unwrap();
    let mut events = Events::with_capacity(4);
    poller
        .wait(&mut events, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(events.is_empty(), "a deregistered fd is not reported");

    // Closing a registered fd: with epoll nothing is reported for it afterwards, nothing
    // breaks. (The portable poll(2) fallback documents the opposite: a closed fd left
    // registered shows as an error event until deregistered, and another test may reuse its
    // number meanwhile; so this part is epoll's.)
    if cfg!(not(slackwater_poll_fallback)) {
        let (c, mut d) = UnixStream::pair().unwrap();
        poller.register(c.as_fd(), 2).unwrap();
        drop(c);
        let _ = d.write_all(b"y");
        poller
            .wait(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
        assert!(events.iter().all(|e| e.token() != 2));
    }
    assert!(
        poller.register(a.as_fd(), u64::MAX).is_err(),
        "reserved token"
    );
}

#[test]
fn waker_interrupts_a_wait_from_another_thread() {
    let poller = Poller::new().unwrap();
    let w = poller.waker();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        w.wake().unwrap();
    });
    let mut events = Events::with_capacity(4);
    let start = std::time::Instant::now();
    poller
        .wait(&mut events, Some(Duration::from_secs(10)))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(events.is_empty());
    t.join().unwrap();
    // The wake-up was consumed: the next wait times out.
    poller
        .wait(&mut events, Some(Duration::from_millis(5)))
        .unwrap();
    assert!(events.is_empty());
}

#[test]
fn write_interest_follows_the_socket_buffer() {
    use slackwater_ready::Interest;
    let poller = Poller::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let mut events = Events::with_capacity(8);
    poller
        .register_with(a.as_fd(), 5, Interest::WRITABLE)
        .unwrap();
    poller
        .wait(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    let ev = *events.iter().next().unwrap();
    assert!(ev.is_writable() && !ev.is_readable() && ev.token() == 5);
    assert!(!ev.is_hangup() && !ev.is_error(), "{ev:?}");

    // Fill the socket buffer: no longer writable.
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0;
    while let Ok(n) = (&a).write(&chunk) {
        written += n;
    }
    poller
        .wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "a full socket is not writable");

    // The peer drains it: writable again.
    let t = std::thread::spawn(move || {
        use std::io::Read;
        let mut b = b;
        let mut sink = vec![0u8; written];
        b.read_exact(&mut sink).unwrap();
    });
    poller
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(events.iter().any(|e| e.is_writable()));
    t.join().unwrap();

    // Back to readable only: a writable socket is not reported.
    poller.reregister(a.as_fd(), 6, Interest::READABLE).unwrap();
    poller
        .wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.iter().all(|e| !e.is_writable()));
    assert!(
        poller
            .reregister(a.as_fd(), u64::MAX, Interest::READABLE)
            .is_err()
    );
}

#[test]
fn interests_combine() {
    let (r, w) = (Interest::READABLE, Interest::WRITABLE);
    assert!(r.is_readable() && !r.is_writable());
    assert!(!w.is_readable() && w.is_writable());
    for both in [r.with(w), w.with(r)] {
        assert!(both.is_readable() && both.is_writable());
    }
    assert_eq!(r.with(r), r);
    assert_eq!(w.with(w), w);
}

/// `len` counts the ready fds the last `wait` reported, as `iter` yields them.
#[test]
fn events_count_what_wait_reported() {
    let poller = Poller::new().unwrap();
    let pairs: Vec<_> = (0..3).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (a, _)) in pairs.iter().enumerate() {
        poller.register(a.as_fd(), i as u64).unwrap();
    }
    let mut events = Events::with_capacity(8);
    poller
        .wait(&mut events, Some(Duration::from_millis(1)))
        .unwrap();
    assert_eq!((events.len(), events.is_empty()), (0, true));
    for (_, b) in &pairs[..2] {
        (&*b).write_all(b"x").unwrap();
    }
    poller
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    let mut tokens: Vec<u64> = events.iter().map(|e| e.token()).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, [0, 1]);
    assert_eq!((events.len(), events.is_empty()), (2, false));
}

/// A reset peer shows as an error (and a hang-up) on its socket.
#[test]
fn a_reset_peer_is_an_error_event() {
    let poller = Poller::new().unwrap();
    let (s, c) = common::tcp_pair();
    poller.register(s.as_fd(), 9).unwrap();
    common::reset(c);
    let mut events = Events::with_capacity(8);
    poller
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    let ev = *events.iter().next().expect("an event");
    assert!(ev.is_error() && ev.is_hangup() && ev.token() == 9, "{ev:?}");
}

/// A signal that interrupts `wait` ends it with no events and no error (its docs: never
/// `Interrupted`), long before its timeout.
#[test]
fn a_signal_ends_a_wait_with_no_events() {
    common::catch_sigusr1();
    let poller = std::sync::Arc::new(Poller::new().unwrap());
    let (a, _b) = UnixStream::pair().unwrap();
    poller.register(a.as_fd(), 1).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (exit_tx, exit_rx) = std::sync::mpsc::channel::<()>();
    let p = poller.clone();
    let t = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
        let mut events = Events::with_capacity(8);
        let start = std::time::Instant::now();
        let r = p.wait(&mut events, Some(Duration::from_secs(30)));
        done_tx
            .send((r.map_err(|e| e.kind()), events.len(), start.elapsed()))
            .unwrap();
        // Stay alive until told: the main thread may still be signalling this one.
        let _ = exit_rx.recv();
    });
    let tid = rx.recv().unwrap() as libc::pthread_t;
    // Signal until the wait ends (a signal that lands before the wait began is handled and
    // lost; the next one interrupts it).
    let (r, n, took) = loop {
        // SAFETY: the thread is alive: it waits for `exit_tx` before it ends.
        assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
        match done_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(got) => break got,
            Err(_) => continue,
        }
    };
    exit_tx.send(()).unwrap();
    t.join().unwrap();
    assert!(common::SIGNALS.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert_eq!((r, n), (Ok(()), 0));
    assert!(
        took < Duration::from_secs(20),
        "ended by the signal: {took:?}"
    );
}

/// The wake-up pipe never takes a connection's place: with room for two events, a wake that
/// came first and two readable sockets after it still report both sockets in one wait.
#[test]
fn a_wake_does_not_crowd_out_ready_sockets() {
    let poller = Poller::new().unwrap();
    let pairs: Vec<_> = (0..2).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (a, _)) in pairs.iter().enumerate() {
        poller.register(a.as_fd(), i as u64).unwrap();
    }
    poller.waker().wake().unwrap();
    for (_, b) in &pairs {
        (&*b).write_all(b"x").unwrap();
    }
    let mut events = Events::with_capacity(2);
    poller
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    let mut tokens: Vec<u64> = events.iter().map(|e| e.token()).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, [0, 1]);
    // Room for one event is room for one: the other ready socket (still ready: events are
    // level-triggered) comes with the next wait.
    let mut one = Events::with_capacity(1);
    let mut seen = Vec::new();
    for _ in 0..2 {
        poller.wait(&mut one, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(one.len(), 1);
        seen.push(one.iter().next().unwrap().token());
        // Drain that socket so the next wait reports the other.
        let mut x = [0u8; 1];
        io::Read::read_exact(&mut &pairs[seen[seen.len() - 1] as usize].0, &mut x).unwrap();
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1]);
}

/// A wait that a `Waker` ended consumes the wake-ups (however many came: here more than one
/// read of the pipe takes), so the next wait sleeps for its timeout instead of returning at
/// once.
#[test]
fn a_wait_consumes_every_wake_up_before_it() {
    let poller = Poller::new().unwrap();
    let waker = poller.waker();
    for _ in 0..100 {
        waker.wake().unwrap();
    }
    let mut events = Events::with_capacity(8);
    poller
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(events.is_empty());
    let start = std::time::Instant::now();
    poller
        .wait(&mut events, Some(Duration::from_millis(200)))
        .unwrap();
    // A wait ends early only when woken (or signalled: nothing signals this thread).
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
}
