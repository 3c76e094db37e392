//! The citizen's leg of a call-back: our INVITE through the provider (the request itself,
//! its digest retry and what its final answer means live in `sip::uac::outbound`; here
//! they meet the SIP core's transactions). The number is the worklist item's, never one
//! typed by a person, so the trunk is not a way out for anybody else.

use crate::sip::message::{self, Datagram, Request, SipMessage};
use crate::sip::transaction::TxKey;
use crate::sip::uac::{InviteAuth, OutboundInvite, OutboundOutcome};
use crate::sip::Peer;

use super::super::call::{Ctx, Owner};

/// Why the citizen's INVITE could not be sent.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendError {
    #[error("the number is not a phone number")]
    NotANumber,
    #[error("our INVITE does not parse: {0}")]
    Unparseable(String),
    #[error("the SIP core refused it: {0}")]
    Core(String),
}

/// One INVITE to the citizen, resent with credentials when challenged.
pub(super) struct CitizenLeg {
    template: OutboundInvite,
    auth: InviteAuth,
    cseq: u32,
    /// The INVITE last sent (the dialog is formed from it) and its transaction.
    pub invite: Request,
    pub key: TxKey,
    pub dest: Peer,
}

impl CitizenLeg {
    /// Sends the first INVITE.
    pub fn start(
        ctx: &mut Ctx<'_>,
        template: OutboundInvite,
        auth: InviteAuth,
        dest: Peer,
        owner: Owner,
    ) -> Result<CitizenLeg, SendError> {
        let (invite, key) = send(ctx, &template, 1, None, dest, owner)?;
        Ok(CitizenLeg {
            template,
            auth,
            cseq: 1,
            invite,
            key,
            dest,
        })
    }

    /// A 401/407: `Ok(true)` when the INVITE went out again with credentials (same Call-ID
    /// and tag, next CSeq, new branch); `Err` with the outcome when the challenge is one
    /// too many or cannot be answered.
    pub fn challenged(
        &mut self,
        ctx: &mut Ctx<'_>,
        response: &[u8],
        owner: Owner,
    ) -> Result<(), OutboundOutcome> {
        self.auth.on_challenge(response)?;
        let uri = self.template.request_uri();
        let auth = self.auth.authorization(&uri, &mut *ctx.rng);
        self.cseq += 1;
        match send(ctx, &self.template, self.cseq, auth, self.dest, owner) {
            Ok((invite, key)) => {
                self.invite = invite;
                self.key = key;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "authenticated INVITE not sent");
                Err(OutboundOutcome::ProviderFailed)
            }
        }
    }

    /// Our Contact on this leg (re-INVITEs carry it too).
    pub fn contact(&self) -> &str {
        &self.template.contact
    }

    /// The CSeq of the INVITE now out (its ACK carries it).
    pub fn cseq(&self) -> u32 {
        self.cseq
    }
}

fn send(
    ctx: &mut Ctx<'_>,
    template: &OutboundInvite,
    cseq: u32,
    auth: Option<(&'static str, String)>,
    dest: Peer,
    owner: Owner,
) -> Result<(Request, TxKey), SendError> {
    let branch = message::new_branch(&mut *ctx.rng);
    let text = template
        .build(cseq, &branch, auth)
        .ok_or(SendError::NotANumber)?;
    let invite = match message::parse_datagram(text.as_bytes()) {
        Ok(Datagram::Message(SipMessage::Request(r))) => r,
        other => return Err(SendError::Unparseable(format!("{other:?}"))),
    };
    let key = ctx
        .ua
        .send_request(invite.clone(), dest, owner, ctx.now.mono)
        .map_err(|e| SendError::Core(e.to_string()))?;
    Ok((invite, key))
}
