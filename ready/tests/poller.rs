//! `Poller`: many idle sockets, no buffers; all readable at once, correct data.

use slackwater_ready::{Events, Poller, Pool, ReadyFd, ReadyRead};
use std::collections::HashMap;
use std::io::Write;
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

    // Closing a registered fd: nothing is reported for it afterwards, nothing breaks.
    let (c, mut d) = UnixStream::pair().unwrap();
    poller.register(c.as_fd(), 2).unwrap();
    drop(c);
    let _ = d.write_all(b"y");
    poller
        .wait(&mut events, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(events.iter().all(|e| e.token() != 2));
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
