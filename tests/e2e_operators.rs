//! End to end over 127.0.0.1 with operators on SIPp softphones (digest REGISTER, then
//! answering with RTP echo): callers queue, are bridged through the server, and every
//! call is in the register with its operator and ring attempts.

mod common;

use std::time::Duration;

use common::*;

fn line_with_operators(ops: &[(&str, &str)], queue: &str) -> String {
    // The realm is whatever we challenge with: SIPp takes it from the 401.
    let mut s = format!("{ALWAYS_OPEN}\n{queue}\n");
    for (id, pass) in ops {
        s.push_str(&format!(
            "[[operators]]\nid = \"{id}\"\nname = \"Operator {id}\"\npassword = \"{pass}\"\n"
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_is_bridged_to_a_sipp_operator_and_rtp_flows_both_ways() {
    let server = TestServer::start(&line_with_operators(&[("1001", "pass1001")], "")).await;
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;
    let (run, caller) = talking_call(server.addr, 12000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    let report = caller.handle.join().unwrap();
    println!("caller RTP: {report:?}");
    assert!(
        report.echoed > 100,
        "the caller's own audio came back through the operator: {report:?}"
    );

    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.operator_id.as_deref(), Some("1001"));
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    assert!(row.connected_at.is_some() && row.queued_at.is_some());
    assert!(row.talk_ms.unwrap_or(0) > 3000, "{:?}", row.talk_ms);
    let rings = server.ring_attempts(&row.id, 1).await;
    assert_eq!(rings, vec![("1001".to_string(), "answered".to_string())]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_who_does_not_answer_is_cancelled_and_the_next_one_answers() {
    let queue = "[queue]\nring_timeout = \"2s\"\n";
    let server = TestServer::start(&line_with_operators(
        &[("1001", "pass1001"), ("1002", "pass1002")],
        queue,
    ))
    .await;
    // 1001 registers first (idle longest) but lets it ring for 20 s; 1002 answers at once.
    let _slow = SippOperator::start(
        server.addr,
        "1001",
        "pass1001",
        free_udp_port(),
        free_udp_port(),
        &["-set", "ring_ms", "20000", "-rtp_echo"],
    )
    .await;
    let _fast = SippOperator::start(
        server.addr,
        "1002",
        "pass1002",
        free_udp_port(),
        free_udp_port(),
        &["-rtp_echo"],
    )
    .await;
    let (run, caller) = talking_call(server.addr, 12000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    let report = caller.handle.join().unwrap();
    assert!(report.echoed > 50, "{report:?}");
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.operator_id.as_deref(), Some("1002"));
    let rings = server.ring_attempts(&row.id, 2).await;
    assert_eq!(
        rings,
        vec![
            ("1001".into(), "no_answer".into()),
            ("1002".into(), "answered".into())
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_who_gives_up_while_the_operator_rings_is_abandoned() {
    let server = TestServer::start(&line_with_operators(&[("1001", "pass1001")], "")).await;
    let _op = SippOperator::start(
        server.addr,
        "1001",
        "pass1001",
        free_udp_port(),
        free_udp_port(),
        &["-set", "ring_ms", "30000"],
    )
    .await;
    let rtp_port = free_udp_port();
    let listener = capture_rtp(
        rtp_port,
        Duration::from_millis(1000),
        Duration::from_secs(30),
    );
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
    assert!(
        !listener.join().unwrap().is_empty(),
        "the caller heard the greeting and hold music"
    );
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "abandoned");
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    assert!(row.operator_id.is_none());
    let rings = server.ring_attempts(&row.id, 1).await;
    assert_eq!(rings, vec![("1001".into(), "caller_gone".into())]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_gets_401_and_no_registration() {
    let server = TestServer::start(&line_with_operators(&[("1001", "pass1001")], "")).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "SEQUENTIAL\n1001;[authentication username=1001 password=wrong];127.0.0.1;3600\n",
    )
    .unwrap();
    let st = tokio::process::Command::new("sipp")
        .arg(server.addr.to_string())
        .arg("-sf")
        .arg(sipp_dir().join("operator_register.xml"))
        .arg("-inf")
        .arg(&csv)
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &free_udp_port().to_string(),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "15s",
            "-recv_timeout",
            "5000",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(!st.success(), "a wrong password must not register");
    // Nobody is logged in, so a caller is told so and let go.
    let run = sipp(
        server.addr,
        "after_hours_call.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &free_udp_port().to_string(),
        ],
    )
    .await;
    assert!(
        run.status.success(),
        "the caller is told and gets BYE: {}",
        run.stderr
    );
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "no_operators");
    server.stop().await;
}

/// What an operations team scrapes after a bridged call: /metrics counts it, /readyz is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_readiness_after_a_bridged_call() {
    let server = TestServer::start(&line_with_operators(&[("1001", "pass1001")], "")).await;
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;
    let (run, caller) = talking_call(server.addr, 11000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    caller.handle.join().unwrap();
    server
        .wait_row(&run.call_id, |r| r.recording_sha256.is_some())
        .await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.http);
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    // Metrics are published once a second: wait (bounded) for the call to show.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("hotline_calls_total{outcome=\"answered\"} 1")
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        text.contains("hotline_calls_total{outcome=\"answered\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("hotline_ring_attempts_total{result=\"answered\"} 1"),
        "{text}"
    );
    assert!(text.contains("hotline_recordings_total 1"), "{text}");
    assert!(
        text.contains("hotline_operators{state=\"wrap_up\"} 1")
            || text.contains("hotline_operators{state=\"available\"} 1"),
        "{text}"
    );
    let sample = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // The media threads receive through io_uring (the default), one per core.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    assert_eq!(
        sample("hotline_media_threads{io=\"io_uring\"}"),
        threads,
        "{text}"
    );
    assert_eq!(sample("hotline_media_threads{io=\"epoll\"}"), 0, "{text}");
    // The call's RTP came through the rings.
    assert!(sample("hotline_media_ring_datagrams_total") > 200, "{text}");
    // And the packets it relayed went out through them.
    assert!(
        sample("hotline_media_ring_sends_total{result=\"sent\"}") > 100,
        "{text}"
    );
    assert_eq!(
        sample("hotline_media_ring_sends_total{result=\"failed\"}"),
        0,
        "{text}"
    );
    assert!(
        sample("hotline_rtp_packets_total{leg=\"caller\",direction=\"in\"}") > 100,
        "{text}"
    );
    assert!(
        sample("hotline_rtp_packets_total{leg=\"operator\",direction=\"in\"}") > 100,
        "{text}"
    );
    assert!(sample("hotline_recording_bytes_total") > 44);
    server.stop().await;
}
