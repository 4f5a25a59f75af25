//! `cargo run --example sizes`: the inline size of each per-connection type of the full stack
//! (the table in the README comes from this command). Outside it come the ALTS key bytes (two
//! 44-byte rekey secrets in 48-byte slab slots, never moved so they can be scrubbed) and,
//! while not released, the AEAD key schedules (two 848-byte slab slots); buffers only while
//! bytes wait.

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
        (
            "    Option<Box<AltsError>> (each fatal-error slot of a Conn)",
            size_of::<Option<Box<AltsError>>>(),
        ),
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
