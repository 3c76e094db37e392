//! Client transactions end to end through the layer (RFC 3261 §17.1, §9.1, RFC 6026
//! §7.2): what the far end would see on the wire, and when.

use rsipstack::sip::{Method, Request};

use super::test_support::*;
use super::{TxError, TxEvent, TxKey};

fn phone() -> crate::sip::Peer {
    udp("192.0.2.20:5080")
}

fn outgoing(method: &str, branch: &str, transport: &str) -> Request {
    request(&format!(
        "{method} sip:101@192.0.2.20:5080 SIP/2.0
Via: SIP/2.0/{transport} 192.0.2.10:5060;branch={branch};rport
Max-Forwards: 70
Route: <sip:edge.hotline.example;lr>
From: <sip:hotline@192.0.2.10>;tag=hl1
To: <sip:101@192.0.2.20>
Call-ID: op-1@hotline
CSeq: 1 {method}
Contact: <sip:hotline@192.0.2.10:5060>
Content-Length: 0

"
    ))
}

fn start(sim: &mut Sim, req: Request, dest: crate::sip::Peer) -> TxKey {
    sim.layer
        .send_request(req, dest, sim.now)
        .expect("valid request")
}

#[test]
fn invite_retransmits_on_timer_a_and_times_out_on_timer_b() {
    let mut sim = Sim::new();
    let key = start(&mut sim, outgoing("INVITE", "z9hG4bK-out1", "UDP"), phone());
    let events = sim.run_until(ms(60_000));
    let sent = sent_lines(&events);
    assert!(sent
        .iter()
        .all(|(_, l)| l == "INVITE sip:101@192.0.2.20:5080 SIP/2.0"));
    assert_eq!(
        millis(&sent),
        vec![0, 500, 1_500, 3_500, 7_500, 15_500, 31_500],
        "no cap on A"
    );
    assert_eq!(
        tu_events(&events),
        vec![
            (ms(32_000), TxEvent::Timeout { key: key.clone() }),
            (ms(32_000), TxEvent::Terminated { key })
        ]
    );
    assert_eq!(sim.layer.len(), 0);
    assert_eq!(sim.layer.stats().timeouts, 1);
    assert_eq!(sim.layer.stats().retransmissions_sent, 6);
}

#[test]
fn provisional_stops_timer_a_and_reaches_tu() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out2", "UDP");
    let key = start(&mut sim, invite.clone(), phone());
    sim.run_until(ms(700));
    sim.receive_at(ms(700), tu_answer(&invite, 180, "ph1"), phone());
    let events = sim.drain();
    assert!(
        matches!(&events[..], [TxEvent::Response { key: k, response }]
        if *k == key && response.status_code.code() == 180)
    );
    assert_eq!(
        sim.layer.poll_timeout(),
        None,
        "Proceeding waits for the far end or a CANCEL"
    );
    assert_eq!(
        sim.layer.txs.client_invite[&key].state(),
        super::client_invite::ClientInviteState::Proceeding
    );
}

