//! SIP over TCP: an acceptor, and per connection a reader (framing off the engine task)
//! and a writer. The engine sees whole messages and keeps one sender per remote address.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::sip::message::{Frame, FrameError, SipMessage, StreamFramer};

/// How many outgoing messages may queue for one connection before we drop it.
const WRITE_QUEUE: usize = 256;

pub enum TcpEvent {
    Connected {
        addr: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    Message {
        addr: SocketAddr,
        msg: SipMessage,
    },
    /// A whole message that does not parse: answered (400/501…), the stream goes on.
    Invalid {
        addr: SocketAddr,
        bytes: Vec<u8>,
        error: FrameError,
    },
    /// Framing failed: the connection is closed after this (a stream cannot resynchronise).
    Broken {
        addr: SocketAddr,
        why: String,
    },
    Closed {
        addr: SocketAddr,
    },
}

pub async fn accept_loop(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, addr, events.clone(), cancel.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
    cancel: CancellationToken,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    if events
        .send(TcpEvent::Connected {
            addr,
            writer: tx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = tokio::select! {
            _ = cancel.cancelled() => break,
            r = rd.read(&mut buf) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next() {
                Ok(Some(Frame::Message(msg))) => {
                    if events.send(TcpEvent::Message { addr, msg }).await.is_err() {
                        break 'read;
                    }
                }
                Ok(Some(Frame::Invalid { bytes, error })) => {
                    if events
                        .send(TcpEvent::Invalid { addr, bytes, error })
                        .await
                        .is_err()
                    {
                        break 'read;
                    }
                }
                Ok(Some(Frame::Ping)) => {
                    // RFC 5626 §3.5.1: a CRLF pong keeps NAT bindings alive.
                    let _ = tx.try_send(b"\r\n".to_vec());
                }
                Ok(None) => break,
                Err(e) => {
                    // The writer sends what is queued before it closes the connection.
                    if let Some(answer) = framer.failure_answer() {
                        let _ = tx.try_send(answer);
                    }
                    let _ = events
                        .send(TcpEvent::Broken {
                            addr,
                            why: e.to_string(),
                        })
                        .await;
                    break 'read;
                }
            }
        }
    }
    drop(tx);
    let _ = events.send(TcpEvent::Closed { addr }).await;
    let _ = writer.await;
}
