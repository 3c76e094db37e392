//! Requests within a dialog: RFC 3261 §12.2.1.1 (Request-URI, Route, From/To, CSeq;
//! loose and strict routing) and §13.2.2.4 (ACK for a 2xx: the INVITE's CSeq number, a
//! new branch).
//!
//! Invariant: the Request-URI and Route headers come only from the dialog's remote
//! target and route set; header values are printed from parsed URIs, never from text a
//! peer could have used to smuggle header lines.

use rsipstack::sip::headers::untyped;
use rsipstack::sip::Version;

use super::{is_loose, Dialog, ViaSpec};
use crate::sip::message::{Header, Headers, Method, Param, Request, Uri};

impl Dialog {
    /// A new request in the dialog. CSeq is the next local number (ACK and CANCEL reuse
    /// the current one; prefer [`Dialog::ack_for_2xx`] and `message::cancel_for`).
    /// `local_contact` is needed on target-refreshing requests (re-INVITE, UPDATE).
    pub fn new_request(
        &mut self,
        method: Method,
        via: &ViaSpec,
        local_contact: Option<&Uri>,
    ) -> Request {
        if !matches!(method, Method::Ack | Method::Cancel) {
            self.local_cseq = self.local_cseq.wrapping_add(1);
        }
        self.build(method, self.local_cseq, via, local_contact)
    }

    /// The ACK for a 2xx to our INVITE with CSeq `invite_cseq` (§13.2.2.4). It is a new
    /// transaction, so `via` must carry a fresh branch. Does not change the local CSeq.
    pub fn ack_for_2xx(&self, invite_cseq: u32, via: &ViaSpec) -> Request {
        self.build(Method::Ack, invite_cseq, via, None)
    }

    /// Request-URI and Route values (§12.2.1.1): with no route set or a loose first
    /// route, the remote target and the route set as is; with a strict first route, that
    /// route becomes the Request-URI and the remote target goes last in Route.
    pub fn request_target(&self) -> (Uri, Vec<Uri>) {
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if is_loose(first) => (self.remote_target.clone(), self.route_set.clone()),
            Some(first) => {
                let mut uri = first.clone();
                // §19.1.1 table: `method` and headers are not allowed in a Request-URI.
                uri.params.retain(|p| !matches!(p, Param::Method(_)));
                uri.headers.clear();
                let mut routes = self.route_set[1..].to_vec();
                routes.push(self.remote_target.clone());
                (uri, routes)
            }
        }
    }

    fn build(&self, method: Method, seq: u32, via: &ViaSpec, contact: Option<&Uri>) -> Request {
        let (uri, routes) = self.request_target();
        let mut headers = Headers::default();
        headers.push(via.header());
        for route in routes {
            headers.push(Header::Route(untyped::Route::new(format!("<{route}>"))));
        }
        headers.push(Header::MaxForwards(untyped::MaxForwards::new("70")));
        headers.push(Header::From(untyped::From::new(format!(
            "<{}>;tag={}",
            self.local_uri, self.local_tag
        ))));
        headers.push(Header::To(untyped::To::new(format!(
            "<{}>;tag={}",
            self.remote_uri, self.remote_tag
        ))));
        headers.push(Header::CallId(untyped::CallId::new(self.call_id.clone())));
        headers.push(Header::CSeq(untyped::CSeq::new(format!("{seq} {method}"))));
        if let Some(contact) = contact {
            headers.push(Header::Contact(untyped::Contact::new(format!(
                "<{contact}>"
            ))));
        }
        headers.push(Header::ContentLength(untyped::ContentLength::new("0")));
        Request {
            method,
            uri,
            version: Version::V2,
            headers,
            body: Vec::new(),
        }
    }
}