#[test]
fn non_2xx_final_is_acked_per_17_1_1_3_and_copies_are_re_acked() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out3", "UDP");
    let key = start(&mut sim, invite.clone(), phone());
    sim.drain();
    sim.receive_at(ms(100), tu_answer(&invite, 486, "ph1"), phone());
    let events = sim.drain();
    let sent = wire(&events);
    assert_eq!(sent.len(), 1);
    let (peer, ack) = &sent[0];
    assert_eq!(*peer, phone());
    assert_eq!(first_line(ack), "ACK sip:101@192.0.2.20:5080 SIP/2.0");
    assert_eq!(
        header(ack, "Via").unwrap(),
        "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-out3;rport"
    );
    assert_eq!(header(ack, "To").unwrap(), "<sip:101@192.0.2.20>;tag=ph1");
    assert_eq!(
        header(ack, "From").unwrap(),
        "<sip:hotline@192.0.2.10>;tag=hl1"
    );
    assert_eq!(header(ack, "Call-ID").unwrap(), "op-1@hotline");
    assert_eq!(header(ack, "CSeq").unwrap(), "1 ACK");
    assert_eq!(
        header(ack, "Route").unwrap(),
        "<sip:edge.hotline.example;lr>"
    );
    assert_eq!(header(ack, "Max-Forwards").unwrap(), "70");
    assert_eq!(header(ack, "Content-Length").unwrap(), "0");
    assert_eq!(header(ack, "Contact"), None);
    assert!(
        matches!(&events[1], TxEvent::Response { response, .. } if response.status_code.code() == 486)
    );

    sim.receive_at(ms(600), tu_answer(&invite, 486, "ph1"), phone());
    let events = sim.drain();
    assert_eq!(events.len(), 1, "the copy is not passed up");
    assert_eq!(wire(&events)[0].1, *ack, "the same ACK again");

    let events = sim.run_until(ms(60_000));
    assert_eq!(
        events,
        vec![(ms(32_100), TxEvent::Terminated { key })],
        "Timer D"
    );
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn reliable_invite_has_no_timer_a_and_no_timer_d() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out4", "TCP");
    let peer = tcp("192.0.2.20:5080");
    let key = start(&mut sim, invite.clone(), peer);
    sim.drain();
    assert_eq!(
        sim.layer.poll_timeout(),
        Some(sim.t0 + ms(32_000)),
        "only Timer B"
    );
    sim.receive_at(ms(100), tu_answer(&invite, 404, "ph1"), peer);
    let events = sim.drain();
    assert_eq!(
        first_line(&wire(&events)[0].1),
        "ACK sip:101@192.0.2.20:5080 SIP/2.0"
    );
    assert_eq!(events.last(), Some(&TxEvent::Terminated { key }));
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn every_2xx_goes_up_in_accepted_until_timer_m() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out5", "UDP");
    let key = start(&mut sim, invite.clone(), phone());
    sim.drain();
    sim.receive_at(ms(1_000), tu_answer(&invite, 200, "ph1"), phone());
    sim.receive_at(ms(1_500), tu_answer(&invite, 200, "ph1"), phone());
    let events = sim.drain();
    assert_eq!(
        events.len(),
        2,
        "no ACK from the transaction for a 2xx: {events:?}"
    );
    assert!(events
        .iter()
        .all(|e| matches!(e, TxEvent::Response { response, .. }
        if response.status_code.code() == 200)));
    let events = sim.run_until(ms(60_000));
    assert_eq!(
        events,
        vec![(ms(33_000), TxEvent::Terminated { key })],
        "Timer M = 64*T1"
    );
}

#[test]
fn non_invite_retransmits_on_timer_e_capped_at_t2_and_times_out_on_f() {
    let mut sim = Sim::new();
    let key = start(&mut sim, outgoing("OPTIONS", "z9hG4bK-o1", "UDP"), phone());
    let events = sim.run_until(ms(60_000));
    let sent = sent_lines(&events);
    assert_eq!(
        millis(&sent),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        tu_events(&events),
        vec![
            (ms(32_000), TxEvent::Timeout { key: key.clone() }),
            (ms(32_000), TxEvent::Terminated { key })
        ]
    );
}

#[test]
fn non_invite_in_proceeding_retransmits_every_t2() {
    let mut sim = Sim::new();
    let options = outgoing("OPTIONS", "z9hG4bK-o2", "UDP");
    let key = start(&mut sim, options.clone(), phone());
    sim.run_until(ms(1_000));
    sim.receive_at(ms(1_000), tu_answer(&options, 100, ""), phone());
    let state = sim.layer.txs.client_non_invite[&key].state();
    assert_eq!(
        state,
        super::client_non_invite::ClientNonInviteState::Proceeding
    );
    let events = sim.run_until(ms(60_000));
    let sent = sent_lines(&events);
    assert_eq!(
        millis(&sent),
        vec![1_500, 5_500, 9_500, 13_500, 17_500, 21_500, 25_500, 29_500]
    );
    let tu = tu_events(&events);
    assert!(matches!(&tu[0], (at, TxEvent::Response { response, .. })
        if *at == ms(1_000) && response.status_code.code() == 100));
    assert_eq!(tu[1], (ms(32_000), TxEvent::Timeout { key }));
}

#[test]
fn non_invite_final_then_timer_k_absorbs_copies() {
    let mut sim = Sim::new();
    let options = outgoing("OPTIONS", "z9hG4bK-o3", "UDP");
    let key = start(&mut sim, options.clone(), phone());
    sim.drain();
    sim.receive_at(ms(200), tu_answer(&options, 200, "ph1"), phone());
    assert!(matches!(&sim.drain()[..], [TxEvent::Response { .. }]));
    sim.receive_at(ms(300), tu_answer(&options, 200, "ph1"), phone());
    assert!(sim.drain().is_empty(), "copies of the final are absorbed");
    let events = sim.run_until(ms(60_000));
    assert_eq!(
        events,
        vec![(ms(5_200), TxEvent::Terminated { key })],
        "Timer K = T4"
    );
    assert_eq!(sim.layer.stats().absorbed_retransmissions, 1);
}

