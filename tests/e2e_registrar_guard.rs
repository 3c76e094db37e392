//! Password guessing against the operators' registrar over real UDP sockets on
//! 127.0.0.0/8 (every address of it reaches a server on 127.0.0.1, so each attacker has
//! its own source address): an account guessed at from 15 addresses is locked after its
//! tenth failure while its owner keeps registering from its usual address, neighbours
//! behind an attacker's address are not locked, and an address that tries many names is
//! blocked.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use hotline::sip::digest::Algorithm;
use tokio::net::UdpSocket;

const OPERATORS: &str = r#"
[[operators]]
id = "101"
password = "op101-secret"
[[operators]]
id = "102"
password = "op102-secret"
"#;

/// A bare-bones softphone: REGISTER with MD5 digest, one request at a time.
struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    user: String,
    password: String,
    call_id: String,
    cseq: u32,
    nc: u32,
    challenge: Option<(String, String)>,
}

impl Phone {
    async fn new(server: SocketAddr, from: &str, user: &str, password: &str) -> Phone {
        let ip: IpAddr = from.parse().unwrap();
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).await.unwrap();
        let port = sock.local_addr().unwrap().port();
        Phone {
            sock,
            server,
            user: user.into(),
            password: password.into(),
            call_id: format!("guard-{user}-{from}-{port}"),
            cseq: 0,
            nc: 0,
            challenge: None,
        }
    }

    fn authorization(&mut self) -> Option<String> {
        let (realm, nonce) = self.challenge.clone()?;
        let md5 = |s: String| Algorithm::Md5.hash_hex(s.as_bytes());
        let uri = format!("sip:{}", self.server);
        let ha1 = md5(format!("{}:{realm}:{}", self.user, self.password));
        let ha2 = md5(format!("REGISTER:{uri}"));
        self.nc += 1;
        let nc = format!("{:08x}", self.nc);
        let response = md5(format!("{ha1}:{nonce}:{nc}:0a4f113b:auth:{ha2}"));
        Some(format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             algorithm=MD5, qop=auth, nc={nc}, cnonce=\"0a4f113b\", response=\"{response}\"",
            self.user
        ))
    }

    /// Sends one REGISTER; the final status (learning a challenge's nonce on a 401).
    async fn register(&mut self) -> u16 {
        self.cseq += 1;
        let local = self.sock.local_addr().unwrap();
        let mut text = format!(
            "REGISTER sip:{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};rport;branch=z9hG4bK-{cid}-{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{server}>;tag=t{cseq}\r\n\
             To: <sip:{user}@{server}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{local}>\r\n\
             Expires: 600\r\n",
            server = self.server,
            cid = self.call_id,
            cseq = self.cseq,
            user = self.user,
        );
        if let Some(auth) = self.authorization() {
            text.push_str(&format!("Authorization: {auth}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(15), self.sock.recv(&mut buf))
                .await
                .expect("an answer within 15 s")
                .unwrap();
            let resp = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status: u16 = resp[8..11].parse().unwrap();
            if status < 200 {
                continue;
            }
            if status == 401 {
                self.learn(&resp);
            }
            return status;
        }
    }

    fn learn(&mut self, resp: &str) {
        let line = resp
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
            .expect("a challenge");
        let param = |name: &str| {
            let at = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            line[at..].split('"').next().unwrap().to_owned()
        };
        self.challenge = Some((param("realm"), param("nonce")));
        self.nc = 0;
    }

    /// REGISTER, answering one challenge.
    async fn login(&mut self) -> u16 {
        match self.register().await {
            401 => self.register().await,
            status => status,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_registers_while_15_addresses_guess_its_password() {
    let server = TestServer::start(OPERATORS).await;
    let mut owner = Phone::new(server.addr, "127.0.0.1", "101", "op101-secret").await;
    assert_eq!(owner.login().await, 200);

    // 15 addresses guess 9 times each, all at once.
    let mut attackers = Vec::new();
    for a in 0..15 {
        let from = format!("127.0.0.{}", 10 + a);
        attackers.push(tokio::spawn(async move {
            let mut p = Phone::new(server.addr, &from, "101", "guess").await;
            assert_eq!(
                p.register().await,
                401,
                "the first REGISTER is only challenged"
            );
            let mut answers = Vec::new();
            for _ in 0..9 {
                answers.push(p.register().await);
            }
            answers
        }));
    }
    let mut challenged = 0;
    let mut refused = 0;
    for a in attackers {
        for status in a.await.unwrap() {
            match status {
                401 => challenged += 1,
                403 => refused += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(
        (challenged, refused),
        (10, 125),
        "ten guesses, then the account is shut"
    );

    // The owner's refresh from its usual address still goes through...
    assert_eq!(owner.register().await, 200);
    // ...the right password from anywhere else does not...
    let mut elsewhere = Phone::new(server.addr, "127.0.0.40", "101", "op101-secret").await;
    assert_eq!(elsewhere.login().await, 403);
    // ...and an operator behind one of the attackers' addresses (a shared NAT) registers.
    let mut neighbour = Phone::new(server.addr, "127.0.0.10", "102", "op102-secret").await;
    assert_eq!(neighbour.login().await, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_trying_many_names_is_blocked() {
    let server = TestServer::start(OPERATORS).await;
    for name in ["100", "admin", "101", "operator", "sip"] {
        let mut p = Phone::new(server.addr, "127.0.0.60", name, "123456").await;
        assert_eq!(p.login().await, 401, "{name}");
    }
    let mut p = Phone::new(server.addr, "127.0.0.60", "102", "op102-secret").await;
    assert_eq!(p.login().await, 403, "blocked even with the right password");
    let mut p = Phone::new(server.addr, "127.0.0.61", "102", "op102-secret").await;
    assert_eq!(p.login().await, 200, "other addresses are not");
    server.stop().await;
}
