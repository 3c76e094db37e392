//! A small SIP provider of our own for the tests: a registrar on real UDP (127.0.0.2,
//! an ephemeral port) that challenges REGISTER with digest (SHA-256 and MD5 offered),
//! checks the answer, asks for a longer interval with 423, fails the first attempts
//! with 503 when told to, grants an interval, answers OPTIONS, and hands every other
//! message (responses to its INVITEs, requests in its dialogs) to the test. Told to
//! ([`Provider::answer_invites`]), it also takes INVITEs from us as a citizen's phone
//! behind the provider would: 401 first, then on the authenticated retry 180 and the
//! final answer; a 200 carries SDP, a 1000 Hz tone is played to our offer, and the
//! citizen hangs up after a while.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotline::sip::digest::{challenge, ha1, parse_authorization, verify, Algorithm};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub const REALM: &str = "provider.test";
pub const USER: &str = "78112792112";
pub const PASSWORD: &str = "trunk-secret";

/// How the registrar behaves.
#[derive(Clone, Debug)]
pub struct Script {
    /// The first this many REGISTERs get 503.
    pub fail_first: usize,
    /// Below this Expires: 423 with Min-Expires.
    pub min_expires: u32,
    /// The interval granted (at most what was asked).
    pub grant: u32,
}

/// What the registrar saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Every REGISTER: (Expires, had valid credentials, algorithm used).
    pub registers: Vec<(u32, bool, Option<String>)>,
    /// The Contact of the last accepted binding.
    pub contact: Option<String>,
    /// Whether an un-REGISTER (Expires: 0) with valid credentials came.
    pub unregistered: bool,
    pub options: usize,
    /// Every REGISTER's top Via.
    pub vias: Vec<String>,
    /// Every INVITE to us as the provider: (Request-URI, From, P-Asserted-Identity,
    /// Max-Forwards, had valid credentials).
    pub invites: Vec<(String, String, String, String, bool)>,
    /// BYEs received in calls we answered.
    pub byes: usize,
}

/// How INVITEs to the provider are answered once authenticated.
#[derive(Clone, Copy, Debug)]
pub struct InviteScript {
    /// The final status (200: answered with SDP and a tone).
    pub status: u16,
    /// After a 200: the citizen hangs up after this long.
    pub talk: Duration,
}

pub struct Provider {
    pub addr: SocketAddr,
    pub socket: Arc<UdpSocket>,
    pub seen: Arc<Mutex<Seen>>,
    /// Messages that were not REGISTER or OPTIONS, with their source.
    pub other: mpsc::Receiver<(String, SocketAddr)>,
    /// INVITEs are answered only when set.
    pub invites: Arc<Mutex<Option<InviteScript>>>,
}

pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn all_headers<'a>(msg: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    msg.split("\r\n").skip(1).filter_map(move |line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// A response echoing the request's transaction headers.
pub fn respond(request: &str, status: &str, extra: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for via in all_headers(request, "Via") {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    for name in ["From", "Call-ID", "CSeq"] {
        out.push_str(&format!(
            "{name}: {}\r\n",
            header(request, name).unwrap_or("")
        ));
    }
    let to = header(request, "To").unwrap_or("");
    if to.contains("tag=") {
        out.push_str(&format!("To: {to}\r\n"));
    } else {
        out.push_str(&format!("To: {to};tag=prov\r\n"));
    }
    out.push_str(extra);
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

impl Provider {
    pub async fn start(script: Script) -> Provider {
        let socket = Arc::new(
            UdpSocket::bind("127.0.0.2:0")
                .await
                .expect("bind 127.0.0.2"),
        );
        let addr = socket.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (tx, other) = mpsc::channel(64);
        let invites = Arc::new(Mutex::new(None));
        tokio::spawn(serve(
            socket.clone(),
            script,
            seen.clone(),
            tx,
            invites.clone(),
        ));
        Provider {
            addr,
            socket,
            seen,
            other,
            invites,
        }
    }

    /// From now on INVITEs to the provider are answered as `script` says.
    pub fn answer_invites(&self, script: InviteScript) {
        *self.invites.lock().unwrap() = Some(script);
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// The next message that was not REGISTER/OPTIONS (bounded wait).
    pub async fn next_other(&mut self) -> (String, SocketAddr) {
        tokio::time::timeout(Duration::from_secs(10), self.other.recv())
            .await
            .expect("a message within 10 s")
            .expect("provider running")
    }
}

async fn serve(
    socket: Arc<UdpSocket>,
    script: Script,
    seen: Arc<Mutex<Seen>>,
    other: mpsc::Sender<(String, SocketAddr)>,
    invites: Arc<Mutex<Option<InviteScript>>>,
) {
    let mut buf = vec![0u8; 65_536];
    let mut registers = 0usize;
    loop {
        let Ok((n, src)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        let answering: Option<InviteScript> = *invites.lock().unwrap();
        let reply = if msg.starts_with("REGISTER ") {
            registers += 1;
            Some(register(&msg, &script, registers, &seen))
        } else if msg.starts_with("OPTIONS ") {
            seen.lock().unwrap().options += 1;
            Some(respond(
                &msg,
                "200 OK",
                "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n",
            ))
        } else if let (true, Some(answer)) = (msg.starts_with("INVITE "), answering) {
            invite(&socket, &msg, src, answer, &seen).await;
            None
        } else if msg.starts_with("ACK ") && answering.is_some() {
            None
        } else if msg.starts_with("BYE ") && answering.is_some() {
            seen.lock().unwrap().byes += 1;
            Some(respond(&msg, "200 OK", ""))
        } else {
            let _ = other.send((msg, src)).await;
            None
        };
        if let Some(reply) = reply {
            let _ = socket.send_to(reply.as_bytes(), src).await;
        }
    }
}

/// An INVITE from us: challenged until it carries valid credentials, then answered.
async fn invite(
    socket: &Arc<UdpSocket>,
    msg: &str,
    src: SocketAddr,
    script: InviteScript,
    seen: &Mutex<Seen>,
) {
    let local = socket.local_addr().unwrap();
    let answer = answer_invite(msg, script, seen, local, "UDP");
    for reply in answer.replies {
        let _ = socket.send_to(reply.as_bytes(), src).await;
    }
    if let Some(bye) = answer.bye {
        let socket = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(script.talk).await;
            let _ = socket.send_to(bye.as_bytes(), src).await;
        });
    }
}

/// What the citizen's side sends for one INVITE: its answers now, and the BYE it sends
/// `talk` after a 200.
struct InviteAnswer {
    replies: Vec<String>,
    bye: Option<String>,
}

/// Challenges an INVITE without valid credentials (401); answers one with them 180, then
/// the script's status, a 200 with SDP and a tone played to our offer. `local` and
/// `transport` are the provider's own address and transport (Contact, the BYE's Via).
fn answer_invite(
    msg: &str,
    script: InviteScript,
    seen: &Mutex<Seen>,
    local: SocketAddr,
    transport: &str,
) -> InviteAnswer {
    let creds = header(msg, "Authorization").and_then(|v| parse_authorization(v).ok());
    let valid = creds.as_ref().is_some_and(|c| {
        c.username == USER
            && c.realm == REALM
            && c.nonce == "nonce-inv"
            && verify(&ha1(c.algorithm, USER, REALM, PASSWORD), "INVITE", c)
    });
    let uri = msg.split(' ').nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().invites.push((
        uri,
        header(msg, "From").unwrap_or("").to_string(),
        header(msg, "P-Asserted-Identity").unwrap_or("").to_string(),
        header(msg, "Max-Forwards").unwrap_or("").to_string(),
        valid,
    ));
    if !valid {
        let extra = format!(
            "WWW-Authenticate: {}\r\n",
            challenge(REALM, "nonce-inv", "op", Algorithm::Md5, false)
        );
        return InviteAnswer {
            replies: vec![respond(msg, "401 Unauthorized", &extra)],
            bye: None,
        };
    }
    let ringing = respond(msg, "180 Ringing", "");
    if script.status != 200 {
        let status = format!("{} Not Now", script.status);
        return InviteAnswer {
            replies: vec![ringing, respond(msg, &status, "")],
            bye: None,
        };
    }
    let rtp = std::net::UdpSocket::bind("127.0.0.2:0").expect("bind RTP");
    let port = rtp.local_addr().unwrap().port();
    let sdp = format!(
        "v=0\r\no=prov 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    let param = if transport == "UDP" {
        String::new()
    } else {
        format!(";transport={}", transport.to_ascii_lowercase())
    };
    let contact =
        format!("Contact: <sip:{USER}@{local}{param}>\r\nContent-Type: application/sdp\r\n");
    let ok = respond(msg, "200 OK", &contact).replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Content-Length: {}\r\n\r\n{sdp}", sdp.len()),
    );
    if let Some(to) = offer_address(msg) {
        std::thread::spawn(move || play_tone(rtp, to, script.talk));
    }
    InviteAnswer {
        replies: vec![ringing, ok],
        bye: Some(bye_for(msg, &local, transport)),
    }
}

/// Where our offer asks for RTP.
fn offer_address(msg: &str) -> Option<SocketAddr> {
    let body = msg.split("\r\n\r\n").nth(1)?;
    let ip = body
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))?
        .trim()
        .to_string();
    let port = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split(' ')
        .next()?
        .to_string();
    format!("{ip}:{port}").parse().ok()
}

