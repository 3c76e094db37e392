//! SIP over TCP: an acceptor, and per connection a reader (framing off the engine task)
//! and a writer. The engine sees whole messages and keeps one sender per remote address.
//!
//! Bounds (decided by `sip::flows`): the acceptor keeps the count of connections per
//! address and closes one more than `sip.tcp_max_per_address` as soon as it is accepted;
//! each connection closes itself at its idle deadline. Every queue is bounded: the
//! acceptor's close reports, the events to the engine, and each connection's writes.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::sip::flows::{FlowIdle, FlowLimits, TcpFlows};
use crate::sip::message::{Frame, FrameError, SipMessage, StreamFramer};

use super::clock::Clock;
use super::throttle::LogEvery;

/// How many outgoing messages may queue for one connection before we drop it.
const WRITE_QUEUE: usize = 256;

/// Close reports queued for the acceptor. Each connection sends one, once; the acceptor
/// reads them ahead of new connections, so this only has to cover a burst of closes.
const CLOSE_QUEUE: usize = 1024;

/// Each connection's read buffer. Most connections carry a few small messages and the
/// framer gathers a large one across reads, so a small buffer costs nothing in speed and
/// keeps an idle connection cheap.
const READ_BUFFER: usize = 4 * 1024;

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
    /// A connection of ours (to the provider) that never opened: the TCP connect or the
    /// TLS handshake failed, for the reason given.
    DialFailed {
        addr: SocketAddr,
        why: String,
    },
}

/// What the TCP side counts, read by the engine for `/metrics`.
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Connections closed at once: their address held `tcp_max_per_address` already.
    pub refused_per_address: AtomicU64,
    /// Connections closed at their idle deadline.
    pub idle_closed: AtomicU64,
    /// TLS only: handshakes that failed on connections accepted (plain text, scanners,
    /// clients that do not trust us) and on connections we opened (a provider whose
    /// certificate we do not trust).
    pub handshakes_failed_inbound: AtomicU64,
    pub handshakes_failed_outbound: AtomicU64,
    /// TLS only: connections we opened whose handshake succeeded.
    pub outbound_connected: AtomicU64,
    /// TLS only: certificate pairs reloaded after a change, and new pairs refused.
    pub certificate_reloads: AtomicU64,
    pub certificate_reload_failures: AtomicU64,
}

/// How the acceptor runs.
pub struct Acceptor {
    pub limits: FlowLimits,
    pub clock: Clock,
    pub stats: Arc<TcpStats>,
}

pub async fn accept_loop(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    cancel: CancellationToken,
    acceptor: Acceptor,
) {
    let Acceptor {
        limits,
        clock,
        stats,
    } = acceptor;
    let mut flows = TcpFlows::new(limits);
    let (closed_tx, mut closed_rx) = mpsc::channel::<IpAddr>(CLOSE_QUEUE);
    let mut refused_log = LogEvery::default();
    let mut flush = tokio::time::interval(LogEvery::INTERVAL);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = flush.tick() => {
                if let Some(n) = refused_log.flush(clock.mono()) {
                    tracing::warn!(refused = n, "TCP connections refused: too many from one address (since the last line)");
                }
            }
            // Closes first: a place freed is a place the next connection may take.
            Some(ip) = closed_rx.recv() => {
                flows.closed(ip);
                stats.open.store(flows.open() as u64, Ordering::Relaxed);
            }
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    if let Err(why) = flows.accept(addr.ip()) {
                        stats.refused_per_address.fetch_add(1, Ordering::Relaxed);
                        if let Some(n) = refused_log.hit(clock.mono()) {
                            tracing::warn!(%addr, %why, refused = n, "TCP connection refused: too many from this address");
                        }
                        // Dropping the stream closes it: nothing is read or kept.
                        drop(stream);
                        continue;
                    }
                    stats.accepted.fetch_add(1, Ordering::Relaxed);
                    stats.open.store(flows.open() as u64, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    let conn = Connection {
                        addr,
                        events: events.clone(),
                        cancel: cancel.clone(),
                        idle: FlowIdle::new(limits, clock.mono()),
                        clock,
                        stats: stats.clone(),
                    };
                    let closed = closed_tx.clone();
                    tokio::spawn(async move {
                        conn.run(stream).await;
                        let _ = closed.send(addr.ip()).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// A connection we opened ourselves (to the provider), framed and reported to the engine
/// like an accepted one (`Connected`, messages, `Closed`). Not counted against the
/// per-address limit: it is ours.
pub fn spawn_outbound<S>(
    stream: S,
    addr: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
    cancel: CancellationToken,
    acceptor: &Acceptor,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let conn = Connection {
        addr,
        events,
        cancel,
        idle: FlowIdle::new(acceptor.limits, acceptor.clock.mono()),
        clock: acceptor.clock,
        stats: acceptor.stats.clone(),
    };
    tokio::spawn(conn.run(stream));
}

/// One connection's reader and writer, over TCP or over TLS (`runtime/tls.rs`).
pub(super) struct Connection {
    pub addr: SocketAddr,
    pub events: mpsc::Sender<TcpEvent>,
    pub cancel: CancellationToken,
    pub idle: FlowIdle,
    pub clock: Clock,
    pub stats: Arc<TcpStats>,
}

impl Connection {
    pub async fn run<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let addr = self.addr;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        if self
            .events
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
        let mut buf = vec![0u8; READ_BUFFER];
        'read: loop {
            let deadline = tokio::time::Instant::from_std(self.idle.deadline());
            let n = tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = tokio::time::sleep_until(deadline) => {
                    self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%addr, spoken = self.idle.has_spoken(), "idle TCP connection closed");
                    break;
                }
                r = rd.read(&mut buf) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
            };
            self.idle.on_bytes(self.clock.mono());
            framer.push(&buf[..n]);
            loop {
                match framer.next() {
                    Ok(Some(Frame::Message(msg))) => {
                        self.idle.on_message(self.clock.mono());
                        if self
                            .events
                            .send(TcpEvent::Message { addr, msg })
                            .await
                            .is_err()
                        {
                            break 'read;
                        }
                    }
                    Ok(Some(Frame::Invalid { bytes, error })) => {
                        let event = TcpEvent::Invalid { addr, bytes, error };
                        if self.events.send(event).await.is_err() {
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
                        let why = e.to_string();
                        let _ = self.events.send(TcpEvent::Broken { addr, why }).await;
                        break 'read;
                    }
                }
            }
        }
        drop(tx);
        let _ = self.events.send(TcpEvent::Closed { addr }).await;
        let _ = writer.await;
    }
}
