//! A real softphone as the operator: baresip registers with digest auth, answers
//! automatically and speaks a 1000 Hz tone; the caller (SIPp signalling, RTP from the test)
//! speaks 440 Hz. Through the server each side must hear the other's tone, and only that.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// Render the config, start baresip, wait (bounded) until its REGISTER got 200 OK.
    fn operator(server: SocketAddr, user: &str, pass: &str) -> Baresip {
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
            let t =
                std::fs::read_to_string(repo().join("tests/baresip").join(format!("{name}.tmpl")))
                    .unwrap();
            let t = t
                .replace("@SIP_PORT@", &sip_port.to_string())
                .replace("@RTP_PORTS@", &format!("{}-{}", rtp, rtp + 19))
                .replace("@AUDIO@", &audio.display().to_string())
                .replace("@RUN@", &dir.path().display().to_string())
                .replace("@SERVER@", &server.to_string())
                .replace("@USER@", user)
                .replace("@PASS@", pass);
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
async fn baresip_operator_and_caller_hear_each_other_through_the_server() {
    let server = TestServer::start(&format!(
        "{ALWAYS_OPEN}\n[[operators]]\nid = \"1002\"\nname = \"Operator 1002\"\npassword = \"pass1002\"\n"
    ))
    .await;
    let addr = server.addr;
    let mut phone =
        tokio::task::spawn_blocking(move || Baresip::operator(addr, "1002", "pass1002"))
            .await
            .unwrap();
    let rtp_port = free_udp_port();
    let caller = tone_caller(rtp_port, Duration::from_secs(40));
    let run = sipp(
        server.addr,
        "caller_hangs_up.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            "12000",
        ],
    )
    .await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    let caller_heard = caller.join().unwrap();
    tokio::task::spawn_blocking(move || {
        phone.stop();
        let operator_heard = phone.heard();
        let op_440 = tone_windows(&operator_heard, 440.0);
        let op_1000 = tone_windows(&operator_heard, 1000.0);
        let caller_1000 = tone_windows(&caller_heard, 1000.0);
        let caller_440 = tone_windows(&caller_heard, 440.0);
        println!("operator heard 440 Hz for {op_440}00 ms (1000 Hz {op_1000}00 ms); caller heard 1000 Hz for {caller_1000}00 ms (440 Hz {caller_440}00 ms)");
        assert!(op_440 >= 30, "the operator hears the caller: {op_440} windows of 440 Hz");
        assert!(op_1000 * 10 <= op_440, "no echo of the operator's own voice");
        assert!(caller_1000 >= 30, "the caller hears the operator: {caller_1000} windows of 1000 Hz");
        assert!(caller_440 * 10 <= caller_1000, "no echo of the caller's own voice");
    })
    .await
    .unwrap();
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.operator_id.as_deref(), Some("1002"));
    server.stop().await;
}
