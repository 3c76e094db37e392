//! `/metrics`: what the engine knows, published once a second as one value through a
//! `watch` channel (no lock anywhere near the media path), rendered as Prometheus text by
//! the HTTP side.

use std::fmt::Write;

mod limits;
mod provider;
mod tls;
pub use limits::TcpCounts;
pub use tls::TlsCounts;

use crate::media::relay::LegStats;
use crate::model::LiveSnapshot;
use crate::runtime::database::WriterStats;
use crate::sip::registrar::RegistrarStats;
use crate::sip::transaction::TxStats;
use crate::switchboard::counters::Counters;
use crate::switchboard::SwitchboardStats;

/// Everything `/metrics` shows, at one instant.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub live: LiveSnapshot,
    pub counters: Counters,
    pub switchboard: SwitchboardStats,
    pub tx: TxStats,
    pub registrar: RegistrarStats,
    pub register: WriterStats,
    /// RTP of finished calls, summed per leg.
    pub caller_rtp: LegStats,
    pub operator_rtp: LegStats,
    pub prompt_packets: u64,
    pub media_send_dropped: u64,
    pub record_frames_dropped: u64,
    pub recording_bytes: u64,
    pub recordings_done: u64,
    pub recording_failures: u64,
    pub tcp: TcpCounts,
    pub tls: TlsCounts,
    pub rtp_ports_in_use: u64,
    pub rtp_port_failures: u64,
    /// Media threads receiving through io_uring, and through readiness.
    pub media_threads_io_uring: u64,
    pub media_threads_epoll: u64,
    /// What the media threads' receive rings did.
    pub media_ring: crate::runtime::call_media::RingCounts,
    /// The provider link, when `[trunk.provider]` is configured.
    pub provider: Option<crate::model::ProviderState>,
}

impl Metrics {
    /// The media statistics of a call that just ended.
    pub fn add_call_media(
        &mut self,
        caller: &LegStats,
        operator: &LegStats,
        prompt: u64,
        send_dropped: u64,
        record_dropped: u64,
    ) {
        add(&mut self.caller_rtp, caller);
        add(&mut self.operator_rtp, operator);
        self.prompt_packets += prompt;
        self.media_send_dropped += send_dropped;
        self.record_frames_dropped += record_dropped;
    }
}

fn add(sum: &mut LegStats, s: &LegStats) {
    sum.packets_in += s.packets_in;
    sum.bytes_in += s.bytes_in;
    sum.packets_out += s.packets_out;
    sum.bytes_out += s.bytes_out;
    sum.lost += s.lost;
    sum.late += s.late;
    sum.duplicates += s.duplicates;
    sum.dtmf_events += s.dtmf_events;
}

