//! End to end over 127.0.0.1 with the call register on PostgreSQL: a real server, SIPp as
//! the caller (and as the operator's softphone), the register read back from PostgreSQL;
//! and calls placed while the database is down, which must reach the register once it is
//! back.
//!
//! Needs PostgreSQL (`sudo bash scripts/install-deps.sh`) and SIPp.

mod common;
mod pg_support;

use std::time::Duration;

use common::*;
use pg_support::{FreshDb, PrivateCluster};

/// One after-hours call from SIPp; returns its SIP Call-ID once SIPp is done.
async fn after_hours_call(server: &TestServer) -> String {
    let rtp_port = free_udp_port();
    let listener = capture_rtp(
        rtp_port,
        Duration::from_millis(1500),
        Duration::from_secs(40),
    );
    let run = sipp(
        server.addr,
        "after_hours_call.xml",
        &["-s", "792112", "-set", "rtp_port", &rtp_port.to_string()],
    )
    .await;
    assert!(run.status.success(), "SIPp call failed: {}", run.stderr);
    let packets = listener.join().expect("RTP listener");
    let prompt = wav_samples(&repo().join("config/prompts/after_hours.wav"));
    assert_eq!(
        packets.len(),
        prompt.len().div_ceil(160),
        "the whole message, one packet per 20 ms"
    );
    run.call_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hours_call_is_registered_in_postgres() {
    let db = FreshDb::create().await;
    let server = TestServer::start_with_db(CLOSED, &db.url).await;
    assert_eq!(server.store.backend_name(), "postgres");
    let call_id = after_hours_call(&server).await;
    let row = server.wait_row(&call_id, |r| r.ended_at.is_some()).await;
    assert_eq!(row.outcome, "after_hours");
    assert_eq!(row.hangup_by.as_deref(), Some("system"));
    assert_eq!(row.end_reason.as_deref(), Some("prompt_done"));
    assert_eq!(row.caller, "+79115550101");
    assert_eq!(row.dialed, "792112");
    assert_eq!(row.final_status, Some(200));
    assert!(row.answered_at.is_some());
    assert!(row.received_at <= row.answered_at.clone().unwrap_or_default());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridged_call_is_registered_in_postgres_with_its_ring_attempt() {
    let db = FreshDb::create().await;
    let extra = format!(
        "{ALWAYS_OPEN}\n[[operators]]\nid = \"1001\"\nname = \"Operator 1001\"\npassword = \"pass1001\"\n"
    );
    let server = TestServer::start_with_db(&extra, &db.url).await;
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;
    let (run, caller) = talking_call(server.addr, 12000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    let report = caller.handle.join().expect("caller RTP");
    assert!(
        report.echoed > 100,
        "audio went through the operator: {report:?}"
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
async fn calls_during_a_database_outage_are_served_and_registered_when_it_is_back() {
    const CALLS: usize = 3;
    let cluster = PrivateCluster::start();
    let server = TestServer::start_with_db(CLOSED, &cluster.url).await;
    let before = after_hours_call(&server).await;
    server.wait_row(&before, |r| r.ended_at.is_some()).await;

    // The database dies; callers keep calling and are served as usual.
    cluster.stop();
    let (a, b, c) = tokio::join!(
        after_hours_call(&server),
        after_hours_call(&server),
        after_hours_call(&server)
    );
    let calls = [a, b, c];
    let spool = server.dir.path().join("spool/register.spool");
    let spooled = std::fs::read_to_string(&spool)
        .expect("the register writes went to the spool")
        .lines()
        .count();
    assert!(spooled >= CALLS * 2, "{spooled} writes spooled");

    cluster.start_again();
    for call_id in &calls {
        let row = server.wait_row(call_id, |r| r.ended_at.is_some()).await;
        assert_eq!(row.outcome, "after_hours");
        assert_eq!(row.end_reason.as_deref(), Some("prompt_done"));
        assert_eq!(row.final_status, Some(200));
    }
    let total = server.store.count_calls().await.expect("count");
    println!(
        "database outage: {CALLS} calls served while it was down, {spooled} register writes \
         spooled and replayed; {total} calls in the register (expected {}), lost {}",
        CALLS + 1,
        (CALLS as u64 + 1).saturating_sub(total)
    );
    assert_eq!(total, CALLS as u64 + 1, "nothing lost, nothing doubled");
    // Emptied right after the last replayed chunk commits (bounded wait for that).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&spool).expect("spool").len() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the spool is emptied once replayed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}
