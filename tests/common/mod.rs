//! Test harness: a real `hotline` server on 127.0.0.1 (in-process, real sockets, a real
//! SQLite file in a temporary directory, or a PostgreSQL database), SIPp as the caller,
//! and an RTP listener.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hotline::config::Config;
use hotline::model::CallRecord;
use hotline::runtime::{self, Sockets};
use hotline::store::Store;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long `wait_row` waits for a row to reach the state a test expects.
const WAIT_ROW: Duration = Duration::from_secs(30);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sipp_dir() -> PathBuf {
    repo().join("tests/sipp")
}

/// Hours that make the line closed at any time (no working day) or open at any time.
pub const CLOSED: &str = "[hours]\ndays = []\n";
pub const ALWAYS_OPEN: &str =
    "[hours]\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nopen = \"00:00\"\nclose = \"24:00\"\n";

pub struct TestServer {
    pub addr: SocketAddr,
    /// The QA console and API.
    pub http: SocketAddr,
    pub dir: TempDir,
    pub store: Store,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), runtime::RuntimeError>>,
}

impl TestServer {
    /// Start a server with `extra` TOML appended to a base config (trunk 127.0.0.1 only,
    /// numbers 792112 and +78112792112, the repository's prompts).
    pub async fn start(extra: &str) -> TestServer {
        Self::start_on(extra, None, &[]).await
    }

    /// As [`TestServer::start`], with `HOTLINE_…` overrides (keys of the base config's own
    /// sections, which `extra` cannot open again).
    pub async fn start_with_env(extra: &str, env: &[(&str, &str)]) -> TestServer {
        Self::start_on(extra, None, env).await
    }

    /// As [`TestServer::start`], with the call register in the database at `db_url`
    /// (`postgres://…`) instead of a SQLite file in the temporary directory.
    pub async fn start_with_db(extra: &str, db_url: &str) -> TestServer {
        Self::start_on(extra, Some(db_url), &[]).await
    }

