//! Bounds on SIP over TCP (RFC 3261 §18.3, RFC 5626 flows): how many connections one
//! remote address may hold, and when a connection is idle enough to close.
//!
//! Sans-IO: the acceptor asks [`TcpFlows::accept`] for every new connection and reports
//! every close; each connection keeps a [`FlowIdle`] fed with the time of what it reads,
//! and closes itself at [`FlowIdle::deadline`].
//!
//! Two idle rules, because a silent connection and a softphone's flow are different
//! things:
//! - before its first SIP message a connection has `first_message_within` from the moment
//!   it opened, whatever bytes trickle in (a connection held open with a byte now and then
//!   is the cheapest way to pin our sockets);
//! - once it has carried SIP it is a flow a softphone may be registered on, and we need it
//!   to ring that phone: it is closed only after [`FlowIdle::FLOW_IDLE`] without a byte,
//!   longer than the longest registration (3600 s), so a phone that re-REGISTERs or
//!   sends CRLF keep-alives (RFC 5626 §4.4.1) keeps it for good.
//!
//! Invariant: the count of an address is the number of its connections accepted and not
//! yet reported closed; an address with none is forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use thiserror::Error;

/// The bounds, from `sip.tcp_max_per_address` and `sip.tcp_idle_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimits {
    pub max_per_address: u32,
    pub first_message_within: Duration,
}

/// Why a new connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FlowRefused {
    /// The address already holds `max_per_address` connections.
    #[error("{0} connections from this address already")]
    TooManyFromAddress(u32),
}

/// Open connections per remote address.
#[derive(Debug, Clone)]
pub struct TcpFlows {
    limits: FlowLimits,
    per_address: HashMap<IpAddr, u32>,
    open: usize,
}

impl TcpFlows {
    pub fn new(limits: FlowLimits) -> TcpFlows {
        TcpFlows {
            limits,
            per_address: HashMap::new(),
            open: 0,
        }
    }

    /// A connection from `ip` was accepted: keep it, or close it at once.
    pub fn accept(&mut self, ip: IpAddr) -> Result<(), FlowRefused> {
        let count = self.per_address.entry(ip).or_insert(0);
        if *count >= self.limits.max_per_address {
            return Err(FlowRefused::TooManyFromAddress(*count));
        }
        *count += 1;
        self.open += 1;
        Ok(())
    }

    /// A connection accepted from `ip` is closed.
    pub fn closed(&mut self, ip: IpAddr) {
        let Some(count) = self.per_address.get_mut(&ip) else {
            return;
        };
        *count -= 1;
        self.open -= 1;
        if *count == 0 {
            self.per_address.remove(&ip);
            // Many addresses came and went (a scan): give the table's memory back.
            if self.per_address.capacity() > 4 * self.per_address.len().max(16) {
                self.per_address.shrink_to_fit();
            }
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Addresses with a connection open.
    pub fn addresses(&self) -> usize {
        self.per_address.len()
    }

    pub fn limits(&self) -> FlowLimits {
        self.limits
    }
}

/// One connection's idle clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowIdle {
    opened: Instant,
    last: Instant,
    spoken: bool,
    first_message_within: Duration,
}

impl FlowIdle {
    /// Idle time after which a connection that has carried SIP is closed: the longest
    /// registration (3600 s) and a minute more for a late re-REGISTER.
    pub const FLOW_IDLE: Duration = Duration::from_secs(3660);

    pub fn new(limits: FlowLimits, now: Instant) -> FlowIdle {
        FlowIdle {
            opened: now,
            last: now,
            spoken: false,
            first_message_within: limits.first_message_within,
        }
    }

    /// Bytes arrived (a message, part of one, or a keep-alive).
    pub fn on_bytes(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    /// A whole SIP message arrived: from now on this is a flow.
    pub fn on_message(&mut self, now: Instant) {
        self.spoken = true;
        self.on_bytes(now);
    }

    /// Whether a SIP message has arrived on it.
    pub fn has_spoken(&self) -> bool {
        self.spoken
    }

    /// When the connection is to be closed if nothing more arrives.
    pub fn deadline(&self) -> Instant {
        if self.spoken {
            self.last + Self::FLOW_IDLE
        } else {
            self.opened + self.first_message_within
        }
    }
}

#[cfg(test)]
mod tests;
