//! Non-INVITE server transactions, CANCEL and the layer's answers to what matches nothing
//! or is broken (RFC 3261 §17.2.2, §9.2, §18.2.2, RFC 3581): what a peer would see on the
//! wire, and when.

use rsipstack::sip::Method;

use super::test_support::*;
use super::{TxError, TxEvent};

#[test]
fn non_invite_answers_copies_with_the_last_response_until_timer_j() {
    let mut sim = Sim::new();
    let options = in_dialog("OPTIONS", "z9hG4bK-opt1", 7, "");
    sim.receive_at(ms(0), options.clone(), trunk());
    let key = match &sim.drain()[..] {
        [TxEvent::Request { key, .. }] => key.clone(),
        other => panic!("unexpected {other:?}"),
    };
    sim.receive_at(ms(100), options.clone(), trunk());
    assert!(sim.drain().is_empty(), "Trying absorbs copies silently");
    sim.layer
        .respond(&key, tu_answer(&options, 100, ""), sim.now)
        .unwrap();
    let state = sim.layer.txs.server_non_invite[&key].state();
    assert_eq!(
        state,
        super::server_non_invite::ServerNonInviteState::Proceeding
    );
    sim.receive_at(ms(200), options.clone(), trunk());
    let sent = wire(&sim.drain());
    assert_eq!(sent.len(), 2);
    assert_eq!(first_line(&sent[1].1), "SIP/2.0 100 Trying");
    sim.layer
        .respond(&key, tu_answer(&options, 200, "uas2"), sim.now)
        .unwrap();
    sim.receive_at(ms(1_000), options, trunk());
    let sent = wire(&sim.drain());
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1, sent[1].1, "the copy is byte-identical");
    assert_eq!(header(&sent[1].1, "CSeq").unwrap(), "7 OPTIONS");
    let err = sim
        .layer
        .respond(&key, tu_answer(&trunk_invite(), 500, "x"), sim.now);
    assert_eq!(err, Err(TxError::FinalAlreadySent));
    let events = sim.run_until(ms(60_000));
    assert_eq!(
        events,
        vec![(ms(32_200), TxEvent::Terminated { key })],
        "Timer J = 64*T1"
    );
}

#[test]
fn reliable_non_invite_ends_with_its_final_response() {
    let mut sim = Sim::new();
    let peer = tcp("192.0.2.5:40001");
    let mut bye = in_dialog("BYE", "z9hG4bK-bye1", 2, "uas1");
    bye.headers.iter_mut().for_each(|h| {
        if let rsipstack::sip::Header::Via(v) = h {
            *v = "SIP/2.0/TCP 192.0.2.5:5062;branch=z9hG4bK-bye1".into();
        }
    });
    sim.receive_at(ms(0), bye.clone(), peer);
    let key = match &sim.drain()[..] {
        [TxEvent::Request { key, .. }] => key.clone(),
        other => panic!("unexpected {other:?}"),
    };
    sim.layer
        .respond(&key, tu_answer(&bye, 200, "uas1"), sim.now)
        .unwrap();
    let events = sim.drain();
    assert_eq!(events.len(), 2);
    assert_eq!(wire(&events)[0].0, peer);
    assert_eq!(events[1], TxEvent::Terminated { key });
    assert_eq!(sim.layer.poll_timeout(), None);
}

