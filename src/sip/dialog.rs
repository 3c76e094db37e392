//! Dialogs: RFC 3261 §12 (dialog state, creation by UAS §12.1.1 and UAC §12.1.2,
//! requests within a dialog §12.2.1.1 including strict routing, CSeq checks on received
//! requests §12.2.2), §13.2.2.4 (ACK for a 2xx) and §12.2 target refresh.
//!
//! A `Dialog` is plain state owned by the call logic: it never sends anything, reads no
//! clock and keeps no transaction. Invariants: `call_id`, `local_tag` and `remote_tag`
//! never change after creation; `local_cseq` only grows (it is the CSeq of the last
//! request we sent, 0 before the first); `remote_cseq` only grows; every URI is held
//! with a decoded user part (see `message::parse_uri`), so requests print it correctly.

use std::net::SocketAddr;

use crate::sip::message::{
    call_id, contact_uri, cseq, from_header, from_tag, record_route, to_header, to_tag, HeadersExt,
    Host, MessageError, Method, Param, Request, Response, Uri,
};
use crate::sip::Peer;

/// Our Via, built by the message layer; dialog requests carry it.
pub use crate::sip::message::ViaSpec;

mod request;

#[cfg(test)]
mod tests;

/// Why a dialog could not be created or a request in it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The INVITE's From has no tag, so the remote tag is unknown (RFC 2543 peer).
    #[error("From has no tag")]
    MissingFromTag,
    /// The response creating a UAC dialog has no To tag.
    #[error("To has no tag")]
    MissingToTag,
    /// No usable Contact, so there is no remote target (§12.1.1, §12.1.2).
    #[error("no usable Contact for the remote target")]
    MissingContact,
    /// A request's CSeq is lower than one already seen (§12.2.2: answer 500).
    #[error("CSeq {received} is lower than the last remote CSeq {last}")]
    CSeqOutOfOrder {
        /// CSeq number of the refused request.
        received: u32,
        /// Highest CSeq number seen from the remote side.
        last: u32,
    },
}

/// The key of a dialog (§12): Call-ID plus both tags, seen from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog a request from the peer belongs to: our tag is in To, theirs in From.
    /// `None` for a request without a To tag (it is not inside a dialog).
    pub fn of_request(req: &Request) -> Option<DialogId> {
        Some(DialogId {
            call_id: call_id(req).ok()?.to_string(),
            local_tag: to_tag(req).ok()??,
            remote_tag: from_tag(req).ok()??,
        })
    }

    /// The dialog a response to one of our requests belongs to: our tag is in From.
    pub fn of_response(resp: &Response) -> Option<DialogId> {
        Some(DialogId {
            call_id: call_id(resp).ok()?.to_string(),
            local_tag: from_tag(resp).ok()??,
            remote_tag: to_tag(resp).ok()??,
        })
    }
}

/// One dialog (§12), the same type for both roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID of the dialog.
    pub call_id: String,
    /// Our tag (To of the INVITE we answered, or From of the INVITE we sent).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our URI (From of our requests).
    pub local_uri: Uri,
    /// The peer's URI (To of our requests).
    pub remote_uri: Uri,
    /// The peer's Contact: Request-URI of our requests (unless strict routing).
    pub remote_target: Uri,
    /// Route set, in the order our requests carry it.
    pub route_set: Vec<Uri>,
    /// CSeq of the last request we sent in this dialog (0 before the first).
    pub local_cseq: u32,
    /// Highest CSeq received from the peer; `None` until it sends a request.
    pub remote_cseq: Option<u32>,
    /// The signalling flow to the peer (used when the next hop is not an IP literal).
    pub peer: Peer,
}

impl Dialog {
    /// The dialog we create by answering `invite` with a 1xx/2xx carrying `local_tag`
    /// (§12.1.1): route set = Record-Route in order, remote target = Contact, remote
    /// CSeq = the INVITE's.
    pub fn uas(invite: &Request, local_tag: &str, source: Peer) -> Result<Dialog, DialogError> {
        let from = from_header(invite)?;
        let to = to_header(invite)?;
        Ok(Dialog {
            call_id: call_id(invite)?.to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: from.tag().ok_or(DialogError::MissingFromTag)?.to_string(),
            local_uri: to.uri,
            remote_uri: from.uri,
            remote_target: contact_uri(invite).ok_or(DialogError::MissingContact)?,
            route_set: record_route(invite)?.into_iter().map(|na| na.uri).collect(),
            local_cseq: 0,
            remote_cseq: Some(cseq(invite)?.0),
            peer: source,
        })
    }

