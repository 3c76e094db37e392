//! The hotline itself, sans-IO: the calls, the queue, and the routing between them and the
//! SIP user-agent core. Nothing here reads a clock or touches a socket, file or database.
//!
//! Shape (after quinn-proto's `Endpoint` and `Connection`): the [`Switchboard`] owns the
//! shared tables — the SIP core ([`UserAgent`]: transactions, dialogs routing, the
//! registrar), the calls, the queue ([`acd::Acd`]) — and routes every input to the one
//! call it belongs to. Each [`call::Call`] is a state machine of its own with private
//! fields; it reports what the queue must know as effects, and the queue's decisions
//! (ring this operator, give up, announce, overflow) come back to it as named
//! transitions. The queue decides who is rung; the call carries it out.
//!
//! Run loop (driven by `runtime::engine`):
//! 1. feed inputs: `handle_datagram` / `handle_message` (SIP from UDP/TCP), `handle_timeout`,
//!    `handle_media_ready` (the answer to `Action::OpenCallerMedia` / `OpenOperatorMedia`),
//!    `handle_media_event`, `handle_recording_done`, `begin_shutdown` / `end_all_calls`;
//! 2. drain `poll_action` until `None` and carry each action out;
//! 3. sleep until `poll_timeout` or the next input.
//!
//! Invariants: every INVITE that reaches the UA core opens exactly one register row before
//! anything else is written about it, and every opened row gets exactly one final update
//! (`ended_at` and a final `outcome`); a call owns at most two RTP sockets, all released
//! by `Action::CloseMedia`; the call map is looked up only here, once per routed input;
//! no input from the network can panic.

pub mod acd;
mod admission;
mod board;
mod call;
mod call_timers;
pub mod callback;
mod callback_routing;
pub mod counters;
pub mod door;
mod media_orders;
pub mod operators;
mod provider_entry;
pub mod queue;
mod routing;
pub mod self_service;
mod session;
mod settings;

#[cfg(test)]
mod b2bua_support;
#[cfg(test)]
mod b2bua_tests;
#[cfg(test)]
mod callback_board_tests;
#[cfg(test)]
mod callback_refresh_tests;
#[cfg(test)]
mod callback_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod menu_tests;
#[cfg(test)]
mod operator_admin_tests;
#[cfg(test)]
mod protocol_tests;
#[cfg(test)]
mod readings_call_tests;
#[cfg(test)]
mod renegotiation_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::media::player::RtpStreamState;
use crate::media::relay::LegConfig;
use crate::model::meters::Meter;
use crate::model::{Now, RegisterWrite};
use crate::sip::factory::Factory;
use crate::sip::message::{FrameError, SipMessage};
use crate::sip::registrar::{Account, RegistrarPolicy};
use crate::sip::ua::UserAgent;
use crate::sip::{Peer, Spare};

use self::acd::{Acd, AcdConfig};
use self::call::{Call, Ctx, Owner};

pub use self::media_orders::{leg_media, MediaEvent, MediaOrder, PromptKind};
pub use self::settings::Settings;
pub use crate::media::Leg;
pub use crate::model::RecordingResult;

/// A call inside this process (not the public id, which is `String`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// What the runtime must do.
// Actions live only between `poll_action` calls; boxing the register write would allocate
// for every write instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Put these bytes on the wire.
    Transmit { peer: Peer, data: Vec<u8> },
    /// Bind an RTP socket for the caller from the port pool and start the call's media
    /// task on it (symmetric RTP towards `media`, our stream starting at `stream`); then
    /// answer at once with `handle_media_ready(call, Leg::Caller, …)`.
    OpenCallerMedia {
        call: CallRef,
        media: LegConfig,
        stream: RtpStreamState,
    },
    /// Bind an RTP socket for a call-back's citizen leg (its media task starts later, with
    /// `StartCitizenMedia`, once the provider's SDP is known); answer with
    /// `handle_media_ready(call, Leg::Caller, …)`. The citizen is the call's caller leg.
    OpenCitizenMedia { call: CallRef },
    /// Start the call-back's media on the citizen's socket (symmetric RTP towards
    /// `media`, our stream starting at `stream`), as `OpenCallerMedia` does for a caller.
    StartCitizenMedia {
        call: CallRef,
        media: LegConfig,
        stream: RtpStreamState,
    },
    /// A call-back is over: record its outcome on the worklist item.
    CallBackDone(callback::CallBackDone),
    /// Bind an RTP socket for an operator leg (a ring); answer with
    /// `handle_media_ready(call, Leg::Operator, …)`. The bridge takes it later.
    OpenOperatorMedia { call: CallRef },
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
    /// Release the operator leg's socket (the ring failed or was called off).
    CloseOperatorMedia { call: CallRef },
    /// Stop all media of the call and release its RTP ports.
    CloseMedia { call: CallRef },
    /// Write to the call register, in order.
    Register(RegisterWrite),
    /// Look up the meters of `account` for the call's readings dialogue; answer with
    /// `handle_meters(call, …)` (an error or a slow database: `None`).
    LookUpMeters { call: CallRef, account: String },
    /// Store a reading the caller confirmed, with the call's public id and the time
    /// (source `phone`).
    StoreReading {
        call_id: String,
        at: jiff::Timestamp,
        reading: self_service::readings::Accepted,
    },
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
    /// Requests from known scanners, dropped unanswered.
    pub scanners_dropped: u64,
    pub invites: u64,
    pub calls_started: u64,
    pub calls_ended: u64,
    pub recordings_failed: u64,
}

