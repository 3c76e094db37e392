//! The QA HTTP API on PostgreSQL: the scenarios of `tests/web_api.rs` (the same test
//! modules under `tests/web_api/`: the role matrix, sessions, tokens and the login limit,
//! search filters and paging, one call with its rings, events and holds, topics, the
//! statistics of the known register, recordings in ranges and the audit log, the live
//! board, the `user add` and `dev seed` commands, meter readings and who may enter them),
//! each against a server whose register is a fresh PostgreSQL database. Same data, same
//! answers as on SQLite.
//!
//! Needs a server: `sudo bash scripts/install-deps.sh`, or `HOTLINE_TEST_PG_URL` pointing
//! at one where the role may create databases. Without one these tests fail, loudly.

#[path = "web_api/audio.rs"]
mod audio;
#[path = "web_api/auth.rs"]
mod auth;
#[path = "web_api/cli.rs"]
mod cli;
mod common;
#[path = "web_api/harness.rs"]
mod harness;
#[path = "web_api/live.rs"]
mod live;
mod pg_support;
#[path = "web_api/readings.rs"]
mod readings;
#[path = "web_api/recordings_stats.rs"]
mod recordings_stats;
#[path = "web_api/register.rs"]
mod register;
#[path = "web_api/retention.rs"]
mod retention;
#[path = "web_api/worklist.rs"]
mod worklist;

pub use harness::*;
use pg_support::FreshDb;

/// Each test gets a fresh PostgreSQL database for its server's register.
async fn test_database() -> Option<Database> {
    let db = FreshDb::create().await;
    Some(Database {
        url: db.url.clone(),
        keep: Box::new(db),
    })
}

/// The same register in SQLite and in PostgreSQL answers every QA query identically.
mod parity {
    use super::*;
    use hotline::store::seed::{fabricate, SeedPlan};
    use hotline::store::{AuditEntry, CallFilter, TopicFilter};

