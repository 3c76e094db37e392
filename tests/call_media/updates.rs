//! A leg's new offer or answer reaching the media task (re-INVITE, UPDATE): a peer whose
//! media moves, a peer who holds us, a peer not expected to send.

use std::time::Duration;

use hotline::media::Codec;
use hotline::runtime::call_media::{CallMediaEvent, Leg, MediaCommand};
use tokio::time::Instant;

use super::support::{self, rtp, start, Peer, PHONE_SSRC, WAIT};

/// A leg's new offer or answer, as the engine hands it on from the switchboard.
fn update(leg: Leg, to: std::net::SocketAddr, send: bool, receive: bool) -> MediaCommand {
    MediaCommand::Update {
        leg,
        config: Box::new(support::leg(Codec::Pcmu, Some(101), to)),
        send,
        receive,
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_whose_media_moves_is_followed_and_the_old_address_hears_nothing_more() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    call.trunk_sends(0, 0x11).await;
    assert_eq!(phone.recv(WAIT).await.unwrap().payload, [0x11; 160]);
    phone
        .send(operator_local, rtp(0, true, 1, 0, PHONE_SSRC), &[0x22; 160])
        .await;
    let before = call
        .trunk
        .recv(WAIT)
        .await
        .expect("the caller hears the operator");

    // A handover: the caller's re-INVITE names another address.
    let moved = Peer::bind().await;
    call.media
        .command(update(Leg::Caller, moved.addr(), true, true))
        .unwrap();
    phone
        .send(
            operator_local,
            rtp(0, false, 2, 160, PHONE_SSRC),
            &[0x33; 160],
        )
        .await;
    let after = moved
        .recv(WAIT)
        .await
        .expect("the new address gets the audio");
    assert_eq!(after.payload, [0x33; 160]);
    assert_eq!(
        after.header.ssrc, before.header.ssrc,
        "one stream to the caller"
    );
    assert_eq!(after.header.seq, before.header.seq.wrapping_add(1));
    assert!(after.header.marker, "a new talkspurt at the new address");
    assert_eq!(call.trunk.count_within(Duration::from_millis(100)).await, 0);

    // The caller's media now comes from there, and reaches the operator.
    let header = rtp(0, true, 500, 80_000, 0x5151_5151);
    moved.send(call.local, header, &[0x44; 160]).await;
    let relayed = loop {
        let r = phone
            .recv(WAIT)
            .await
            .expect("the operator hears the moved caller");
        if r.payload == [0x44; 160] {
            break r;
        }
    };
    assert!(relayed.header.marker);
}

#[tokio::test(start_paused = true)]
async fn a_caller_who_holds_us_is_sent_nothing_until_resumed() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    phone
        .send(operator_local, rtp(0, true, 1, 0, PHONE_SSRC), &[0x22; 160])
        .await;
    let before = call
        .trunk
        .recv(WAIT)
        .await
        .expect("relayed before the hold");

    call.media
        .command(update(Leg::Caller, call.trunk.addr(), false, true))
        .unwrap();
    for i in 2..6u16 {
        let header = rtp(0, false, i, 160 * u32::from(i - 1), PHONE_SSRC);
        phone.send(operator_local, header, &[0x22; 160]).await;
    }
    assert_eq!(
        call.trunk.count_within(Duration::from_millis(150)).await,
        0,
        "nothing to a caller who holds us"
    );
    // The caller on hold still sends (its music): the operator hears it.
    call.trunk_sends(0, 0x55).await;
    assert_eq!(phone.recv(WAIT).await.unwrap().payload, [0x55; 160]);

    call.media
        .command(update(Leg::Caller, call.trunk.addr(), true, true))
        .unwrap();
    phone
        .send(
            operator_local,
            rtp(0, false, 6, 800, PHONE_SSRC),
            &[0x66; 160],
        )
        .await;
    let back = call
        .trunk
        .recv(WAIT)
        .await
        .expect("relayed again after the resume");
    assert_eq!(back.payload, [0x66; 160]);
    assert!(back.header.marker, "a new talkspurt");
    assert_eq!(
        back.header.seq,
        before.header.seq.wrapping_add(1),
        "no gap in our stream"
    );
}

