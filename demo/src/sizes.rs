//! The inline size of each per-connection type of the full stack: the rows of the README's
//! size table (`cargo run --example sizes` prints them; `tests/sizes.rs` checks the README
//! still shows these numbers).

use slackwater_alts::{AltsError, Conn, Crypter, RecordAead};
use slackwater_h2frame::{Frame, FrameReader, FrameWriter};
use slackwater_ready::{Assembler, Buf, PoolHandle, ReadyFd, WriteQueue};
use std::mem::size_of;
use std::net::TcpStream;

/// `(type, bytes)` rows; leading spaces indent a part under its whole.
///
/// ```
/// let rows = slackwater_demo::sizes::rows();
/// assert!(rows[0].0.starts_with("FrameReader<Conn<ReadyFd<TcpStream>>>"));
/// ```
pub fn rows() -> [(&'static str, usize); 13] {
    [
        (
            "FrameReader<Conn<ReadyFd<TcpStream>>> (the whole stack)",
            size_of::<FrameReader<Conn<ReadyFd<TcpStream>>>>(),
        ),
        (
            "  Conn<ReadyFd<TcpStream>>",
            size_of::<Conn<ReadyFd<TcpStream>>>(),
        ),
        ("    ReadyFd<TcpStream>", size_of::<ReadyFd<TcpStream>>()),
        ("      WriteQueue", size_of::<WriteQueue>()),
        ("    Crypter", size_of::<Crypter>()),
        ("      RecordAead (one direction)", size_of::<RecordAead>()),
        ("    Assembler (one per layer)", size_of::<Assembler>()),
        (
            "    Option<Box<AltsError>> (each fatal-error slot of a Conn)",
            size_of::<Option<Box<AltsError>>>(),
        ),
        ("  h2frame::Config", size_of::<slackwater_h2frame::Config>()),
        ("Buf / Option<Buf>", size_of::<Option<Buf>>()),
        ("PoolHandle", size_of::<PoolHandle>()),
        ("Frame (returned per frame, not kept)", size_of::<Frame>()),
        ("FrameWriter", size_of::<FrameWriter>()),
    ]
}

/// The Markdown table the README holds.
///
/// ```
/// assert!(slackwater_demo::sizes::table().starts_with("| type | bytes |"));
/// ```
pub fn table() -> String {
    let mut t = String::from("| type | bytes |\n|---|---:|\n");
    for (name, n) in rows() {
        t.push_str(&format!("| `{}` | {n} |\n", name.trim_start()));
    }
    t
}
