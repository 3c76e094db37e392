//! A call-back of a missed call: a call the system places itself. The operator's softphone
//! is rung first (as for a queued caller, `call/ringing.rs`); once they answer, the
//! citizen is called through the provider (`citizen.rs`), their early media already goes
//! to the operator, and on the answer both are bridged and recorded like an inbound call
//! (the citizen on the recording's left channel, as a caller is, the operator on the
//! right).
//!
//! ```text
//!   start ─► OpeningOperator ─socket─► RingingOperator ─200─► OpeningCitizen ─socket─►
//!   RingingCitizen (401/407: again with credentials; 18x SDP: early media) ─200─► Connected
//!        any failure, BYE, CANCEL, ring timeout ─────────────────────────────────► Ended
//! ```
//!
//! Once connected, the citizen's leg keeps the session timer the provider's 200 OK set
//! (`refresh.rs`): we refresh it when we are the refresher, and hang up both legs when the
//! session is lost (end reason `session_expired`).
//!
//! The register gets one row for it, closed once; the worklist item gets the attempt's
//! outcome once (`Action::CallBackDone`). The operator is held in the queue as talking
//! from the start, and freed by the switchboard when the call-back is over.

mod citizen;
mod legs;
mod refresh;

use std::time::{Duration, Instant};

use jiff::Timestamp;
use tracing::Span;

use crate::media::relay::LegConfig;
use crate::media::Leg;
use crate::model::{
    format_time, CallBackLive, CallDirection, CallUpdate, EndReason, HangupBy, Now, Outcome,
    RegisterWrite,
};
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Request};
use crate::sip::transaction::TxKey;
use crate::sip::ua::DialogKey;
use crate::sip::uac::OutboundOutcome;

use super::call::{Ctx, Owner};
use super::{Action, CallRef};

use self::citizen::CitizenLeg;
use self::refresh::SessionRefresh;

/// How long the citizen's phone may ring before we CANCEL (then: no answer).
pub const CITIZEN_RING_TIMEOUT: Duration = Duration::from_secs(45);

pub use crate::model::callback::{CallBackRefused, CallBackRequest};

/// The end of a call-back, for the worklist item (`store::worklist::record_callback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallBackDone {
    pub item: i64,
    /// The outbound call's public id (its register row).
    pub call_id: String,
    pub operator: String,
    /// `answered`, `busy`, `no_answer`, `failed`, or `operator_unavailable` when the
    /// operator's phone was never answered (the citizen was not called).
    pub outcome: String,
}

/// Where a call-back is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// The operator leg's RTP socket is being opened.
    OpeningOperator,
    /// Our INVITE to the operator is out.
    RingingOperator { key: TxKey },
    /// The operator answered; the citizen leg's socket is being opened.
    OpeningCitizen,
    /// Our INVITE to the citizen is out (re-sent with credentials when challenged).
    RingingCitizen,
    /// Both answered: bridged and recorded.
    Connected,
    /// Over; BYEs or INVITEs of ours may still await their answers.
    Ended,
}

impl Stage {
    /// The stage's name on the live board; `None` once over (off the board).
    fn board_name(&self) -> Option<&'static str> {
        match self {
            Stage::OpeningOperator | Stage::RingingOperator { .. } => Some("ringing_operator"),
            Stage::OpeningCitizen | Stage::RingingCitizen => Some("ringing_citizen"),
            Stage::Connected => Some("talking"),
            Stage::Ended => None,
        }
    }
}

/// The operator's leg.
#[derive(Default)]
struct OperatorSide {
    invite: Option<Request>,
    dialog: Option<Dialog>,
    /// Where the bridge sends the operator's media (from their answer).
    media: Option<LegConfig>,
}

pub(super) struct CallBack {
    call_ref: CallRef,
    id: String,
    /// The SIP Call-ID of the citizen's INVITE (on the row from the start).
    sip_call_id: String,
    item: i64,
    number: String,
    operator: String,
    /// The topic of the missed call being returned, for the live board and the row.
    topic: Option<String>,
    span: Span,
    stage: Stage,
    /// When the stage the live board shows began (`Stage::board_name`).
    stage_since: (Timestamp, Instant),
    op: OperatorSide,
    citizen: Option<CitizenLeg>,
    citizen_dialog: Option<Dialog>,
    /// The citizen's media is flowing to the operator (early or answered).
    bridged: bool,
    recording: bool,
    /// An RTP socket was asked for (released once, by `CloseMedia`).
    media_open: bool,
    /// INVITEs of ours without a final answer yet (a late 200 is ACKed and ended).
    awaiting: Vec<TxKey>,
    pending_byes: usize,
    started_at: Timestamp,
    connected: Option<(Timestamp, Instant)>,
    /// The ring timeout of the leg now ringing.
    deadline: Option<Instant>,
    /// Our ring timeout CANCELled the citizen's INVITE: its 487 means no answer.
    timed_out: bool,
    /// The provider's final status to the citizen's INVITE.
    final_status: Option<u16>,
    /// The citizen leg's session timer, once connected (if the 200 OK set one).
    session: Option<SessionRefresh>,
}

