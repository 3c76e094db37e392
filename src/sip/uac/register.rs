//! Registration to the provider: RFC 3261 §10.2 (REGISTER, refreshing before the granted
//! expiry, §10.2.8 `423 Interval Too Brief` with `Min-Expires`), §22 digest answers to
//! 401 and 407, §17.1.2 non-INVITE client retransmissions (Timer E doubling to T2 on UDP,
//! Timer F at 64·T1), and RFC 5626-style back-off with jitter after failures.
//!
//! Run loop: the runtime calls [`Registration::start`], then feeds every response
//! ([`Registration::handle_response`]) and wakes at [`Registration::poll_timeout`] to call
//! [`Registration::handle_timeout`]; after each input it sends whatever
//! [`Registration::poll_transmit`] yields. [`Registration::stop`] un-REGISTERs
//! (`Expires: 0`); the machine is done when [`Registration::is_finished`].
//!
//! Invariants: at most one REGISTER transaction is outstanding; CSeq rises by one for
//! every new request of the one Call-ID (§10.2.4); a retransmission is byte-identical;
//! the same nonce refused twice (without `stale=true`) is a wrong password and is not
//! answered again until the next attempt; every failure schedules exactly one retry.
//! Nothing here reads a clock or panics on what the registrar sends.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;

use super::response::{contact_expires, ResponseHead};
use crate::model::Now;
use crate::sip::digest::{pick_challenge, AuthHeader, ClientAuth};
use crate::sip::message::{new_branch, new_call_id, new_tag};
use crate::sip::Transport;

/// The first retry after a failure (before jitter).
pub const RETRY_MIN: Duration = Duration::from_secs(5);
/// The longest wait between retries (before jitter).
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// Challenges answered in one attempt: a 407 from an outbound proxy and a 401 from the
/// registrar behind it is the longest honest sequence.
const MAX_CHALLENGES: u8 = 3;
/// A `Min-Expires` beyond a day is not a registrar we can refresh sensibly.
const MAX_MIN_EXPIRES: u32 = 86_400;

/// What the machine needs to know, from `[trunk.provider]` and `[sip]`.
#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    /// The REGISTER's Request-URI and digest `uri`: the registrar without user part.
    pub registrar_uri: String,
    /// The address-of-record in From and To: `sip:<username>@<registrar host>`.
    pub aor: String,
    /// Our Contact URI, where the provider sends calls: `sip:<username>@<public>:<port>`.
    pub contact: String,
    /// Our Via `sent-by` (`host:port`).
    pub via_sent_by: String,
    /// The transport the REGISTER travels on.
    pub transport: Transport,
    /// The digest user name.
    pub auth_username: String,
    /// The digest password.
    pub password: String,
    /// The registration interval we ask for, in seconds.
    pub expires: u32,
    /// Our User-Agent.
    pub user_agent: String,
    /// RFC 3261 T1.
    pub t1: Duration,
    /// RFC 3261 T2.
    pub t2: Duration,
    /// The first back-off after a failure.
    pub retry_min: Duration,
    /// The longest back-off.
    pub retry_max: Duration,
}

/// Where the registration stands, as `/readyz`, `/metrics` and the live board show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationPhase {
    /// The first REGISTER is under way.
    Registering,
    /// The registrar accepted our binding.
    Registered,
    /// The last attempt failed; a retry is scheduled.
    Failing,
    /// The un-REGISTER is under way.
    Unregistering,
    /// Stopped: un-registered (or never registered).
    Unregistered,
}

impl RegistrationPhase {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationPhase::Registering => "registering",
            RegistrationPhase::Registered => "registered",
            RegistrationPhase::Failing => "failing",
            RegistrationPhase::Unregistering => "unregistering",
            RegistrationPhase::Unregistered => "unregistered",
        }
    }
}

/// The registration's state for observers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationStatus {
    /// The phase.
    pub phase: RegistrationPhase,
    /// When the phase was entered.
    pub since: Now,
    /// Why the last attempt failed (kept after a later success for the record).
    pub last_error: Option<String>,
    /// The interval the registrar granted last, in seconds.
    pub granted_expires: Option<u32>,
    /// Failures in a row.
    pub failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// The one outstanding REGISTER transaction.
