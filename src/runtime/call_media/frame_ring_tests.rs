//! The frame ring on its own: order, room, either end going away, and two threads
//! passing frames as fast as they can.

use std::time::Instant;

use super::*;
use crate::media::player::FRAME_SAMPLES;
use crate::media::Codec;
use crate::runtime::call_media::Leg;

fn frame(seq: u16) -> RecordFrame {
    RecordFrame {
        leg: Leg::Caller,
        at: Instant::now(),
        seq,
        ts: u32::from(seq) * 160,
        ssrc: 9,
        codec: Codec::Pcma,
        payload: [seq as u8; FRAME_SAMPLES],
        len: FRAME_SAMPLES as u8,
    }
}

#[test]
fn frames_come_out_in_order_and_a_full_ring_refuses_without_losing_any() {
    let (mut tx, mut rx) = ring(3);
    assert_eq!(tx.free(), 3);
    for seq in 0..3 {
        tx.push(frame(seq)).unwrap();
    }
    assert_eq!(tx.free(), 0);
    assert_eq!(tx.push(frame(3)), Err(PushError::Full));
    assert_eq!(rx.pop().map(|f| f.seq), Some(0));
    // Room again, and the slot taken is the one reused.
    tx.push(frame(3)).unwrap();
    let rest: Vec<u16> = std::iter::from_fn(|| rx.pop()).map(|f| f.seq).collect();
    assert_eq!(rest, [1, 2, 3]);
    assert!(rx.pop().is_none());
    assert_eq!(tx.free(), 3);
}

#[test]
fn a_frame_comes_out_as_it_went_in() {
    let (mut tx, mut rx) = ring(1);
    let sent = frame(7);
    tx.push(sent).unwrap();
    assert_eq!(rx.pop(), Some(sent));
}

#[test]
fn a_sender_learns_the_receiver_is_gone_once_the_ring_is_full() {
    let (mut tx, rx) = ring(2);
    drop(rx);
    tx.push(frame(0)).unwrap();
    tx.push(frame(1)).unwrap();
    assert_eq!(tx.push(frame(2)), Err(PushError::Gone));
}

#[test]
fn a_receiver_takes_what_was_queued_before_the_sender_went() {
    let (mut tx, mut rx) = ring(4);
    tx.push(frame(0)).unwrap();
    assert!(!rx.is_abandoned());
    drop(tx);
    assert!(rx.is_abandoned());
    assert_eq!(rx.pop().map(|f| f.seq), Some(0));
    assert!(rx.pop().is_none());
}

#[test]
fn two_threads_pass_every_frame_in_order() {
    const FRAMES: u32 = 200_000;
    let (mut tx, mut rx) = ring(50);
    let sender = std::thread::spawn(move || {
        let mut refused = 0u64;
        for i in 0..FRAMES {
            let mut f = frame(i as u16);
            f.ts = i;
            while tx.push(f).is_err() {
                refused += 1;
                std::hint::spin_loop();
            }
        }
        refused
    });
    let mut next = 0;
    while next < FRAMES {
        match rx.pop() {
            Some(f) => {
                assert_eq!(f.ts, next, "frames out of order or lost");
                assert_eq!(
                    f.payload, [next as u16 as u8; FRAME_SAMPLES],
                    "a torn frame"
                );
                next += 1;
            }
            None => std::hint::spin_loop(),
        }
    }
    sender.join().unwrap();
    assert!(rx.pop().is_none());
}

#[test]
fn a_sender_fits_in_a_media_command() {
    assert!(std::mem::size_of::<Sender>() <= 32);
}

#[test]
fn positions_go_round_the_ring_many_times_in_order() {
    let (mut tx, mut rx) = ring(3);
    for seq in 0..1000u16 {
        tx.push(frame(seq)).unwrap();
        if seq % 2 == 1 {
            // Two in, two out: the ring is never full, its positions wrap every six.
            assert_eq!(rx.pop().map(|f| f.seq), Some(seq - 1));
            assert_eq!(rx.pop().map(|f| f.seq), Some(seq));
        }
    }
    assert!(rx.pop().is_none());
    assert_eq!(tx.free(), 3);
}
