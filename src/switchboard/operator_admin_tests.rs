//! Simulated-time tests of operating the line: operators' feature codes, closing time
//! with callers queued, reloading the configuration, a softphone that moves while ringing.

use super::b2bua_support::*;

fn feature_invite(op: &str, code: &str, cseq: u32, auth: Option<&str>) -> String {
    let p = phone(op).addr;
    let body = "v=0\r\no=op 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16101 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:{code}@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bK-f-{op}-{cseq};rport\r\n\
         From: <sip:{op}@127.0.0.1>;tag=f{op}\r\nTo: <sip:{code}@127.0.0.1>\r\nCall-ID: feature-{op}-{code}\r\n\
         CSeq: {cseq} INVITE\r\nContact: <sip:{op}@{p}>\r\n{auth}Max-Forwards: 70\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Answer a 401 the way a softphone does (MD5, qop=auth).
#[test]
fn star_50_pauses_the_operator_after_digest_auth_and_star_51_resumes() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let out = send(
        &mut sb,
        &feature_invite("101", "*50", 1, None),
        phone("101"),
        now,
    );
    let challenge = out
        .response_to(phone("101"), 401)
        .expect("feature codes need the operator's password");
    let auth = digest_answer(&challenge, "101", "INVITE", "sip:*50@127.0.0.1:5060");
    let out = send(
        &mut sb,
        &feature_invite("101", "*50", 2, Some(&auth)),
        phone("101"),
        now,
    );
    let call = out
        .actions
        .iter()
        .find_map(|a| match a {
            Action::OpenCallerMedia { call, .. } => Some(*call),
            _ => None,
        })
        .expect("the code is confirmed by voice");
    sb.handle_media_ready(call, Leg::Caller, Some(30010), now);
    let out = drain(&mut sb);
    assert_eq!(out.played().unwrap().0, vec![PromptKind::Paused]);
    assert!(
        out.actions
            .iter()
            .all(|a| !matches!(a, Action::Register(_))),
        "not a call to the line: no row"
    );
    assert!(matches!(
        sb.acd.operator_state("101"),
        Some(super::acd::OperatorState::Paused(_))
    ));

    // A caller now waits: the paused operator is logged in but not rung.
    let (_, _, out) = queued_caller(&mut sb, "p1", now);
    assert!(!out.opens_operator_leg());
    assert_eq!(out.played().unwrap().0, vec![PromptKind::HoldMusic]);

    let out = send(
        &mut sb,
        &feature_invite("101", "*51", 3, None),
        phone("101"),
        now,
    );
    let challenge = out.response_to(phone("101"), 401).unwrap();
    let auth = digest_answer(&challenge, "101", "INVITE", "sip:*51@127.0.0.1:5060");
    let out = send(
        &mut sb,
        &feature_invite("101", "*51", 4, Some(&auth)),
        phone("101"),
        now,
    );
    assert!(
        out.opens_operator_leg(),
        "resumed: the waiting caller is offered at once"
    );
}

