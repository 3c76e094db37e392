//! Session timers on the citizen's leg of a call-back (RFC 4028 §7.2, §7.4, §10): the
//! provider's 200 OK says how long the session lives without a refresh and who refreshes.
//!
//! - `refresher=uac`, or a Session-Expires without a refresher (§7.2 leaves the choice to
//!   the UAC: we take it): we send a re-INVITE with our last offer unchanged, the same
//!   interval and `refresher=uac` at half the interval. A 2xx restarts the timer (with
//!   the interval it states); a 422 is retried at once with its Min-SE; a 408 or 481, or no
//!   answer at all, means the provider has lost the call: both legs get BYE. Any other
//!   failure keeps the call and tries again halfway to the point where the provider would
//!   give up (the interval less min(32 s, a third), §10), as long as a few seconds remain.
//! - `refresher=uas`: the provider refreshes; each re-INVITE or UPDATE of theirs restarts
//!   the timer; if none comes by that same point, both legs get BYE (§10).
//!
//! A 200 without Session-Expires sets no timer. The deadline is the call-back's own
//! (`poll_timeout`); while our refresh awaits its answer there is none: the transaction's
//! Timer B answers for it.

use std::time::{Duration, Instant};

use crate::media::Leg;
use crate::model::{EndReason, HangupBy};
use crate::sip::factory::next_hop;
use crate::sip::message::{self, Method, Request, Response};
use crate::sip::session_timer::{MinSe, SessionTimer, SessionTimerAction, UasAnswer};
use crate::sip::transaction::TxKey;

use super::super::call::Ctx;
use super::super::session::session_timer_answer;
use super::{CallBack, Stage};

/// After a failed refresh, another is tried only if at least this much is left before
/// the provider would give up on the session.
const RETRY_MARGIN: Duration = Duration::from_secs(4);

/// The session timer of a connected call-back's citizen leg.
pub(super) struct SessionRefresh {
    timer: SessionTimer,
    /// When the timer was last (re)started: the 2xx that set it, ours or the provider's.
    since: Instant,
    /// Our refresh awaiting its final answer.
    pending: Option<Pending>,
    /// The next refresh after a failed one (sooner than half the interval).
    retry_at: Option<Instant>,
    /// The Min-SE a 422 gave: every later refresh asks for at least this.
    min_se: Option<u32>,
}

/// Our re-INVITE in flight.
struct Pending {
    key: TxKey,
    cseq: u32,
    interval: u32,
}

impl SessionRefresh {
    pub fn new(timer: SessionTimer, now: Instant) -> SessionRefresh {
        SessionRefresh {
            timer,
            since: now,
            pending: None,
            retry_at: None,
            min_se: None,
        }
    }

    /// The next deadline: our refresh, or the provider's refresh overdue.
    pub fn deadline(&self) -> Option<Instant> {
        if self.pending.is_some() {
            return None;
        }
        let (at, action) = self.timer.deadline(self.since);
        Some(match action {
            SessionTimerAction::Refresh => self.retry_at.unwrap_or(at),
            SessionTimerAction::Bye => at,
        })
    }

    /// Where the provider, not hearing from us, would end the session (§10).
    fn gives_up_at(&self) -> Instant {
        self.since + self.timer.bye_after()
    }

    /// Our refresh awaits its answer.
    pub fn in_flight(&self) -> bool {
        self.pending.is_some()
    }

    fn owns(&self, key: &TxKey) -> bool {
        self.pending.as_ref().is_some_and(|p| &p.key == key)
    }
}

impl CallBack {
    /// The citizen's 200 OK connected the call: its timer, if it states one.
    pub(super) fn start_session_timer(&mut self, resp: &Response, now: Instant) {
        self.session = SessionTimer::of_2xx(resp).map(|timer| {
            tracing::debug!(
                interval = timer.interval,
                we_refresh = timer.we_refresh,
                "session timer on the citizen's leg"
            );
            SessionRefresh::new(timer, now)
        });
    }

