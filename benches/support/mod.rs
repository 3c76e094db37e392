//! What the benches share: a line open to the trunk at 127.0.0.1, and the trunk's INVITE.

pub const CONFIG: &str = r#"
[sip]
listen = "127.0.0.1:5060"
[trunk]
numbers = ["792112"]
allow = ["127.0.0.1/32"]
[hours]
days = []
[limits]
# A bench offers calls as fast as it can, all at one instant of simulated time.
max_calls = 100000
trunk_invite_rate = 0
"#;

pub fn invite(n: u32) -> Vec<u8> {
    let body = "v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 17000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
                a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    format!(
        "INVITE sip:792112@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-b{n};rport\r\n\
         From: <sip:+79115550101@127.0.0.1>;tag=c{n}\r\nTo: <sip:792112@127.0.0.1>\r\nCall-ID: bench-{n}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:5071>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