#[test]
fn cancel_gets_200_and_tu_answers_487_whose_ack_is_absorbed() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    let cancel = in_dialog("CANCEL", "z9hG4bK-inv1", 1, "");
    sim.receive_at(ms(2_000), cancel.clone(), trunk());
    let events = sim.drain();
    let sent = wire(&events);
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0].1), "SIP/2.0 200 OK");
    assert_eq!(header(&sent[0].1, "CSeq").unwrap(), "1 CANCEL");
    assert!(
        header(&sent[0].1, "To").unwrap().contains(";tag="),
        "§8.2.6.2 To tag"
    );
    assert!(matches!(&events[1], TxEvent::Cancelled { invite, cancel }
        if *invite == key && cancel.method == Method::Cancel));
    assert_eq!(events.len(), 2);

    sim.receive_at(ms(2_100), cancel, trunk());
    let sent = wire(&sim.drain());
    assert_eq!(
        first_line(&sent[0].1),
        "SIP/2.0 200 OK",
        "CANCEL copy answered again"
    );

    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 487, "uas1"), sim.now)
        .unwrap();
    let sent = wire(&sim.drain());
    assert_eq!(first_line(&sent[0].1), "SIP/2.0 487 Request Terminated");
    sim.receive_at(
        ms(2_200),
        in_dialog("ACK", "z9hG4bK-inv1", 1, "uas1"),
        trunk(),
    );
    assert!(sim.drain().is_empty(), "ACK for 487 stays inside");
    let events = sim.run_until(ms(60_000));
    assert_eq!(
        tu_events(&events),
        vec![(ms(7_200), TxEvent::Terminated { key })]
    );
    assert_eq!(
        sent_lines(&events),
        vec![],
        "no retransmissions after the ACK"
    );
    assert_eq!(sim.layer.len(), 0, "the CANCEL transaction is gone too");
}

#[test]
fn cancel_without_invite_gets_481() {
    let mut sim = Sim::new();
    sim.receive_at(ms(0), in_dialog("CANCEL", "z9hG4bK-none", 1, ""), trunk());
    let events = sim.drain();
    assert_eq!(events.len(), 1);
    let sent = wire(&events);
    assert_eq!(
        first_line(&sent[0].1),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
    assert_eq!(sent[0].0, trunk());
}

#[test]
fn cancel_after_final_gets_200_and_no_event() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 200, "uas1"), sim.now)
        .unwrap();
    sim.drain();
    sim.receive_at(ms(100), in_dialog("CANCEL", "z9hG4bK-inv1", 1, ""), trunk());
    let events = sim.drain();
    assert_eq!(events.len(), 1, "no Cancelled event: {events:?}");
    assert_eq!(first_line(&wire(&events)[0].1), "SIP/2.0 200 OK");
}

#[test]
fn responses_follow_section_18_2_2_and_rfc_3581() {
    let cases = [
        // (top Via, source, expected destination, expected Via parameters)
        (
            "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-a;rport",
            udp("198.51.100.7:40000"),
            udp("198.51.100.7:40000"),
            ";rport=40000;received=198.51.100.7",
        ),
        (
            "SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-b",
            udp("198.51.100.7:40000"),
            udp("198.51.100.7:5070"),
            ";received=198.51.100.7",
        ),
        (
            "SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-c",
            udp("198.51.100.7:40000"),
            udp("198.51.100.7:5060"),
            ";received=198.51.100.7",
        ),
        (
            "SIP/2.0/TCP 10.0.0.5:5062;branch=z9hG4bK-d",
            tcp("198.51.100.7:40000"),
            tcp("198.51.100.7:40000"),
            ";received=198.51.100.7",
        ),
    ];
    for (via, source, dest, params) in cases {
        let mut sim = Sim::new();
        sim.receive_at(ms(0), invite_with_via(via), source);
        let events = sim.drain();
        let sent = wire(&events);
        assert_eq!(sent[0].0, dest, "{via}");
        assert!(
            header(&sent[0].1, "Via").unwrap().ends_with(params),
            "{via}: {}",
            sent[0].1
        );
        let TxEvent::Request { key, request, .. } = &events[1] else {
            panic!("no request")
        };
        sim.layer
            .respond(key, tu_answer(request, 180, "u"), sim.now)
            .unwrap();
        assert_eq!(
            wire(&sim.drain())[0].0,
            dest,
            "the TU's responses follow the same rule"
        );
    }
}

