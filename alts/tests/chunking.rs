//! Property: any chunking of the record stream, blocking or with `WouldBlock` between chunks,
//! yields the same plaintext, and leaves no buffer in use.

mod common;

use common::*;
use proptest::prelude::*;
use slackwater_alts::{Backend, Conn, Protocol, Side};
use slackwater_ready::Pool;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_yields_the_same_plaintext(
        rekey in any::<bool>(),
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..9000), 1..6),
        sizes in proptest::collection::vec(1usize..20_000, 1..8),
        would_block in any::<bool>(),
        frame in prop_oneof![Just(4096usize), Just(16 * 1024), Just(64 * 1024)],
    ) {
        let p = if rekey { Protocol::Aes128GcmRekey } else { Protocol::Aes128Gcm };
        let refs: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
        let data = wire(p, Side::Server, frame, &refs);
        let pool = slackwater_alts::PoolHandle::from(Pool::new());
        let mut r = Conn::new(Chunks::new(data, sizes, would_block), crypter(p, Side::Client, Backend::default())).with_pool(pool.clone());
        let got = if would_block { drain_nonblocking(&mut r, &pool) } else { drain_blocking(&mut r, &pool) }.unwrap();
        prop_assert_eq!(got, messages.concat());
        prop_assert!(!r.holds_buffer());
        drop(r);
        prop_assert_eq!(pool.stats().in_use(), 0);
    }
}
