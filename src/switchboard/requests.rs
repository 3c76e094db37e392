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
//! | REGISTER                                  | the registrar (`registration.rs`) |
//! | MESSAGE, SUBSCRIBE, PUBLISH, REFER        | 405 with Allow                  |
//! | a method we do not know                   | 501 (from the framer: `FrameError::status`) |

use crate::model::Now;
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::TxKey;
use crate::sip::Peer;

use super::{Leg, Switchboard};

/// The methods we take (Allow header).
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER";

impl Switchboard {
    pub(super) fn on_request(&mut self, key: TxKey, req: Request, source: Peer, now: Now) {
        if let Ok(Some(to_tag)) = message::to_tag(&req) {
            let call_id = message::call_id(&req).unwrap_or_default().to_string();
            match self.by_dialog.get(&(call_id, to_tag)).copied() {
                Some((call, Leg::Caller)) => self.on_caller_in_dialog(call, key, req, now),
                Some((call, Leg::Operator)) => self.on_operator_in_dialog(call, key, req, now),
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
                super::calls::header(&mut resp, "Allow", ALLOW);
                super::calls::header(&mut resp, "Accept", "application/sdp");
                super::calls::header(&mut resp, "Accept-Language", "ru, en");
                super::calls::header(&mut resp, "Server", &self.settings.user_agent);
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
            Method::Register => self.on_register(key, req, source, now),
            Method::Message | Method::Subscribe | Method::Publish | Method::Refer => {
                let tag = message::new_tag(&mut self.rng);
                let mut resp = message::response_to(&req, 405, Some(&tag));
                super::calls::header(&mut resp, "Allow", ALLOW);
                self.respond(&key, resp, now);
            }
        }
    }
}
