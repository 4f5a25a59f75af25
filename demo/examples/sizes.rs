//! `cargo run --example sizes`: the inline size of each per-connection type of the full stack
//! (the table in the README comes from this command). Heap state comes on top: the ALTS key
//! material (two 44-byte blocks, never moved so they can be scrubbed) and, while not
//! released, the AEAD key schedules; buffers only while bytes wait.

use slackwater_alts::{AltsError, Conn, Crypter, RecordAead};
use slackwater_h2frame::{Frame, FrameReader, FrameWriter};
use slackwater_ready::{Assembler, Buf, PoolHandle, ReadyFd, WriteQueue};
use std::mem::size_of;
use std::net::TcpStream;

fn main() {
    let rows: [(&str, usize); 13] = [
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
        ("    Option<AltsError>", size_of::<Option<AltsError>>()),
        ("  h2frame::Config", size_of::<slackwater_h2frame::Config>()),
        ("Buf / Option<Buf>", size_of::<Option<Buf>>()),
        ("PoolHandle", size_of::<PoolHandle>()),
        ("Frame (returned per frame, not kept)", size_of::<Frame>()),
        ("FrameWriter", size_of::<FrameWriter>()),
    ];
    println!("| type | bytes |\n|---|---:|");
    for (name, n) in rows {
        println!("| `{}` | {n} |", name.trim_start());
    }
}
