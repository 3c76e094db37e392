//! Server transactions end to end through the layer (RFC 3261 §17.2, RFC 6026 §7.1,
//! §9.2, §18.2.2): what a peer would see on the wire, and when.

use rsipstack::sip::Method;

use super::test_support::*;
use super::{TxError, TxEvent, TxKey};

const G_SCHEDULE: [u64; 10] = [
    500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
];

fn trunk() -> crate::sip::Peer {
    udp("192.0.2.5:5062")
}

/// Feeds the trunk INVITE at t0 and returns the new transaction's key.
fn start_invite(sim: &mut Sim) -> TxKey {
    sim.receive_at(ms(0), trunk_invite(), trunk());
    let events = sim.drain();
    events
        .iter()
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key.clone()),
            _ => None,
        })
        .expect("INVITE reaches the TU")
}

#[test]
fn invite_gets_100_trying_at_once_and_reaches_tu() {
    let mut sim = Sim::new();
    sim.receive_at(ms(0), trunk_invite(), trunk());
    let events = sim.drain();
    let sent = wire(&events);
    assert_eq!(sent.len(), 1);
    let (peer, text) = &sent[0];
    assert_eq!(*peer, trunk());
    assert_eq!(first_line(text), "SIP/2.0 100 Trying");
    assert_eq!(
        header(text, "Via").unwrap(),
        "SIP/2.0/UDP 192.0.2.5:5062;branch=z9hG4bK-inv1"
    );
    assert_eq!(header(text, "To").unwrap(), "<sip:792112@hotline.example>");
    assert_eq!(
        header(text, "From").unwrap(),
        "<sip:+79110000000@trunk.example>;tag=caller1"
    );
    assert_eq!(header(text, "Call-ID").unwrap(), "call-1@trunk.example");
    assert_eq!(header(text, "CSeq").unwrap(), "1 INVITE");
    assert_eq!(header(text, "Content-Length").unwrap(), "0");
    assert!(
        matches!(&events[1], TxEvent::Request { request, source, key }
        if request.method == Method::Invite && *source == trunk() && key.is_server())
    );
    assert_eq!(sim.layer.len(), 1);
    assert_eq!(sim.layer.poll_timeout(), None, "Proceeding runs no timer");
}

#[test]
fn retransmitted_invite_is_answered_with_last_provisional() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.receive_at(ms(200), trunk_invite(), trunk());
    let sent = wire(&sim.drain());
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0].1), "SIP/2.0 100 Trying");

    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 180, "uas1"), sim.now)
        .unwrap();
    assert_eq!(first_line(&wire(&sim.drain())[0].1), "SIP/2.0 180 Ringing");
    sim.receive_at(ms(900), trunk_invite(), trunk());
    let events = sim.drain();
    let sent = wire(&events);
    assert_eq!(sent.len(), 1, "only the resent 180, no new Request");
    assert_eq!(first_line(&sent[0].1), "SIP/2.0 180 Ringing");
    assert_eq!(
        header(&sent[0].1, "To").unwrap(),
        "<sip:792112@hotline.example>;tag=uas1"
    );
    assert_eq!(events.len(), 1);
    assert_eq!(sim.layer.stats().absorbed_retransmissions, 2);
    assert_eq!(sim.layer.stats().retransmissions_sent, 2);
}

#[test]
fn non_2xx_final_is_retransmitted_on_timer_g_until_timer_h() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 486, "uas1"), sim.now)
        .unwrap();
    let events = sim.run_until(ms(40_000));
    let sent = sent_lines(&events);
    assert_eq!(sent[0], (ms(0), "SIP/2.0 486 Busy Here".to_string()));
    assert!(sent.iter().all(|(_, l)| l == "SIP/2.0 486 Busy Here"));
    assert_eq!(
        millis(&sent[1..]),
        G_SCHEDULE.to_vec(),
        "T1 doubling, capped at T2"
    );
    assert_eq!(
        tu_events(&events),
        vec![(ms(32_000), TxEvent::Terminated { key })]
    );
    assert_eq!(sim.layer.len(), 0);
    assert_eq!(sim.layer.poll_timeout(), None);
    assert_eq!(sim.layer.stats().ack_timeouts, 1);
}

