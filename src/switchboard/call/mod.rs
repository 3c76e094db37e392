//! One call through the line: a state machine of its own, owning its legs (the caller's,
//! and the operator's once one answers) and the rings of operators made for it. It knows
//! nothing of other calls, the queue or the operators' states: the switchboard routes
//! each input to it, it changes state only through the named transitions below and the
//! files beside this one, and it reports what others must know as [`Effect`]s.
//!
//! ```text
//!   INVITE ─door─► Admitted ─socket─► Serving (after hours, feature code) ──message done──┐
//!                   │ CANCEL: 487          └─► Greeting ─► Notice ─(Menu)─► Queued ─answer─► Connected
//!                   │ no port: 503                                   │ overflow,          │
//!                   ▼                                                ▼ no operators       ▼ BYE either side
//!                 Ended ◄──────── BYE from the caller, RTP timeout ── Farewell ──────────► Ended
//! ```
//! `ARCHITECTURE.md` has the table of states: what enters each, what leaves it.
//!
//! Files: `arrival.rs` (answering and the caller's prompts), `menu.rs` (the topic menu
//! between the notice and the queue, and the call's one timer), `readings.rs` (the
//! meter-readings dialogue the menu may lead to), `ringing.rs` (operators rung
//! for this call), `dialogs.rs` (requests inside either leg's dialog: BYE, re-INVITE,
//! UPDATE), `ending.rs` (hanging up and the register row's last word).
//!
//! Invariants: the register row (if the call has one) is closed exactly once; the call's
//! RTP ports are released exactly once (`CloseMedia`); the call is finished (may be
//! forgotten) only when no BYE or ring of it is still waiting for an answer.

mod arrival;
mod dialogs;
mod ending;
mod menu;
mod readings;
mod ringing;

use std::time::Instant;

use jiff::Timestamp;
use rand::rngs::SmallRng;
use tracing::Span;

use crate::media::Leg;
use crate::model::{
    CallEvent, CallEventKind, CallUpdate, EndReason, Outcome, RegisterWrite, RingResult,
};
use crate::sdp::{Negotiated, RemoteSession};
use crate::sip::dialog::Dialog;
use crate::sip::message::Request;
use crate::sip::session_timer::UasAnswer;
use crate::sip::transaction::TxKey;
use crate::sip::ua::{DialogKey, UserAgent};
use crate::sip::Peer;

use super::counters::Counters;
use super::door::Service;
use super::session::MediaSession;
use super::{Action, CallRef, MediaOrder, PromptKind, Settings};

pub(super) use self::arrival::{local_session, new_stream};
pub(super) use self::ending::Ending;
use self::ringing::Rings;

/// Who a SIP transaction or dialog belongs to, for the UA core's routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    pub call: CallRef,
    pub leg: Leg,
}

/// What a call tells the switchboard (and through it the queue) about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Effect {
    /// The caller joined the queue.
    Queued,
    /// The caller left the queue before being connected (hung up, or the call ended).
    LeftQueue,
    /// The conversation with the operator is over.
    ConversationEnded,
    /// A ring ended on its own without the operator answering (not one the queue called
    /// off).
    RingFailed {
        operator: String,
        result: RingResult,
    },
    /// The operator answered and is connected; the queue must agree.
    RingAnswered { operator: String },
}

/// What a call may touch while it handles an input: the SIP core to send through, the
/// actions for the runtime, its effects for the switchboard, and the time.
pub(super) struct Ctx<'a> {
    pub now: Now,
    pub ua: &'a mut UserAgent<Owner>,
    pub settings: &'a Settings,
    pub rng: &'a mut SmallRng,
    pub actions: &'a mut std::collections::VecDeque<Action>,
    pub effects: &'a mut Vec<Effect>,
    pub counters: &'a mut Counters,
    /// Someone is logged in to take the call (the menu is skipped when nobody is).
    pub operators_present: bool,
    /// The provider's first hop (outbound proxy or registrar) once resolved: where a
    /// call-back's INVITE to the citizen goes.
    pub provider_hop: Option<Peer>,
}

