//! SRTP end to end: an operator's softphone registered over TLS is offered RTP/SAVP with a
//! key of the line's, answers with its own, and talks (SRTP, a 1000 Hz tone) with a caller
//! on plain UDP RTP (a 440 Hz tone). The phone decrypts what the line relays to it with the
//! line's key; the recording holds both tones in clear.

mod common;
mod tls_phone;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hotline::media::srtp::keys::{CryptoAttr, SrtpMasterKey};
use hotline::media::srtp::{SrtpContext, TAG_LEN};
use tls_phone::*;

/// The phone's media: sends the tone as SRTP until `stop`, counts the packets from the
/// line that decrypt with its key and carry the caller's 440 Hz.
fn phone_media(
    sock: UdpSocket,
    to: SocketAddr,
    ours: SrtpMasterKey,
    theirs: SrtpMasterKey,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<i16>)> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(2)))
            .unwrap();
        let (mut tx, mut rx) = (SrtpContext::new(&ours), SrtpContext::new(&theirs));
        let tone = ulaw_tone(1000.0, 60.0);
        let (mut seq, mut heard, mut decoded) = (1u16, 0usize, Vec::new());
        let mut next = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if std::time::Instant::now() >= next {
                let mut buf = [0u8; 12 + 160 + TAG_LEN];
                buf[0] = 0x80;
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                buf[8..12].copy_from_slice(&0x5EC0_0001u32.to_be_bytes());
                let at = (usize::from(seq) * 160) % (tone.len() - 160);
                buf[12..172].copy_from_slice(&tone[at..at + 160]);
                let n = tx.protect(&mut buf, 172).unwrap();
                let _ = sock.send_to(&buf[..n], to);
                seq = seq.wrapping_add(1);
                next += Duration::from_millis(20);
            }
            let mut buf = [0u8; 1500];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if let Ok(len) = rx.unprotect(&mut buf[..n]) {
                    heard += 1;
                    decoded.extend(
                        buf[12..len]
                            .iter()
                            .map(|&b| audio_codec_algorithms::decode_ulaw(b)),
                    );
                }
            }
        }
        (heard, decoded)
    })
}

fn stereo(path: &std::path::Path) -> (Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let left = all.iter().step_by(2).copied().collect();
    let right = all.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srtp_operator_over_tls_talks_with_a_plain_caller_and_the_recording_is_clear() {
    let extra = format!("{ALWAYS_OPEN}\n{OPERATOR}\n[shutdown]\ngrace = \"1s\"\n");
    let (server, tls, _certs, der) = tls_server(&extra).await;
    let mut phone = Phone::connect(tls, &[der]).await;
    register_over_tls(&mut phone, tls).await;

    let rtp_port = free_udp_port();
    let caller_rtp = tone_caller(rtp_port, Duration::from_secs(40));
    let addr = server.addr;
    let caller = tokio::spawn(async move {
        let port = rtp_port.to_string();
        sipp(
            addr,
            "caller_hangs_up.xml",
            &["-s", "792112", "-set", "rtp_port", &port, "-d", "14000"],
        )
        .await
    });

    let invite = phone.recv().await;
    assert!(invite.starts_with("INVITE sip:1001@"), "{invite}");
    let m_line = invite
        .lines()
        .find(|l| l.starts_with("m=audio "))
        .expect("an audio offer");
    assert!(
        m_line.contains(" RTP/SAVP "),
        "SRTP offered over TLS: {m_line}"
    );
    let line_port: u16 = m_line.split(' ').nth(1).unwrap().parse().unwrap();
    let crypto = invite
        .lines()
        .find_map(|l| l.strip_prefix("a=crypto:"))
        .expect("a=crypto in the offer");
    let line_key = CryptoAttr::parse(crypto).expect("a usable key").key;

    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let media_port = media.local_addr().unwrap().port();
    let ours = SrtpMasterKey::generate(&mut rand::rng());
    let answer_sdp = format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {media_port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\na=sendrecv\r\n",
        ours.inline()
    );
    let local = phone.local;
    let ok = format!(
        "SIP/2.0 200 OK\r\n{}\r\nContact: <sip:1001@{local};transport=tls>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer_sdp}",
        dialog_headers(&invite, "phone1"),
        answer_sdp.len()
    );
    phone.send(&ok).await;
    let ack = phone.recv().await;
    assert!(ack.starts_with("ACK "), "{ack}");
    let stop = Arc::new(AtomicBool::new(false));
    let rtp = phone_media(
        media,
        SocketAddr::from(([127, 0, 0, 1], line_port)),
        ours,
        line_key,
        stop.clone(),
    );

    // The caller hangs up; the line ends the operator's leg with BYE over TLS.
    let bye = phone.recv().await;
    assert!(bye.starts_with("BYE "), "{bye}");
    let headers = dialog_headers(&bye, "");
    phone
        .send(&format!(
            "SIP/2.0 200 OK\r\n{headers}\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
    stop.store(true, Ordering::Relaxed);
    let (heard, decoded) = rtp.join().unwrap();
    let run = caller.await.unwrap();
    assert!(run.status.success(), "caller: {}", run.stderr);
    caller_rtp.join().unwrap();
    assert!(
        heard > 50,
        "the phone decrypted the relayed caller ({heard} packets)"
    );
    assert!(
        tone_windows(&decoded, 440.0) * 10 >= (decoded.len() / 800) * 7,
        "the phone hears the caller's 440 Hz"
    );

    let row = server
        .wait_row(&run.call_id, |r| {
            r.recording_sha256.is_some() || r.recording_error.is_some()
        })
        .await;
    assert_eq!(row.outcome, "answered");
    let file = server
        .dir
        .path()
        .join("recordings")
        .join(row.recording_path.unwrap());
    let (left, right) = stereo(&file);
    let windows = right.len() / 800;
    println!(
        "recording: {windows} windows; right 1000 Hz {}, left 440 Hz {}",
        tone_windows(&right, 1000.0),
        tone_windows(&left, 440.0)
    );
    assert!(
        tone_windows(&right, 1000.0) * 10 >= windows * 7,
        "the operator's channel is the clear 1000 Hz tone, not noise"
    );
    assert!(
        tone_windows(&left, 440.0) * 10 >= windows * 7,
        "the caller's channel is the 440 Hz tone"
    );
    server.stop().await;
}