#[test]
fn callers_already_queued_at_closing_time_are_still_served() {
    // Weekdays 08:00-18:00 Moscow; Tuesday 2026-11-24 17:59:50 MSK is 14:59:50Z.
    let toml = r#"
        [sip]
        listen = "127.0.0.1:5060"
        [trunk]
        numbers = ["792112"]
        allow = ["127.0.0.1/32"]
        [queue]
        wrap_up = "10s"
        [menu]
        enabled = false
        [[operators]]
        id = "101"
        name = "Operator 101"
        password = "pass101"
        "#;
    let config = Config::from_toml(toml, Path::new("test.toml"), &[]).unwrap();
    let now = Now {
        mono: std::time::Instant::now(),
        wall: "2026-11-24T14:59:30Z".parse().unwrap(),
    };
    let mut sb = Switchboard::new(Settings::from_config(&config), 9, now);
    register(&mut sb, "101", now);
    let (a, a_tag, _) = queued_caller(&mut sb, "a", now);
    let inv = ring(&mut sb, a, "101", now);
    answer(&mut sb, &inv, "101", now);
    // B arrives at 17:59:50, in hours: greeting, then the queue (101 is busy).
    let now = now.advanced(Duration::from_secs(20));
    let (b, _, out) = queued_caller(&mut sb, "b", now);
    assert!(!out.opens_operator_leg());
    // 18:00:30: closed. A new caller gets the after-hours message…
    let now = now.advanced(Duration::from_secs(40));
    let out = send(&mut sb, &invite("c"), trunk(), now);
    let c = out.actions.iter().find_map(|a| match a {
        Action::OpenCallerMedia { call, .. } => Some(*call),
        _ => None,
    });
    sb.handle_media_ready(c.unwrap(), Leg::Caller, Some(30020), now);
    assert_eq!(
        drain(&mut sb).played().unwrap().0,
        vec![PromptKind::AfterHours]
    );
    // …while B, who queued in hours, is rung once 101's wrap-up ends.
    let now = now.advanced(Duration::from_secs(30));
    let out = send(
        &mut sb,
        &bye_from("a", "c-a", &a_tag, 2, trunk()),
        trunk(),
        now,
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let wrapped = now.advanced(Duration::from_secs(10));
    sb.handle_timeout(wrapped);
    let out = drain(&mut sb);
    assert!(out.opens_operator_leg(), "B is served after closing time");
    let _ = b;
}

#[test]
fn reload_removes_an_operator_and_changes_the_hours_without_dropping_calls() {
    let mut sb = line_with(&["101", "102"]);
    let now = t0();
    register(&mut sb, "101", now);
    register(&mut sb, "102", now);
    let (call, _, _) = queued_caller(&mut sb, "r1", now);
    let inv = ring(&mut sb, call, "101", now);
    answer(&mut sb, &inv, "101", now);
    // New config: 102 is gone, the line is closed from now on.
    let toml = "[sip]\nlisten = \"127.0.0.1:5060\"\n[trunk]\nnumbers = [\"792112\"]\nallow = [\"127.0.0.1/32\"]\n[hours]\ndays = []\n[[operators]]\nid = \"101\"\nname = \"Operator 101\"\npassword = \"pass101\"\n";
    let config = Config::from_toml(toml, Path::new("test.toml"), &[]).unwrap();
    sb.reload(Settings::from_config(&config), now);
    drain(&mut sb);
    assert_eq!(sb.active_calls(), 1, "the call in progress goes on");
    assert!(
        sb.acd.operator_state("102").is_none(),
        "102 is no longer an operator"
    );
    let out = send(&mut sb, &invite("r2"), trunk(), now);
    let c = out.actions.iter().find_map(|a| match a {
        Action::OpenCallerMedia { call, .. } => Some(*call),
        _ => None,
    });
    sb.handle_media_ready(c.unwrap(), Leg::Caller, Some(30030), now);
    assert_eq!(
        drain(&mut sb).played().unwrap().0,
        vec![PromptKind::AfterHours],
        "new hours apply to new calls"
    );
}

#[test]
fn a_softphone_that_moves_while_ringing_is_rung_again_at_its_new_address() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _, _) = queued_caller(&mut sb, "m1", now);
    let inv = ring(&mut sb, call, "101", now);
    sb.handle_message(
        SipMessage::Response(message::response_to(&inv, 180, Some("op101"))),
        phone("101"),
        now,
    );
    drain(&mut sb);

    // The softphone restarts on another port and registers again (new Call-ID, new Contact).
    let moved = Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], 6101)),
    };
    let text = |cseq: u32, auth: Option<&str>| {
        register_text("101", cseq, auth)
            .replace("127.0.0.1:5101", "127.0.0.1:6101")
            .replace("Call-ID: reg-101", "Call-ID: reg-101-b")
    };
    let out = send(&mut sb, &text(1, None), moved, now);
    let challenge = out.response_to(moved, 401).unwrap();
    let auth = digest_answer(&challenge, "101", "REGISTER", "sip:127.0.0.1:5060");
    let out = send(&mut sb, &text(2, Some(&auth)), moved, now);
    assert_eq!(out.status_to(moved), vec![200]);
    assert!(
        out.request_to(phone("101"), "CANCEL").is_some(),
        "the old device stops ringing"
    );
    assert!(
        !out.opens_operator_leg(),
        "not at once: after the retry interval"
    );

    let later = now.advanced(Duration::from_secs(6));
    sb.handle_timeout(later);
    let out = drain(&mut sb);
    assert!(out.opens_operator_leg(), "rung again");
    sb.handle_media_ready(call, Leg::Operator, Some(30004), later);
    let out = drain(&mut sb);
    let again = out
        .request_to(moved, "INVITE")
        .expect("the INVITE goes to the new address");
    assert!(
        again
            .to_string()
            .starts_with("INVITE sip:101@127.0.0.1:6101"),
        "{again}"
    );
    assert!(
        out.request_to(phone("101"), "INVITE").is_none(),
        "never to the old one"
    );
}