pub struct Switchboard {
    settings: Settings,
    ua: UserAgent<Owner>,
    /// Boxed: a call's state is about 2.5 KB, and a table grows by doubling, so inline its
    /// empty half would cost up to that much again per live call.
    calls: HashMap<CallRef, Box<Call>>,
    pub(crate) acd: Acd,
    actions: VecDeque<Action>,
    rng: SmallRng,
    next_ref: u64,
    draining: bool,
    shutdown: Shutdown,
    stats: SwitchboardStats,
    counters: counters::Counters,
    /// The registered provider's resolved addresses (`provider_entry.rs`).
    provider_sources: Vec<std::net::IpAddr>,
    /// The calls' own deadlines (a menu waiting for a key).
    timers: call_timers::CallTimers,
    /// Call-backs of missed calls in progress (`callback/`); their refs share the calls'
    /// numbering, so SIP routing and timers tell them apart by the map they are in.
    callbacks: HashMap<CallRef, callback::CallBack>,
    /// The provider's first hop once resolved (`callback_routing.rs`).
    provider_hop: Option<Peer>,
}

impl Switchboard {
    /// `seed` feeds tags, branches, ids and SSRCs: the runtime passes OS randomness, tests a
    /// constant so that runs repeat exactly.
    pub fn new(settings: Settings, seed: u64, now: Now) -> Switchboard {
        let ids: Vec<String> = settings.operators.iter().map(|o| o.id.clone()).collect();
        let mut ua = UserAgent::new(
            settings.timers,
            factory(&settings),
            registrar_policy(&settings),
            accounts(&settings),
            seed,
            now.mono,
        );
        ua.set_rate_limits(settings.limits.rates, trunk_sources(&settings, &[]));
        let mut acd = Acd::new(settings.acd_config(), &ids);
        acd.set_skills(settings.operator_skills(), now.mono);
        Switchboard {
            ua,
            acd,
            calls: HashMap::new(),
            settings,
            actions: VecDeque::new(),
            rng: SmallRng::seed_from_u64(seed),
            next_ref: 1,
            draining: false,
            shutdown: Shutdown::Serving,
            stats: SwitchboardStats::default(),
            counters: counters::Counters::default(),
            provider_sources: Vec::new(),
            timers: call_timers::CallTimers::default(),
            callbacks: HashMap::new(),
            provider_hop: None,
        }
    }

    // ---- inputs ----

    /// A UDP datagram arrived.
    pub fn handle_datagram(&mut self, data: &[u8], source: Peer, now: Now) {
        self.ua.handle_datagram(data, source, now.mono);
        self.pump(now);
    }

    /// A whole SIP message arrived (from the TCP framer, or a parsed datagram).
    pub fn handle_message(&mut self, msg: SipMessage, source: Peer, now: Now) {
        self.ua.handle_message(msg, source, now.mono);
        self.pump(now);
    }

    /// Input that was not a SIP message we can read (from the TCP framer).
    pub fn answer_unparseable(&mut self, data: &[u8], why: &FrameError, source: Peer, now: Now) {
        self.ua.answer_unparseable(data, why, source);
        self.pump(now);
    }

    /// Fire due timers: the SIP core's, the queue's, and the calls' own (a menu awaiting a
    /// key, `call_timers.rs`).
    pub fn handle_timeout(&mut self, now: Now) {
        self.ua.handle_timeout(now.mono);
        self.pump(now);
        self.acd.handle_timeout(now.mono);
        self.pump(now);
        while let Some(call) = self.timers.pop_due(now.mono) {
            if self.is_callback(call) {
                self.with_callback(call, now, |c, ctx| c.handle_timeout(ctx));
            } else {
                self.with_call(call, now, |c, ctx| c.handle_timeout(ctx));
            }
            self.pump(now);
        }
        if let Shutdown::Grace { until } = self.shutdown {
            if until <= now.mono {
                tracing::warn!(
                    calls = self.calls.len(),
                    "grace over: ending calls in progress"
                );
                self.end_all_calls(now);
                self.shutdown = Shutdown::Ending {
                    until: now.mono + Self::HARD_STOP_AFTER,
                };
            }
        }
    }