    async fn start_on(extra: &str, db_url: Option<&str>, env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let sockets = Sockets::bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind SIP")
            .with_http("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind HTTP");
        let addr = sockets.local_addr();
        let http = sockets.http_addr().expect("HTTP bound");
        let db_url = db_url.map_or_else(
            || {
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("hotline.db").display()
                )
            },
            str::to_owned,
        );
        let toml = format!(
            r#"
[sip]
listen = "{addr}"
[trunk]
numbers = ["792112", "+78112792112"]
allow = ["127.0.0.1/32"]
[media]
rtp_ports = "{rtp}"
[prompts]
dir = "{prompts}"
[recordings]
dir = "{rec}"
[database]
url = "{db_url}"
[menu]
# Callers go straight to the queue unless a test turns the menu on
# (`HOTLINE_MENU__ENABLED=true` through `start_with_env`).
enabled = false
{extra}
"#,
            rtp = rtp_range(addr.port()),
            prompts = repo().join("config/prompts").display(),
            rec = dir.path().join("recordings").display(),
        );
        let file = dir.path().join("hotline.toml");
        std::fs::write(&file, &toml).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::load(&file, &env).unwrap_or_else(|e| panic!("test config: {e}"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(hotline::server::serve(config, sockets, shutdown.clone()));
        let store = Store::open(&db_url, 2).await.expect("open store");
        TestServer {
            addr,
            http,
            dir,
            store,
            shutdown,
            task,
        }
    }

    /// Wait (bounded) until the call with this SIP Call-ID has a row satisfying `done`.
    /// The bound is generous: on a loaded 2-core CI box a recording's checksum once took
    /// longer than 10 s to reach its row (cause not found).
    pub async fn wait_row(
        &self,
        sip_call_id: &str,
        done: impl Fn(&CallRecord) -> bool,
    ) -> CallRecord {
        let deadline = Instant::now() + WAIT_ROW;
        loop {
            let rows = self
                .store
                .calls_by_sip_call_id(sip_call_id)
                .await
                .expect("query");
            if let Some(row) = rows.into_iter().find(|r| done(r)) {
                return row;
            }
            assert!(
                Instant::now() < deadline,
                "no matching row for {sip_call_id} within {WAIT_ROW:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The ring attempts of a call once there are `n` of them (waits, bounded: the last one
    /// is written when the operator's final answer arrives, just after the call row closes).
    pub async fn ring_attempts(&self, call_id: &str, n: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rings = self.store.ring_attempts(call_id).await.expect("query");
            if rings.len() >= n || Instant::now() > deadline {
                return rings;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signal shutdown (as SIGTERM does) without waiting for it.
    pub fn begin_stop(&self) {
        self.shutdown.cancel();
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(Duration::from_secs(15), self.task).await;
        r.expect("server stops within the grace")
            .expect("server task")
            .expect("server result");
    }
}

/// A private RTP range per server, derived from its SIP port, so parallel tests don't
/// share ports (the pool would skip busy ports anyway).
fn rtp_range(sip_port: u16) -> String {
    let base = 30_000 + (sip_port % 150) * 200;
    format!("{}-{}", base, base + 198)
}

/// A free local UDP port (bound and released; good enough on loopback).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// SIPp's Call-ID for call 1 of a run: `1-<pid>@127.0.0.1`.
pub fn sipp_call_id(pid: u32) -> String {
    format!("1-{pid}@127.0.0.1")
}

pub struct SippRun {
    pub status: std::process::ExitStatus,
    pub call_id: String,
    pub stderr: String,
}

/// Run one SIPp call against `server` (bounded in time; killed if it overruns).
pub async fn sipp(server: SocketAddr, scenario: &str, args: &[&str]) -> SippRun {
    sipp_within(server, scenario, args, Duration::from_secs(60)).await
}

/// [`sipp`] for a call that may last up to `limit` (SIPp's own timeouts follow it).
pub async fn sipp_within(
    server: SocketAddr,
    scenario: &str,
    args: &[&str],
    limit: Duration,
) -> SippRun {
    let timeout = format!("{}s", limit.as_secs());
    let recv_timeout = (limit.as_millis() / 2).max(30_000).to_string();
    let logs = tempfile::tempdir().unwrap();
    let port = free_udp_port().to_string();
    let mut cmd = tokio::process::Command::new("sipp");
    cmd.arg(server.to_string())
        .arg("-sf")
        .arg(sipp_dir().join(scenario))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            &timeout,
            "-recv_timeout",
            &recv_timeout,
        ])
        .args(["-trace_err", "-error_file"])
        .arg(logs.path().join("err.log"))
        .args(args)
        .current_dir(logs.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .expect("sipp is installed (Debian package sip-tester)");
    let pid = child.id().expect("pid");
    let out = tokio::time::timeout(limit + Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("sipp finishes")
        .expect("sipp ran");
    let errs = std::fs::read_to_string(logs.path().join("err.log")).unwrap_or_default();
    SippRun {
        status: out.status,
        call_id: sipp_call_id(pid),
        stderr: format!("{}\n{}", String::from_utf8_lossy(&out.stderr), errs),
    }
}

/// One RTP packet as the caller received it.
pub struct RtpIn {
    pub at: Instant,
    pub bytes: Vec<u8>,
    /// Who sent it.
    pub from: SocketAddr,
}

/// The packets that came from the address most of them came from: a call's stream, without
/// a stray datagram another test's call may send to a port this test reuses.
pub fn main_stream(packets: &[RtpIn]) -> Vec<&RtpIn> {
    let mut by_source: std::collections::HashMap<SocketAddr, usize> = Default::default();
    for p in packets {
        *by_source.entry(p.from).or_default() += 1;
    }
    let main = by_source.iter().max_by_key(|(_, n)| **n).map(|(a, _)| *a);
    packets.iter().filter(|p| Some(p.from) == main).collect()
}

/// Listen for RTP on `port` until `quiet` passes without a packet after at least one
/// arrived, or `limit` passes. Runs on a thread so arrival times are not skewed by tests.
pub fn capture_rtp(
    port: u16,
    quiet: Duration,
    limit: Duration,
) -> std::thread::JoinHandle<Vec<RtpIn>> {
    let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind RTP listener");
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let start = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                got.push(RtpIn {
                    at: Instant::now(),
                    bytes: buf[..n].to_vec(),
                    from,
                });
            }
            let last = got.last().map(|p: &RtpIn| p.at);
            if last.is_some_and(|t| t.elapsed() > quiet) || start.elapsed() > limit {
                return got;
            }
        }
    })
}

/// Samples of an 8 kHz mono 16-bit WAV.
pub fn wav_samples(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).expect("prompt WAV");
    r.samples::<i16>().map(|s| s.unwrap()).collect()
}

/// A SIPp "operator softphone": REGISTERs `id` (digest auth) from 127.0.0.1:`sip_port`,
/// then answers INVITEs on the same port, echoing RTP (`-rtp_echo`) on `media_port`.
/// Killed when dropped.
pub struct SippOperator {
    pub child: tokio::process::Child,
    _dir: TempDir,
}

impl SippOperator {
    pub async fn start(
        server: SocketAddr,
        id: &str,
        password: &str,
        sip_port: u16,
        media_port: u16,
        extra: &[&str],
    ) -> SippOperator {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("op.csv");
        std::fs::write(&csv, format!("SEQUENTIAL\n{id};[authentication username={id} password={password}];127.0.0.1;3600\n")).unwrap();
        let reg = tokio::process::Command::new("sipp")
            .arg(server.to_string())
            .arg("-sf")
            .arg(sipp_dir().join("operator_register.xml"))
            .arg("-inf")
            .arg(&csv)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &sip_port.to_string(),
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                "20s",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("sipp runs");
        assert!(reg.success(), "operator {id} registered");
        let child = tokio::process::Command::new("sipp")
            .arg("-sf")
            .arg(sipp_dir().join("operator_answer.xml"))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &sip_port.to_string(),
                "-mi",
                "127.0.0.1",
                "-mp",
                &media_port.to_string(),
            ])
            .arg("-key")
            .arg("operator_audio")
            .arg(format!(
                "{},-1,0",
                repo().join("tests/audio/operator_tone_1000.ul").display()
            ))
            .args(["-aa", "-nostdin", "-timeout", "120s"])
            .args(extra)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp runs");
        SippOperator { child, _dir: dir }
    }
}