/// A 1000 Hz PCMU tone in 20 ms packets for `length`.
fn play_tone(rtp: std::net::UdpSocket, to: SocketAddr, length: Duration) {
    let start = std::time::Instant::now();
    let (mut seq, mut ts, mut n) = (1u16, 160u32, 0usize);
    while start.elapsed() < length {
        let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        for _ in 0..160 {
            let v = 0.4 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0).sin();
            packet.push(audio_codec_algorithms::encode_ulaw((v * 32767.0) as i16));
            n += 1;
        }
        let _ = rtp.send_to(&packet, to);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The BYE the citizen sends in the dialog our INVITE made (we are the UAS).
fn bye_for(invite: &str, us: &SocketAddr, transport: &str) -> String {
    let target = header(invite, "Contact")
        .and_then(|c| c.split_once('<'))
        .and_then(|(_, r)| r.split_once('>'))
        .map(|(u, _)| u.to_string())
        .unwrap_or_default();
    let to = header(invite, "To").unwrap_or("");
    format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/{transport} {us};branch=z9hG4bK-prov-bye\r\nMax-Forwards: 70\r\n\
         From: {to};tag=prov\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        header(invite, "From").unwrap_or(""),
        header(invite, "Call-ID").unwrap_or("")
    )
}

fn register(msg: &str, script: &Script, count: usize, seen: &Mutex<Seen>) -> String {
    let expires: u32 = header(msg, "Expires")
        .and_then(|e| e.parse().ok())
        .unwrap_or(3600);
    let creds = header(msg, "Authorization").and_then(|v| parse_authorization(v).ok());
    let valid = creds.as_ref().is_some_and(|c| {
        c.username == USER
            && c.realm == REALM
            && c.nonce == "nonce-1"
            && verify(&ha1(c.algorithm, USER, REALM, PASSWORD), "REGISTER", c)
    });
    let algorithm = creds.as_ref().map(|c| c.algorithm.as_str().to_string());
    let mut seen = seen.lock().unwrap();
    seen.registers.push((expires, valid, algorithm));
    seen.vias.push(header(msg, "Via").unwrap_or("").to_string());
    if count <= script.fail_first {
        return respond(msg, "503 Service Unavailable", "");
    }
    if !valid {
        let extra = format!(
            "WWW-Authenticate: {}\r\nWWW-Authenticate: {}\r\n",
            challenge(REALM, "nonce-1", "op", Algorithm::Sha256, false),
            challenge(REALM, "nonce-1", "op", Algorithm::Md5, false)
        );
        return respond(msg, "401 Unauthorized", &extra);
    }
    if expires == 0 {
        seen.unregistered = true;
        return respond(msg, "200 OK", "");
    }
    if expires < script.min_expires {
        let extra = format!("Min-Expires: {}\r\n", script.min_expires);
        return respond(msg, "423 Interval Too Brief", &extra);
    }
    let contact = header(msg, "Contact").unwrap_or("");
    let uri = contact
        .split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map(|(u, _)| u.to_string())
        .unwrap_or_default();
    seen.contact = Some(uri.clone());
    let granted = expires.min(script.grant);
    respond(
        msg,
        "200 OK",
        &format!("Contact: <{uri}>;expires={granted}\r\n"),
    )
}

mod http;
mod stream;
#[allow(unused_imports)] // each test file uses its own helpers
pub use http::{get, wait_http};
#[allow(unused_imports)] // each test file uses its own provider
pub use stream::{TcpProvider, TlsProvider};
