//! The per-call media task on a thread that receives through io_uring (what the media
//! threads do by default): the test's own thread gets a receive ring and runs its pump,
//! and calls started on it are received there. Real UDP sockets on 127.0.0.1, tokio's
//! paused clock for the timers, every wait bounded.

#[path = "call_media/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::Duration;

use hotline::media::Codec;
use hotline::runtime::call_media::{
    frame_queue, install_ring, ring_counts, CallMediaEvent, Leg, MediaCommand,
};
use tokio::net::UdpSocket;

use support::*;

/// Lets the call's task take its commands: on the ring, datagrams are handled by the
/// pump as they come, and a command by the task when it next runs.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Gives the test's thread a receive ring and runs its pump beside the test.
fn ring() {
    let pump = install_ring().expect("io_uring receives work on this machine");
    tokio::spawn(pump);
}

#[tokio::test(start_paused = true)]
async fn a_bridged_call_relays_and_records_both_ways_through_the_ring() {
    ring();
    let before = ring_counts();
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcma, Some(101)).await;
    settle().await;
    let (tx, mut frames) = frame_queue(64);
    call.media
        .command(MediaCommand::Record {
            frames: Box::new(tx),
        })
        .unwrap();
    for i in 0..20 {
        relay_both_ways(&call, &phone, operator_local, i).await;
    }
    let mut legs = Vec::new();
    while let Some(frame) = frames.try_recv() {
        legs.push(frame.leg);
    }
    let caller = legs.iter().filter(|l| **l == Leg::Caller).count();
    let operator = legs.iter().filter(|l| **l == Leg::Operator).count();
    assert_eq!(
        (caller, operator),
        (20, 20),
        "every packet recorded on its side"
    );
    // `/metrics` counts them (other tests' rings only add to the counts).
    let after = ring_counts();
    assert!(
        after.datagrams - before.datagrams >= 40,
        "{before:?} → {after:?}"
    );
    assert!(after.rounds > before.rounds, "{before:?} → {after:?}");
    // The engine hears of each leg's first packet, handed over by the pump.
    let mut firsts = vec![call.event().await, call.event().await];
    firsts.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        firsts,
        [
            CallMediaEvent::FirstPacket { leg: Leg::Caller },
            CallMediaEvent::FirstPacket { leg: Leg::Operator },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_caller_heard_again_after_falling_silent_is_watched_again() {
    ring();
    let mut call = start(Codec::Pcmu, Duration::from_millis(300)).await;
    call.trunk_sends(0, 0xFF).await;
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Caller }
    );
    assert!(matches!(
        call.event().await,
        CallMediaEvent::Inactive {
            leg: Leg::Caller,
            ..
        }
    ));
    // The pump relays this packet and must wake the task: its inactivity check was off.
    call.trunk_sends(1, 0xFF).await;
    match call.event().await {
        CallMediaEvent::Inactive { leg, silent_for } => {
            assert_eq!(leg, Leg::Caller);
            assert!(silent_for >= Duration::from_millis(300));
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_bridge_frees_the_old_operator_port_and_relays_to_the_new_phone() {
    ring();
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (first, first_local) = call.bridge(Codec::Pcmu, None).await;
    settle().await;
    relay_both_ways(&call, &first, first_local, 0).await;
    let (second, second_local) = call.bridge(Codec::Pcmu, None).await;
    settle().await;
    relay_both_ways(&call, &second, second_local, 1).await;
    // The first operator socket is closed (its receive cancelled), not kept by the ring.
    UdpSocket::bind(first_local)
        .await
        .expect("the old operator port can be bound again");
}

#[tokio::test(start_paused = true)]
async fn a_closed_call_reports_and_frees_its_port() {
    ring();
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    call.trunk_sends(0, 0x10).await;
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Caller }
    );
    call.media.close();
    match call.event().await {
        CallMediaEvent::Closed { stats } => assert_eq!(stats.caller.packets_in, 1),
        e => panic!("unexpected {e:?}"),
    }
    UdpSocket::bind(call.local)
        .await
        .expect("the caller's port can be bound again once the call reported");
}

#[tokio::test(start_paused = true)]
async fn fifty_calls_share_one_ring_and_each_gets_only_its_own_audio() {
    ring();
    let mut calls = Vec::new();
    for _ in 0..50 {
        let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
        let (phone, local) = call.bridge(Codec::Pcmu, None).await;
        settle().await;
        calls.push((call, phone, local));
    }
    for (n, (call, _, _)) in calls.iter().enumerate() {
        call.trunk_sends(0, n as u8).await;
    }
    for (n, (_, phone, _)) in calls.iter().enumerate() {
        let got = phone.recv(WAIT).await.expect("each phone hears its caller");
        assert!(
            got.payload.iter().all(|b| *b == n as u8),
            "call {n} got another call's audio"
        );
    }
}
