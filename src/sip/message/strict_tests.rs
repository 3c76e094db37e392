use super::*;

fn request(headers: &str) -> String {
    format!("OPTIONS sip:a@b SIP/2.0\r\n{headers}\r\n\r\n")
}

#[test]
fn repeated_single_value_headers_are_refused_by_name() {
    let head = request("Call-ID: a\r\ni: b");
    assert_eq!(
        check_request(&head, "sip:a@b"),
        Err(MessageError::DuplicateHeader("Call-ID"))
    );
    let head = request("To: <sip:a@b>\r\nt: <sip:c@d>");
    assert_eq!(
        check_request(&head, "sip:a@b"),
        Err(MessageError::DuplicateHeader("To"))
    );
    // Via and Contact are lists: they may repeat.
    let head = request("Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nv: SIP/2.0/UDP g\r\nm: <sip:x@y>\r\nContact: <sip:z@y>");
    assert_eq!(check_request(&head, "sip:a@b"), Ok(()));
}

#[test]
fn name_addr_forms_the_rfc_allows_pass() {
    for value in [
        "<sip:a@b>;tag=1",
        "sip:a@b;tag=1",
        "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
        "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>  ;  tag = 98asjd8",
        "caller<sip:caller@example.com>;tag=323",
        "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=x",
        "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33",
        "<sip:a@b>;+sip.instance=\"<urn:uuid:1>\"",
        "sip:+19725552222@gw1.example.net;unknownparam",
        "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
    ] {
        assert!(name_addr(value).is_ok(), "{value}");
    }
}

#[test]
fn name_addr_forms_the_rfc_forbids_fail() {
    for value in [
        "\"Watson, Thomas\" < sip:t.watson@example.org >",
        "Watson, Thomas <sip:t.watson@example.org>",
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        "\"Joe\" <sip:joe@example.org>;;;;",
        "\"Mr. J. User <sip:j.user@example.com>",
        "<sip:a@b",
    ] {
        assert!(name_addr(value).is_err(), "{value}");
    }
}

#[test]
fn via_values_need_a_sent_by_and_no_empty_parameter() {
    assert!(via("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
    assert!(via("SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/TCP g").is_ok());
    assert!(via("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239").is_ok());
}

#[test]
fn dates_must_be_gmt_and_request_uris_carry_no_headers() {
    let head = request("Date: Fri, 01 Jan 2010 16:00:00 EST");
    assert!(matches!(
        check_request(&head, "sip:a@b"),
        Err(MessageError::InvalidHeader { header: "Date", .. })
    ));
    let head = request("Date: Sat, 13 Nov 2010 23:29:00 GMT");
    assert_eq!(check_request(&head, "sip:a@b"), Ok(()));
    assert!(check_request(
        &request(""),
        "sip:user@example.com?Route=%3Csip:example.com%3E"
    )
    .is_err());
    // A `?` in the user part is not a header.
    assert_eq!(
        check_request(&request(""), "sip:crazy?,/;;*@example.com"),
        Ok(())
    );
}

#[test]
fn control_characters_only_as_quoted_pairs() {
    assert!(controls_escaped("\"BEL:\\\x07 NUL:\\\x00\" <sip:a@b>"));
    assert!(controls_escaped("a\tb"));
    assert!(!controls_escaped("a\x00b"));
    assert!(!controls_escaped("\"a\x07\" <sip:a@b>"));
    let head = request("Subject: a\x00b");
    assert!(matches!(
        check_request(&head, "sip:a@b"),
        Err(MessageError::ControlCharacter(_))
    ));
}
