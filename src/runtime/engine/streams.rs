//! The engine's side of the TCP and TLS connections: their events (from the acceptors and
//! from the provider link's own connection) and the writers of the open ones.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::mpsc;

use super::Engine;
use crate::runtime::tcp::TcpEvent;
use crate::sip::{Peer, Spare, Transport};

impl Engine {
    pub(super) fn on_tcp(&mut self, ev: TcpEvent) {
        self.on_stream(ev, Transport::Tcp)
    }

    /// The open connections' writers of one stream transport.
    fn writers_mut(
        &mut self,
        transport: Transport,
    ) -> &mut HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> {
        match transport {
            Transport::Tls => &mut self.tls_writers,
            _ => &mut self.tcp_writers,
        }
    }

    /// An event of a TCP or TLS connection; the provider link's own connection (TCP or
    /// TLS) has its responses taken first.
    pub(super) fn on_stream(&mut self, ev: TcpEvent, transport: Transport) {
        match ev {
            TcpEvent::Connected { addr, writer } => {
                self.writers_mut(transport).insert(addr, writer);
                self.provider_stream_connected(addr, transport);
            }
            TcpEvent::Message { addr, msg }
                if self.provider_claims_stream(&msg, addr, transport) => {}
            TcpEvent::Message { addr, msg } => {
                self.sb
                    .handle_message(msg, Peer { transport, addr }, self.clock.now())
            }
            TcpEvent::Invalid { addr, bytes, error } => self.sb.answer_unparseable(
                &bytes,
                &error,
                Peer { transport, addr },
                self.clock.now(),
            ),
            TcpEvent::Broken { addr, why } => {
                tracing::info!(%addr, why, ?transport, "stream framing error: connection closed");
                self.writers_mut(transport).remove(&addr);
                self.provider_stream_closed(addr, transport, None);
            }
            TcpEvent::Closed { addr } => {
                self.writers_mut(transport).remove(&addr);
                self.provider_stream_closed(addr, transport, None);
                self.writers_mut(transport).release_spare();
            }
            TcpEvent::DialFailed { addr, why } => {
                self.provider_stream_closed(addr, transport, Some(&why));
            }
        }
    }
}
