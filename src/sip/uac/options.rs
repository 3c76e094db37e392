//! OPTIONS keepalive to the provider (RFC 3261 §11): one OPTIONS every interval, its
//! result (any final answer proves the provider is reachable; its status is kept) and the
//! round-trip time, or a timeout at 64·T1 (Timer F). Retransmits on UDP like any
//! non-INVITE request (Timer E doubling to T2).
//!
//! Run loop as for [`super::Registration`]: `start`, `handle_response`, `handle_timeout`
//! at `poll_timeout`, `poll_transmit` after each. Invariants: at most one OPTIONS is
//! outstanding; the next is scheduled when the last one ends, so a slow provider is
//! never flooded.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;

use super::response::ResponseHead;
use crate::model::Now;
use crate::sip::message::{new_branch, new_call_id, new_tag};
use crate::sip::Transport;

/// How the last keepalive went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingResult {
    /// A final answer came back (any status: the provider is there).
    Answered {
        /// Its status code.
        status: u16,
        /// From sending the OPTIONS to its final answer (first transmission).
        rtt: Duration,
    },
    /// No final answer within 64·T1.
    Timeout,
}

/// Where and how the keepalive is sent.
#[derive(Debug, Clone)]
pub struct PingSettings {
    /// The Request-URI (the provider's server URI).
    pub target_uri: String,
    /// Our From URI.
    pub from_uri: String,
    /// Our Via `sent-by`.
    pub via_sent_by: String,
    /// Transport of the hop.
    pub transport: Transport,
    /// Our User-Agent.
    pub user_agent: String,
    /// How often.
    pub interval: Duration,
    /// RFC 3261 T1.
    pub t1: Duration,
    /// RFC 3261 T2.
    pub t2: Duration,
}

#[derive(Debug)]
struct Outstanding {
    branch: String,
    cseq: u32,
    bytes: Vec<u8>,
    sent_at: Instant,
    resend_at: Option<Instant>,
    resend_interval: Duration,
    deadline: Instant,
}

/// The keepalive machine.
#[derive(Debug)]
pub struct OptionsPing {
    settings: PingSettings,
    call_id: String,
    from_tag: String,
    cseq: u32,
    outstanding: Option<Outstanding>,
    next_at: Option<Instant>,
    last: Option<(PingResult, Now)>,
    outbox: VecDeque<Vec<u8>>,
}

impl OptionsPing {
    /// A machine that has sent nothing yet.
    pub fn new(settings: PingSettings, rng: &mut impl Rng) -> OptionsPing {
        let host = settings
            .via_sent_by
            .rsplit_once(':')
            .map_or(settings.via_sent_by.as_str(), |(h, _)| h)
            .to_string();
        OptionsPing {
            call_id: new_call_id(rng, &host),
            from_tag: new_tag(rng),
            settings,
            cseq: 0,
            outstanding: None,
            next_at: None,
            last: None,
            outbox: VecDeque::new(),
        }
    }

    /// Sends the first OPTIONS now.
    pub fn start(&mut self, now: Now, rng: &mut impl Rng) {
        self.send(now, rng);
    }

    /// Sends nothing more.
    pub fn stop(&mut self) {
        self.outstanding = None;
        self.next_at = None;
    }

    /// The last result and when it came.
    pub fn last(&self) -> Option<&(PingResult, Now)> {
        self.last.as_ref()
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// When [`OptionsPing::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let o = self
            .outstanding
            .as_ref()
            .map(|o| o.resend_at.map_or(o.deadline, |r| r.min(o.deadline)));
        [o, self.next_at].into_iter().flatten().min()
    }

    /// Fires a retransmission, the timeout, or the next OPTIONS.
    pub fn handle_timeout(&mut self, now: Now, rng: &mut impl Rng) {
        if let Some(o) = &mut self.outstanding {
            if now.mono >= o.deadline {
                self.outstanding = None;
                self.finish(PingResult::Timeout, now);
                return;
            }
            if o.resend_at.is_some_and(|at| now.mono >= at) {
                self.outbox.push_back(o.bytes.clone());
                o.resend_interval = (o.resend_interval * 2).min(self.settings.t2);
                o.resend_at = Some(now.mono + o.resend_interval);
            }
        }
        if self.outstanding.is_none() && self.next_at.is_some_and(|at| now.mono >= at) {
            self.send(now, rng);
        }
    }

    /// A response; `false` if it is not for our outstanding OPTIONS.
    pub fn handle_response(&mut self, bytes: &[u8], now: Now) -> bool {
        let Some(head) = ResponseHead::parse(bytes) else {
            return false;
        };
        let Some(o) = &self.outstanding else {
            return false;
        };
        let ours = head.value("call-id") == Some(self.call_id.as_str())
            && head
                .cseq()
                .is_some_and(|(n, m)| n == o.cseq && m.eq_ignore_ascii_case("OPTIONS"))
            && head.top_via_branch() == Some(o.branch.as_str());
        if !ours {
            return false;
        }
        if head.status >= 200 {
            let rtt = now.mono.saturating_duration_since(o.sent_at);
            self.outstanding = None;
            self.finish(
                PingResult::Answered {
                    status: head.status,
                    rtt,
                },
                now,
            );
        }
        true
    }

