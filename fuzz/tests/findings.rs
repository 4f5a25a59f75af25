//! Findings of the fuzz targets, as plain tests on any toolchain. Each was fixed and stays
//! here as a regression test (none is open, so none is ignored).

use slackwater_fuzz::{Delivery, MemTransport};
use slackwater_h2frame::{Config, FrameHeader, FrameReader, Pool, kind};

/// `FrameReader` documents that "a peer that announces a large frame and goes quiet pins at
/// most twice what it sent, or one read buffer". After a frame larger than half a read
/// buffer, the next read at the frame boundary asked for that frame's size (`hint`), and a
/// partial frame that arrived in that buffer kept it while the reader waited: `shrink` only
/// moved it to the class of the *whole* announced frame. Here: max frame size 1 MiB, default
/// 32 KiB reads; a 1 MiB DATA frame, then 20 bytes of another 1 MiB frame, then quiet: the
/// reader waited holding an unpooled 1 MiB + 9 buffer for 20 bytes (bound: 32 KiB).
/// Found by `h2_reader` at b10cc9a (input: fuzz/regressions/h2_reader/
/// wait-bound-after-large-frame, the same with a 256 B read buffer and a 1,000-byte frame:
/// 4 KiB held for 20 bytes); fixed in 317599f (boundary reads return to the read buffer size
/// after a large frame).
#[test]
fn partial_frame_after_a_large_one_pins_at_most_one_read_buffer() {
    const BIG: u32 = 1 << 20;
    let header = |len| {
        FrameHeader {
            length: len,
            kind: kind::DATA,
            flags: 0,
            stream_id: 1,
        }
        .encode()
    };
    let mut wire = header(BIG).to_vec();
    wire.resize(9 + BIG as usize, 0xab);
    wire.extend_from_slice(&header(BIG));
    wire.extend_from_slice(&[0; 11]);
    let pool = slackwater_ready::PoolHandle::from(Pool::new());
    let t = MemTransport::new(
        wire,
        Delivery {
            would_block: true,
            ..Delivery::default()
        },
    );
    let cfg = Config::builder().max_frame_size(BIG).build().unwrap();
    let mut r = FrameReader::with_config(t, pool.clone(), cfg);
    let mut frames = 0;
    loop {
        match r.try_read_frame() {
            Ok(Some(f)) => {
                frames += 1;
                drop(f);
            }
            Err(e) if e.is_would_block() && r.buffered() == 20 => break,
            Err(e) if e.is_would_block() => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(frames, 1);
    let s = pool.stats();
    let pooled: usize = s.classes().iter().map(|c| c.in_use * c.size).sum();
    assert_eq!(
        s.unpooled().in_use,
        0,
        "waiting on 20 bytes of a frame while holding an unpooled (> 1 MiB) buffer"
    );
    assert!(
        pooled <= 32 * 1024,
        "waiting on 20 bytes while holding {pooled} bytes"
    );
}
