//! Binding updates for an authenticated REGISTER: RFC 3261 §10.3 steps 5–8 (AoR check,
//! `Contact: *`, expiry from the `expires` parameter or the Expires header, 423 with
//! Min-Expires, the Call-ID/CSeq order check, the 200 listing the bindings) and §10.2.2
//! (removal with expiry 0).
//!
//! We keep ONE binding per operator, so the usual "add this contact to the set" becomes
//! "this contact replaces the binding": of the contacts with a non-zero expiry in one
//! REGISTER, the last wins. Contacts with expiry 0 remove the binding only if they name
//! it (same URI, or same `+sip.instance`), so a stale softphone unregistering its old
//! contact cannot take the operator's new device offline.
//!
//! Invariant: a refused REGISTER (400, 403, 423, 500) changes nothing.

use std::time::{Duration, Instant};

use crate::sip::message::{self, Header, NameAddr, Param, Request, Response, SpelledNameAddr, Uri};
use crate::sip::Peer;

use super::{Binding, BindingEvent, OfflineReason, RegisterError, Registrar};

/// The Contact header(s) of a REGISTER.
#[derive(Debug)]
enum Contacts {
    /// No Contact: the client asks for the current bindings.
    Query,
    /// `Contact: *`: remove everything.
    Wildcard,
    /// One or more contacts to bind or remove.
    Entries(Vec<ContactEntry>),
}

#[derive(Debug)]
struct ContactEntry {
    uri: Uri,
    /// The value as written, less `expires` (ours replaces it in the 200).
    spelled: SpelledNameAddr,
    /// The `expires` parameter, in seconds.
    expires: Option<u64>,
    /// `+sip.instance` without its quotes.
    instance: Option<String>,
}

impl Registrar {
    /// Applies an authenticated REGISTER for `operator`; the 200 to send, or why not.
    pub(super) fn apply_register(
        &mut self,
        req: &Request,
        operator: &str,
        source: Peer,
        now: Instant,
        events: &mut Vec<BindingEvent>,
    ) -> Result<Response, RegisterError> {
        let to = message::to_header(req)?;
        if to.uri.user() != Some(operator) {
            return Err(RegisterError::ForeignAor {
                user: operator.to_string(),
                aor: to.uri.user().map(str::to_string),
            });
        }
        let call_id = message::call_id(req)?.to_string();
        let (cseq, _) = message::cseq(req)?;
        let header_expires = expires_header(req)?;
        match parse_contacts(req)? {
            Contacts::Query => {}
            Contacts::Wildcard => {
                if header_expires != Some(0) {
                    return Err(RegisterError::WildcardMisuse);
                }
                self.check_order(operator, &call_id, cseq)?;
                self.unbind(operator, events);
            }
            Contacts::Entries(entries) => {
                let default = u64::from(self.policy.default_expires);
                let wanted: Vec<(ContactEntry, u64)> = entries
                    .into_iter()
                    .map(|e| {
                        let secs = e.expires.or(header_expires).unwrap_or(default);
                        (e, secs)
                    })
                    .collect();
                let min = self.policy.min_expires;
                if let Some(&(_, requested)) = wanted
                    .iter()
                    .find(|(_, secs)| *secs > 0 && *secs < u64::from(min))
                {
                    return Err(RegisterError::IntervalTooBrief { requested, min });
                }
                self.check_order(operator, &call_id, cseq)?;
                let live = wanted.iter().rposition(|(_, secs)| *secs > 0);
                match live {
                    Some(i) => {
                        let (entry, secs) =
                            wanted.into_iter().nth(i).expect("rposition is in range");
                        let secs = secs.min(u64::from(self.policy.max_expires));
                        let binding = Binding {
                            operator: operator.to_string(),
                            contact: entry.uri,
                            contact_value: entry.spelled,
                            peer: source,
                            expires_at: now + Duration::from_secs(secs),
                            instance: entry.instance,
                            call_id,
                            cseq,
                        };
                        self.bind(binding, events);
                    }
                    None => {
                        let named = self
                            .bindings
                            .get(operator)
                            .is_some_and(|b| wanted.iter().any(|(e, _)| same_device(b, e)));
                        if named {
                            self.unbind(operator, events);
                        }
                    }
                }
            }
        }
        Ok(self.ok_response(req, operator, now))
    }

    /// RFC 3261 §10.3 step 7: within one Call-ID, CSeq must grow.
    fn check_order(&self, operator: &str, call_id: &str, cseq: u32) -> Result<(), RegisterError> {
        match self.bindings.get(operator) {
            Some(b) if b.call_id == call_id && cseq <= b.cseq => {
                Err(RegisterError::OutOfOrder { cseq, last: b.cseq })
            }
            _ => Ok(()),
        }
    }

