//! The UA core's dispatch of requests (RFC 3261 §8.2, §12.2.2): new INVITEs to the door,
//! in-dialog requests to their call, everything else answered here.
//!
//! | request                                   | answer                          |
//! |-------------------------------------------|---------------------------------|
//! | INVITE, no To tag                         | the door (`calls.rs`)           |
//! | any request with a To tag, dialog known   | its call                        |
//! | any request with a To tag, no dialog      | 481                             |
//! | OPTIONS outside a dialog                  | 200 with Allow / Accept         |
//! | BYE, INFO, UPDATE, PRACK, NOTIFY, CANCEL outside a dialog | 481             |
//! | REGISTER, MESSAGE, SUBSCRIBE, PUBLISH, REFER | 405 with Allow               |
//! | a method we do not know                   | 501 (from the unparseable path) |

use crate::clock::Now;
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::TxKey;
use crate::sip::Peer;

use super::Switchboard;

/// The methods we take (Allow header).
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

impl Switchboard {
    pub(super) fn on_request(&mut self, key: TxKey, req: Request, source: Peer, now: Now) {
        if let Some(to_tag) = message::to_tag(&req) {
            let call_id = message::call_id(&req).unwrap_or_default();
            match self.by_dialog.get(&(call_id, to_tag)).copied() {
                Some(call) => self.on_in_dialog(call, key, req, now),
                None => {
                    let resp = message::response_to(&req, 481, None);
                    self.respond(&key, resp, now);
                }
            }
            return;
        }
        match req.method {
            Method::Invite => self.on_new_invite(key, req, source, now),
            Method::Options => {
                let tag = message::new_tag(&mut self.rng);
                let mut resp = message::response_to(&req, 200, Some(&tag));
                message::push_header(&mut resp, "Allow", ALLOW);
                message::push_header(&mut resp, "Accept", "application/sdp");
                message::push_header(&mut resp, "Accept-Language", "ru, en");
                message::push_header(&mut resp, "Server", &self.settings.user_agent);
                self.respond(&key, resp, now);
            }
            Method::Ack => {}
            Method::Bye
            | Method::Cancel
            | Method::Info
            | Method::Update
            | Method::PRack
            | Method::Notify => {
                let resp = message::response_to(&req, 481, None);
                self.respond(&key, resp, now);
            }
            Method::Register
            | Method::Message
            | Method::Subscribe
            | Method::Publish
            | Method::Refer => {
                let tag = message::new_tag(&mut self.rng);
                let mut resp = message::response_to(&req, 405, Some(&tag));
                message::push_header(&mut resp, "Allow", ALLOW);
                self.respond(&key, resp, now);
            }
        }
    }
}

/// The answer to bytes the parser refused, if they can be answered at all: 501 when the
/// request line names a method we do not know (the parser knows only RFC methods), else
/// 400 with the parser's reason.
pub(super) fn unparseable_answer(data: &[u8], why: &str) -> Option<Vec<u8>> {
    let method_known = request_method(data).map(is_known_method);
    match method_known {
        Some(false) => message::error_for_unparseable(data, 501, "Not Implemented"),
        _ => message::error_for_unparseable(data, 400, &short_reason(why)),
    }
}

fn request_method(data: &[u8]) -> Option<&str> {
    let line_end = data.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let line = std::str::from_utf8(&data[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let _uri = parts.next()?;
    (parts.next()? == "SIP/2.0").then_some(method)
}

fn is_known_method(m: &str) -> bool {
    matches!(
        m,
        "INVITE" | "ACK" | "BYE" | "CANCEL" | "OPTIONS" | "REGISTER" | "INFO" | "UPDATE"
            | "PRACK" | "SUBSCRIBE" | "NOTIFY" | "MESSAGE" | "PUBLISH" | "REFER"
    )
}

/// A reason phrase safe for a status line: printable ASCII, bounded.
fn short_reason(why: &str) -> String {
    let mut s: String = why
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' })
        .take(80)
        .collect();
    if s.trim().is_empty() {
        s = "Bad Request".to_string();
    }
    format!("Bad Request ({})", s.trim())
}