    /// The session timer's deadline passed: refresh, or give the call up.
    pub(super) fn session_due(&mut self, ctx: &mut Ctx<'_>) {
        let Some(s) = &self.session else { return };
        let Some(at) = s.deadline() else { return };
        if at > ctx.now.mono {
            return;
        }
        if s.timer.we_refresh {
            self.send_refresh(ctx);
        } else {
            tracing::warn!(
                interval = s.timer.interval,
                "the provider did not refresh the session: hanging up"
            );
            self.session_lost(ctx);
        }
    }

    /// Our re-INVITE: the last offer unchanged (same o= version, RFC 3264 §8), the
    /// interval in force (at least a 422's Min-SE) with us as refresher.
    fn send_refresh(&mut self, ctx: &mut Ctx<'_>) {
        let owner = self.owner(Leg::Caller);
        let (Some(c), Some(s)) = (self.citizen.as_ref(), self.session.as_mut()) else {
            return;
        };
        let Some(mut dialog) = self.citizen_dialog.take() else {
            return;
        };
        s.retry_at = None;
        let interval = s
            .min_se
            .map_or(s.timer.interval, |m| m.max(s.timer.interval));
        let via = ctx.ua.factory().via(dialog.peer.transport, ctx.rng);
        let contact = message::parse_uri(c.contact()).ok();
        let mut req: Request = dialog.new_request(Method::Invite, &via, contact.as_ref());
        SessionTimer {
            interval,
            ..s.timer
        }
        .push_refresh_headers(&mut req);
        if let Some(min_se) = s.min_se {
            req.headers.push(MinSe(min_se).header());
        }
        message::set_body(&mut req, "application/sdp", c.invite.body.clone());
        let cseq = dialog.local_cseq;
        let dest = next_hop(&dialog);
        self.citizen_dialog = Some(dialog);
        match ctx.ua.send_request(req, dest, owner, ctx.now.mono) {
            Ok(key) => {
                tracing::debug!(interval, cseq, "session refresh sent");
                s.pending = Some(Pending {
                    key,
                    cseq,
                    interval,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "session refresh not sent");
                self.refresh_failed(ctx);
            }
        }
    }

    /// A response to our refresh; `false` if `key` is not our refresh.
    pub(super) fn refresh_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &TxKey,
        resp: &Response,
    ) -> bool {
        let Some(s) = self.session.as_mut().filter(|s| s.owns(key)) else {
            return false;
        };
        let status = resp.status_code.code();
        if status < 200 {
            return true;
        }
        let Some(pending) = s.pending.take() else {
            return true;
        };
        if (200..300).contains(&status) {
            if let Some(dialog) = self.citizen_dialog.as_mut() {
                dialog.handle_target_refresh(resp);
                let (ack, dest) = ctx.ua.factory().ack(dialog, pending.cseq, ctx.rng);
                ctx.ua.send_ack(key, ack, dest, ctx.now.mono);
            }
            if self.stage == Stage::Ended {
                return true;
            }
            // §7.2: the 2xx states the timer from now on (none without Session-Expires).
            match SessionTimer::of_2xx(resp) {
                Some(timer) => {
                    tracing::debug!(interval = timer.interval, "session refreshed");
                    *s = SessionRefresh {
                        min_se: s.min_se,
                        ..SessionRefresh::new(timer, ctx.now.mono)
                    };
                }
                None => self.session = None,
            }
            self.follow_citizen_sdp(ctx, &resp.body);
            return true;
        }
        if self.stage == Stage::Ended {
            return true;
        }
        match status {
            422 => {
                let policy = ctx.settings.session_timer;
                match policy.retry_after_422(resp, pending.interval) {
                    Some(min_se) => {
                        tracing::info!(min_se, "session refresh: the provider wants longer");
                        s.min_se = Some(min_se);
                        self.send_refresh(ctx);
                    }
                    None => self.refresh_failed(ctx),
                }
            }
            408 | 481 => {
                tracing::warn!(status, "the provider no longer knows the call: hanging up");
                self.session_lost(ctx);
            }
            _ => {
                tracing::info!(status, "session refresh refused");
                self.refresh_failed(ctx);
            }
        }
        true
    }

