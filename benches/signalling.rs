//! Microseconds of signalling per call through the switchboard, sans-IO: an INVITE from
//! the trunk, its ACK, the after-hours message to its end, our BYE and its 200, with every
//! SIP message parsed and printed as on the wire. Sockets, media and the database are not
//! included: this is what the call logic itself costs.
//!
//! Run with `cargo bench --bench signalling`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hotline::config::Config;
use hotline::model::Now;
use hotline::sip::{Peer, Transport};
use hotline::switchboard::{Action, Leg, MediaEvent, MediaOrder, Settings, Switchboard};

const DEFAULT_CALLS: u32 = 20_000;

mod support;

use support::{invite, CONFIG};

fn in_dialog(method: &str, n: u32, tag: &str, cseq: u32) -> Vec<u8> {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-{method}{n};rport\r\n\
         From: <sip:+79115550101@127.0.0.1>;tag=c{n}\r\nTo: <sip:792112@127.0.0.1>;tag={tag}\r\nCall-ID: bench-{n}\r\n\
         CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The To tag of our 200 and the BYE we sent, from the wire bytes.
fn scan(sb: &mut Switchboard, tag: &mut Option<String>, bye: &mut Option<String>) -> Vec<Action> {
    let mut rest = Vec::new();
    while let Some(a) = sb.poll_action() {
        if let Action::Transmit { data, .. } = &a {
            let text = String::from_utf8_lossy(data);
            if text.starts_with("SIP/2.0 200") {
                if let Some(at) = text.find(";tag=") {
                    let t: String = text[at + 5..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    *tag = Some(t);
                }
            } else if text.starts_with("BYE ") {
                *bye = Some(text.into_owned());
            }
        }
        rest.push(a);
    }
    rest
}

fn drain(sb: &mut Switchboard) {
    while sb.poll_action().is_some() {}
}

fn main() {
    let config = Config::from_toml(CONFIG, Path::new("bench.toml"), &[]).expect("valid config");
    let mut now: Now = hotline::runtime::Clock::system().now();
    let mut sb = Switchboard::new(Settings::from_config(&config), 1, now);
    let trunk = Peer {
        transport: Transport::Udp,
        addr: "127.0.0.1:5071".parse::<SocketAddr>().expect("literal"),
    };
    // `BENCH_CALLS` makes a short run (e.g. under an instruction counter).
    let calls: u32 = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CALLS);
    let started = Instant::now();
    for n in 0..calls {
        let (mut tag, mut bye) = (None, None);
        sb.handle_datagram(&invite(n), trunk, now);
        let actions = scan(&mut sb, &mut tag, &mut bye);
        let call = actions
            .iter()
            .find_map(|a| match a {
                Action::OpenCallerMedia { call, .. } => Some(*call),
                _ => None,
            })
            .expect("admitted");
        sb.handle_media_ready(call, Leg::Caller, Some(30_000), now);
        let actions = scan(&mut sb, &mut tag, &mut bye);
        let play = actions
            .iter()
            .find_map(|a| match a {
                Action::Media {
                    order: MediaOrder::Play { tag, .. },
                    ..
                } => Some(*tag),
                _ => None,
            })
            .expect("the message plays");
        let tag = tag.expect("200 with a To tag");
        sb.handle_datagram(&in_dialog("ACK", n, &tag, 1), trunk, now);
        sb.handle_media_event(call, MediaEvent::PromptFinished { tag: play }, now);
        let mut unused = None;
        scan(&mut sb, &mut unused, &mut bye);
        let bye = bye.expect("we hang up");
        let ok = bye.replacen("BYE sip:caller@127.0.0.1:5071 SIP/2.0", "SIP/2.0 200 OK", 1);
        sb.handle_datagram(ok.as_bytes(), trunk, now);
        drain(&mut sb);
        // Let the transactions' timers run out now and then, as a live line would.
        if n % 1000 == 999 {
            now = now.advanced(Duration::from_secs(40));
            sb.handle_timeout(now);
            drain(&mut sb);
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(sb.active_calls(), 0, "every call ended");
    println!(
        "after-hours call, signalling only: {:.1} µs per call ({calls} calls)",
        elapsed.as_secs_f64() * 1e6 / f64::from(calls)
    );
}