#[tokio::test(start_paused = true)]
async fn a_leg_not_expected_to_send_is_not_inactive_until_it_is_again() {
    let mut call = start(Codec::Pcmu, Duration::from_millis(200)).await;
    call.trunk_sends(0, 0xFF).await;
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Caller }
    );
    // The caller offered `inactive`: its silence is expected.
    call.media
        .command(update(Leg::Caller, call.trunk.addr(), false, false))
        .unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(500), call.events.recv()).await;
    assert!(
        quiet.is_err(),
        "reported while inactive by agreement: {quiet:?}"
    );
    let resumed = Instant::now();
    call.media
        .command(update(Leg::Caller, call.trunk.addr(), true, true))
        .unwrap();
    match call.event().await {
        CallMediaEvent::Inactive { leg, silent_for } => {
            assert_eq!(leg, Leg::Caller);
            assert!(silent_for >= Duration::from_millis(200), "{silent_for:?}");
            assert!(resumed.elapsed() >= Duration::from_millis(200));
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_prompt_runs_on_unheard_while_the_caller_holds_and_resumes_without_a_gap() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    call.media
        .command(MediaCommand::Play {
            prompt: support::prompt(50),
            mode: hotline::media::player::PlayMode::Loop,
            tag: 1,
        })
        .unwrap();
    let first = call.trunk.recv(WAIT).await.expect("the prompt plays");
    call.media
        .command(update(Leg::Caller, call.trunk.addr(), false, true))
        .unwrap();
    assert_eq!(
        call.trunk.count_within(Duration::from_millis(200)).await,
        0,
        "nothing to a caller who holds us"
    );
    call.media
        .command(update(Leg::Caller, call.trunk.addr(), true, true))
        .unwrap();
    let next = call.trunk.recv(WAIT).await.expect("the prompt again");
    assert!(next.header.marker, "a new talkspurt");
    assert_eq!(
        next.header.seq,
        first.header.seq.wrapping_add(1),
        "no gap in our stream"
    );
    let jump = next.header.timestamp.wrapping_sub(first.header.timestamp);
    assert!(
        jump >= 10 * 160 && jump % 160 == 0,
        "the time it did not hear: {jump} samples"
    );
}

#[tokio::test(start_paused = true)]
async fn an_offer_without_an_address_keeps_where_we_send() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    // RFC 2543 hold (c=0.0.0.0) or a refused stream's port 0: no new destination.
    let nowhere: std::net::SocketAddr = "0.0.0.0:17000".parse().unwrap();
    call.media
        .command(update(Leg::Caller, nowhere, true, true))
        .unwrap();
    phone
        .send(operator_local, rtp(0, true, 1, 0, PHONE_SSRC), &[0x77; 160])
        .await;
    let got = call
        .trunk
        .recv(WAIT)
        .await
        .expect("still sent where it was");
    assert_eq!(got.payload, [0x77; 160]);
}

#[tokio::test(start_paused = true)]
async fn stragglers_from_the_address_a_caller_left_do_not_pull_the_stream_back() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    call.trunk_sends(0, 0x11).await;
    phone.recv(WAIT).await.expect("relayed");
    let moved = Peer::bind().await;
    call.media
        .command(update(Leg::Caller, moved.addr(), true, true))
        .unwrap();
    // The caller's phone sends from its old address until it has our answer.
    call.trunk_sends(1, 0x12).await;
    phone
        .send(operator_local, rtp(0, true, 1, 0, PHONE_SSRC), &[0x22; 160])
        .await;
    assert_eq!(moved.recv(WAIT).await.unwrap().payload, [0x22; 160]);
    assert_eq!(call.trunk.count_within(Duration::from_millis(100)).await, 0);
}
