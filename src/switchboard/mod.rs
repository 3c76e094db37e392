//! The hotline itself, sans-IO: the UA core above the transaction layer, the calls, the
//! register writes. Nothing here reads a clock or touches a socket, file or database.
//!
//! Run loop (driven by `runtime::engine`):
//! 1. feed inputs: `handle_datagram` / `handle_message` (SIP from UDP/TCP), `handle_timeout`,
//!    `handle_media_opened` / `handle_media_failed` (answers to `Action::OpenMedia`),
//!    `handle_media_event`, `begin_shutdown` / `end_all_calls`;
//! 2. drain `poll_action` until `None` and carry each action out;
//! 3. sleep until `poll_timeout` or the next input.
//!
//! Invariants: every INVITE that reaches the UA core opens exactly one register row before
//! anything else is written about it, and every opened row gets exactly one final update
//! (`ended_at` and a final `outcome`); a call owns at most one RTP socket, always released by
//! `Action::CloseMedia`; no input from the network can panic.

pub mod acd;
pub mod door;
pub mod media_orders;
pub mod operators;
pub mod queue;

mod arrival;
#[cfg(test)]
mod b2bua_support;
#[cfg(test)]
mod b2bua_tests;
mod board;
mod calls;
pub mod counters;
#[cfg(test)]
mod operator_admin_tests;
mod operator_leg;
mod queueing;
mod registration;
mod requests;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::model::Now;
use crate::media::player::RtpStreamState;
use crate::media::relay::LegConfig;
use crate::sip::message::{self, Datagram, FrameError, Response, SipMessage};
use crate::sip::registrar::Registrar;

use self::acd::Acd;
use crate::sip::transaction::{TransactionLayer, TxEvent, TxKey};
use crate::sip::Peer;

use self::calls::Call;
use crate::model::RegisterWrite;

pub use self::settings::Settings;

/// A call inside this process (not the public id, which is `String`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

pub use self::media_orders::{leg_media, MediaEvent, MediaOrder, PromptKind};
pub use crate::media::Leg;
pub use crate::model::RecordingResult;

/// What the runtime must do.
// Actions live only between `poll_action` calls; boxing the register write would allocate
// for every write instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Put these bytes on the wire.
    Transmit { peer: Peer, data: Vec<u8> },
    /// Bind an RTP socket for a leg of this call from the port pool, then answer at once
    /// with `handle_media_opened` or `handle_media_failed`.
    OpenMedia { call: CallRef, leg: Leg },
    /// Start the call's media task on its caller socket (symmetric RTP towards `caller`).
    StartMedia {
        call: CallRef,
        caller: LegConfig,
        stream: RtpStreamState,
    },
    /// An order for the call's media task.
    Media { call: CallRef, order: MediaOrder },
    /// Start recording the conversation (both legs, from now) to the call's WAV file.
    StartRecording {
        call: CallRef,
        call_id: String,
        received_at: jiff::Timestamp,
    },
    /// The conversation is over: finish the recording. The runtime reports the outcome
    /// back with `handle_recording_done`.
    StopRecording { call: CallRef },
    /// Release the operator leg's socket (the ring failed or the operator left).
    CloseOperatorMedia { call: CallRef },
    /// Stop all media of the call and release its RTP ports.
    CloseMedia { call: CallRef },
    /// Write to the call register, in order.
    Register(RegisterWrite),
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchboardStats {
    pub datagrams: u64,
    pub keepalives: u64,
    /// Unparseable input that got a 400/501.
    pub bad_answered: u64,
    /// Unparseable input that could not be answered and was dropped.
    pub bad_dropped: u64,
    pub invites: u64,
    pub calls_started: u64,
    pub calls_ended: u64,
    pub recordings_failed: u64,
}

pub struct Switchboard {
    settings: Settings,
    tx: TransactionLayer,
    calls: HashMap<CallRef, Call>,
    /// INVITE server transaction → call (CANCEL, ACK timeout).
    by_invite: HashMap<TxKey, CallRef>,
    /// (Call-ID, our tag) → call and leg, for in-dialog requests.
    by_dialog: HashMap<(String, String), (CallRef, Leg)>,
    /// Our BYE client transactions → call.
    by_bye: HashMap<TxKey, CallRef>,
    /// Our INVITEs to operators, until their transactions end.
    rings: HashMap<TxKey, operator_leg::Ring>,
    pub(crate) acd: Acd,
    registrar: Registrar,
    /// Responses held back on purpose (registrar tarpit), sent at their instant.
    delayed: Vec<(Instant, TxKey, Response)>,
    actions: VecDeque<Action>,
    rng: SmallRng,
    next_ref: u64,
    draining: bool,
    stats: SwitchboardStats,
    counters: counters::Counters,
}

impl Switchboard {
    /// `seed` feeds tags, branches, ids and SSRCs: the runtime passes OS randomness, tests a
    /// constant so that runs repeat exactly.
    pub fn new(settings: Settings, seed: u64, now: Now) -> Switchboard {
        let ids: Vec<String> = settings.operators.iter().map(|o| o.id.clone()).collect();
        Switchboard {
            tx: TransactionLayer::new(settings.timers),
            acd: Acd::new(queueing::acd_config(&settings.queue), &ids),
            registrar: registration::new_registrar(&settings, seed, now.mono),
            calls: HashMap::new(),
            by_invite: HashMap::new(),
            by_dialog: HashMap::new(),
            by_bye: HashMap::new(),
            rings: HashMap::new(),
            delayed: Vec::new(),
            settings,
            actions: VecDeque::new(),
            rng: SmallRng::seed_from_u64(seed),
            next_ref: 1,
            draining: false,
            stats: SwitchboardStats::default(),
            counters: counters::Counters::default(),
        }
    }