#[test]
fn reliable_non_invite_has_no_timer_e_and_no_timer_k() {
    let mut sim = Sim::new();
    let options = outgoing("OPTIONS", "z9hG4bK-o4", "TCP");
    let peer = tcp("192.0.2.20:5080");
    let key = start(&mut sim, options.clone(), peer);
    sim.drain();
    assert_eq!(
        sim.layer.poll_timeout(),
        Some(sim.t0 + ms(32_000)),
        "only Timer F"
    );
    sim.receive_at(ms(200), tu_answer(&options, 200, "ph1"), peer);
    let events = sim.drain();
    assert_eq!(events.last(), Some(&TxEvent::Terminated { key }));
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn responses_to_unknown_transactions_are_dropped_and_counted() {
    let mut sim = Sim::new();
    let options = outgoing("OPTIONS", "z9hG4bK-o5", "UDP");
    start(&mut sim, options.clone(), phone());
    sim.drain();
    sim.receive_at(
        ms(10),
        tu_answer(&outgoing("OPTIONS", "z9hG4bK-other", "UDP"), 200, "x"),
        phone(),
    );
    // Same branch but another method (§17.1.3 matches the CSeq method too).
    sim.receive_at(
        ms(20),
        tu_answer(&outgoing("INFO", "z9hG4bK-o5", "UDP"), 200, "x"),
        phone(),
    );
    sim.receive_at(
        ms(30),
        response("SIP/2.0 200 OK\nCall-ID: a\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"),
        phone(),
    );
    // §18.1.2: two Vias means the response is for someone else.
    let mut two_vias = tu_answer(&options, 200, "x");
    two_vias.headers.push_front(rsipstack::sip::Header::Via(
        "SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK-p".into(),
    ));
    sim.receive_at(ms(40), two_vias, phone());
    assert!(sim.drain().is_empty());
    assert_eq!(sim.layer.stats().stray_responses, 3);
    assert_eq!(sim.layer.stats().malformed, 1);
    assert_eq!(sim.layer.len(), 1);
}

#[test]
fn cancel_waits_for_a_provisional_and_the_487_is_acked() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out6", "UDP");
    let key = start(&mut sim, invite.clone(), phone());
    sim.drain();
    sim.layer.cancel(&key, sim.now).unwrap();
    assert!(
        sim.drain().is_empty(),
        "§9.1: no CANCEL before a provisional"
    );
    sim.run_until(ms(600));
    sim.receive_at(ms(800), tu_answer(&invite, 180, "ph1"), phone());
    let events = sim.drain();
    assert!(matches!(&events[0], TxEvent::Response { .. }));
    let sent = wire(&events);
    assert_eq!(sent.len(), 1);
    let cancel = &sent[0].1;
    assert_eq!(sent[0].0, phone());
    assert_eq!(first_line(cancel), "CANCEL sip:101@192.0.2.20:5080 SIP/2.0");
    assert_eq!(
        header(cancel, "Via").unwrap(),
        "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-out6;rport"
    );
    assert_eq!(
        header(cancel, "To").unwrap(),
        "<sip:101@192.0.2.20>",
        "the INVITE's To"
    );
    assert_eq!(header(cancel, "CSeq").unwrap(), "1 CANCEL");
    assert_eq!(
        header(cancel, "Route").unwrap(),
        "<sip:edge.hotline.example;lr>"
    );
    sim.layer.cancel(&key, sim.now).unwrap();
    assert!(sim.drain().is_empty(), "only one CANCEL");

    let cancel_req = request(&cancel.replace("\r\n", "\n"));
    sim.receive_at(ms(900), tu_answer(&cancel_req, 200, "ph1"), phone());
    assert!(sim.drain().is_empty(), "the 200 to our CANCEL stays inside");
    sim.receive_at(ms(950), tu_answer(&invite, 487, "ph1"), phone());
    let events = sim.drain();
    assert_eq!(
        first_line(&wire(&events)[0].1),
        "ACK sip:101@192.0.2.20:5080 SIP/2.0"
    );
    assert!(
        matches!(&events[1], TxEvent::Response { response, .. } if response.status_code.code() == 487)
    );
    let events = sim.run_until(ms(60_000));
    assert_eq!(
        events,
        vec![(ms(32_950), TxEvent::Terminated { key: key.clone() })]
    );
    assert_eq!(
        sim.layer.len(),
        0,
        "the CANCEL transaction ended silently too"
    );
    assert_eq!(
        sim.layer.cancel(&key, sim.now),
        Err(TxError::UnknownTransaction)
    );
}