    fn bind(&mut self, binding: Binding, events: &mut Vec<BindingEvent>) {
        let operator = binding.operator.clone();
        let event = match self.bindings.get(&operator) {
            None => Some(BindingEvent::Online {
                operator: operator.clone(),
            }),
            Some(old) if !same_uri(&old.contact, &binding.contact) || old.peer != binding.peer => {
                Some(BindingEvent::Moved {
                    operator: operator.clone(),
                })
            }
            Some(_) => None,
        };
        if let Some(event) = event {
            tracing::info!(operator = %operator, contact = %binding.contact, peer = %binding.peer, ?event, "registered");
            events.push(event);
        }
        self.bindings.insert(operator, binding);
    }

    fn unbind(&mut self, operator: &str, events: &mut Vec<BindingEvent>) {
        if self.bindings.remove(operator).is_some() {
            tracing::info!(operator = %operator, "unregistered");
            events.push(BindingEvent::Offline {
                operator: operator.to_string(),
                reason: OfflineReason::Unregistered,
            });
        }
    }

    /// Every current binding of the operator's AoR: at most one (see the module comment).
    fn bindings_of(&self, operator: &str) -> impl Iterator<Item = &Binding> {
        self.bindings.get(operator).into_iter()
    }

    /// 200 listing every current binding of the AoR with its remaining time (RFC 3261
    /// §10.3 step 8). Each Contact is spelled as the device registered it (display name,
    /// URI, other parameters) plus our `expires`: phones look for their own binding by
    /// comparing the text.
    fn ok_response(&mut self, req: &Request, operator: &str, now: Instant) -> Response {
        let mut response = self.reply(req, 200);
        for b in self.bindings_of(operator) {
            let left = b.expires_at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            let value = format!("{};expires={secs}", b.contact_value);
            if let Err(err) = message::push_header(&mut response, "Contact", &value) {
                tracing::debug!(error = %err, "binding not listed in the 200");
            }
        }
        response
    }
}

/// The Expires header in seconds; `None` when absent.
fn expires_header(req: &Request) -> Result<Option<u64>, RegisterError> {
    req.headers
        .iter()
        .find_map(|h| match h {
            Header::Expires(v) => Some(parse_seconds(v.value())),
            _ => None,
        })
        .transpose()
}

/// delta-seconds (RFC 3261 §25.1); values beyond 2^32-1 are just "very long".
fn parse_seconds(text: &str) -> Result<u64, RegisterError> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegisterError::InvalidExpires(
            text.chars().take(40).collect(),
        ));
    }
    Ok(text.parse::<u64>().unwrap_or(u64::MAX))
}

fn parse_contacts(req: &Request) -> Result<Contacts, RegisterError> {
    let mut entries = Vec::new();
    let mut wildcard = false;
    for header in message::HeadersExt::contact_headers(req) {
        for value in message::split_unquoted(header.value(), ',') {
            if value == "*" {
                wildcard = true;
                continue;
            }
            let invalid = || RegisterError::InvalidContact(value.chars().take(80).collect());
            let na = NameAddr::parse(value).map_err(|_| invalid())?;
            let spelled = SpelledNameAddr::parse(value)
                .map_err(|_| invalid())?
                .without_param("expires");
            let expires = na.param("expires").map(parse_seconds).transpose()?;
            let instance = na
                .param("+sip.instance")
                .map(|v| v.trim_matches('"').to_string())
                .filter(|v| !v.is_empty());
            entries.push(ContactEntry {
                uri: na.uri,
                spelled,
                expires,
                instance,
            });
        }
    }
    match (wildcard, entries.is_empty()) {
        (true, true) => Ok(Contacts::Wildcard),
        (true, false) => Err(RegisterError::WildcardMisuse),
        (false, true) => Ok(Contacts::Query),
        (false, false) => Ok(Contacts::Entries(entries)),
    }
}

/// Whether a contact names this binding: the same URI, or the same device instance.
fn same_device(binding: &Binding, entry: &ContactEntry) -> bool {
    same_uri(&binding.contact, &entry.uri)
        || matches!((&binding.instance, &entry.instance), (Some(a), Some(b)) if a == b)
}

/// The parts of RFC 3261 §19.1.4 URI equality that tell contacts apart: scheme, user
/// (case-sensitive), host (case-insensitive), port (absent ≠ 5060) and transport.
fn same_uri(a: &Uri, b: &Uri) -> bool {
    let transport = |u: &Uri| {
        u.params.iter().find_map(|p| match p {
            Param::Transport(t) => Some(t.to_string().to_ascii_lowercase()),
            _ => None,
        })
    };
    a.scheme == b.scheme
        && a.user() == b.user()
        && a.host_with_port
            .host
            .to_string()
            .eq_ignore_ascii_case(&b.host_with_port.host.to_string())
        && a.host_with_port.port == b.host_with_port.port
        && transport(a) == transport(b)
}
