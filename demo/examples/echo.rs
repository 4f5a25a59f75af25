//! `cargo run --example echo [-- CONNS BYTES]`: a complete non-blocking TCP → ALTS → HTTP/2
//! echo server on slackwater's own poller (client preface, SETTINGS and PING ACKs, DATA echoed
//! with WINDOW_UPDATEs, backpressure), and a client that drives and checks it.
//!
//! The server is the part between the `server:` markers: what a user writes. No write queue of
//! its own (the layers queue sealed records in pooled buffers only while the socket refuses
//! them), no lifetimes, and the socket reached through the stack itself (`AsFd`).

use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
use slackwater_h2frame::{Config, Error, Frame, FrameReader, FrameWriter, Ping, Settings};
use slackwater_ready::{Events, Interest, Poller, ReadyFd, ReadyWrite, global};
use std::collections::HashMap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

// server: begin
/// TCP → ALTS → HTTP/2 frames, one type, no lifetime.
type Stack = FrameReader<Conn<ReadyFd<TcpStream>>>;

fn stack(sock: TcpStream, side: Side) -> Result<Stack, Box<dyn std::error::Error>> {
    let key = [7u8; 44]; // from the ALTS handshake, which is out of scope here
    let crypter = Crypter::new(Protocol::Aes128GcmRekey, side, &key, Backend::default())?;
    let cfg = Config::builder().expect_client_preface(side == Side::Server);
    let alts = Conn::new(ReadyFd::new(sock)?, crypter);
    Ok(FrameReader::with_config(alts, global(), cfg.build()?))
}

/// Serves until `n` connections have come and gone.
fn serve(listener: TcpListener, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (poller, wr) = (Poller::new()?, FrameWriter::new());
    let mut events = Events::with_capacity(256);
    listener.set_nonblocking(true)?;
    poller.register(listener.as_fd(), 0)?;
    let (mut conns, mut next, mut done) = (HashMap::<u64, Stack>::new(), 1, 0);
    while done < n {
        poller.wait(&mut events, None)?;
        for ev in &events {
            if ev.token() == 0 {
                while let Ok((sock, _)) = listener.accept() {
                    let mut c = stack(sock, Side::Server)?;
                    wr.write(&mut c, &Frame::Settings(Settings::new(&[])))?;
                    poller.register(c.as_fd(), next)?;
                    conns.insert(next, c);
                    next += 1;
                }
                continue;
            }
            let Some(c) = conns.get_mut(&ev.token()) else {
                continue;
            };
            match drive(c, &wr) {
                Ok(false) => poller.reregister(c.as_fd(), ev.token(), Interest::for_output(c))?,
                end => {
                    if let Err(e) = end {
                        eprintln!("connection {}: {e}", ev.token());
                    }
                    let c = conns.remove(&ev.token()).expect("looked up above");
                    poller.deregister(c.as_fd())?;
                    done += 1;
                }
            }
        }
    }
    Ok(())
}

/// Reads every frame there is, answers it, and writes until the socket refuses more.
/// `Ok(true)`: the peer closed the connection.
fn drive(c: &mut Stack, wr: &FrameWriter) -> Result<bool, Error> {
    while !c.is_write_full() {
        match c.try_read_frame() {
            Ok(Some(Frame::Settings(s))) if !s.is_ack() => {
                wr.write(c, &Frame::Settings(Settings::ack()))?
            }
            Ok(Some(Frame::Ping(Ping { ack: false, data }))) => {
                wr.write(c, &Frame::Ping(Ping { ack: true, data }))?
            }
            Ok(Some(Frame::Data(d))) => {
                wr.write_data(c, d.stream_id, d.end_stream, &d.data)?;
                wr.write_window_updates(c, d.stream_id, d.flow_controlled_len())?;
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(true),
            Err(e) if e.is_would_block() => break,
            Err(e) => return Err(e),
        }
    }
    match c.try_flush_ready() {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e.into()),
        _ => Ok(false),
    }
}
// server: end

/// The client: opens `conns` connections, sends a PING and `bytes` of DATA on each, and checks
/// the SETTINGS ACK, the PING ACK and every echoed byte.
fn client(
    addr: std::net::SocketAddr,
    conns: usize,
    bytes: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let wr = FrameWriter::new();
    let payload: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let mut open = Vec::new();
    for i in 0..conns {
        let mut c = stack(TcpStream::connect(addr)?, Side::Client)?;
        wr.write_preface(&mut c)?;
        wr.write(&mut c, &Frame::Settings(Settings::new(&[])))?;
        wr.write(
            &mut c,
            &Frame::Ping(Ping {
                ack: false,
                data: (i as u64).to_be_bytes(),
            }),
        )?;
        for (k, chunk) in payload.chunks(16 * 1024).enumerate() {
            wr.write_data(&mut c, 1, (k + 1) * 16 * 1024 >= bytes, chunk)?;
        }
        c.flush_ready()?;
        open.push(c);
    }
    for (i, mut c) in open.into_iter().enumerate() {
        let (mut echoed, mut acks, mut pong) = (Vec::new(), 0, false);
        while echoed.len() < bytes || acks == 0 || !pong {
            match c.read_frame()?.ok_or("server closed early")? {
                Frame::Data(d) => echoed.extend_from_slice(&d.data),
                Frame::Settings(s) if s.is_ack() => acks += 1,
                Frame::Settings(_) => wr.write(&mut c, &Frame::Settings(Settings::ack()))?,
                Frame::Ping(p) => pong = p.ack && p.data == (i as u64).to_be_bytes(),
                _ => {}
            }
            c.flush_ready()?;
        }
        if echoed != payload {
            return Err(format!("connection {i}: echoed bytes differ").into());
        }
    }
    Ok(())
}

/// Serves `conns` connections of `bytes` each from a server thread and checks them from here;
/// fails if any byte is wrong or a pool buffer is still in use afterwards.
fn run(conns: usize, bytes: usize) -> Result<(), Box<dyn std::error::Error>> {
    if conns == 0 {
        return Err("CONNS must be at least 1".into());
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || serve(listener, conns).map_err(|e| e.to_string()));
    client(addr, conns, bytes)?;
    server.join().map_err(|_| "server panicked")??;
    let in_use = global().stats().in_use();
    println!(
        "echo: {conns} connections x {bytes} B echoed over TCP -> ALTS -> HTTP/2; \
         pool buffers in use after: {in_use}"
    );
    if in_use != 0 {
        return Err(format!("{in_use} pool buffers still in use").into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let conns = args.next().transpose()?.unwrap_or(100);
    let bytes = args.next().transpose()?.unwrap_or(64 * 1024);
    run(conns, bytes)
}

#[cfg(test)]
mod tests {
    /// The example works: every byte echoed over the full stack, nothing left in the pool.
    #[test]
    fn echoes_every_byte_and_holds_nothing_after() {
        super::run(20, 100_000).unwrap();
    }

    /// The README's claim: the server is at most 80 lines of user code, with no write queue
    /// of its own.
    #[test]
    fn the_server_is_at_most_80_lines() {
        let src = include_str!("echo.rs");
        let begin = src.find("// server: begin").unwrap();
        let end = src.find("// server: end").unwrap();
        let server = &src[begin..end];
        let lines = server.lines().count() - 1;
        assert!(lines <= 80, "{lines} lines");
        for queue in ["VecDeque", "Vec<Buf>", "Vec<Vec<u8>>", "WriteQueue"] {
            assert!(
                !server.contains(queue),
                "a hand-written write queue: {queue}"
            );
        }
    }
}
