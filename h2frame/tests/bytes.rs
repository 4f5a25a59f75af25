//! The `bytes` feature: DATA payloads read from a real socket become `bytes::Bytes`; a view
//! without a copy (same pointer, the pooled read buffer back in the pool only after the last
//! `Bytes` clone drops), a small (inline) or a heap payload as a copy that pins nothing.
#![cfg(feature = "bytes")]

use bytes::Bytes;
use slackwater_h2frame::{Frame, FrameReader, FrameWriter, Payload, Pool, PoolHandle};
use slackwater_ready::{ReadyFd, ReadyWrite};
use std::os::unix::net::UnixStream;
use std::thread;

type Reader = FrameReader<ReadyFd<UnixStream>>;

fn pair(pool: &PoolHandle) -> (Reader, Reader) {
    let (a, b) = UnixStream::pair().unwrap();
    (
        FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone()),
        FrameReader::with_pool(ReadyFd::new(b).unwrap(), pool.clone()),
    )
}

fn send_data(client: &mut Reader, stream: u32, data: &[u8]) {
    FrameWriter::new()
        .write_data(client, stream, true, data)
        .unwrap();
    client.flush_ready().unwrap();
    assert_eq!(client.queued(), 0);
}

fn read_data(server: &mut Reader) -> Payload {
    match server.read_frame().unwrap() {
        Some(Frame::Data(d)) => d.data,
        other => panic!("expected DATA, got {other:?}"),
    }
}

#[test]
fn a_data_view_becomes_bytes_without_a_copy() {
    let pool = PoolHandle::from(Pool::new());
    let (mut server, mut client) = pair(&pool);
    let sent: Vec<u8> = (0..16_000u32).map(|i| (i % 251) as u8).collect();
    send_data(&mut client, 1, &sent);

    let payload = read_data(&mut server);
    assert!(payload.is_view());
    let at = payload.as_ptr();
    let bytes = Bytes::from(payload);
    assert_eq!(
        bytes.as_ptr(),
        at,
        "no copy: the Bytes points into the read buffer"
    );
    assert_eq!(&bytes[..], &sent[..]);
    assert_eq!(pool.stats().in_use(), 1, "the Bytes holds the read buffer");

    let tail = bytes.slice(8_000..);
    assert_eq!(tail.as_ptr(), at.wrapping_add(8_000));
    drop(bytes);
    assert_eq!(pool.stats().in_use(), 1, "a clone still holds it");
    thread::spawn(move || assert_eq!(tail.len(), 8_000))
        .join()
        .unwrap();
    assert_eq!(pool.stats().in_use(), 0, "back after the last clone");
}

#[test]
fn small_and_heap_payloads_are_copied_and_pin_nothing() {
    let pool = PoolHandle::from(Pool::new());
    let (mut server, mut client) = pair(&pool);

    // Small: copied inline by the reader, copied once more into the Bytes.
    send_data(&mut client, 1, b"tiny");
    let small = read_data(&mut server);
    assert!(!small.is_view());
    let b = Bytes::from(small);
    assert_eq!(&b[..], b"tiny");
    assert_eq!(pool.stats().in_use(), 0);

    // Heap: the allocation is handed over as it is.
    let heap = Payload::from(vec![9u8; 1000]);
    let at = heap.as_ptr();
    let b = Bytes::from(heap);
    assert_eq!((b.as_ptr(), b.len()), (at, 1000));
    assert_eq!(pool.stats().in_use(), 0);
}
