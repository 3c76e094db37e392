//! RFC 4475 torture messages (and a few malformed cases of our own) over real UDP and
//! real TCP to a running server.
//!
//! Every message in `tests/torture/*.sip` is sent on its own to a fresh server (the RFC
//! judges each message alone, and several share a transaction key), and the answer a
//! peer sees is checked against `tests/torture/manifest.txt`: the status, a header the
//! answer must carry, or no answer at all.
//!
//! Over UDP a response goes where RFC 3261 §18.2.2 says: the source address and the top
//! Via's port (5060 when absent) unless the Via asks for `rport`. The test therefore
//! sends each datagram from that port on 127.0.0.1, so the answer comes back to it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use common::{TestServer, CLOSED};

/// How long a message that must be answered may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// How long we listen to be sure a message is not answered.
const SILENCE: Duration = Duration::from_millis(400);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Status(u16),
    Nothing,
}

struct Case {
    name: String,
    udp: Expect,
    tcp: Expect,
    /// `(header name, text its value must contain)`.
    header: Option<(String, String)>,
    bytes: Vec<u8>,
}

fn expect(field: &str) -> Expect {
    match field {
        "none" => Expect::Nothing,
        code => Expect::Status(code.parse().expect("manifest status")),
    }
}

fn cases() -> Vec<Case> {
    let dir = common::repo().join("tests/torture");
    let manifest = std::fs::read_to_string(dir.join("manifest.txt")).expect("manifest");
    let mut cases = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let header = match fields[3] {
            "-" => None,
            h => {
                let (name, text) = h.split_once(':').expect("Name:text");
                Some((name.to_string(), text.to_string()))
            }
        };
        let name = fields[0].to_string();
        let bytes = std::fs::read(dir.join(format!("{name}.sip"))).expect("fixture");
        cases.push(Case {
            udp: expect(fields[1]),
            tcp: expect(fields[2]),
            header,
            bytes,
            name,
        });
    }
    // Every fixture is in the manifest and the other way round.
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sip")
        })
        .count();
    assert_eq!(files, cases.len(), "fixtures and manifest differ");
    cases
}

/// One response as a peer reads it.
#[derive(Debug)]
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Option<Answer> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let status = text
            .strip_prefix("SIP/2.0 ")?
            .get(..3)?
            .parse::<u16>()
            .ok()?;
        Some(Answer { status, text })
    }

    /// Values of a header (long name only: that is how we write them).
    fn header(&self, name: &str) -> Vec<&str> {
        self.text
            .split("\r\n")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// The method of the CSeq, to tell which request an answer is for.
    fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq").first()?.split_whitespace().nth(1)
    }
}

/// The CSeq method of a request as written (`None` when it has no readable CSeq).
fn request_cseq_method(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next()?;
    let mut unfolded = String::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            unfolded.push(' ');
            unfolded.push_str(line.trim());
        } else {
            unfolded.push('\n');
            unfolded.push_str(line);
        }
    }
    unfolded.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("cseq")
            .then(|| value.split_whitespace().nth(1).map(str::to_string))?
    })
}

/// The port the top Via names (5060 when it names none, RFC 3261 §18.2.2).
fn via_port(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n").skip(1).peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !matches!(name.trim().to_ascii_lowercase().as_str(), "via" | "v") {
            continue;
        }
        let mut value = value.to_string();
        while lines.peek().is_some_and(|l| l.starts_with([' ', '\t'])) {
            value.push(' ');
            value.push_str(lines.next().unwrap().trim());
        }
        let sent = value
            .split([';', ','])
            .next()
            .unwrap_or("")
            .replace(" /", "/");
        let host = sent.split_whitespace().last().unwrap_or("");
        return host
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(5060);
    }
    5060
}

