//! The limits' part of `/metrics`: refusals by limit, TCP connections, RTP ports.

use std::sync::atomic::Ordering;

use super::Metrics;
use crate::runtime::tcp::TcpStats;

/// The TCP side's counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounts {
    pub open: u64,
    pub accepted: u64,
    pub refused_per_address: u64,
    pub idle_closed: u64,
}

impl TcpCounts {
    pub fn of(stats: &TcpStats) -> TcpCounts {
        TcpCounts {
            open: stats.open.load(Ordering::Relaxed),
            accepted: stats.accepted.load(Ordering::Relaxed),
            refused_per_address: stats.refused_per_address.load(Ordering::Relaxed),
            idle_closed: stats.idle_closed.load(Ordering::Relaxed),
        }
    }
}

/// Every limit is listed, at zero until it first refuses, so that alerts can be written
/// against series that exist.
const LIMITS: [&str; 7] = [
    "max_calls",
    "max_waiting",
    "invite_rate",
    "trunk_invite_rate",
    "register_rate",
    "options_rate",
    "tcp_max_per_address",
];

pub(super) fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        super::family(&mut out, name, kind, help, samples)
    };
    let one = |v: u64| vec![(String::new(), v)];
    let refusals: Vec<_> = LIMITS
        .iter()
        .map(|limit| {
            let n = match *limit {
                "tcp_max_per_address" => m.tcp.refused_per_address,
                _ => m.counters.limited.get(limit).copied().unwrap_or(0),
            };
            (format!("limit=\"{limit}\""), n)
        })
        .collect();
    metric(
        "hotline_limit_refusals_total",
        "counter",
        "Requests, callers and connections turned away by a limit: max_calls (503), \
         max_waiting (overflow message), the per-source rates (503, OPTIONS dropped), \
         tcp_max_per_address (connection closed).",
        &refusals,
    );
    metric(
        "hotline_tcp_connections",
        "gauge",
        "SIP TCP connections open.",
        &one(m.tcp.open),
    );
    metric(
        "hotline_tcp_connections_accepted_total",
        "counter",
        "SIP TCP connections accepted.",
        &one(m.tcp.accepted),
    );
    metric(
        "hotline_tcp_idle_closed_total",
        "counter",
        "SIP TCP connections closed for idleness.",
        &one(m.tcp.idle_closed),
    );
    metric(
        "hotline_rtp_ports_in_use",
        "gauge",
        "RTP ports bound now.",
        &one(m.rtp_ports_in_use),
    );
    metric(
        "hotline_media_threads",
        "gauge",
        "Media threads, by how they read RTP (io_uring, or epoll readiness).",
        &[
            ("io=\"io_uring\"".to_owned(), m.media_threads_io_uring),
            ("io=\"epoll\"".to_owned(), m.media_threads_epoll),
        ],
    );
    let ring = &m.media_ring;
    metric(
        "hotline_media_ring_rounds_total",
        "counter",
        "Rounds of receive completions the media threads' io_uring rings reaped.",
        &one(ring.rounds),
    );
    metric(
        "hotline_media_ring_datagrams_total",
        "counter",
        "RTP datagrams received through the media threads' io_uring rings.",
        &one(ring.datagrams),
    );
    metric(
        "hotline_media_ring_receives_ended_total",
        "counter",
        "Multishot receives that ended and were armed again, by why they ended.",
        &[
            ("reason=\"no_buffers\"".to_owned(), ring.ended_no_buffers),
            ("reason=\"error\"".to_owned(), ring.ended_other),
        ],
    );
    metric(
        "hotline_media_ring_buffers",
        "gauge",
        "Receive buffers the media threads' io_uring rings have (they grow under load).",
        &one(ring.buffers),
    );
    metric(
        "hotline_media_ring_sends_total",
        "counter",
        "Relayed RTP packets sent through the media threads' io_uring rings, by result \
         (a failed one is lost, as a failed sendto loses it).",
        &[
            ("result=\"sent\"".to_owned(), ring.sent),
            ("result=\"failed\"".to_owned(), ring.sends_failed),
        ],
    );
    metric(
        "hotline_media_ring_largest_round",
        "gauge",
        "The most completions one round of a receive ring has reaped.",
        &one(ring.largest_round),
    );
    metric(
        "hotline_rtp_port_failures_total",
        "counter",
        "RTP sockets that could not be bound (port range exhausted).",
        &one(m.rtp_port_failures),
    );
    out
}