    /// A UDP datagram arrived.
    pub fn handle_datagram(&mut self, data: &[u8], source: Peer, now: Now) {
        self.stats.datagrams += 1;
        match message::parse_datagram(data) {
            Ok(Datagram::Message(msg)) => self.handle_message(msg, source, now),
            Ok(Datagram::KeepAlive) => self.stats.keepalives += 1,
            Err(e) => self.answer_unparseable(data, &e, source),
        }
    }

    /// A whole SIP message arrived (from the TCP framer, or a parsed datagram).
    pub fn handle_message(&mut self, msg: SipMessage, source: Peer, now: Now) {
        // The transaction layer stamps `received`/`rport` into the top Via (RFC 3581).
        self.tx.handle_message(msg, source, now.mono);
        self.pump(now);
    }

    /// Input that was not a SIP message we can read: answer it (400, 501 for an unknown
    /// method, 505, 513) when there is enough to address a response, else drop and count.
    pub fn answer_unparseable(&mut self, data: &[u8], why: &FrameError, source: Peer) {
        match message::error_response(data, why.status(), &why.reason()) {
            Some(bytes) => {
                self.stats.bad_answered += 1;
                // Unparsed means no trustworthy Via: answer the flow it came on.
                self.actions.push_back(Action::Transmit {
                    peer: source,
                    data: bytes,
                });
            }
            None => self.stats.bad_dropped += 1,
        }
        tracing::debug!(%source, %why, "unparseable SIP input");
    }

    /// Fire due timers.
    pub fn handle_timeout(&mut self, now: Now) {
        self.tx.handle_timeout(now.mono);
        self.pump(now);
        self.registrar_timeout(now);
        self.send_delayed(now);
        self.acd.handle_timeout(now.mono);
        self.pump(now);
    }

    /// The next instant `handle_timeout` must be called at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let delayed = self.delayed.iter().map(|d| d.0).min();
        [
            self.tx.poll_timeout(),
            self.registrar.poll_timeout(),
            self.acd.poll_timeout(),
            delayed,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// A recording is closed: its facts (or why it failed) go into the call's row. The call
    /// itself may be long gone; the row is found by its public id.
    pub fn handle_recording_done(&mut self, call_id: &str, result: RecordingResult) {
        if let RecordingResult::Failed { reason, .. } = &result {
            tracing::error!(call_id, %reason, "recording failed");
            self.stats.recordings_failed += 1;
        }
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: call_id.to_string(),
                update: result.into_update(),
            }));
    }

    /// Stop admitting calls: new INVITEs get 503; calls in progress go on.
    pub fn begin_shutdown(&mut self) {
        self.draining = true;
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// The shutdown grace is over: end every call still going (`interrupted`).
    pub fn end_all_calls(&mut self, now: Now) {
        let refs: Vec<CallRef> = self.calls.keys().copied().collect();
        for call in refs {
            self.interrupt(call, now);
        }
        self.pump(now);
    }

    /// Calls not yet over (including ones whose BYE is still in flight).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Nothing left to do: no calls and no live transactions.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.tx.is_empty()
    }

    pub fn stats(&self) -> SwitchboardStats {
        self.stats
    }

    pub fn counters(&self) -> &counters::Counters {
        &self.counters
    }

    pub fn tx_stats(&self) -> crate::sip::transaction::TxStats {
        self.tx.stats()
    }

    pub fn registrar_stats(&self) -> crate::sip::registrar::RegistrarStats {
        self.registrar.stats()
    }

    pub fn transactions(&self) -> usize {
        self.tx.len()
    }

    /// Drain the transaction layer's and the ACD's outputs until both are quiet.
    fn pump(&mut self, now: Now) {
        loop {
            if let Some(event) = self.tx.poll_event() {
                self.on_tx_event(event, now);
            } else if let Some(action) = self.acd.poll_action() {
                self.on_acd_action(action, now);
            } else {
                break;
            }
        }
    }

    fn on_tx_event(&mut self, event: TxEvent, now: Now) {
        {
            match event {
                TxEvent::Transmit { peer, data } => {
                    self.actions.push_back(Action::Transmit { peer, data })
                }
                TxEvent::Request {
                    key,
                    request,
                    source,
                } => {
                    counters::Counters::bump(
                        &mut self.counters.requests_in,
                        request.method.to_string(),
                    );
                    self.on_request(key, request, source, now)
                }
                TxEvent::AckFor2xx { invite, .. } => self.on_ack(&invite),
                TxEvent::StrayAck { .. } => {}
                TxEvent::Cancelled { invite, .. } => self.on_cancel(&invite, now),
                TxEvent::Response { key, response } => {
                    counters::Counters::bump(
                        &mut self.counters.responses_in,
                        response.status_code.code(),
                    );
                    self.on_response(&key, &response, now)
                }
                TxEvent::Timeout { key } => self.on_client_timeout(&key, now),
                TxEvent::AckTimeout { invite } => self.on_ack_timeout(&invite, now),
                TxEvent::Terminated { key } => self.on_terminated(&key),
            }
        }
    }

    fn new_ref(&mut self) -> CallRef {
        let r = CallRef(self.next_ref);
        self.next_ref += 1;
        r
    }

    /// How long the caller should wait before retrying after a 503 during shutdown.
    const RETRY_AFTER: Duration = Duration::from_secs(30);
}

/// A number as it may appear in logs: in full only when configured (personal data).
pub(crate) fn loggable_number(number: &str, show: bool) -> String {
    let len = number.chars().count();
    if show || len <= 4 {
        return number.to_string();
    }
    // Keep the prefix (operator, region) and hide the subscriber's last four digits.
    number.chars().take(len - 4).chain("****".chars()).collect()
}