#[test]
fn a_final_response_drops_a_waiting_cancel() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out7", "UDP");
    let key = start(&mut sim, invite.clone(), phone());
    sim.layer.cancel(&key, sim.now).unwrap();
    sim.drain();
    sim.receive_at(ms(300), tu_answer(&invite, 200, "ph1"), phone());
    let events = sim.drain();
    assert!(
        wire(&events).is_empty(),
        "neither CANCEL nor ACK: {events:?}"
    );
    assert_eq!(sim.layer.cancel(&key, sim.now), Err(TxError::FinalReceived));
}

#[test]
fn an_unanswered_cancel_ends_the_invite_after_64_t1() {
    let mut sim = Sim::new();
    let invite = outgoing("INVITE", "z9hG4bK-out8", "UDP");
    let key = start(&mut sim, invite.clone(), phone());
    sim.receive_at(ms(100), tu_answer(&invite, 183, "ph1"), phone());
    sim.drain();
    sim.layer.cancel(&key, sim.t0 + ms(5_000)).unwrap();
    sim.now = sim.t0 + ms(5_000);
    let events = sim.run_until(ms(60_000));
    let tu = tu_events(&events);
    assert_eq!(
        tu,
        vec![
            (ms(37_000), TxEvent::Timeout { key: key.clone() }),
            (ms(37_000), TxEvent::Terminated { key }),
        ]
    );
    assert!(sent_lines(&events)
        .iter()
        .all(|(_, l)| l.starts_with("CANCEL ")));
    assert_eq!(sim.layer.len(), 0);
}

#[test]
fn send_request_refuses_what_it_cannot_run() {
    let mut sim = Sim::new();
    let now = sim.now;
    let ack = outgoing("ACK", "z9hG4bK-a", "UDP");
    assert_eq!(
        sim.layer.send_request(ack, phone(), now),
        Err(TxError::MethodNotAllowed(Method::Ack))
    );
    let cancel = outgoing("CANCEL", "z9hG4bK-a", "UDP");
    assert_eq!(
        sim.layer.send_request(cancel, phone(), now),
        Err(TxError::MethodNotAllowed(Method::Cancel))
    );
    let old = outgoing("INVITE", "1234", "UDP");
    assert_eq!(
        sim.layer.send_request(old, phone(), now),
        Err(TxError::MissingBranch)
    );
    let mut bad = outgoing("BYE", "z9hG4bK-b", "UDP");
    bad.method = Method::Info;
    assert_eq!(
        sim.layer.send_request(bad, phone(), now),
        Err(TxError::BadCSeq)
    );
    let bye = outgoing("BYE", "z9hG4bK-c", "UDP");
    sim.layer.send_request(bye.clone(), phone(), now).unwrap();
    assert_eq!(
        sim.layer.send_request(bye, phone(), now),
        Err(TxError::DuplicateTransaction)
    );
    let options_key = sim
        .layer
        .send_request(outgoing("OPTIONS", "z9hG4bK-d", "UDP"), phone(), now)
        .unwrap();
    assert_eq!(
        sim.layer.cancel(&options_key, now),
        Err(TxError::NotAnInvite)
    );
}

#[test]
fn stateless_sends_are_framed_with_content_length() {
    let mut sim = Sim::new();
    let mut ack = outgoing("ACK", "z9hG4bK-2xxack", "UDP");
    ack.body = b"v=0\r\n".to_vec();
    sim.layer.send_stateless(ack.into(), phone());
    let sent = wire(&sim.drain());
    assert_eq!(sent[0].0, phone());
    assert_eq!(header(&sent[0].1, "Content-Length").unwrap(), "5");
    assert!(sent[0].1.ends_with("\r\n\r\nv=0\r\n"));
    assert_eq!(sim.layer.len(), 0);
}