/// Bind the UDP port the server's answer will go to (retried briefly: the previous
/// case's socket may not be released yet).
async fn bind_udp(port: u16) -> UdpSocket {
    for _ in 0..100 {
        if let Ok(sock) = UdpSocket::bind(("127.0.0.1", port)).await {
            return sock;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("127.0.0.1:{port} stays busy");
}

/// The first final answer for `method` (or any final answer when the request has no
/// readable CSeq), or `None` within `wait`.
fn pick(answers: &[Answer], method: Option<&str>) -> Option<usize> {
    answers
        .iter()
        .position(|a| a.status >= 200 && method.is_none_or(|m| a.cseq_method() == Some(m)))
}

async fn over_udp(server: SocketAddr, case: &Case) -> Vec<Answer> {
    let sock = bind_udp(via_port(&case.bytes)).await;
    sock.send_to(&case.bytes, server).await.expect("send");
    let method = request_cseq_method(&case.bytes);
    let wait = match case.udp {
        Expect::Status(_) => ANSWER_WITHIN,
        Expect::Nothing => SILENCE,
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut answers = Vec::new();
    let mut buf = vec![0u8; 65536];
    while pick(&answers, method.as_deref()).is_none() {
        match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => answers.extend(Answer::parse(&buf[..n])),
            _ => break,
        }
    }
    answers
}

/// Complete responses at the front of a TCP buffer (each with its Content-Length).
fn take_responses(buf: &mut Vec<u8>, out: &mut Vec<Answer>) {
    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let len: usize = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let total = end + 4 + len;
        if buf.len() < total {
            return;
        }
        let msg: Vec<u8> = buf.drain(..total).collect();
        out.extend(Answer::parse(&msg));
    }
}

async fn over_tcp(server: SocketAddr, case: &Case) -> Vec<Answer> {
    let mut stream = TcpStream::connect(server).await.expect("connect");
    stream.write_all(&case.bytes).await.expect("send");
    let method = request_cseq_method(&case.bytes);
    let wait = match case.tcp {
        Expect::Status(_) => ANSWER_WITHIN,
        Expect::Nothing => SILENCE,
    };
    let deadline = tokio::time::Instant::now() + wait;
    let (mut answers, mut pending) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 65536];
    while pick(&answers, method.as_deref()).is_none() {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                pending.extend_from_slice(&buf[..n]);
                take_responses(&mut pending, &mut answers);
            }
            _ => break,
        }
    }
    answers
}

/// What went wrong with one case on one transport, if anything.
fn judge(case: &Case, expected: &Expect, answers: &[Answer]) -> Option<String> {
    let method = request_cseq_method(&case.bytes);
    let got = pick(answers, method.as_deref()).map(|i| &answers[i]);
    match (expected, got) {
        (Expect::Nothing, None) => None,
        (Expect::Nothing, Some(a)) => Some(format!("answered {} (must not be)", a.status)),
        (Expect::Status(want), None) => Some(format!("no answer (want {want})")),
        (Expect::Status(want), Some(a)) if a.status != *want => {
            Some(format!("answered {} (want {want})", a.status))
        }
        (Expect::Status(_), Some(a)) => {
            let (name, text) = case.header.as_ref()?;
            let ok = a.header(name).iter().any(|v| v.contains(text.as_str()));
            (!ok).then(|| format!("{} without {name}: {text}:\n{}", a.status, a.text))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_torture_messages_get_the_rfc_answers_over_udp_and_tcp() {
    let cases = cases();
    let mut failures = Vec::new();
    let (mut udp_ok, mut tcp_ok) = (0, 0);
    for case in &cases {
        // A server per transport too: the same message over TCP would otherwise match the
        // UDP one's transaction (§17.2.3 keys on branch, sent-by and method).
        let server = TestServer::start(CLOSED).await;
        let answers = over_udp(server.addr, case).await;
        server.stop().await;
        match judge(case, &case.udp, &answers) {
            None => udp_ok += 1,
            Some(why) => failures.push(format!("{} over UDP: {why}", case.name)),
        }
        let server = TestServer::start(CLOSED).await;
        let answers = over_tcp(server.addr, case).await;
        server.stop().await;
        match judge(case, &case.tcp, &answers) {
            None => tcp_ok += 1,
            Some(why) => failures.push(format!("{} over TCP: {why}", case.name)),
        }
    }
    eprintln!(
        "torture messages: {udp_ok}/{n} as the manifest says over UDP, {tcp_ok}/{n} over TCP",
        n = cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