    /// Our refresh got no final answer (Timer B) or its transaction ended without one;
    /// `false` if `key` is not our refresh.
    pub(super) fn refresh_unanswered(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) -> bool {
        let Some(s) = self.session.as_mut().filter(|s| s.owns(key)) else {
            return false;
        };
        s.pending = None;
        tracing::warn!("session refresh unanswered: hanging up");
        self.session_lost(ctx);
        true
    }

    /// A refresh failed without ending the dialog: again halfway to where the provider
    /// would give up, if there is still time; else the session is lost.
    fn refresh_failed(&mut self, ctx: &mut Ctx<'_>) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let now = ctx.now.mono;
        let end = s.gives_up_at();
        if end > now + RETRY_MARGIN {
            s.retry_at = Some(now + (end - now) / 2);
        } else {
            self.session_lost(ctx);
        }
    }

    /// A session refresh from the provider (re-INVITE or UPDATE on the citizen's leg): the
    /// answer carries the timer we grant (§9, never making us the refresher), or 422
    /// when its interval is too short, or 491 to a re-INVITE crossing ours; a 2xx
    /// restarts the timer.
    pub(super) fn citizen_refresh(&mut self, ctx: &mut Ctx<'_>, key: TxKey, req: &Request) {
        if req.method == Method::Invite && self.session.as_ref().is_some_and(|s| s.in_flight()) {
            // Our re-INVITE crossed theirs (RFC 3261 §14.2): they try again later.
            let resp = ctx.ua.factory().reply(req, 491, None);
            return ctx.ua.respond(&key, resp, ctx.now.mono);
        }
        let answer = session_timer_answer(req, &ctx.settings.session_timer);
        if let UasAnswer::TooSmall { .. } = answer {
            let mut resp = ctx.ua.factory().reply(req, 422, None);
            answer.push_headers(&mut resp);
            return ctx.ua.respond(&key, resp, ctx.now.mono);
        }
        if let Some(dialog) = self.citizen_dialog.as_mut() {
            dialog.handle_target_refresh(req);
        }
        let transport = self
            .citizen
            .as_ref()
            .map(|c| c.dest.transport)
            .unwrap_or(crate::sip::Transport::Udp);
        let mut ok = if req.method == Method::Update && req.body.is_empty() {
            ctx.ua.factory().reply(req, 200, None)
        } else {
            // Our session as first offered, unchanged (same o= line and version, RFC
            // 3264 §8): an answer to their offer, or our offer to a re-INVITE without one.
            let ours = self.citizen.as_ref().map(|c| c.invite.body.clone());
            let body = String::from_utf8_lossy(&ours.unwrap_or_default()).into_owned();
            ctx.ua.factory().session_answer(req, None, transport, &body)
        };
        answer.push_headers(&mut ok);
        ctx.ua.respond(&key, ok, ctx.now.mono);
        if self.stage != Stage::Connected {
            return;
        }
        if !req.body.is_empty() {
            self.follow_citizen_sdp(ctx, &req.body);
        }
        self.session = match answer {
            UasAnswer::Timer { timer, .. } => {
                tracing::debug!(
                    interval = timer.interval,
                    "the provider refreshed the session"
                );
                Some(SessionRefresh::new(timer, ctx.now.mono))
            }
            _ => None,
        };
    }

    /// The session is over without a BYE from either side: hang up both.
    fn session_lost(&mut self, ctx: &mut Ctx<'_>) {
        self.finish(ctx, "answered", HangupBy::System, EndReason::SessionExpired);
    }
}