#[derive(Debug)]
struct Pending {
    purpose: Purpose,
    branch: String,
    cseq: u32,
    bytes: Vec<u8>,
    resend_at: Option<Instant>,
    resend_interval: Duration,
    deadline: Instant,
    challenges: u8,
}

/// The registration state machine (one binding at one registrar).
#[derive(Debug)]
pub struct Registration {
    settings: RegistrationSettings,
    auth: ClientAuth,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    pending: Option<Pending>,
    next_attempt: Option<Instant>,
    status: RegistrationStatus,
    outbox: VecDeque<Vec<u8>>,
}

impl Registration {
    /// A machine that has sent nothing yet.
    pub fn new(settings: RegistrationSettings, now: Now, rng: &mut impl Rng) -> Registration {
        let host = settings
            .via_sent_by
            .rsplit_once(':')
            .map_or(settings.via_sent_by.as_str(), |(h, _)| h)
            .to_string();
        Registration {
            auth: ClientAuth::new(&settings.auth_username, &settings.password),
            call_id: new_call_id(rng, &host),
            from_tag: new_tag(rng),
            cseq: 0,
            expires: settings.expires,
            settings,
            pending: None,
            next_attempt: None,
            status: RegistrationStatus {
                phase: RegistrationPhase::Registering,
                since: now,
                last_error: None,
                granted_expires: None,
                failures: 0,
            },
            outbox: VecDeque::new(),
        }
    }

    /// Sends the first REGISTER (a restart always registers afresh).
    pub fn start(&mut self, now: Now, rng: &mut impl Rng) {
        self.send(Purpose::Register, now, rng, 0);
    }

    /// Registers again at once, forgetting the cached challenge: the network changed or
    /// the provider's address did.
    pub fn restart(&mut self, now: Now, rng: &mut impl Rng) {
        self.auth.forget();
        self.send(Purpose::Register, now, rng, 0);
    }

    /// Un-REGISTERs (`Expires: 0`) if a binding may exist; otherwise stops at once.
    pub fn stop(&mut self, now: Now, rng: &mut impl Rng) {
        self.next_attempt = None;
        let bound = self.status.granted_expires.is_some() || self.pending.is_some();
        if bound && self.status.phase != RegistrationPhase::Unregistered {
            self.set_phase(RegistrationPhase::Unregistering, now);
            self.send(Purpose::Unregister, now, rng, 0);
        } else {
            self.pending = None;
            self.set_phase(RegistrationPhase::Unregistered, now);
        }
    }

    /// Whether the machine has stopped for good.
    pub fn is_finished(&self) -> bool {
        self.status.phase == RegistrationPhase::Unregistered
    }

    /// The state for observers.
    pub fn status(&self) -> &RegistrationStatus {
        &self.status
    }

    /// The Call-ID every REGISTER of this machine carries.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The interval asked for now (raised by a 423).
    pub fn requested_expires(&self) -> u32 {
        self.expires
    }

