//! baresip as the operator over TLS with SRTP required (`mediaenc=srtp-mand`): it
//! registers at the TLS port (trusting the certificate made in the test), the line rings it
//! over that connection with an RTP/SAVP offer, and it talks (1000 Hz) with a caller on
//! plain UDP RTP (440 Hz). Each side hears the other's tone; the line's recording holds
//! both tones in clear.

mod common;
mod tls_phone;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tls_phone::*;

struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// Render the TLS config, start baresip, wait (bounded) until its REGISTER got 200 OK.
    fn operator(server: SocketAddr, user: &str, pass: &str, cafile: &Path) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("recordings")).unwrap();
        let audio = dir.path().join("tone_1000.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&audio, spec).unwrap();
        for i in 0..8000 * 60 {
            let v = 0.4 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 8000.0).sin();
            w.write_sample((v * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        // baresip also opens TLS on sip port + 1: take a port whose neighbour is free too.
        let sip_port = loop {
            let p = free_udp_port();
            if p < 65000 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let rtp = 40_000 + (sip_port % 100) * 20;
        let render = |name: &str| {
            let t = std::fs::read_to_string(
                repo()
                    .join("tests/baresip")
                    .join(format!("{name}_tls.tmpl")),
            )
            .unwrap();
            let t = t
                .replace("@SIP_PORT@", &sip_port.to_string())
                .replace("@RTP_PORTS@", &format!("{}-{}", rtp, rtp + 19))
                .replace("@AUDIO@", &audio.display().to_string())
                .replace("@RUN@", &dir.path().display().to_string())
                .replace("@SERVER@", &server.to_string())
                .replace("@USER@", user)
                .replace("@PASS@", pass)
                .replace("@CAFILE@", &cafile.display().to_string());
            std::fs::write(dir.path().join(name), t).unwrap();
        };
        render("config");
        render("accounts");
        let log = std::fs::File::create(dir.path().join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip is installed (Debian package baresip-core)");
        let b = Baresip { child, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !b.log().contains("200 OK") {
            assert!(
                Instant::now() < deadline,
                "baresip did not register:\n{}",
                b.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// What the operator heard (baresip's `*-dec.wav`), as samples.
    fn heard(&self) -> Vec<i16> {
        let rec = self.dir.path().join("recordings");
        let file = std::fs::read_dir(&rec)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .unwrap_or_else(|| panic!("no recording in {}:\n{}", rec.display(), self.log()));
        wav_samples(Path::new(&file))
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_over_tls_with_srtp_talks_with_a_udp_caller() {
    let extra = format!("{ALWAYS_OPEN}\n{OPERATOR}\n[shutdown]\ngrace = \"1s\"\n");
    let (server, tls, certs, der) = tls_server(&extra).await;
    // The TLS port is open before the phone starts (its first REGISTER is not retried soon).
    drop(Phone::connect(tls, &[der]).await);
    let cafile = certs.path().join("cert.pem");
    let mut op =
        tokio::task::spawn_blocking(move || Baresip::operator(tls, "1001", "pass1001", &cafile))
            .await
            .unwrap();
    assert!(
        op.log().contains("TLS"),
        "registered over TLS:\n{}",
        op.log()
    );

    let rtp_port = free_udp_port();
    let caller_rtp = tone_caller(rtp_port, Duration::from_secs(40));
    let port = rtp_port.to_string();
    let run = sipp(
        server.addr,
        "caller_hangs_up.xml",
        &["-s", "792112", "-set", "rtp_port", &port, "-d", "14000"],
    )
    .await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    let caller_heard = caller_rtp.join().unwrap();
    let row = server
        .wait_row(&run.call_id, |r| {
            r.recording_sha256.is_some() || r.recording_error.is_some()
        })
        .await;
    op.stop();
    let log = op.log();
    assert!(log.contains("srtp"), "baresip used SRTP:\n{log}");
    assert_eq!(row.outcome, "answered", "{log}");
    let heard = op.heard();
    println!(
        "baresip heard 440 Hz in {} of {} windows; caller heard 1000 Hz in {} windows",
        tone_windows(&heard, 440.0),
        heard.len() / 800,
        tone_windows(&caller_heard, 1000.0)
    );
    assert!(
        tone_windows(&heard, 440.0) >= 10,
        "the operator hears the caller"
    );
    assert!(
        tone_windows(&caller_heard, 1000.0) >= 10,
        "the caller hears the operator"
    );
    let file = server
        .dir
        .path()
        .join("recordings")
        .join(row.recording_path.unwrap());
    let mut r = hound::WavReader::open(&file).unwrap();
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
    println!(
        "recording: right 1000 Hz in {} of {} windows",
        tone_windows(&right, 1000.0),
        right.len() / 800
    );
    assert!(
        tone_windows(&right, 1000.0) >= 10,
        "the operator's channel is the clear tone, not noise"
    );
    server.stop().await;
}
