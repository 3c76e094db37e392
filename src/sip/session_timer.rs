//! Session timers: RFC 4028 §4 (Session-Expires), §5 (Min-SE), §6 (422), §7 (UAC
//! behaviour), §9 (UAS behaviour) and §10 (performing refreshes).
//!
//! A helper for the call logic, not a state machine: it reads what a request or response
//! says about session timers, decides the UAS answer, and says when the session must be
//! refreshed (or given up on). It holds no dialog and reads no clock; the caller arms its
//! own timer at [`SessionTimer::deadline`].
//!
//! The UAS decision ([`answer_request`]), for an INVITE or UPDATE:
//! - no Session-Expires: no timer. §9 lets a UAS ask for one anyway; we do not, so a
//!   peer that did not ask is never refreshed at or torn down by us;
//! - a Session-Expires or Min-SE that does not parse: treated as absent. A 2xx without
//!   Session-Expires tells the UAC there is no session timer (§7.2), so the call works
//!   and nobody waits for refreshes; a 400 would lose a caller's call over an optional
//!   extension;
//! - an interval below our minimum (never below 90 s, §4): 422 with our Min-SE when the
//!   UAC supports `timer` (it retries with a longer one, §7.3); when it does not, nobody
//!   would retry (a proxy put the header in), so we answer as a UAS without session
//!   timers would: no Session-Expires in the 2xx;
//! - otherwise the interval, shortened to our maximum but never below the request's
//!   Min-SE (§9: a UAS may reduce, never increase), with the refresher the UAC named,
//!   or (Table 2) `uac` when the UAC supports timers and named none, `uas` when it does
//!   not support them; `Require: timer` whenever the UAC supports timers (§9: MUST when
//!   the refresher is `uac`, SHOULD otherwise).
//!
//! Invariants: every interval we print is at least 90 s (ours never go lower, and a
//! peer's lower one is read as 90); nothing here panics on network input.

use std::fmt;
use std::time::{Duration, Instant};

use rsipstack::sip::headers::untyped;

use crate::sip::message::{split_unquoted, HasHeaders, Header, Request, Response};

#[cfg(test)]
mod tests;

/// The smallest session interval RFC 4028 allows (§4, §5), in seconds.
pub const MIN_INTERVAL: u32 = 90;

/// The option tag of the extension (§3).
pub const OPTION_TAG: &str = "timer";

/// Why a session timer header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionTimerError {
    /// Session-Expires is not `delta-seconds *(;se-params)` with a `uac`/`uas` refresher.
    #[error("invalid Session-Expires {0:?}")]
    InvalidSessionExpires(String),
    /// Min-SE is not `delta-seconds *(;generic-param)`.
    #[error("invalid Min-SE {0:?}")]
    InvalidMinSe(String),
}

/// Which side of the transaction refreshes the session (§4 `refresher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// The side that sent the INVITE or UPDATE.
    Uac,
    /// The side that answered it.
    Uas,
}

impl Refresher {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A Session-Expires value (§4): the session interval and who refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// The session interval in seconds.
    pub interval: u32,
    /// The `refresher` parameter, if given.
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Parses `delta-seconds *(SEMI se-params)`; other parameters are ignored, a
    /// `refresher` that is neither `uac` nor `uas` is an error.
    pub fn parse(value: &str) -> Result<SessionExpires, SessionTimerError> {
        let bad = || SessionTimerError::InvalidSessionExpires(value.chars().take(60).collect());
        let (interval, params) = delta_seconds_and_params(value).ok_or_else(bad)?;
        let mut refresher = None;
        for (name, param) in params {
            if name.eq_ignore_ascii_case("refresher") {
                refresher = Some(match param {
                    Some(v) if v.eq_ignore_ascii_case("uac") => Refresher::Uac,
                    Some(v) if v.eq_ignore_ascii_case("uas") => Refresher::Uas,
                    _ => return Err(bad()),
                });
            }
        }
        Ok(SessionExpires {
            interval,
            refresher,
        })
    }

    /// The header, ready to push.
    pub fn header(&self) -> Header {
        Header::SessionExpires(untyped::SessionExpires::new(self.to_string()))
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.interval)?;
        if let Some(refresher) = self.refresher {
            write!(f, ";refresher={}", refresher.as_str())?;
        }
        Ok(())
    }
}

/// A Min-SE value (§5): the smallest interval the sender accepts, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSe(pub u32);

impl MinSe {
    /// Parses `delta-seconds *(SEMI generic-param)`; the parameters are ignored.
    pub fn parse(value: &str) -> Result<MinSe, SessionTimerError> {
        delta_seconds_and_params(value)
            .map(|(secs, _)| MinSe(secs))
            .ok_or_else(|| SessionTimerError::InvalidMinSe(value.chars().take(60).collect()))
    }

    /// The header, ready to push.
    pub fn header(&self) -> Header {
        Header::MinSE(untyped::MinSE::new(self.0.to_string()))
    }
}

impl fmt::Display for MinSe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A header parameter: its name and, unless a flag, its value.
type Param<'a> = (&'a str, Option<&'a str>);