use crate::model::Now;

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The door let the INVITE in; the caller's RTP socket is being opened.
    Admitted,
    /// 200 OK sent; a service message plays (after-hours message, feature confirmation),
    /// then we hang up.
    Serving,
    /// In hours: the greeting plays.
    Greeting,
    /// "This conversation is recorded" plays; the caller is queued when it ends (or hears
    /// the menu first, when `[menu]` is enabled).
    Notice,
    /// The topic menu: its prompt plays and the caller's key is collected; then the queue.
    Menu,
    /// The meter-readings dialogue (`[readings]`, the menu's readings key): questions,
    /// keys and the account's lookup; then the queue.
    Readings,
    /// Waiting for an operator: hold music and announcements; maybe a phone ringing.
    Queued(Option<Ringing>),
    /// A last message (overflow, no operators), then we hang up with this outcome.
    Farewell(Outcome, EndReason),
    /// Talking to an operator through the bridge.
    Connected,
    /// Over for the caller; BYEs or rings of ours may still await their answers.
    Ended,
}

/// The operator being rung for a queued caller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ringing {
    /// The operator leg's RTP socket is being opened.
    Opening { operator: String },
    /// Our INVITE is out.
    Sent { key: TxKey },
}

/// The caller's leg: the INVITE we answer, then its dialog and session.
struct CallerLeg {
    invite: Request,
    invite_key: TxKey,
    source: Peer,
    local_tag: String,
    /// The offer and what the door agreed, until we answer.
    offer: RemoteSession,
    agreed: Negotiated,
    /// The session timer our 200 carries (RFC 4028).
    session_timer: UasAnswer,
    dialog: Option<Dialog>,
    session: Option<MediaSession>,
}

/// The operator's leg once the operator answered.
struct OperatorLeg {
    dialog: Dialog,
    session: MediaSession,
    /// The operator holds the caller (the caller hears music).
    on_hold: bool,
}

/// Times of the call: wall clock for the register, monotonic for durations.
#[derive(Default)]
struct Times {
    received_at: Option<Timestamp>,
    queued: Option<(Timestamp, Instant)>,
    connected: Option<(Timestamp, Instant)>,
}

pub(super) struct Call {
    call_ref: CallRef,
    /// The public id (also the recording's name).
    id: String,
    span: Span,
    service: Service,
    caller_number: String,
    /// Whether the call has a register row (feature codes do not).
    registered: bool,
    state: State,
    caller: CallerLeg,
    operator: Option<OperatorLeg>,
    rings: Rings,
    times: Times,
    /// Tag of the current playback; a `PromptFinished` with another tag is stale.
    play_tag: u32,
    /// The caller's RTP socket is open (released once, by `CloseMedia`).
    media_open: bool,
    recording: bool,
    /// BYEs of ours still waiting for an answer.
    pending_byes: usize,
    row_closed: bool,
    /// The topic the caller chose in the menu (shown to the operators who are rung).
    topic: Option<String>,
    /// The menu while it runs (boxed: most of a call's life has none).
    menu: Option<Box<menu::MenuRun>>,
    /// The readings dialogue while it runs.
    readings: Option<Box<readings::ReadingsRun>>,
}

/// What the arrival decided about a new call.
pub(super) struct NewCall {
    pub call_ref: CallRef,
    pub id: String,
    pub span: Span,
    pub service: Service,
    pub caller_number: String,
    pub registered: bool,
    pub invite: Request,
    pub invite_key: TxKey,
    pub source: Peer,
    pub local_tag: String,
    pub offer: RemoteSession,
    pub agreed: Negotiated,
    pub session_timer: UasAnswer,
}

impl Call {
    /// A call the door let in.
    pub fn new(new: NewCall, received_at: Timestamp) -> Call {
        Call {
            call_ref: new.call_ref,
            id: new.id,
            span: new.span,
            service: new.service,
            caller_number: new.caller_number,
            registered: new.registered,
            state: State::Admitted,
            caller: CallerLeg {
                invite: new.invite,
                invite_key: new.invite_key,
                source: new.source,
                local_tag: new.local_tag,
                offer: new.offer,
                agreed: new.agreed,
                session_timer: new.session_timer,
                dialog: None,
                session: None,
            },
            operator: None,
            rings: Rings::default(),
            times: Times {
                received_at: Some(received_at),
                ..Times::default()
            },
            play_tag: 0,
            media_open: false,
            recording: false,
            pending_byes: 0,
            row_closed: false,
            topic: None,
            menu: None,
            readings: None,
        }
    }