    /// The runtime opened an RTP socket for a leg of the call (`Some(port)`), or could
    /// not (`None`).
    pub fn handle_media_ready(&mut self, call: CallRef, leg: Leg, port: Option<u16>, now: Now) {
        if self.callback_media_ready(call, leg, port, now) {
            return self.pump(now);
        }
        let found = self.with_call(call, now, |c, ctx| c.media_ready(ctx, leg, port));
        if found.is_none() && port.is_some() {
            // The call is gone: give back the port, and anything else the runtime still
            // holds for it.
            self.actions.push_back(Action::CloseMedia { call });
        }
        self.pump(now);
    }

    /// What the call's media task reports.
    pub fn handle_media_event(&mut self, call: CallRef, event: MediaEvent, now: Now) {
        if self.callback_media(call, event, now) {
            return self.pump(now);
        }
        self.with_call(call, now, |c, ctx| match event {
            MediaEvent::PromptFinished { tag } => c.prompt_finished(ctx, tag),
            MediaEvent::Inactive { leg } => c.media_inactive(ctx, leg),
            MediaEvent::Key { key } => c.key_pressed(ctx, key),
        });
        self.pump(now);
    }

    /// The answer to `Action::LookUpMeters`: the account's meters (empty: unknown
    /// account), or `None` when the database failed or did not answer in time.
    pub fn handle_meters(&mut self, call: CallRef, meters: Option<Vec<Meter>>, now: Now) {
        self.with_call(call, now, |c, ctx| c.meters_found(ctx, meters));
        self.pump(now);
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

    /// Stop admitting calls: new INVITEs get 503; calls in progress go on for `grace`,
    /// then are ended (`interrupted`), and their BYEs get [`Self::HARD_STOP_AFTER`] more.
    pub fn begin_shutdown(&mut self, grace: Duration, now: Now) {
        if self.draining {
            return;
        }
        tracing::info!(
            calls = self.calls.len(),
            ?grace,
            "shutting down: refusing new calls"
        );
        self.draining = true;
        self.shutdown = Shutdown::Grace {
            until: now.mono + grace,
        };
    }

    /// After a shutdown began: every call is over, or the time for their BYEs is up. The
    /// runtime stops serving then.
    pub fn is_stopped(&self, now: Now) -> bool {
        match self.shutdown {
            Shutdown::Serving => false,
            Shutdown::Grace { .. } => self.calls.is_empty() && self.callbacks.is_empty(),
            Shutdown::Ending { until } => {
                (self.calls.is_empty() && self.callbacks.is_empty()) || until <= now.mono
            }
        }
    }

    /// The shutdown grace is over: end every call still going (`interrupted`).
    pub fn end_all_calls(&mut self, now: Now) {
        let mut refs: Vec<CallRef> = self.calls.keys().copied().collect();
        refs.sort();
        for call in refs {
            self.with_call(call, now, |c, ctx| c.interrupt(ctx));
        }
        let mut refs: Vec<CallRef> = self.callbacks.keys().copied().collect();
        refs.sort();
        for call in refs {
            self.with_callback(call, now, |c, ctx| c.interrupt(ctx));
        }
        self.pump(now);
    }

    /// A new configuration (SIGHUP): hours, holidays, trunk, codecs, queue timings, the
    /// operator list and passwords take effect for what happens next; calls in progress
    /// go on as they are. Settings that need new sockets (listen addresses, RTP ports) are
    /// not reloaded.
    pub fn reload(&mut self, settings: Settings, now: Now) {
        let ids: Vec<String> = settings.operators.iter().map(|o| o.id.clone()).collect();
        self.ua.set_accounts(accounts(&settings), now.mono);
        self.ua.set_rate_limits(
            settings.limits.rates,
            trunk_sources(&settings, &self.provider_sources),
        );
        self.acd.set_operators(&ids, now.mono);
        self.acd.set_skill_wait(settings.menu.skill_wait);
        self.acd.set_skills(settings.operator_skills(), now.mono);
        let keep = (self.settings.sip_addr, self.settings.media_ip);
        self.settings = Settings {
            sip_addr: keep.0,
            media_ip: keep.1,
            ..settings
        };
        self.pump(now);
        tracing::info!(operators = ids.len(), "configuration reloaded");
    }

    // ---- outputs and reads ----

    /// The next instant `handle_timeout` must be called at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let shutdown = match self.shutdown {
            Shutdown::Serving => None,
            Shutdown::Grace { until } | Shutdown::Ending { until } => Some(until),
        };
        [
            self.ua.poll_timeout(),
            self.acd.poll_timeout(),
            self.timers.next(),
            shutdown,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() {
            self.actions.release_spare();
        }
        action
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Calls not yet over (including ones whose BYE is still in flight).
    pub fn active_calls(&self) -> usize {
        self.calls.len() + self.callbacks.len()
    }

    /// Nothing left to do: no calls and no live transactions.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.callbacks.is_empty() && self.ua.transactions() == 0
    }

