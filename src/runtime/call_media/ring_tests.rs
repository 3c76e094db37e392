//! The receive ring over real UDP sockets on 127.0.0.1.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

/// Reaps and hands out every datagram until `want` have come or 40 waits of 50 ms each
/// passed; each round's buffers are given back, as the pump does.
fn receive(ring: &mut RecvRing, want: usize) -> Vec<(Target, SocketAddr, Vec<u8>)> {
    let mut got = Vec::new();
    let mut completions = Vec::new();
    for _ in 0..40 {
        if got.len() >= want {
            break;
        }
        ring.ring
            .submitter()
            .submit_with_args(1, &types::SubmitArgs::new().timespec(&TIMEOUT))
            .ok();
        completions.clear();
        ring.reap(&mut completions, 5);
        for c in &completions {
            if let Some((target, src, data)) = ring.packet(c) {
                got.push((target, src, data.to_vec()));
            }
        }
        ring.finish_round(&completions);
    }
    got
}

/// Registers eight sockets (call `i` on socket `i`), queues five datagrams `[i, k]` on
/// each before anything is reaped, and receives them all.
fn flood_eight_sockets(ring: &mut RecvRing) -> Vec<(Target, SocketAddr, Vec<u8>)> {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sockets: Vec<UdpSocket> = (0..8)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for (i, socket) in sockets.iter().enumerate() {
        ring.register(socket.as_raw_fd(), target(i, Leg::Caller))
            .unwrap();
    }
    for k in 0..5u8 {
        for (i, socket) in sockets.iter().enumerate() {
            sender
                .send_to(&[i as u8, k], socket.local_addr().unwrap())
                .unwrap();
        }
    }
    receive(ring, 40)
}

const TIMEOUT: types::Timespec = types::Timespec::new().nsec(50_000_000);

fn target(call: usize, leg: Leg) -> Target {
    Target { call, leg }
}

#[test]
fn datagrams_from_many_sockets_reach_their_legs_and_buffers_come_back() {
    // 16 buffers for 120 datagrams: every buffer is reused several times.
    let mut ring = RecvRing::with_buffers(16, 16).expect("io_uring receives work here");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let legs: Vec<(UdpSocket, Target)> = (0..4)
        .map(|i| {
            let leg = if i % 2 == 0 {
                Leg::Caller
            } else {
                Leg::Operator
            };
            (UdpSocket::bind("127.0.0.1:0").unwrap(), target(i / 2, leg))
        })
        .collect();
    let by_port: HashMap<Target, u16> = legs
        .iter()
        .map(|(s, t)| (*t, s.local_addr().unwrap().port()))
        .collect();
    for (socket, t) in &legs {
        ring.register(socket.as_raw_fd(), *t).unwrap();
    }
    let mut got = Vec::new();
    for round in 0..10u8 {
        for (socket, _) in &legs {
            let port = socket.local_addr().unwrap().port();
            for k in 0..3u8 {
                let packet = [round, k, (port >> 8) as u8, port as u8];
                sender
                    .send_to(&packet, socket.local_addr().unwrap())
                    .unwrap();
            }
        }
        got.extend(receive(&mut ring, 12));
    }
    assert_eq!(got.len(), 120, "every datagram arrives");
    for (t, src, data) in &got {
        assert_eq!(*src, sender.local_addr().unwrap(), "with its source");
        let port = u16::from_be_bytes([data[2], data[3]]);
        assert_eq!(by_port[t], port, "for the leg whose socket it was sent to");
    }
}

#[test]
fn a_receive_that_ran_out_of_buffers_is_armed_again() {
    let mut ring = RecvRing::with_buffers(4, 4).expect("io_uring receives work here");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    ring.register(socket.as_raw_fd(), target(0, Leg::Caller))
        .unwrap();
    // Ten datagrams queued before anything is reaped: the four buffers run out and the
    // multishot receive ends; the rest wait in the socket until it is armed again.
    for i in 0..10u8 {
        sender
            .send_to(&[i; 20], socket.local_addr().unwrap())
            .unwrap();
    }
    let got = receive(&mut ring, 10);
    let firsts: Vec<u8> = got.iter().map(|(_, _, d)| d[0]).collect();
    assert_eq!(firsts, (0..10).collect::<Vec<u8>>(), "all, in order");
}

#[test]
fn with_buffers_short_ended_receives_are_armed_as_buffers_free_and_nothing_is_lost() {
    // Eight sockets with five datagrams each and four buffers: most receives end for lack
    // of a buffer. They are armed again only as far as buffers are free, oldest first,
    // so each one armed reads its socket's backlog at once instead of ending again.
    let mut ring = RecvRing::with_buffers(4, 4).expect("io_uring receives work here");
    let got = flood_eight_sockets(&mut ring);
    assert_eq!(got.len(), 40, "every datagram arrives");
    for i in 0..8 {
        let seq: Vec<u8> = got
            .iter()
            .filter(|(t, _, _)| t.call == i)
            .map(|(_, _, d)| d[1])
            .collect();
        assert_eq!(seq, vec![0, 1, 2, 3, 4], "socket {i}'s datagrams, in order");
    }
    // Arming every ended receive after each round, free buffers or not, ends most of them
    // again at once: 53 ends here, against 18 when they are armed as buffers free.
    assert!(
        ring.ended_no_buffers <= 30,
        "{} receives ended for lack of a buffer",
        ring.ended_no_buffers
    );
}