impl SippOperator {
    /// The usual operator of the tests: registers `id`, answers at once, echoes RTP.
    pub async fn echoing(server: SocketAddr, id: &str, password: &str) -> SippOperator {
        SippOperator::start(
            server,
            id,
            password,
            free_udp_port(),
            free_udp_port(),
            &["-rtp_echo"],
        )
        .await
    }
}

/// A caller who talks (`TalkingCaller`) and hangs up `hold_ms` after the answer. The SIPp
/// run is over when this returns; join the caller's thread for what its RTP saw.
pub async fn talking_call(server: SocketAddr, hold_ms: u32) -> (SippRun, TalkingCaller) {
    let rtp_port = free_udp_port();
    let caller = TalkingCaller::start(rtp_port, Duration::from_secs(40));
    let hold = hold_ms.to_string();
    let run = sipp(
        server,
        "caller_hangs_up.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            &hold,
        ],
    )
    .await;
    (run, caller)
}

/// A caller's RTP endpoint that talks: it answers the server's stream (symmetric RTP) with
/// 20 ms PCMU packets carrying a recognisable payload, and counts what comes back.
pub struct TalkingCaller {
    pub handle: std::thread::JoinHandle<TalkReport>,
}

#[derive(Debug, Default)]
pub struct TalkReport {
    /// Packets from the server of any kind (prompts, hold music, relayed audio).
    pub received: usize,
    /// Packets whose payload is ours, come back through the operator's echo.
    pub echoed: usize,
    pub sent: usize,
}

/// The payload byte the talking caller sends (a μ-law value no prompt is made of alone).
pub const TALK_BYTE: u8 = 0x5A;