    pub fn stats(&self) -> SwitchboardStats {
        let sip = self.ua.counters();
        SwitchboardStats {
            datagrams: sip.datagrams,
            keepalives: sip.keepalives,
            bad_answered: sip.bad_answered,
            bad_dropped: sip.bad_dropped,
            scanners_dropped: sip.scanners_dropped,
            ..self.stats
        }
    }

    /// What has been counted since start: calls by outcome, rings by result, SIP traffic.
    pub fn counters(&self) -> counters::Counters {
        let sip = self.ua.counters();
        let mut limited = self.counters.limited.clone();
        for (limit, n) in &sip.rate_limited {
            *limited.entry(limit).or_insert(0) += n;
        }
        counters::Counters {
            requests_in: sip.requests_in.clone(),
            responses_in: sip.responses_in.clone(),
            responses_out: sip.responses_out.clone(),
            limited,
            ..self.counters.clone()
        }
    }

    pub fn tx_stats(&self) -> crate::sip::transaction::TxStats {
        self.ua.tx_stats()
    }

    pub fn registrar_stats(&self) -> crate::sip::registrar::RegistrarStats {
        self.ua.registrar_stats()
    }

    pub fn transactions(&self) -> usize {
        self.ua.transactions()
    }

    // ---- routing ----

    /// Run `f` on the call with its span entered, then act on what it reported; forget
    /// the call once it is finished. `None` if there is no such call.
    fn with_call<R>(
        &mut self,
        call: CallRef,
        now: Now,
        f: impl FnOnce(&mut Call, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let mut effects = Vec::new();
        let c = self.calls.get_mut(&call)?;
        let span = c.span().clone();
        let operators_present = self.acd.anyone_logged_in();
        let result = {
            let _enter = span.enter();
            let mut ctx = Ctx {
                now,
                ua: &mut self.ua,
                settings: &self.settings,
                rng: &mut self.rng,
                actions: &mut self.actions,
                effects: &mut effects,
                counters: &mut self.counters,
                operators_present,
                provider_hop: self.provider_hop,
            };
            f(c, &mut ctx)
        };
        let finished = c.is_finished();
        self.timers.set(call, c.poll_timeout());
        for effect in effects {
            self.on_effect(call, effect, now);
        }
        if finished && self.calls.get(&call).is_some_and(|c| c.is_finished()) {
            self.forget(call);
        }
        Some(result)
    }

    /// Drop a finished call and the routes to it.
    fn forget(&mut self, call: CallRef) {
        self.timers.set(call, None);
        if let Some(c) = self.calls.remove(&call) {
            for key in c.dialog_keys() {
                self.ua.unbind_dialog(&key);
            }
            self.stats.calls_ended += 1;
        }
        self.calls.release_spare();
    }

    fn new_ref(&mut self) -> CallRef {
        let r = CallRef(self.next_ref);
        self.next_ref += 1;
        r
    }

    /// After the grace, how long our BYEs may take before the line stops regardless.
    pub const HARD_STOP_AFTER: Duration = Duration::from_secs(5);
}

/// Where a shutdown stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    /// Taking calls.
    Serving,
    /// New calls refused; calls in progress may finish until `until`.
    Grace { until: Instant },
    /// Calls in progress were ended; their BYEs have until `until`.
    Ending { until: Instant },
}

/// Trunk sources get the trunk's INVITE rate (the UA core does not know the trunk).
fn trunk_sources(
    settings: &Settings,
    provider: &[std::net::IpAddr],
) -> crate::sip::ua::TrustedSources {
    let trunk = settings.trunk.clone();
    let provider = provider.to_vec();
    Box::new(move |ip| trunk.allows(ip) || provider.contains(&ip))
}

/// The registrar's accounts from the configured operators.
fn accounts(settings: &Settings) -> Vec<Account> {
    settings.operators.iter().map(Account::from).collect()
}

/// The registrar's rules from the configuration (realm, offered digest algorithms).
fn registrar_policy(settings: &Settings) -> RegistrarPolicy {
    RegistrarPolicy {
        algorithms: settings.digest_algorithms.clone(),
        guard: settings.auth_guard.clone(),
        ..RegistrarPolicy::with_realm(settings.realm.clone())
    }
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

/// Our message factory: the public SIP address, and the TLS port when TLS is served.
fn factory(settings: &Settings) -> Factory {
    let factory = Factory::new(settings.sip_addr, settings.user_agent.clone());
    match settings.tls_port {
        Some(port) => factory.with_tls_port(port),
        None => factory,
    }
}
