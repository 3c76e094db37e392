//! INVITE server transactions end to end through the layer (RFC 3261 §17.2.1, RFC 6026
//! §7.1): provisional and final responses, their retransmission, the ACK, and when each
//! timer ends them, as a peer would see it on the wire.

use super::test_support::*;
use rsipstack::sip::Method;

use super::TxEvent;

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