/// What the switchboard gives a new call-back.
pub(super) struct NewCallBack {
    pub call_ref: CallRef,
    pub id: String,
    pub sip_call_id: String,
    pub request: CallBackRequest,
    pub span: Span,
}

impl CallBack {
    pub fn new(new: NewCallBack, now: Now) -> CallBack {
        CallBack {
            call_ref: new.call_ref,
            id: new.id,
            sip_call_id: new.sip_call_id,
            item: new.request.item,
            number: new.request.number,
            operator: new.request.operator,
            topic: new.request.topic,
            span: new.span,
            stage: Stage::OpeningOperator,
            stage_since: (now.wall, now.mono),
            op: OperatorSide::default(),
            citizen: None,
            citizen_dialog: None,
            bridged: false,
            recording: false,
            media_open: false,
            awaiting: Vec::new(),
            pending_byes: 0,
            started_at: now.wall,
            connected: None,
            deadline: None,
            timed_out: false,
            final_status: None,
            session: None,
        }
    }

    /// The first step: the row, and the operator leg's socket.
    pub fn start(&mut self, ctx: &mut Ctx<'_>, source: String) {
        ctx.actions.push_back(Action::Register(RegisterWrite::Open(
            crate::model::NewCall {
                id: self.id.clone(),
                sip_call_id: self.sip_call_id.clone(),
                caller: self.number.clone(),
                dialed: self.number.clone(),
                source,
                received_at: self.started_at,
                direction: CallDirection::Outbound,
            },
        )));
        // The row carries the topic of the missed call it returns, so QA finds it there.
        if let Some(topic) = &self.topic {
            ctx.actions
                .push_back(Action::Register(RegisterWrite::Update {
                    id: self.id.clone(),
                    update: CallUpdate {
                        topic: Some(topic.clone()),
                        ..CallUpdate::default()
                    },
                }));
        }
        self.media_open = true;
        ctx.actions.push_back(Action::OpenOperatorMedia {
            call: self.call_ref,
        });
    }

    pub fn span(&self) -> &Span {
        &self.span
    }

    /// The outbound call's public id.
    pub fn public_id(&self) -> &str {
        &self.id
    }

    /// The call-back as the live board shows it; `None` once it is over.
    pub fn live(&self, now: Now, show_numbers: bool) -> Option<CallBackLive> {
        let (since, at) = self.stage_since;
        Some(CallBackLive {
            call_id: self.id.clone(),
            item: self.item,
            number: super::loggable_number(&self.number, show_numbers),
            operator: self.operator.clone(),
            direction: CallDirection::Outbound.as_str().to_string(),
            stage: self.stage.board_name()?.to_string(),
            since: format_time(since),
            stage_ms: now.mono.saturating_duration_since(at).as_millis() as u64,
            topic: self.topic.clone(),
        })
    }

    /// A new stage the live board shows begins now.
    fn enter(&mut self, stage: Stage, now: Now) {
        if stage.board_name() != self.stage.board_name() {
            self.stage_since = (now.wall, now.mono);
        }
        self.stage = stage;
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = self
            .session
            .as_ref()
            .filter(|_| self.stage == Stage::Connected)
            .and_then(SessionRefresh::deadline);
        [self.deadline, session].into_iter().flatten().min()
    }