/// One metric family in the text format: its HELP and TYPE lines, then a line per sample
/// (`labels` as `k="v",…`, empty for none).
fn family<L: AsRef<str>>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(L, u64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        match labels.as_ref() {
            "" => {
                let _ = writeln!(out, "{name} {v}");
            }
            labels => {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
    }
}

/// Prometheus text exposition format (version 0.0.4).
pub fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        family(&mut out, name, kind, help, samples)
    };
    let one = |v: u64| vec![(String::new(), v)];
    let label =
        |k: &str, v: &str| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));

    let outcomes: Vec<_> = m
        .counters
        .calls_by_outcome
        .iter()
        .map(|(o, n)| (label("outcome", o), *n))
        .collect();
    metric(
        "hotline_calls_total",
        "counter",
        "Calls ended, by register outcome.",
        &outcomes,
    );
    let menu: Vec<_> = m
        .counters
        .menu_results
        .iter()
        .map(|(r, n)| (label("result", r), *n))
        .collect();
    metric(
        "hotline_menu_results_total",
        "counter",
        "Callers out of the topic menu, by the topic chosen, operator (0) or no_choice.",
        &menu,
    );
    metric(
        "hotline_calls_active",
        "gauge",
        "Calls in progress of any kind.",
        &one(m.live.active_calls as u64),
    );
    metric(
        "hotline_queue_waiting",
        "gauge",
        "Callers waiting for an operator.",
        &one(m.live.waiting.len() as u64),
    );
    metric(
        "hotline_queue_longest_wait_ms",
        "gauge",
        "The longest current wait.",
        &one(m.live.longest_wait_ms),
    );
    let mut states: std::collections::BTreeMap<&str, u64> = [
        "offline",
        "available",
        "ringing",
        "talking",
        "wrap_up",
        "paused",
    ]
    .into_iter()
    .map(|s| (s, 0))
    .collect();
    for op in &m.live.operators {
        *states.entry(op.state.as_str()).or_insert(0) += 1;
    }
    let states: Vec<_> = states
        .iter()
        .map(|(s, n)| (label("state", s), *n))
        .collect();
    metric("hotline_operators", "gauge", "Operators by state.", &states);
    let rings: Vec<_> = m
        .counters
        .rings_by_result
        .iter()
        .map(|(r, n)| (label("result", r), *n))
        .collect();
    metric(
        "hotline_ring_attempts_total",
        "counter",
        "Operator rings, by result.",
        &rings,
    );

    let mut rtp = Vec::new();
    for (leg, s) in [("caller", &m.caller_rtp), ("operator", &m.operator_rtp)] {
        rtp.push((
            format!("{},{}", label("leg", leg), label("direction", "in")),
            s.packets_in,
        ));
        rtp.push((
            format!("{},{}", label("leg", leg), label("direction", "out")),
            s.packets_out,
        ));
    }
    metric(
        "hotline_rtp_packets_total",
        "counter",
        "RTP packets of finished calls, per leg and direction.",
        &rtp,
    );
    let lost: Vec<_> = [
        ("caller", m.caller_rtp.lost),
        ("operator", m.operator_rtp.lost),
    ]
    .iter()
    .map(|(l, n)| (label("leg", l), *n))
    .collect();
    metric(
        "hotline_rtp_lost_total",
        "counter",
        "RTP packets lost (sequence gaps) on finished calls, per leg.",
        &lost,
    );
    metric(
        "hotline_prompt_packets_total",
        "counter",
        "Prompt and hold-music packets sent.",
        &one(m.prompt_packets),
    );
    metric(
        "hotline_media_send_dropped_total",
        "counter",
        "Media packets dropped because a socket was full.",
        &one(m.media_send_dropped),
    );
    metric(
        "hotline_recording_frames_dropped_total",
        "counter",
        "Frames the recorder could not take (queue full).",
        &one(m.record_frames_dropped),
    );
    metric(
        "hotline_recording_bytes_total",
        "counter",
        "Bytes of finished recordings.",
        &one(m.recording_bytes),
    );
    metric(
        "hotline_recordings_total",
        "counter",
        "Recordings finished.",
        &one(m.recordings_done),
    );
    metric(
        "hotline_recording_failures_total",
        "counter",
        "Recordings that failed (disk errors).",
        &one(m.recording_failures),
    );

    metric(
        "hotline_register_queued",
        "gauge",
        "Register writes waiting for the database.",
        &one(m.register.queued),
    );
    metric(
        "hotline_register_writes_total",
        "counter",
        "Register writes committed.",
        &one(m.register.written),
    );
    metric(
        "hotline_register_write_failures_total",
        "counter",
        "Register batches that failed (retried).",
        &one(m.register.failures),
    );

    let mut sip: Vec<_> = m
        .counters
        .requests_in
        .iter()
        .map(|(k, n)| {
            (
                format!("{},{}", label("direction", "in"), label("method", k)),
                *n,
            )
        })
        .collect();
    sip.extend(m.counters.responses_in.iter().map(|(k, n)| {
        (
            format!(
                "{},{}",
                label("direction", "in"),
                label("status", &k.to_string())
            ),
            *n,
        )
    }));
    sip.extend(m.counters.responses_out.iter().map(|(k, n)| {
        (
            format!(
                "{},{}",
                label("direction", "out"),
                label("status", &k.to_string())
            ),
            *n,
        )
    }));
    metric(
        "hotline_sip_messages_total",
        "counter",
        "SIP requests by method and responses by status.",
        &sip,
    );
    metric(
        "hotline_sip_parse_errors_total",
        "counter",
        "SIP input that could not be parsed (answered or dropped).",
        &one(m.switchboard.bad_answered + m.switchboard.bad_dropped),
    );
    metric(
        "hotline_sip_scanners_dropped_total",
        "counter",
        "Requests from known SIP scanners, dropped unanswered.",
        &one(m.switchboard.scanners_dropped),
    );
    metric(
        "hotline_sip_retransmissions_total",
        "counter",
        "SIP retransmissions sent.",
        &one(m.tx.retransmissions_sent),
    );
    metric(
        "hotline_registrar_auth_failures_total",
        "counter",
        "Operator digest authentication failures.",
        &one(m.registrar.failures),
    );
    metric(
        "hotline_registrar_locked_out_total",
        "counter",
        "Requests refused from locked-out sources.",
        &one(m.registrar.locked_out),
    );
    metric(
        "hotline_registrar_locked_accounts",
        "gauge",
        "Operator accounts locked after password guessing.",
        &one(m.registrar.locked_accounts as u64),
    );
    metric(
        "hotline_registrar_blocked_sources",
        "gauge",
        "Source addresses blocked after password guessing.",
        &one(m.registrar.blocked_sources as u64),
    );
    metric(
        "hotline_registrar_bindings",
        "gauge",
        "Registered operator softphones.",
        &one(m.registrar.bindings as u64),
    );
    out.push_str(&limits::render(m));
    out.push_str(&tls::render(m));
    out.push_str(&provider::render(m));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_labels() {
        let mut m = Metrics::default();
        m.counters.calls_by_outcome.insert("answered", 3);
        m.counters.menu_results.insert("billing".into(), 2);
        m.counters.requests_in.insert("INVITE".into(), 5);
        m.live.active_calls = 2;
        m.media_ring.ended_no_buffers = 7;
        let text = render(&m);
        assert!(
            text.contains("hotline_media_ring_receives_ended_total{reason=\"no_buffers\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# TYPE hotline_calls_total counter\nhotline_calls_total{outcome=\"answered\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("hotline_calls_active 2\n"));
        assert!(text.contains("hotline_menu_results_total{result=\"billing\"} 2\n"));
        assert!(text.contains("hotline_operators{state=\"available\"} 0\n"));
        assert!(text.contains("hotline_sip_messages_total{direction=\"in\",method=\"INVITE\"} 5\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            assert!(name.starts_with("hotline_"), "{line}");
            value.parse::<u64>().expect("integer sample");
        }
    }
}