    /// The dialog created by a 1xx (with To tag) or 2xx `response` to our `invite`
    /// (§12.1.2): route set = Record-Route reversed, remote tag from the response's To,
    /// remote target = its Contact, local CSeq = the INVITE's.
    pub fn uac(invite: &Request, response: &Response, dest: Peer) -> Result<Dialog, DialogError> {
        let from = from_header(invite)?;
        let mut route_set: Vec<Uri> = record_route(response)?
            .into_iter()
            .map(|na| na.uri)
            .collect();
        route_set.reverse();
        Ok(Dialog {
            call_id: call_id(invite)?.to_string(),
            local_tag: from.tag().ok_or(DialogError::MissingFromTag)?.to_string(),
            remote_tag: to_tag(response)?.ok_or(DialogError::MissingToTag)?,
            local_uri: from.uri,
            remote_uri: to_header(invite)?.uri,
            remote_target: contact_uri(response).ok_or(DialogError::MissingContact)?,
            route_set,
            local_cseq: cseq(invite)?.0,
            remote_cseq: None,
            peer: dest,
        })
    }

    /// This dialog's key.
    pub fn id(&self) -> DialogId {
        DialogId {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
            remote_tag: self.remote_tag.clone(),
        }
    }

    /// Whether a request from the peer belongs here (Call-ID, From tag = remote tag,
    /// To tag = local tag).
    pub fn matches(&self, req: &Request) -> bool {
        DialogId::of_request(req).is_some_and(|id| id == self.id())
    }

    /// Whether a response to one of our requests belongs here (From tag = local tag,
    /// To tag = remote tag).
    pub fn matches_response(&self, resp: &Response) -> bool {
        DialogId::of_response(resp).is_some_and(|id| id == self.id())
    }

    /// Checks and records the CSeq of a request from the peer (§12.2.2). A lower number
    /// than already seen is refused (the caller answers 500); ACK and CANCEL carry the
    /// INVITE's number and are exempt.
    pub fn handle_remote_cseq(&mut self, req: &Request) -> Result<(), DialogError> {
        let (received, method) = cseq(req)?;
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(last) = self.remote_cseq {
            if received < last {
                return Err(DialogError::CSeqOutOfOrder { received, last });
            }
        }
        self.remote_cseq = Some(received);
        Ok(())
    }

    /// Target refresh (§12.2.1.2, §12.2.2): a re-INVITE from the peer or a 2xx to ours
    /// replaces the remote target with its Contact. Returns whether it changed.
    pub fn handle_target_refresh<M: HeadersExt + ?Sized>(&mut self, msg: &M) -> bool {
        match contact_uri(msg) {
            Some(target) if target != self.remote_target => {
                self.remote_target = target;
                true
            }
            _ => false,
        }
    }

    /// Where requests in this dialog go first: the first route (or the remote target
    /// when there is no route set) if its host is an IP literal, port 5060 by default.
    /// `None` for a domain name: the caller then uses [`Dialog::peer`].
    pub fn next_hop(&self) -> Option<SocketAddr> {
        let uri = self.route_set.first().unwrap_or(&self.remote_target);
        match &uri.host_with_port.host {
            Host::IpAddr(ip) => Some(SocketAddr::new(
                *ip,
                uri.host_with_port.port.as_ref().map_or(5060, |p| p.0),
            )),
            Host::Domain(_) => None,
        }
    }
}

/// Loose routing (RFC 3261 §19.1.1 `lr`; `lr=on` is a common variant).
fn is_loose(uri: &Uri) -> bool {
    uri.params.iter().any(|p| match p {
        Param::Lr => true,
        Param::Other(name, _) => name.value().eq_ignore_ascii_case("lr"),
        _ => false,
    })
}
