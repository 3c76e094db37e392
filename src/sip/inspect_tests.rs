use super::*;
use crate::sip::message::SipMessage;

fn request(start: &str, extra: &str, body: &str) -> Request {
    let method = start.split(' ').next().unwrap();
    let text = format!(
        "{start} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n\
         To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match SipMessage::try_from(text.as_str()).unwrap() {
        SipMessage::Request(mut r) => {
            r.body = body.as_bytes().to_vec();
            r
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_plain_request_passes() {
    let sdp = "v=0\r\n";
    let req = request(
        "INVITE sip:792112@h",
        "Content-Type: application/sdp\r\n",
        sdp,
    );
    assert_eq!(inspect(&req), None);
    let req = request(
        "OPTIONS sip:792112@h",
        "Accept: text/nobodyKnowsThis\r\n",
        "",
    );
    assert_eq!(inspect(&req), None, "OPTIONS is answered without a body");
}

#[test]
fn require_lists_what_we_lack_and_timer_is_ours() {
    let req = request("OPTIONS sip:b@h", "Require: timer, foo,bar\r\n", "");
    assert_eq!(
        inspect(&req),
        Some(Refusal::BadExtension(vec!["foo".into(), "bar".into()]))
    );
    let req = request("INVITE sip:b@h", "Require: timer\r\n", "");
    assert_eq!(inspect(&req), None);
    // ACK and CANCEL are never refused (§8.2.2.3).
    let req = request("CANCEL sip:b@h", "Require: foo\r\n", "");
    assert_eq!(inspect(&req), None);
}

#[test]
fn bodies_we_cannot_read_and_answers_they_would_not_accept() {
    let req = request(
        "INVITE sip:b@h",
        "Content-Type: application/unknownformat\r\n",
        "<x/>",
    );
    assert_eq!(inspect(&req), Some(Refusal::UnsupportedMediaType));
    let req = request(
        "INVITE sip:b@h",
        "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n",
        "v=0",
    );
    assert_eq!(inspect(&req), Some(Refusal::UnsupportedMediaType));
    for accept in ["text/nobodyKnowsThis", "application/sdp;q=0", ""] {
        let req = request("INVITE sip:b@h", &format!("Accept: {accept}\r\n"), "");
        assert_eq!(inspect(&req), Some(Refusal::NotAcceptable), "{accept:?}");
    }
    for accept in ["application/sdp", "application/*, text/plain", "*/*"] {
        let req = request("INVITE sip:b@h", &format!("Accept: {accept}\r\n"), "");
        assert_eq!(inspect(&req), None, "{accept:?}");
    }
}

#[test]
fn schemes_and_addresses_of_record() {
    let req = request("OPTIONS tel:+78112792112", "", "");
    assert_eq!(inspect(&req), None);
    let mut req = request("OPTIONS sip:b@h", "", "");
    req.uri = crate::sip::message::parse_uri("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
    assert_eq!(inspect(&req), Some(Refusal::UnsupportedScheme));
    let req = request("REGISTER sip:h", "", "").clone();
    assert_eq!(inspect(&req), None);
    let text = "REGISTER sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                From: <http://www.example.com>;tag=1\r\nTo: isbn:2983792873\r\nCall-ID: c\r\n\
                CSeq: 1 REGISTER\r\n\r\n";
    let SipMessage::Request(req) = SipMessage::try_from(text).unwrap() else {
        unreachable!()
    };
    assert_eq!(inspect(&req), Some(Refusal::BadAddressOfRecord));
}