    /// Nothing is left to do: over, and no BYE or INVITE (nor session refresh) of ours
    /// unanswered.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Ended
            && self.pending_byes == 0
            && self.awaiting.is_empty()
            && !self.session.as_ref().is_some_and(SessionRefresh::in_flight)
    }

    /// The dialogs this call-back was reachable by (to unbind when it is forgotten).
    pub fn dialog_keys(&self) -> Vec<DialogKey> {
        [self.op.dialog.as_ref(), self.citizen_dialog.as_ref()]
            .into_iter()
            .flatten()
            .map(dialog_key)
            .collect()
    }

    fn owner(&self, leg: Leg) -> Owner {
        Owner {
            call: self.call_ref,
            leg,
        }
    }

    /// The call-back is over: every leg still up is hung up or called off, media and
    /// recording stop, the row gets its last word and the worklist item the outcome.
    fn finish(&mut self, ctx: &mut Ctx<'_>, outcome: &str, by: HangupBy, reason: EndReason) {
        if self.stage == Stage::Ended {
            return;
        }
        tracing::info!(outcome, by = by.as_str(), "call-back over");
        let connected = self.stage == Stage::Connected;
        self.stage = Stage::Ended;
        self.deadline = None;
        for key in self.awaiting.clone() {
            if let Err(e) = ctx.ua.cancel(&key, ctx.now.mono) {
                tracing::debug!(error = %e, "CANCEL not sent (no provisional answer yet)");
            }
        }
        let (op_hangs_up, citizen_hangs_up) = match reason {
            EndReason::OperatorBye => (false, true),
            EndReason::CallerBye => (true, false),
            _ => (true, true),
        };
        if op_hangs_up {
            if let Some(mut d) = self.op.dialog.take() {
                self.bye(ctx, &mut d, Leg::Operator);
                self.op.dialog = Some(d);
            }
        }
        if citizen_hangs_up {
            if let Some(mut d) = self.citizen_dialog.take() {
                self.bye(ctx, &mut d, Leg::Caller);
                self.citizen_dialog = Some(d);
            }
        }
        if self.recording {
            self.recording = false;
            ctx.actions.push_back(Action::StopRecording {
                call: self.call_ref,
            });
        }
        if self.media_open {
            self.media_open = false;
            ctx.actions.push_back(Action::CloseMedia {
                call: self.call_ref,
            });
        }
        let talk_ms = self
            .connected
            .map(|(_, at)| super::call::millis(at, ctx.now.mono));
        let update = CallUpdate {
            ended_at: Some(ctx.now.wall),
            operator_id: Some(self.operator.clone()),
            talk_ms,
            outcome: Some(if connected {
                Outcome::Answered
            } else {
                Outcome::Failed
            }),
            hangup_by: Some(by),
            final_status: self.final_status,
            end_reason: Some(reason),
            ..CallUpdate::default()
        };
        ctx.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: self.id.clone(),
                update,
            }));
        ctx.actions.push_back(Action::CallBackDone(CallBackDone {
            item: self.item,
            call_id: self.id.clone(),
            operator: self.operator.clone(),
            outcome: outcome.to_string(),
        }));
    }

    fn bye(&mut self, ctx: &mut Ctx<'_>, dialog: &mut Dialog, leg: Leg) {
        let (bye, dest) = ctx.ua.factory().in_dialog(dialog, Method::Bye, ctx.rng);
        let owner = self.owner(leg);
        match ctx.ua.send_request(bye, dest, owner, ctx.now.mono) {
            Ok(_) => self.pending_byes += 1,
            Err(e) => tracing::warn!(error = %e, "could not send BYE"),
        }
    }

    /// Over for both sides (the operator may be freed); BYEs may still be in flight.
    pub fn is_over(&self) -> bool {
        self.stage == Stage::Ended
    }

    /// The server is stopping: hang up both.
    pub fn interrupt(&mut self, ctx: &mut Ctx<'_>) {
        self.finish(ctx, "failed", HangupBy::System, EndReason::Shutdown);
    }

    /// A deadline passed: the operator's phone or the citizen's rang too long, or the
    /// session timer's.
    pub fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.stage == Stage::Connected {
            return self.session_due(ctx);
        }
        self.deadline = None;
        match self.stage {
            Stage::RingingOperator { .. } => {
                tracing::info!("the operator did not answer the call-back");
                self.finish(
                    ctx,
                    "operator_unavailable",
                    HangupBy::System,
                    EndReason::MaxWait,
                );
            }
            Stage::RingingCitizen => {
                // CANCEL; the 487 that follows ends the call-back as no answer.
                self.timed_out = true;
                if let Some(c) = &self.citizen {
                    if let Err(e) = ctx.ua.cancel(&c.key, ctx.now.mono) {
                        tracing::debug!(error = %e, "CANCEL not sent");
                        self.finish(ctx, "no_answer", HangupBy::System, EndReason::MaxWait);
                    }
                }
            }
            _ => {}
        }
    }

    /// No RTP from a leg for the media timeout: end the call-back.
    pub fn media_inactive(&mut self, ctx: &mut Ctx<'_>, _leg: Leg) {
        let outcome = if self.stage == Stage::Connected {
            "answered"
        } else {
            "failed"
        };
        self.finish(ctx, outcome, HangupBy::System, EndReason::RtpTimeout);
    }
}

/// The word the worklist keeps for a final answer of the citizen's INVITE (the brief
/// outcomes: busy, no answer, failed).
fn outcome_word(outcome: OutboundOutcome) -> &'static str {
    match outcome {
        OutboundOutcome::Answered => "answered",
        OutboundOutcome::Busy => "busy",
        OutboundOutcome::NoAnswer => "no_answer",
        // The worklist marks the item `unreachable`: calling again will not help.
        OutboundOutcome::Unreachable => "unreachable",
        _ => "failed",
    }
}

fn dialog_key(d: &Dialog) -> DialogKey {
    DialogKey {
        call_id: d.call_id.clone(),
        local_tag: d.local_tag.clone(),
    }
}