    /// Every answer the QA queries give over `rows`, as text to compare.
    async fn transcript(store: &Store, rows: &[hotline::model::CallRecord]) -> Vec<String> {
        let mut out = Vec::new();
        assert_eq!(
            store.insert_raw_calls(rows).await.unwrap(),
            rows.len() as u64
        );
        let from = "2026-09-01T00:00:00.000Z";
        let to = "2026-11-01T00:00:00.000Z";
        // Moscow, New York in winter, UTC, and a half-hour zone (Newfoundland in summer).
        for offset in [10_800, -18_000, 0, -9_000] {
            let days = store.day_aggregates(from, to, offset).await.unwrap();
            assert!(days.len() > 40, "{offset}: {} days", days.len());
            out.push(format!("days {offset}: {days:?}"));
            let mut waits = store.answered_waits(from, to, offset).await.unwrap();
            waits.sort();
            out.push(format!("waits {offset}: {waits:?}"));
        }
        out.push(format!(
            "{:?}",
            store.operator_aggregates(from, to).await.unwrap()
        ));
        let topics = store.topic_counts(from, to).await.unwrap();
        assert!(topics.iter().any(|(t, _)| t.is_none()), "{topics:?}");
        out.push(format!("{topics:?}"));

        let filters = [
            CallFilter {
                limit: 50,
                ..CallFilter::default()
            },
            CallFilter {
                from: Some("2026-10-01T00:00:00.000Z".into()),
                to: Some("2026-10-08T00:00:00.000Z".into()),
                outcome: Some("answered".into()),
                min_talk_ms: Some(120_000),
                limit: 20,
                offset: 10,
                ..CallFilter::default()
            },
            CallFilter {
                caller: Some("12".into()),
                operator: Some("103".into()),
                limit: 500,
                ..CallFilter::default()
            },
            CallFilter {
                topic: Some(TopicFilter::Unset),
                limit: 30,
                offset: 5,
                ..CallFilter::default()
            },
            CallFilter {
                topic: Some(TopicFilter::Is("debt".into())),
                limit: 30,
                ..CallFilter::default()
            },
        ];
        for f in &filters {
            let (calls, total) = store.search_calls(f).await.unwrap();
            assert!(!calls.is_empty(), "{f:?}");
            out.push(format!("{total} {calls:?}"));
        }
        // Set, clear, and a call that does not exist.
        let (first, _) = store.search_calls(&filters[0]).await.unwrap();
        assert!(store
            .set_topic(&first[0].id, Some("contract"))
            .await
            .unwrap());
        assert!(store.set_topic(&first[1].id, None).await.unwrap());
        assert!(!store
            .set_topic("20261124T070000Z-00000000", Some("debt"))
            .await
            .unwrap());
        out.push(format!("{:?}", store.topic_counts(from, to).await.unwrap()));

        // A tie between no topic and a topic: SQLite sorts the missing one first.
        let mut tie = vec![rows[0].clone(), rows[1].clone()];
        for (i, (call, topic)) in tie.iter_mut().zip([None, Some("billing")]).enumerate() {
            call.id = format!("20270101T100000Z-0000000{i}");
            call.received_at = "2027-01-01T10:00:00.000Z".into();
            call.topic = topic.map(str::to_owned);
        }
        assert_eq!(store.insert_raw_calls(&tie).await.unwrap(), 2);
        let counts = store
            .topic_counts("2027-01-01T00:00:00.000Z", "2027-01-02T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(counts, [(None, 1), (Some("billing".to_owned()), 1)]);
        out
    }

    /// Users, sessions (idle expiry and the sweep at login), tokens and the audit log.
    async fn accounts(store: &Store) -> Vec<String> {
        let mut out = Vec::new();
        let t = |s: &str| format!("2026-11-24T{s}.000Z");
        assert!(store
            .add_user("zoe", "phc-z", Role::Qa, &t("08:00:00"))
            .await
            .unwrap());
        assert!(store
            .add_user("Anna", "phc-a", Role::Admin, &t("08:00:01"))
            .await
            .unwrap());
        assert!(!store
            .add_user("zoe", "phc-other", Role::Admin, &t("08:00:02"))
            .await
            .unwrap());
        out.push(format!("{:?}", store.users().await.unwrap()));
        out.push(format!("{:?}", store.user("zoe").await.unwrap()));
        out.push(format!("{:?}", store.user("nobody").await.unwrap()));

        store
            .create_session("s1", "zoe", &t("09:00:00"), &t("08:30:00"))
            .await
            .unwrap();
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("09:10:00"), &t("08:40:00"))
                .await
                .unwrap()
        ));
        // Idle since 09:10, the cutoff now 09:20: dead, and not revived.
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("09:50:00"), &t("09:20:00"))
                .await
                .unwrap()
        ));
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("09:50:01"), &t("09:00:00"))
                .await
                .unwrap()
        ));
        store
            .create_session("s2", "Anna", &t("10:00:00"), &t("09:30:00"))
            .await
            .unwrap();
        // The login swept s1: even a generous cutoff finds nothing.
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("10:00:01"), &t("00:00:00"))
                .await
                .unwrap()
        ));
        store.delete_session("s2").await.unwrap();
        store.delete_session("s2").await.unwrap();
        out.push(format!(
            "{:?}",
            store
                .touch_session("s2", &t("10:00:02"), &t("09:30:00"))
                .await
                .unwrap()
        ));

        assert!(store
            .add_token("k1", "export", "zoe", &t("11:00:00"))
            .await
            .unwrap());
        assert!(!store
            .add_token("k2", "export", "ghost", &t("11:00:00"))
            .await
            .unwrap());
        out.push(format!("{:?}", store.token_principal("k1").await.unwrap()));
        out.push(format!("{:?}", store.token_principal("k2").await.unwrap()));

        for i in 0..7 {
            let entry = AuditEntry {
                at: t("12:00:00"), // same instant: order is the order of writing
                username: (i % 2 == 0).then(|| "zoe".to_owned()),
                action: format!("action{i}"),
                call_id: None,
                remote: Some("127.0.0.1".into()),
                detail: (i == 3).then(|| "bytes=0-9".to_owned()),
            };
            store.audit(&entry).await.unwrap();
        }
        out.push(format!("{:?}", store.audit_entries(3, 2).await.unwrap()));
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_answers_as_sqlite_does() {
        let rows = fabricate(&SeedPlan {
            calls: 3_000,
            days: 61,
            until: jiff::civil::date(2026, 11, 1),
            zone: jiff::tz::TimeZone::get("Europe/Moscow").unwrap(),
            seed: 7,
        });
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(
            &format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display()),
            2,
        )
        .await
        .unwrap();
        let db = FreshDb::create().await;
        let postgres = Store::open(&db.url, 2).await.unwrap();

        let expected = transcript(&sqlite, &rows).await;
        let got = transcript(&postgres, &rows).await;
        assert_eq!(expected.len(), got.len());
        for (e, g) in expected.iter().zip(&got) {
            assert_eq!(e, g);
        }
        assert_eq!(accounts(&sqlite).await, accounts(&postgres).await);
        // The seed itself reads back whole.
        let (all, total) = postgres
            .search_calls(&CallFilter {
                limit: 500,
                ..CallFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(total, 3_002, "the seed and the two calls of the topic tie");
        let original = rows.iter().find(|r| r.id == all[7].id).unwrap();
        let mut read = all[7].clone();
        read.topic = original.topic.clone(); // the transcript changed two topics
        assert_eq!(&read, original);
        sqlite.close().await;
        postgres.close().await;
    }
}