#[test]
fn unmatched_ack_is_passed_up_as_stray() {
    let mut sim = Sim::new();
    sim.receive_at(ms(0), in_dialog("ACK", "z9hG4bK-late", 1, "gone"), trunk());
    assert!(matches!(&sim.drain()[..], [TxEvent::StrayAck { source, .. }] if *source == trunk()));
    assert_eq!(sim.layer.stats().stray_acks, 1);
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn broken_requests_are_answered_400_or_dropped() {
    let mut sim = Sim::new();
    let no_cseq = request(
        "OPTIONS sip:792112@hotline.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.5:5062;branch=z9hG4bK-x1
From: <sip:a@b>;tag=1
To: <sip:c@d>
Call-ID: x1

",
    );
    sim.receive_at(ms(0), no_cseq, trunk());
    let sent = wire(&sim.drain());
    assert_eq!(first_line(&sent[0].1), "SIP/2.0 400 Bad Request");
    let mismatch = request(
        "BYE sip:792112@hotline.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.5:5062;branch=z9hG4bK-x2
From: <sip:a@b>;tag=1
To: <sip:c@d>
Call-ID: x2
CSeq: 3 INVITE

",
    );
    sim.receive_at(ms(0), mismatch, trunk());
    assert_eq!(
        first_line(&wire(&sim.drain())[0].1),
        "SIP/2.0 400 Bad Request"
    );
    let no_via = request(
        "OPTIONS sip:792112@hotline.example SIP/2.0
From: <sip:a@b>;tag=1
To: <sip:c@d>
Call-ID: x3
CSeq: 1 OPTIONS

",
    );
    sim.receive_at(ms(0), no_via, trunk());
    assert!(sim.drain().is_empty());
    assert_eq!(sim.layer.stats().malformed, 3);
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn respond_rejects_unknown_keys_and_late_answers() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 486, "u"), sim.now)
        .unwrap();
    let mut weird = tu_answer(&trunk_invite(), 180, "u");
    weird.status_code = rsipstack::sip::StatusCode::from(99);
    let invalid = sim.layer.respond(&key, weird, sim.now);
    assert_eq!(invalid, Err(TxError::InvalidStatus(99)));
    let again = sim
        .layer
        .respond(&key, tu_answer(&trunk_invite(), 180, "u"), sim.now);
    assert_eq!(again, Err(TxError::FinalAlreadySent));
    sim.run_until(ms(60_000));
    let gone = sim
        .layer
        .respond(&key, tu_answer(&trunk_invite(), 200, "u"), sim.now);
    assert_eq!(gone, Err(TxError::UnknownTransaction));
}

#[test]
fn rfc2543_peers_are_matched_loosely() {
    let mut sim = Sim::new();
    let old = invite_with_via("SIP/2.0/UDP 192.0.2.5:5062");
    sim.receive_at(ms(0), old.clone(), trunk());
    let key = match &sim.drain()[1] {
        TxEvent::Request { key, .. } => key.clone(),
        other => panic!("unexpected {other:?}"),
    };
    sim.receive_at(ms(500), old, trunk());
    assert_eq!(wire(&sim.drain()).len(), 1, "the copy is recognised");
    let mut cancel = in_dialog("CANCEL", "x", 1, "");
    cancel.headers.iter_mut().for_each(|h| {
        if let rsipstack::sip::Header::Via(v) = h {
            *v = "SIP/2.0/UDP 192.0.2.5:5062".into();
        }
    });
    sim.receive_at(ms(600), cancel, trunk());
    assert!(sim
        .drain()
        .iter()
        .any(|e| matches!(e, TxEvent::Cancelled { invite, .. } if *invite == key)));
}

#[test]
fn many_transactions_share_one_exact_timer_queue() {
    let mut sim = Sim::new();
    for i in 0..1_000u64 {
        let options = in_dialog("OPTIONS", &format!("z9hG4bK-m{i}"), 1, "");
        sim.receive_at(ms(i), options.clone(), trunk());
        let key = match sim.drain().pop() {
            Some(TxEvent::Request { key, .. }) => key,
            other => panic!("unexpected {other:?}"),
        };
        sim.layer
            .respond(&key, tu_answer(&options, 200, "t"), sim.now)
            .unwrap();
    }
    sim.drain();
    assert_eq!(sim.layer.len(), 1_000);
    assert_eq!(sim.layer.poll_timeout(), Some(sim.t0 + ms(32_000)));
    let events = sim.run_until(ms(40_000));
    assert_eq!(tu_events(&events).len(), 1_000);
    assert_eq!(events.last().unwrap().0, ms(32_999));
    assert_eq!(sim.layer.len(), 0);
    assert_eq!(sim.layer.timers.len(), 0, "no stale entries left behind");
}