    /// The Call-ID of every OPTIONS this machine sends.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    fn finish(&mut self, result: PingResult, now: Now) {
        self.last = Some((result, now));
        self.next_at = Some(now.mono + self.settings.interval);
    }

    fn send(&mut self, now: Now, rng: &mut impl Rng) {
        self.cseq += 1;
        let s = &self.settings;
        let branch = new_branch(rng);
        let text = format!(
            "OPTIONS {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {sent_by};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{from}>;tag={tag}\r\n\
             To: <{uri}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} OPTIONS\r\n\
             Accept: application/sdp\r\n\
             User-Agent: {ua}\r\n\
             Content-Length: 0\r\n\r\n",
            uri = clean(&s.target_uri),
            transport = s.transport.as_str(),
            sent_by = clean(&s.via_sent_by),
            from = clean(&s.from_uri),
            tag = self.from_tag,
            call_id = self.call_id,
            cseq = self.cseq,
            ua = clean(&s.user_agent),
        );
        let bytes = text.into_bytes();
        self.outbox.push_back(bytes.clone());
        self.outstanding = Some(Outstanding {
            branch,
            cseq: self.cseq,
            bytes,
            sent_at: now.mono,
            resend_at: (!s.transport.is_reliable()).then(|| now.mono + s.t1),
            resend_interval: s.t1,
            deadline: now.mono + s.t1 * 64,
        });
    }
}

fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn ping() -> (OptionsPing, Now, SmallRng) {
        let mut rng = SmallRng::seed_from_u64(1);
        let settings = PingSettings {
            target_uri: "sip:sip.provider.example".into(),
            from_uri: "sip:78112792112@sip.provider.example".into(),
            via_sent_by: "192.0.2.10:5060".into(),
            transport: Transport::Udp,
            user_agent: "hotline".into(),
            interval: Duration::from_secs(30),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        };
        let now = Now {
            mono: Instant::now(),
            wall: "2026-12-01T09:00:00Z".parse().unwrap(),
        };
        (OptionsPing::new(settings, &mut rng), now, rng)
    }

    fn reply(request: &[u8], status: &str) -> Vec<u8> {
        let text = String::from_utf8(request.to_vec()).unwrap();
        let mut out = format!("SIP/2.0 {status}\r\n");
        for line in text.split("\r\n") {
            for name in ["Via:", "From:", "To:", "Call-ID:", "CSeq:"] {
                if line.starts_with(name) {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out.into_bytes()
    }

    #[test]
    fn answer_gives_the_rtt_and_schedules_the_next_ping() {
        let (mut p, now, mut rng) = ping();
        p.start(now, &mut rng);
        let sent = p.poll_transmit().unwrap();
        assert!(sent.starts_with(b"OPTIONS sip:sip.provider.example SIP/2.0\r\n"));
        let later = now.advanced(Duration::from_millis(40));
        assert!(p.handle_response(&reply(&sent, "200 OK"), later));
        let (result, _) = p.last().unwrap();
        assert_eq!(
            *result,
            PingResult::Answered {
                status: 200,
                rtt: Duration::from_millis(40)
            }
        );
        assert_eq!(p.poll_timeout(), Some(later.mono + Duration::from_secs(30)));
        p.handle_timeout(later.advanced(Duration::from_secs(30)), &mut rng);
        let next = p.poll_transmit().unwrap();
        assert!(String::from_utf8(next).unwrap().contains("CSeq: 2 OPTIONS"));
    }

    #[test]
    fn silence_is_a_timeout_at_64_t1_after_retransmissions() {
        let (mut p, mut now, mut rng) = ping();
        p.start(now, &mut rng);
        let first = p.poll_transmit().unwrap();
        let mut resent = 0;
        while p.last().is_none() {
            let at = p.poll_timeout().unwrap();
            now = now.advanced(at - now.mono);
            p.handle_timeout(now, &mut rng);
            while let Some(bytes) = p.poll_transmit() {
                assert_eq!(bytes, first);
                resent += 1;
            }
        }
        assert_eq!(p.last().unwrap().0, PingResult::Timeout);
        assert!(resent >= 9, "{resent}");
        assert!(
            !p.handle_response(&reply(&first, "200 OK"), now),
            "too late"
        );
    }

    #[test]
    fn any_final_status_counts_as_reachable() {
        let (mut p, now, mut rng) = ping();
        p.start(now, &mut rng);
        let sent = p.poll_transmit().unwrap();
        assert!(p.handle_response(&reply(&sent, "100 Trying"), now));
        assert!(p.last().is_none());
        assert!(p.handle_response(&reply(&sent, "405 Method Not Allowed"), now));
        assert!(matches!(
            p.last().unwrap().0,
            PingResult::Answered { status: 405, .. }
        ));
    }
}
