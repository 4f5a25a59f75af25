//! The third stack: tokio + the `h2` crate (`h2::server` over a tokio `TcpStream`, plaintext
//! HTTP/2: what hyper and tonic run on), serving the same logic as the other two: it answers
//! SETTINGS and PING (h2 does both itself), and echoes each request's DATA back on the same
//! stream after a `200` HEADERS, checking the payload pattern on the way.
//!
//! Every connection is a tokio task on a multi-threaded runtime with as many worker threads
//! as the other stacks have poller threads; each request is a task of its own (as hyper
//! spawns them). Both receive windows are opened fully, as the other servers do
//! ([`open_windows`](crate::wire::open_windows)): flow control is not what the demo measures,
//! but the server still releases capacity as it consumes DATA and echoes only what the
//! client's window grants. h2 keeps its buffers to itself, so the census of this stack is its
//! open connections only; what it costs is the process's RSS, measured like the others.

use crate::wire::{MAX_WINDOW, is_pattern};
use crate::worker::{Counters, report};
use bytes::Bytes;
use std::future::poll_fn;
use std::io;
use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;
use tokio::runtime::Runtime;

/// The runtime the stack's connections run on.
pub(crate) fn runtime(threads: usize) -> io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("server-h2")
        .enable_io()
        .build()
}

/// Serves one accepted connection on `rt` until it closes.
pub(crate) fn serve(rt: &Runtime, sock: TcpStream, counters: &'static Counters) {
    counters.opened.fetch_add(1, Relaxed);
    rt.spawn(async move {
        if let Err(e) = connection(sock, counters).await
            && !is_close(&e)
        {
            report(counters, &e);
        }
        counters.closed.fetch_add(1, Relaxed);
    });
}

/// A peer that went away (the client closes its sockets without a GOAWAY, as the other
/// stacks' clients do), not a failure.
fn is_close(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
    )
}

/// h2's error as an `io::Error` (its I/O error when it is one).
fn h2e(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| io::Error::other("h2: an I/O error"))
    } else {
        io::Error::other(e)
    }
}

async fn connection(sock: TcpStream, counters: &'static Counters) -> io::Result<()> {
    sock.set_nonblocking(true)?;
    let io = tokio::net::TcpStream::from_std(sock)?;
    let mut conn = h2::server::Builder::new()
        .initial_window_size(MAX_WINDOW)
        .initial_connection_window_size(MAX_WINDOW)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(h2e)?;
    counters.ready.fetch_add(1, Relaxed);
    while let Some(r) = conn.accept().await {
        let (req, respond) = r.map_err(h2e)?;
        tokio::spawn(async move {
            if let Err(e) = echo(req, respond, counters).await.map_err(h2e)
                && !is_close(&e)
            {
                report(counters, &e);
            }
        });
    }
    Ok(())
}

/// Echoes one request's DATA on its stream.
async fn echo(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    counters: &'static Counters,
) -> Result<(), h2::Error> {
    counters.frames_in.fetch_add(1, Relaxed); // the request's HEADERS
    let mut body = req.into_body();
    let mut send = respond.send_response(http::Response::new(()), false)?;
    let (mut off, mut ended) = (0u64, false);
    while let Some(chunk) = body.data().await {
        let mut chunk = chunk?;
        let n = chunk.len();
        counters.frames_in.fetch_add(1, Relaxed);
        if !is_pattern(off, &chunk) {
            counters.corrupt.fetch_add(1, Relaxed);
        }
        off += n as u64;
        counters.bytes_in.fetch_add(n as u64, Relaxed);
        body.flow_control().release_capacity(n)?;
        let end = body.is_end_stream();
        // Send under the client's flow control: ask for capacity, send what is granted.
        while !chunk.is_empty() {
            send.reserve_capacity(chunk.len());
            let granted = match poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(g) => g?,
                None => return Err(h2::Reason::CANCEL.into()),
            };
            if granted > 0 {
                let piece = chunk.split_to(granted.min(chunk.len()));
                send.send_data(piece, end && chunk.is_empty())?;
            }
        }
        if end {
            ended = true;
            if n == 0 {
                send.send_data(Bytes::new(), true)?;
            }
        }
    }
    if !ended {
        send.send_data(Bytes::new(), true)?;
    }
    Ok(())
}