impl TalkingCaller {
    pub fn start(port: u16, limit: Duration) -> TalkingCaller {
        let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind RTP");
        let handle = std::thread::spawn(move || {
            sock.set_read_timeout(Some(Duration::from_millis(5)))
                .unwrap();
            let start = Instant::now();
            let mut report = TalkReport::default();
            let mut server: Option<SocketAddr> = None;
            let mut next_send = Instant::now();
            let mut seq: u16 = 1;
            let mut buf = [0u8; 2048];
            let mut last_rx = Instant::now();
            while start.elapsed() < limit {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    report.received += 1;
                    last_rx = Instant::now();
                    server.get_or_insert(from);
                    if n == 172 && buf[12..n].iter().all(|&b| b == TALK_BYTE) {
                        report.echoed += 1;
                    }
                }
                if let Some(to) = server {
                    if Instant::now() >= next_send {
                        let mut pkt = [TALK_BYTE; 172];
                        pkt[..12].copy_from_slice(&[
                            0x80,
                            0,
                            (seq >> 8) as u8,
                            seq as u8,
                            0,
                            0,
                            0,
                            0,
                            0xC0,
                            0xFF,
                            0xEE,
                            0x01,
                        ]);
                        let ts = u32::from(seq) * 160;
                        pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                        let _ = sock.send_to(&pkt, to);
                        report.sent += 1;
                        seq = seq.wrapping_add(1);
                        next_send += Duration::from_millis(20);
                    }
                    if last_rx.elapsed() > Duration::from_millis(1500) {
                        break; // the call is over
                    }
                }
            }
            report
        });
        TalkingCaller { handle }
    }
}

/// Share of a window's energy at `freq` (Goertzel; 1.0 for a pure tone at `freq`).
pub fn tone_share(samples: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2, mut energy) = (0.0f64, 0.0f64, 0.0f64);
    for &v in samples {
        let x = f64::from(v) / 32768.0;
        energy += x * x;
        let s0 = x + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - c * s1 * s2;
    if energy <= 1e-9 {
        return 0.0;
    }
    (2.0 * power / (samples.len() as f64 * energy)).min(1.0)
}

/// How many 100 ms windows of `samples` are dominated by `freq`.
pub fn tone_windows(samples: &[i16], freq: f64) -> usize {
    samples
        .chunks(800)
        .filter(|w| w.len() == 800 && tone_share(w, freq) > 0.5)
        .count()
}

/// A sine tone as 8 kHz μ-law, `seconds` long.
pub fn ulaw_tone(freq: f64, seconds: f64) -> Vec<u8> {
    (0..(seconds * 8000.0) as usize)
        .map(|i| {
            let v = 0.4 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin();
            audio_codec_algorithms::encode_ulaw((v * 32767.0) as i16)
        })
        .collect()
}

/// The caller's RTP: answers the server's stream with a 440 Hz tone, returns what it heard.
pub fn tone_caller(port: u16, limit: Duration) -> std::thread::JoinHandle<Vec<i16>> {
    rtp_caller(port, limit, ulaw_tone(440.0, 60.0))
}

/// The caller's RTP: answers the server's stream with `audio` (μ-law, looped), returns what
/// it heard (PCMU packets, decoded).
pub fn rtp_caller(port: u16, limit: Duration, audio: Vec<u8>) -> std::thread::JoinHandle<Vec<i16>> {
    let sock = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let tone = audio;
        let (start, mut heard, mut server, mut next, mut i) =
            (Instant::now(), Vec::new(), None, Instant::now(), 0usize);
        let mut last = Instant::now();
        let mut buf = [0u8; 2048];
        while start.elapsed() < limit {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                last = Instant::now();
                server.get_or_insert(from);
                if n > 12 && buf[1] & 0x7f == 0 {
                    heard.extend(
                        buf[12..n]
                            .iter()
                            .map(|&b| audio_codec_algorithms::decode_ulaw(b)),
                    );
                }
            }
            if let Some(to) = server {
                if Instant::now() >= next {
                    let mut pkt = [0u8; 172];
                    let ts = (i as u32) * 160;
                    pkt[..12].copy_from_slice(&[
                        0x80,
                        0,
                        (i >> 8) as u8,
                        i as u8,
                        0,
                        0,
                        0,
                        0,
                        0xCA,
                        0x11,
                        0xE4,
                        0x40,
                    ]);
                    pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                    let off = (i * 160) % (tone.len() - 160);
                    pkt[12..].copy_from_slice(&tone[off..off + 160]);
                    let _ = sock.send_to(&pkt, to);
                    i += 1;
                    next += Duration::from_millis(20);
                }
                if last.elapsed() > Duration::from_millis(1500) {
                    break;
                }
            }
        }
        heard
    })
}

/// Deterministic white-ish noise as μ-law (for cross-correlation: no periodicity).
pub fn ulaw_noise(seconds: f64) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..(seconds * 8000.0) as usize)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            audio_codec_algorithms::encode_ulaw(((x >> 16) as i16) / 3)
        })
        .collect()
}
