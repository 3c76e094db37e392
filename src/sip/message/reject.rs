//! Answering requests we cannot parse: RFC 3261 §8.2 and §18.3 (a malformed request, for
//! example one whose Content-Length exceeds the datagram, is answered with 400 when
//! possible), §8.2.6.2 (the response carries a To tag), §17.2.1 (never answer ACK).
//!
//! The scan is deliberately lenient and independent of the full parser: it only needs
//! the request line and the Via, copied verbatim with whichever of From, To, Call-ID and
//! CSeq are there, so the peer's transaction can match the response by its branch.
//! RFC 4475 §3.3.1 asks for a 400 even to a request missing From, To and Call-ID, and
//! §3.1.2.8 for one whose Request-URI holds whitespace. Invariants: never panics, never
//! emits CR or LF inside a header field or the reason phrase, answers nothing but
//! requests, and nothing without a Via (there would be nowhere to send it).

use super::build::safe_reason;
use super::framing::header_fields;
use super::{split_unquoted, status_code, MAX_MESSAGE_BYTES};

/// A `400 <reason>` for the request in `buf`, or `None` when it is not a request we can
/// answer (a response, an ACK, or one without a Via).
pub fn bad_request(buf: &[u8], reason: &str) -> Option<Vec<u8>> {
    error_response(buf, 400, reason)
}

/// Like [`bad_request`] with any final status (e.g. 501 for an unknown method, 505 for
/// a SIP version we do not speak, 513 for a message that is too large).
pub fn error_response(buf: &[u8], status: u16, reason: &str) -> Option<Vec<u8>> {
    error_response_with(buf, status, reason, &[])
}