    /// The next bytes to send to the registrar (or the outbound proxy).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// The next moment [`Registration::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pending = self
            .pending
            .as_ref()
            .map(|p| p.resend_at.map_or(p.deadline, |r| r.min(p.deadline)));
        [pending, self.next_attempt].into_iter().flatten().min()
    }

    /// Fires whatever is due: a retransmission, a transaction timeout, a refresh or a
    /// retry.
    pub fn handle_timeout(&mut self, now: Now, rng: &mut impl Rng) {
        if let Some(p) = &mut self.pending {
            if now.mono >= p.deadline {
                let purpose = p.purpose;
                self.pending = None;
                self.fail(
                    purpose,
                    "no answer from the registrar (timeout)".into(),
                    None,
                    now,
                    rng,
                );
                return;
            }
            if p.resend_at.is_some_and(|at| now.mono >= at) {
                self.outbox.push_back(p.bytes.clone());
                p.resend_interval = (p.resend_interval * 2).min(self.settings.t2);
                p.resend_at = Some(now.mono + p.resend_interval);
            }
        }
        if self.next_attempt.is_some_and(|at| now.mono >= at) && self.pending.is_none() {
            self.next_attempt = None;
            self.send(Purpose::Register, now, rng, 0);
        }
    }

    /// The transport could not carry the request (connection refused, no route): the
    /// attempt fails now rather than at Timer F.
    pub fn handle_transport_error(&mut self, reason: &str, now: Now, rng: &mut impl Rng) {
        if let Some(p) = self.pending.take() {
            self.fail(p.purpose, format!("transport: {reason}"), None, now, rng);
        }
    }

    /// The connection the binding was made over (TCP or TLS) is gone. A REGISTER under way
    /// fails as on any transport error; a binding we hold is registered again at once, over
    /// a new connection, since the provider's calls to us travel on the registration's
    /// connection (RFC 5626 §4.4.1: a flow that fails is recovered by registering anew).
    /// Un-registering or stopped, nothing happens.
    pub fn handle_connection_lost(&mut self, reason: &str, now: Now, rng: &mut impl Rng) {
        if self.pending.is_some() {
            return self.handle_transport_error(reason, now, rng);
        }
        if self.status.phase == RegistrationPhase::Registered {
            self.send(Purpose::Register, now, rng, 0);
        }
    }

    /// A response from the registrar. Returns `false` when it is not for our outstanding
    /// REGISTER (a stray, late or foreign response), which changes nothing.
    pub fn handle_response(&mut self, bytes: &[u8], now: Now, rng: &mut impl Rng) -> bool {
        let Some(head) = ResponseHead::parse(bytes) else {
            return false;
        };
        let Some(p) = &self.pending else {
            return false;
        };
        let ours = head.value("call-id") == Some(self.call_id.as_str())
            && head
                .cseq()
                .is_some_and(|(n, m)| n == p.cseq && m.eq_ignore_ascii_case("REGISTER"))
            && head.top_via_branch() == Some(p.branch.as_str());
        if !ours {
            return false;
        }
        if head.status < 200 {
            // §17.1.2.2: a provisional answer slows retransmissions to T2.
            if let Some(p) = &mut self.pending {
                if p.resend_at.is_some() {
                    p.resend_interval = self.settings.t2;
                    p.resend_at = Some(now.mono + self.settings.t2);
                }
            }
            return true;
        }
        let p = self.pending.take().expect("checked above");
        match head.status {
            200..=299 => self.succeeded(p.purpose, &head, now, rng),
            401 | 407 => self.challenged(p, &head, now, rng),
            423 if p.purpose == Purpose::Register => self.too_brief(&head, now, rng),
            status => {
                let error = format!("{status} {}", head.reason.trim());
                let retry_after = head.seconds("retry-after");
                self.fail(p.purpose, error, retry_after, now, rng);
            }
        }
        true
    }

    fn succeeded(&mut self, purpose: Purpose, head: &ResponseHead, now: Now, rng: &mut impl Rng) {
        if purpose == Purpose::Unregister {
            self.status.granted_expires = None;
            self.set_phase(RegistrationPhase::Unregistered, now);
            return;
        }
        let granted = self.granted_expires(head);
        if granted == 0 {
            self.fail(
                purpose,
                "the registrar granted no time".into(),
                None,
                now,
                rng,
            );
            return;
        }
        self.status.granted_expires = Some(granted);
        self.status.failures = 0;
        self.set_phase(RegistrationPhase::Registered, now);
        self.next_attempt = Some(now.mono + refresh_after(granted));
    }

    /// The interval granted to our Contact (§10.2.4): its `expires` parameter, else the
    /// Expires header, else what we asked for.
    fn granted_expires(&self, head: &ResponseHead) -> u32 {
        let ours = head.contacts().into_iter().find(|entry| {
            let uri = entry
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map_or(*entry, |(uri, _)| uri);
            uri.eq_ignore_ascii_case(&self.settings.contact)
        });
        ours.and_then(contact_expires)
            .or_else(|| head.seconds("expires"))
            .unwrap_or(self.expires)
    }

    fn challenged(&mut self, p: Pending, head: &ResponseHead, now: Now, rng: &mut impl Rng) {
        let header = if head.status == 401 {
            AuthHeader::Www
        } else {
            AuthHeader::Proxy
        };
        let status = format!("{} {}", head.status, head.reason.trim());
        if p.challenges >= MAX_CHALLENGES {
            let error = format!("{status}: too many challenges");
            return self.fail(p.purpose, error, None, now, rng);
        }
        let challenge = match pick_challenge(head.values(header.challenge_name())) {
            Ok(challenge) => challenge,
            Err(e) => return self.fail(p.purpose, format!("{status}: {e}"), None, now, rng),
        };
        if !self.auth.take_challenge(header, challenge) {
            let error = format!("{status}: credentials refused");
            return self.fail(p.purpose, error, None, now, rng);
        }
        self.send(p.purpose, now, rng, p.challenges + 1);
    }

    fn too_brief(&mut self, head: &ResponseHead, now: Now, rng: &mut impl Rng) {
        match head.seconds("min-expires") {
            Some(min) if min > self.expires && min <= MAX_MIN_EXPIRES => {
                self.expires = min;
                self.send(Purpose::Register, now, rng, 0);
            }
            _ => {
                let error = "423 Interval Too Brief without a usable Min-Expires".to_string();
                self.fail(Purpose::Register, error, None, now, rng);
            }
        }
    }

    fn fail(
        &mut self,
        purpose: Purpose,
        error: String,
        retry_after: Option<u32>,
        now: Now,
        rng: &mut impl Rng,
    ) {
        self.status.last_error = Some(error);
        if purpose == Purpose::Unregister {
            // Shutting down: the binding will expire by itself; nothing to retry.
            self.set_phase(RegistrationPhase::Unregistered, now);
            return;
        }
        self.status.failures = self.status.failures.saturating_add(1);
        self.set_phase(RegistrationPhase::Failing, now);
        let delay = backoff(&self.settings, self.status.failures, rng)
            .max(Duration::from_secs(retry_after.unwrap_or(0).into()));
        self.next_attempt = Some(now.mono + delay);
    }

    fn set_phase(&mut self, phase: RegistrationPhase, now: Now) {
        if self.status.phase != phase {
            self.status.phase = phase;
            self.status.since = now;
        }
    }

    fn send(&mut self, purpose: Purpose, now: Now, rng: &mut impl Rng, challenges: u8) {
        self.cseq += 1;
        let branch = new_branch(rng);
        let expires = match purpose {
            Purpose::Register => self.expires,
            Purpose::Unregister => 0,
        };
        let authorization = self
            .auth
            .authorize("REGISTER", &self.settings.registrar_uri, rng);
        let bytes = self.request(&branch, expires, authorization).into_bytes();
        self.outbox.push_back(bytes.clone());
        let resend_at =
            (!self.settings.transport.is_reliable()).then(|| now.mono + self.settings.t1);
        self.pending = Some(Pending {
            purpose,
            branch,
            cseq: self.cseq,
            bytes,
            resend_at,
            resend_interval: self.settings.t1,
            deadline: now.mono + self.settings.t1 * 64,
            challenges,
        });
    }

    /// The REGISTER's wire form (§10.2). Values come from the validated configuration;
    /// control characters are dropped anyway so nothing can break a header line.
    fn request(&self, branch: &str, expires: u32, auth: Option<(&str, String)>) -> String {
        let s = &self.settings;
        let mut text = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {sent_by};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{aor}>;tag={tag}\r\n\
             To: <{aor}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <{contact}>;expires={expires}\r\n\
             Expires: {expires}\r\n",
            uri = clean(&s.registrar_uri),
            transport = s.transport.as_str(),
            sent_by = clean(&s.via_sent_by),
            aor = clean(&s.aor),
            tag = self.from_tag,
            call_id = self.call_id,
            cseq = self.cseq,
            contact = clean(&s.contact),
        );
        if let Some((name, value)) = auth {
            text.push_str(&format!("{name}: {}\r\n", clean(&value)));
        }
        text.push_str(&format!(
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n\
             User-Agent: {}\r\nContent-Length: 0\r\n\r\n",
            clean(&s.user_agent)
        ));
        text
    }
}

/// When to refresh a binding granted for `granted` seconds: early enough that a whole
/// UDP transaction (32 s) and a retry fit before it lapses, never later than half-way.
pub fn refresh_after(granted: u32) -> Duration {
    let granted = u64::from(granted);
    let margin = (granted / 2).min((granted / 10).max(32));
    Duration::from_secs(granted - margin)
}

/// The wait before retry number `failures` (1 = first): doubling from `retry_min` up to
/// `retry_max`, then a random point in its upper half so that many lines behind one
/// provider do not retry in step.
pub fn backoff(settings: &RegistrationSettings, failures: u32, rng: &mut impl Rng) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let full = settings
        .retry_min
        .saturating_mul(1 << exp)
        .min(settings.retry_max);
    let half = full / 2;
    half + full.mul_f64(rng.random_range(0.0..0.5)).min(half)
}

fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}