#[test]
fn a_ring_that_runs_out_of_buffers_gets_more_up_to_its_room() {
    // Starts with 8 of its 32 buffers; 40 datagrams queued at once run them out, so it
    // hands out more, and never more than its room.
    let mut ring = RecvRing::with_buffers(32, 8).expect("io_uring receives work here");
    assert_eq!(ring.buffers.provided, 8);
    let got = flood_eight_sockets(&mut ring);
    assert_eq!(got.len(), 40, "every datagram arrives");
    assert!(ring.ended_no_buffers > 0, "the first 8 ran out");
    assert!(
        ring.buffers.provided > 8,
        "more buffers after they ran out: {}",
        ring.buffers.provided
    );
    assert!(ring.buffers.provided <= 32, "never past its room");
}

#[test]
fn a_dropped_leg_closes_its_socket_at_once_and_its_late_datagrams_are_ignored() {
    let fd = install().expect("io_uring receives work here");
    assert!(fd >= 0);
    assert!(installed());
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let leg = Registration::new(socket, target(3, Leg::Operator)).unwrap();
    sender.send_to(b"before", addr).unwrap();
    // The datagram has completed on the ring but is not reaped when the leg goes.
    std::thread::sleep(Duration::from_millis(20));
    drop(leg);
    // The port is free again: nothing (no armed receive) holds the old socket open.
    let again = UdpSocket::bind(addr).expect("the port can be bound again at once");
    let mut completions = Vec::new();
    reap(&mut completions);
    let mut seen = Vec::new();
    for c in &completions {
        with_packet(c, |t, _, data| seen.push((t, data.to_vec())));
    }
    finish_round(&completions);
    assert!(seen.is_empty(), "a dropped leg's datagram reached {seen:?}");
    drop(again);
    RING.with_borrow_mut(|r| *r = None);
}

/// Collects what `sink` receives, in a thread (so its buffer never overflows), until
/// `want` datagrams have come or nothing came for 200 ms.
fn collect(sink: UdpSocket, want: usize) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    sink.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < want {
            match sink.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) => break,
            }
        }
        got
    })
}

#[test]
fn a_rounds_sends_go_when_it_ends_in_order_even_past_the_pools_room() {
    let mut ring = RecvRing::new().unwrap();
    let from = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = sink.local_addr().unwrap();
    // Outside a round a send is the caller's to make.
    assert!(!ring.queue_send(from.as_raw_fd(), b"now", Destination::open(to)));

    // A pool of 8: packets past its room are the caller's to send.
    ring.sends = RefCell::new(sends::SendPool::new(8));
    let count = 12;
    let sink = collect(sink, count);
    ring.in_round.set(true);
    let mut at_once = 0;
    for i in 0..count {
        let packet = (i as u16).to_be_bytes();
        if !ring.queue_send(from.as_raw_fd(), &packet, Destination::open(to)) {
            // What `leg::send` does when the ring cannot take it.
            from.send_to(&packet, to).unwrap();
            at_once += 1;
        }
    }
    assert_eq!(at_once, 4, "the pool's room is used first");
    ring.finish_round(&[]);
    let got = sink.join().unwrap();
    let want: Vec<Vec<u8>> = (0..count)
        .map(|i| (i as u16).to_be_bytes().to_vec())
        .collect();
    assert_eq!(got, want, "every packet, in the order relayed");

    // Their completions give the slots back and are counted at the next round's end.
    let before = counts().sent;
    let mut completions = Vec::new();
    ring.reap(&mut completions, ROUND);
    assert_eq!(ring.sends.borrow().in_flight(), 0);
    ring.finish_round(&completions);
    assert!(counts().sent >= before + 8);
}

#[test]
fn a_send_the_kernel_refuses_is_counted_and_its_slot_comes_back() {
    let mut ring = RecvRing::new().unwrap();
    let from = UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = counts().sends_failed;
    ring.in_round.set(true);
    // An IPv6 destination from an IPv4 socket: refused at once.
    assert!(ring.queue_send(
        from.as_raw_fd(),
        b"x",
        Destination::open("[::1]:9".parse().unwrap())
    ));
    ring.finish_round(&[]);
    let mut completions = Vec::new();
    ring.reap(&mut completions, ROUND);
    assert_eq!(ring.sends_failed, 1);
    ring.finish_round(&completions);
    assert!(counts().sends_failed > before);
    assert_eq!(ring.sends.borrow().in_flight(), 0);
}

#[test]
fn a_rounds_sends_wait_for_its_end_and_go_together() {
    let mut ring = RecvRing::new().unwrap();
    let from = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_nonblocking(true).unwrap();
    let to = sink.local_addr().unwrap();
    ring.in_round.set(true);
    for i in 0..3u8 {
        assert!(ring.queue_send(from.as_raw_fd(), &[i], Destination::open(to)));
    }
    let mut buf = [0u8; 8];
    assert!(
        sink.recv(&mut buf).is_err(),
        "nothing is sent before the round ends"
    );
    ring.finish_round(&[]);
    let got: Vec<u8> = (0..3)
        .map(|_| sink.recv(&mut buf).map(|_| buf[0]).unwrap())
        .collect();
    assert_eq!(got, [0, 1, 2]);
}