/// `delta-seconds` then `;name[=value]` parameters; values beyond 2^32-1 are just "very
/// long" (RFC 3261 §25.1 bounds delta-seconds there anyway).
fn delta_seconds_and_params(value: &str) -> Option<(u32, Vec<Param<'_>>)> {
    let mut parts = split_unquoted(value, ';').into_iter();
    let secs = parts.next()?;
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = secs.parse::<u32>().unwrap_or(u32::MAX);
    let mut params = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (param, None),
        };
        if name.is_empty() {
            return None;
        }
        params.push((name, value));
    }
    Some((secs, params))
}

/// What a request (INVITE or UPDATE) says about session timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionTimerRequest {
    /// The first Session-Expires (or `x`); `None` when absent or malformed.
    pub session_expires: Option<SessionExpires>,
    /// The first Min-SE; `None` when absent or malformed.
    pub min_se: Option<MinSe>,
    /// Whether the UAC supports the extension (`timer` in Supported, `k` or Require).
    pub uac_supports: bool,
}

impl SessionTimerRequest {
    /// Reads the request; malformed values count as absent (see the module comment).
    pub fn of(req: &Request) -> SessionTimerRequest {
        let mut out = SessionTimerRequest::default();
        let (mut se_seen, mut min_seen) = (false, false);
        for header in req.headers.iter() {
            match header {
                Header::SessionExpires(h) if !std::mem::replace(&mut se_seen, true) => {
                    out.session_expires = SessionExpires::parse(h.value()).ok();
                }
                Header::MinSE(h) if !std::mem::replace(&mut min_seen, true) => {
                    out.min_se = MinSe::parse(h.value()).ok();
                }
                Header::Supported(h) => out.uac_supports |= lists_timer(h.value()),
                Header::Require(h) => out.uac_supports |= lists_timer(h.value()),
                _ => {}
            }
        }
        out
    }
}

/// Whether an option-tag list (Supported, Require) names `timer`.
fn lists_timer(value: &str) -> bool {
    value
        .split(',')
        .any(|tag| tag.trim().eq_ignore_ascii_case(OPTION_TAG))
}

/// Our rules, as UAS and as UAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerPolicy {
    /// The shortest interval we accept (our Min-SE); below 90 counts as 90.
    pub min_se: u32,
    /// The interval we ask for as UAC, and the longest we grant as UAS (longer requests
    /// are shortened to it, or to the request's Min-SE if that is longer).
    pub interval: u32,
}

impl Default for SessionTimerPolicy {
    /// RFC 4028's numbers: a 90 s floor (§4) and the recommended 1800 s interval (§4).
    fn default() -> SessionTimerPolicy {
        SessionTimerPolicy {
            min_se: MIN_INTERVAL,
            interval: 1800,
        }
    }
}

impl SessionTimerPolicy {
    /// Our Min-SE as we print it: never below 90 s.
    pub fn floor(&self) -> u32 {
        self.min_se.max(MIN_INTERVAL)
    }

    /// The interval we ask for: never below our floor.
    fn wanted(&self) -> u32 {
        self.interval.max(self.floor())
    }

    /// Headers a UAC puts in its INVITE (§7.1): `Supported: timer`, our interval
    /// without a refresher (the UAS picks, Table 2) and our Min-SE.
    pub fn push_uac_headers(&self, req: &mut Request) {
        req.headers
            .push(Header::Supported(untyped::Supported::new(OPTION_TAG)));
        let se = SessionExpires {
            interval: self.wanted(),
            refresher: None,
        };
        req.headers.push(se.header());
        req.headers.push(MinSe(self.floor()).header());
    }

    /// After a 422 to our INVITE (§7.3): the interval to retry with, the response's
    /// Min-SE (and never less than we asked before); `None` when the 422 gives no usable
    /// Min-SE, or one that is no longer than what was refused (retrying would loop).
    pub fn retry_after_422(&self, resp: &Response, refused: u32) -> Option<u32> {
        let min_se = resp.headers.iter().find_map(|h| match h {
            Header::MinSE(v) => MinSe::parse(v.value()).ok(),
            _ => None,
        })?;
        (min_se.0 > refused).then(|| min_se.0.max(self.floor()))
    }
}

/// The UAS answer to an INVITE or UPDATE, as far as session timers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UasAnswer {
    /// No session timer: the 2xx carries nothing.
    NoTimer,
    /// Accept with this timer: the 2xx carries Session-Expires (and Require: timer when
    /// `require_timer`).
    Timer {
        /// The timer in force once the 2xx is sent.
        timer: SessionTimer,
        /// Whether to add `Require: timer` (the UAC supports the extension).
        require_timer: bool,
    },
    /// Refuse with 422 Session Interval Too Small carrying this Min-SE (§6).
    TooSmall {
        /// Our minimum.
        min_se: MinSe,
    },
}

impl UasAnswer {
    /// `Some(422)` when the request must be refused; `None` when the call logic answers
    /// as it would anyway (with [`UasAnswer::push_headers`] on its 2xx).
    pub fn refusal_status(&self) -> Option<u16> {
        matches!(self, UasAnswer::TooSmall { .. }).then_some(422)
    }