/// Like [`error_response`], with header fields of our own added (`Allow` on a 501,
/// RFC 3261 §21.5.2). `extra` values are ours: they are cleaned all the same.
pub fn error_response_with(
    buf: &[u8],
    status: u16,
    reason: &str,
    extra: &[(&str, &str)],
) -> Option<Vec<u8>> {
    if !(300..700).contains(&status) {
        return None;
    }
    let buf = &buf[..buf.len().min(MAX_MESSAGE_BYTES)];
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let text = String::from_utf8_lossy(&buf[start..]);
    let request_line = text.split('\n').next()?.trim_end_matches('\r');
    // Method first and version last, whatever whitespace lies in between: a Request-URI
    // with spaces in it still deserves its 400.
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let (method, version) = (*parts.first()?, *parts.last()?);
    let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
    if parts.len() < 3
        || !method.chars().all(token)
        || method.eq_ignore_ascii_case("ACK")
        || !version.get(..4)?.eq_ignore_ascii_case("SIP/")
    {
        return None;
    }

    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for (name, value) in header_fields(&text) {
        let is = |long: &str, short: &str| {
            name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
        };
        let slot = if is("via", "v") {
            if !value.is_empty() {
                vias.push((name, value));
            }
            continue;
        } else if is("from", "f") {
            &mut from
        } else if is("to", "t") {
            &mut to
        } else if is("call-id", "i") {
            &mut call_id
        } else if name.eq_ignore_ascii_case("cseq") {
            &mut cseq
        } else {
            continue;
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some((name, value));
        }
    }
    if vias.is_empty() {
        return None;
    }

    let status = status_code(status);
    let reason = Some(safe_reason(reason))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| safe_reason(status.text()));
    let mut out = format!("SIP/2.0 {} {}\r\n", status.code(), reason);
    let mut line = |(name, value): &(&str, String)| {
        out.push_str(&format!("{}: {}\r\n", clean(name), clean(value)));
    };
    vias.iter().for_each(&mut line);
    if let Some(from) = &from {
        line(from);
    }
    if let Some(to) = &to {
        let to_value = if has_tag(&to.1) {
            to.1.clone()
        } else {
            let seed = (call_id.as_ref(), from.as_ref());
            let (call_id, from) = (
                seed.0.map_or("", |c| c.1.as_str()),
                seed.1.map_or("", |f| f.1.as_str()),
            );
            format!("{};tag={}", to.1, stable_tag(call_id, from))
        };
        line(&(to.0, to_value));
    }
    for present in [&call_id, &cseq].into_iter().flatten() {
        line(present);
    }
    for (name, value) in extra {
        line(&(name, value.to_string()));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

/// Control characters replaced: header_fields already split on LF, but a lone CR or a
/// NUL could still be inside a value.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether a To value has a `tag` parameter, looking only past the URI.
fn has_tag(to: &str) -> bool {
    let params = match to.rfind('>') {
        Some(gt) => &to[gt + 1..],
        None => to.split_once(';').map_or("", |(_, p)| p),
    };
    split_unquoted(params, ';').into_iter().any(|p| {
        p.split('=')
            .next()
            .is_some_and(|name| name.trim().eq_ignore_ascii_case("tag"))
    })
}

/// A To tag that is the same for every retransmission of the same bad request (FNV-1a
/// over Call-ID and From), so the peer sees one consistent answer.
fn stable_tag(call_id: &str, from: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in call_id.bytes().chain([0]).chain(from.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: &str = "INVITE sip:792112@10.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1;rport\r\n\
        v: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK0\r\n\
        From: <sip:100@10.0.0.9>;tag=f1\r\n\
        t: <sip:792112@10.0.0.1>\r\n\
        Call-ID: c1@x\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 500\r\n\r\nv=0\r\n";

    fn answer(buf: &str, reason: &str) -> Option<String> {
        bad_request(buf.as_bytes(), reason).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn copies_headers_verbatim_and_adds_a_to_tag() {
        let out = answer(BAD, "Content-Length Exceeds Datagram").unwrap();
        let tag = stable_tag("c1@x", "<sip:100@10.0.0.9>;tag=f1");
        assert_eq!(
            out,
            format!(
                "SIP/2.0 400 Content-Length Exceeds Datagram\r\n\
                 Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1;rport\r\n\
                 v: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK0\r\n\
                 From: <sip:100@10.0.0.9>;tag=f1\r\n\
                 t: <sip:792112@10.0.0.1>;tag={tag}\r\n\
                 Call-ID: c1@x\r\n\
                 CSeq: 1 INVITE\r\n\
                 Content-Length: 0\r\n\r\n"
            )
        );
        // Retransmissions get the same tag.
        assert_eq!(answer(BAD, "x"), answer(BAD, "x"));
    }

    #[test]
    fn keeps_an_existing_to_tag_and_sanitises_the_reason() {
        let buf = BAD.replace("t: <sip:792112@10.0.0.1>", "To: sip:792112@10.0.0.1;tag=t9");
        let out = answer(&buf, "evil\r\nInjected: yes").unwrap();
        assert!(
            out.starts_with("SIP/2.0 400 evil Injected: yes\r\n"),
            "{out}"
        );
        assert!(out.contains("\r\nTo: sip:792112@10.0.0.1;tag=t9\r\n"));
        assert_eq!(out.matches("tag=").count(), 2);
        let out = answer(&buf, "\r\n").unwrap();
        assert!(out.starts_with("SIP/2.0 400 Bad Request\r\n"));
    }

    #[test]
    fn other_statuses_use_their_phrase() {
        let out = error_response(BAD.as_bytes(), 513, "").unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("SIP/2.0 513 Message Too Large\r\n"));
        assert_eq!(error_response(BAD.as_bytes(), 200, "OK"), None);
    }

    #[test]
    fn no_answer_for_ack_responses_or_missing_headers() {
        assert_eq!(answer(&BAD.replacen("INVITE sip", "ACK sip", 1), "x"), None);
        let resp =
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n\
                    To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        assert_eq!(answer(resp, "x"), None);
        let without = |missing: &[&str]| -> String {
            BAD.split("\r\n")
                .filter(|l| !missing.iter().any(|m| l.starts_with(m)))
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        assert_eq!(answer(&without(&["Via:", "v:"]), "x"), None);
        // RFC 4475 §3.3.1: what is there is echoed, the branch matches the answer.
        let out = answer(&without(&["From:", "t:", "Call-ID:"]), "Missing From").unwrap();
        assert!(
            out.starts_with("SIP/2.0 400 Missing From\r\nVia: "),
            "{out}"
        );
        assert!(out.contains("\r\nCSeq: 1 INVITE\r\n"), "{out}");
        assert!(!out.contains("From:") && !out.contains("Call-ID:"), "{out}");
        assert_eq!(answer("garbage", "x"), None);
        assert_eq!(answer("INVITE sip:a@b HTTP/1.1\r\n\r\n", "x"), None);
        // RFC 4475 §3.1.2.8: whitespace inside the Request-URI is still answered.
        let lws = BAD.replacen("sip:792112@10.0.0.1", "sip:792112@10.0.0.1; lr", 1);
        assert!(answer(&lws, "Bad Request-URI")
            .unwrap()
            .starts_with("SIP/2.0 400 "));
        let allow = error_response_with(BAD.as_bytes(), 501, "", &[("Allow", "INVITE, BYE")]);
        let allow = String::from_utf8(allow.unwrap()).unwrap();
        assert!(
            allow.ends_with("Allow: INVITE, BYE\r\nContent-Length: 0\r\n\r\n"),
            "{allow}"
        );
        assert_eq!(bad_request(&[0xff, 0xfe, b' ', b'\n'], "x"), None);
    }

    #[test]
    fn folded_and_binary_headers_do_not_break_the_answer() {
        let buf = BAD.replace(
            "From: <sip:100@10.0.0.9>;tag=f1",
            "From: <sip:100@10.0.0.9>\r\n ;tag=f1",
        );
        let out = answer(&buf, "x").unwrap();
        assert!(
            out.contains("\r\nFrom: <sip:100@10.0.0.9> ;tag=f1\r\n"),
            "{out}"
        );
        let mut bytes = BAD.as_bytes().to_vec();
        let at = BAD.find("c1@x").unwrap() + 4;
        bytes.splice(at..at, [0xff, b'\r', 0x00]);
        let out = bad_request(&bytes, "x").unwrap();
        assert!(String::from_utf8_lossy(&out).contains("\r\nCall-ID: c1@x\u{fffd}  \r\n"));
        assert!(!out.windows(2).any(|w| w == b"\r\r"));
        assert!(!out.contains(&0));
    }
}
