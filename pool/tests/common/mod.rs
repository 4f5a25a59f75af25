//! Helpers shared by the pool's integration tests.

use slackwater_pool::{Config, Pool};

/// Two small classes: 64 B retaining 4, 1 KiB retaining 2.
pub fn small() -> Pool {
    Pool::with_config(
        Config::builder()
            .class(64, 4)
            .class(1024, 2)
            .build()
            .unwrap(),
    )
}