    /// Adds this answer's headers to the response: Session-Expires and Require to a 2xx,
    /// Min-SE to the 422.
    pub fn push_headers(&self, resp: &mut Response) {
        match self {
            UasAnswer::NoTimer => {}
            UasAnswer::Timer {
                timer,
                require_timer,
            } => {
                resp.headers.push(timer.session_expires().header());
                if *require_timer {
                    resp.headers
                        .push(Header::Require(untyped::Require::new(OPTION_TAG)));
                }
            }
            UasAnswer::TooSmall { min_se } => resp.headers.push(min_se.header()),
        }
    }
}

/// Decides the UAS answer to an INVITE or UPDATE per §9 (see the module comment).
pub fn answer_request(req: &SessionTimerRequest, policy: &SessionTimerPolicy) -> UasAnswer {
    let Some(se) = req.session_expires else {
        return UasAnswer::NoTimer;
    };
    let floor = policy.floor();
    if se.interval < floor {
        return if req.uac_supports {
            UasAnswer::TooSmall {
                min_se: MinSe(floor),
            }
        } else {
            UasAnswer::NoTimer
        };
    }
    let request_min = req.min_se.map_or(0, |m| m.0);
    let interval = se.interval.min(policy.wanted().max(request_min));
    let refresher = match (req.uac_supports, se.refresher) {
        (false, _) => Refresher::Uas,
        (true, Some(named)) => named,
        (true, None) => Refresher::Uac,
    };
    UasAnswer::Timer {
        timer: SessionTimer {
            interval,
            refresher,
            we_refresh: refresher == Refresher::Uas,
        },
        require_timer: req.uac_supports,
    }
}

/// A session timer in force (§10): set by a 2xx to an INVITE or UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// The session interval in seconds.
    pub interval: u32,
    /// The refresher, as the 2xx named it.
    pub refresher: Refresher,
    /// Whether we are the refresher (we were that side of the transaction).
    pub we_refresh: bool,
}

/// What to do when a [`SessionTimer`] deadline comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerAction {
    /// Send a session refresh (re-INVITE or UPDATE with [`SessionTimer::push_refresh_headers`]).
    Refresh,
    /// No refresh came: send BYE (§10).
    Bye,
}

impl SessionTimer {
    /// The timer a 2xx to our INVITE or UPDATE sets, seen as its UAC (§7.2): none when
    /// the 2xx has no (usable) Session-Expires. A 2xx without `refresher` came from a UAS
    /// that does not know the extension (a proxy added the header): we refresh. An
    /// interval below the 90 s floor (§4) is read as 90, so a broken peer cannot make us
    /// refresh in a loop.
    pub fn of_2xx(resp: &Response) -> Option<SessionTimer> {
        let se = resp.headers.iter().find_map(|h| match h {
            Header::SessionExpires(v) => Some(SessionExpires::parse(v.value())),
            _ => None,
        })?;
        let se = se.ok()?;
        let refresher = se.refresher.unwrap_or(Refresher::Uac);
        Some(SessionTimer {
            interval: se.interval.max(MIN_INTERVAL),
            refresher,
            we_refresh: refresher == Refresher::Uac,
        })
    }

    /// The Session-Expires of a 2xx stating this timer.
    pub fn session_expires(&self) -> SessionExpires {
        SessionExpires {
            interval: self.interval,
            refresher: Some(self.refresher),
        }
    }

    /// When the refresher sends its refresh: half the interval after the 2xx (§10).
    pub fn refresh_after(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval) * 500)
    }

    /// When the other side gives up and sends BYE: the interval less the smaller of 32 s
    /// and a third of it (§10).
    pub fn bye_after(&self) -> Duration {
        let interval = Duration::from_secs(u64::from(self.interval));
        interval - Duration::from_secs(32).min(interval / 3)
    }

    /// Our next deadline, counted from when the 2xx was sent or received, and what to
    /// do then.
    pub fn deadline(&self, since: Instant) -> (Instant, SessionTimerAction) {
        if self.we_refresh {
            (since + self.refresh_after(), SessionTimerAction::Refresh)
        } else {
            (since + self.bye_after(), SessionTimerAction::Bye)
        }
    }

    /// Headers of our refresh request (§7.4): `Supported: timer` and the same interval
    /// with us as refresher.
    pub fn push_refresh_headers(&self, req: &mut Request) {
        req.headers
            .push(Header::Supported(untyped::Supported::new(OPTION_TAG)));
        let se = SessionExpires {
            interval: self.interval,
            refresher: Some(Refresher::Uac),
        };
        req.headers.push(se.header());
    }
}

/// Whether a message names `timer` in Supported or Require (for responses; requests use
/// [`SessionTimerRequest::of`]).
pub fn supports_timer<M: HasHeaders + ?Sized>(msg: &M) -> bool {
    msg.headers().iter().any(|h| match h {
        Header::Supported(v) => lists_timer(v.value()),
        Header::Require(v) => lists_timer(v.value()),
        _ => false,
    })
}