    /// The first step of an admitted call: its INVITE's CANCEL and ACK are routed to it,
    /// and the caller's RTP socket is asked for.
    pub fn start(&mut self, ctx: &mut Ctx<'_>) {
        let key = self.caller.invite_key.clone();
        ctx.ua.bind_invite(key, self.owner(Leg::Caller));
        let stream = arrival::new_stream(ctx.rng);
        ctx.actions.push_back(Action::OpenCallerMedia {
            call: self.call_ref,
            media: super::leg_media(&self.caller.agreed),
            stream,
        });
    }

    // ---- reads ----

    pub fn public_id(&self) -> &str {
        &self.id
    }

    pub fn caller_number(&self) -> &str {
        &self.caller_number
    }

    pub fn span(&self) -> &Span {
        &self.span
    }

    /// The topic chosen in the menu, if any.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// Nothing is left to do: over for the caller, and no BYE or ring of ours pending.
    pub fn is_finished(&self) -> bool {
        self.state == State::Ended && self.pending_byes == 0 && self.rings.is_empty()
    }

    /// The dialogs this call was reachable by (to unbind when it is forgotten).
    pub fn dialog_keys(&self) -> Vec<DialogKey> {
        let mut keys = Vec::new();
        if let Some(d) = &self.caller.dialog {
            keys.push(dialog_key(d));
        }
        if let Some(op) = &self.operator {
            keys.push(dialog_key(&op.dialog));
        }
        keys
    }

    fn owner(&self, leg: Leg) -> Owner {
        Owner {
            call: self.call_ref,
            leg,
        }
    }

    // ---- small shared steps ----

    /// Play prompts to the caller, replacing whatever plays.
    fn play(&mut self, ctx: &mut Ctx<'_>, prompts: Vec<PromptKind>, looped: bool) {
        self.play_tag = self.play_tag.wrapping_add(1);
        let order = MediaOrder::Play {
            prompts,
            looped,
            tag: self.play_tag,
        };
        self.media(ctx, order);
    }

    fn play_hold_music(&mut self, ctx: &mut Ctx<'_>) {
        self.play(ctx, vec![PromptKind::HoldMusic], true);
    }

    fn media(&self, ctx: &mut Ctx<'_>, order: MediaOrder) {
        if matches!(order, MediaOrder::Play { .. }) {
            // A play order of this call not yet carried out would be cut off by this one
            // as soon as it started: the caller would hear a packet of it (hold music
            // before "no operators"), so it never goes out.
            let call = self.call_ref;
            ctx.actions.retain(|action| {
                !matches!(action, Action::Media { call: c, order: MediaOrder::Play { .. } } if *c == call)
            });
        }
        ctx.actions.push_back(Action::Media {
            call: self.call_ref,
            order,
        });
    }

    /// A register update for this call's row (calls without a row write nothing).
    fn register(&self, ctx: &mut Ctx<'_>, update: CallUpdate) {
        if self.registered {
            ctx.actions
                .push_back(Action::Register(RegisterWrite::Update {
                    id: self.id.clone(),
                    update,
                }));
        }
    }

    /// An event on the call's timeline.
    fn timeline(&self, ctx: &mut Ctx<'_>, kind: CallEventKind, detail: Option<String>) {
        if self.registered {
            ctx.actions
                .push_back(Action::Register(RegisterWrite::Event(CallEvent {
                    call_id: self.id.clone(),
                    at: ctx.now.wall,
                    kind,
                    detail,
                })));
        }
    }
}

fn dialog_key(d: &Dialog) -> DialogKey {
    DialogKey {
        call_id: d.call_id.clone(),
        local_tag: d.local_tag.clone(),
    }
}

/// Milliseconds between two monotonic instants, for the register (never negative).
pub(super) fn millis(from: Instant, to: Instant) -> i64 {
    i64::try_from(to.saturating_duration_since(from).as_millis()).unwrap_or(i64::MAX)
}