#[test]
fn ack_confirms_non_2xx_and_timer_i_absorbs_copies() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 486, "uas1"), sim.now)
        .unwrap();
    sim.drain();
    sim.run_until(ms(600));
    let ack = in_dialog("ACK", "z9hG4bK-inv1", 1, "uas1");
    sim.receive_at(ms(700), ack.clone(), trunk());
    assert!(
        sim.drain().is_empty(),
        "the ACK for a non-2xx stays in the transaction"
    );
    sim.receive_at(ms(800), trunk_invite(), trunk());
    sim.receive_at(ms(900), ack, trunk());
    assert!(
        sim.drain().is_empty(),
        "Confirmed absorbs INVITE and ACK copies"
    );
    assert_eq!(
        sim.layer.poll_timeout(),
        Some(sim.t0 + ms(5_700)),
        "Timer I = T4"
    );
    let events = sim.run_until(ms(60_000));
    assert_eq!(events, vec![(ms(5_700), TxEvent::Terminated { key })]);
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn reliable_invite_has_no_retransmissions_and_no_timer_i() {
    let mut sim = Sim::new();
    let peer = tcp("192.0.2.5:40001");
    sim.receive_at(
        ms(0),
        invite_with_via("SIP/2.0/TCP 192.0.2.5:5062;branch=z9hG4bK-t1"),
        peer,
    );
    let key = match &sim.drain()[1] {
        TxEvent::Request { key, .. } => key.clone(),
        other => panic!("unexpected {other:?}"),
    };
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 603, "uas1"), sim.now)
        .unwrap();
    let sent = wire(&sim.drain());
    assert_eq!(sent, vec![(peer, sent[0].1.clone())]);
    assert_eq!(first_line(&sent[0].1), "SIP/2.0 603 Decline");
    assert_eq!(
        sim.layer.poll_timeout(),
        Some(sim.t0 + ms(32_000)),
        "only Timer H runs"
    );
    let mut ack = in_dialog("ACK", "z9hG4bK-t1", 1, "uas1");
    ack.headers.iter_mut().for_each(|h| {
        if let rsipstack::sip::Header::Via(v) = h {
            *v = "SIP/2.0/TCP 192.0.2.5:5062;branch=z9hG4bK-t1".into();
        }
    });
    sim.receive_at(ms(100), ack, peer);
    assert_eq!(
        sim.drain(),
        vec![TxEvent::Terminated { key }],
        "Timer I is 0 on TCP"
    );
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn reliable_invite_without_ack_ends_on_timer_h() {
    let mut sim = Sim::new();
    let peer = tcp("192.0.2.5:40001");
    sim.receive_at(
        ms(0),
        invite_with_via("SIP/2.0/TCP 192.0.2.5;branch=z9hG4bK-t2"),
        peer,
    );
    let key = match &sim.drain()[1] {
        TxEvent::Request { key, .. } => key.clone(),
        other => panic!("unexpected {other:?}"),
    };
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 480, "u"), sim.now)
        .unwrap();
    sim.drain();
    let events = sim.run_until(ms(40_000));
    assert_eq!(events, vec![(ms(32_000), TxEvent::Terminated { key })]);
}

#[test]
fn accepted_retransmits_2xx_until_the_ack_and_passes_it_up() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.receive_at(ms(1_000), trunk_invite(), trunk());
    sim.drain();
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 200, "uas1"), sim.now)
        .unwrap();
    let events = sim.run_until(ms(4_600));
    let sent = sent_lines(&events);
    assert!(sent.iter().all(|(_, l)| l == "SIP/2.0 200 OK"));
    assert_eq!(millis(&sent), vec![1_000, 1_500, 2_500, 4_500]);

    sim.receive_at(ms(4_500), trunk_invite(), trunk());
    assert!(
        sim.drain().is_empty(),
        "INVITE copies are absorbed in Accepted"
    );

    // The ACK for a 2xx is a new transaction: new branch, our To tag.
    let ack = in_dialog("ACK", "z9hG4bK-ack1", 1, "uas1");
    sim.receive_at(ms(5_000), ack.clone(), trunk());
    let events = sim.drain();
    assert!(
        matches!(&events[..], [TxEvent::AckFor2xx { invite, ack, source }]
        if *invite == key && ack.method == Method::Ack && *source == trunk())
    );
    sim.receive_at(ms(5_100), ack, trunk());
    assert!(sim.drain().is_empty(), "a copy of the ACK is absorbed");
    assert_eq!(
        sim.layer.poll_timeout(),
        Some(sim.t0 + ms(33_000)),
        "only Timer L is left"
    );
    let events = sim.run_until(ms(60_000));
    assert_eq!(events, vec![(ms(33_000), TxEvent::Terminated { key })]);
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn unacknowledged_2xx_reports_ack_timeout_then_terminates() {
    let mut sim = Sim::new();
    let key = start_invite(&mut sim);
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 200, "uas1"), sim.now)
        .unwrap();
    let events = sim.run_until(ms(60_000));
    let sent = sent_lines(&events);
    assert_eq!(millis(&sent[1..]), G_SCHEDULE.to_vec());
    assert_eq!(
        tu_events(&events),
        vec![
            (
                ms(32_000),
                TxEvent::AckTimeout {
                    invite: key.clone()
                }
            ),
            (ms(32_000), TxEvent::Terminated { key }),
        ]
    );
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn reliable_2xx_is_sent_once_and_timer_l_ends_it() {
    let mut sim = Sim::new();
    let peer = tcp("192.0.2.5:40001");
    sim.receive_at(
        ms(0),
        invite_with_via("SIP/2.0/TCP 192.0.2.5:5062;branch=z9hG4bK-t3"),
        peer,
    );
    let key = match &sim.drain()[1] {
        TxEvent::Request { key, .. } => key.clone(),
        other => panic!("unexpected {other:?}"),
    };
    sim.layer
        .respond(&key, tu_answer(&trunk_invite(), 200, "uas1"), sim.now)
        .unwrap();
    sim.drain();
    sim.receive_at(ms(300), in_dialog("ACK", "z9hG4bK-ack9", 1, "uas1"), peer);
    assert!(matches!(&sim.drain()[..], [TxEvent::AckFor2xx { .. }]));
    let events = sim.run_until(ms(60_000));
    assert_eq!(events, vec![(ms(32_000), TxEvent::Terminated { key })]);
}

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
