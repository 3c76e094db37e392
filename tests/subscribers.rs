//! `hotline subscribers import` on a real SQLite register, and the meters and readings
//! store on SQLite and on the real local PostgreSQL.

mod pg_support;

use std::process::Command;

use hotline::model::meters::{Meter, MeterKind};
use hotline::store::{ReadingRecord, Store};

fn import(dir: &std::path::Path, csv: &str) -> std::process::Output {
    let file = dir.join("export.csv");
    std::fs::write(&file, csv).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hotline"))
        .current_dir(dir)
        .env(
            "HOTLINE_DATABASE__URL",
            format!("sqlite://{}?mode=rwc", dir.join("h.db").display()),
        )
        .args(["subscribers", "import"])
        .arg(&file)
        .output()
        .unwrap()
}

fn accounts(dir: &std::path::Path, account: &str) -> Vec<Meter> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", dir.join("h.db").display());
        let store = Store::open(&url, 1).await.unwrap();
        let m = store.meters_of(account).await.unwrap();
        store.close().await;
        m
    })
}

#[test]
fn import_replaces_the_meters_and_a_bad_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = import(
        dir.path(),
        "account;meter;kind;last_reading\n1001;K-7;cold;120\n1001;G-2;hot;45\n2002;X;cold;3\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 accounts, 3 meters imported"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let meters = accounts(dir.path(), "1001");
    assert_eq!(
        meters
            .iter()
            .map(|m| (m.meter.as_str(), m.kind, m.last_reading))
            .collect::<Vec<_>>(),
        [("K-7", MeterKind::Cold, 120), ("G-2", MeterKind::Hot, 45)],
        "in the export's order"
    );

    // A bad file: every bad line named, exit 1, the previous import intact.
    let out = import(
        dir.path(),
        "3003;A;cold;1\n3003;B;lukewarm;1\n4004;A;hot;x\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: kind `lukewarm`"), "{err}");
    assert!(err.contains("line 3: last_reading `x`"), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert_eq!(accounts(dir.path(), "1001").len(), 2);
    assert!(accounts(dir.path(), "3003").is_empty());

    // A good re-import replaces the whole list.
    let out = import(dir.path(), "3003;A;cold;1\n");
    assert!(out.status.success());
    assert!(accounts(dir.path(), "1001").is_empty());
    assert_eq!(accounts(dir.path(), "3003").len(), 1);
}

async fn readings_round_trip(store: &Store) {
    let meters = vec![Meter {
        account: "1001".into(),
        meter: "K-7".into(),
        kind: MeterKind::Cold,
        last_reading: 120,
    }];
    assert_eq!(store.import_meters(&meters).await.unwrap(), 1);
    assert_eq!(store.meters_of("1001").await.unwrap(), meters);
    let reading = |at: &str, account: &str, source: &str| ReadingRecord {
        account: account.into(),
        meter: "K-7".into(),
        value: 131,
        previous: 120,
        call_id: Some("20261204T101500Z-ABCDEFGH".into()),
        at: at.into(),
        source: source.into(),
    };
    store
        .add_reading(&reading("2026-12-04T10:15:00.000Z", "1001", "phone"))
        .await
        .unwrap();
    store
        .add_reading(&reading("2026-12-05T09:00:00.000Z", "2002", "operator"))
        .await
        .unwrap();
    // An import keeps the readings.
    store.import_meters(&meters).await.unwrap();
    let all = store
        .readings(None, "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], reading("2026-12-04T10:15:00.000Z", "1001", "phone"));
    // The reading handed in is now the meter's last one, though billing still says 120;
    // another account's reading of a meter of the same name does not count.
    let now = store.meters_of("1001").await.unwrap();
    assert_eq!(now[0].last_reading, 131);
    // A billing export with a higher figure wins again.
    let newer = vec![Meter {
        last_reading: 140,
        ..meters[0].clone()
    }];
    store.import_meters(&newer).await.unwrap();
    assert_eq!(store.meters_of("1001").await.unwrap()[0].last_reading, 140);
    let one = store
        .readings(
            Some("2002"),
            "2026-12-05T00:00:00.000Z",
            "2026-12-06T00:00:00.000Z",
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].source, "operator");
}

#[tokio::test]
async fn meters_and_readings_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let store = Store::open(&url, 1).await.unwrap();
    readings_round_trip(&store).await;
    store.close().await;
}

#[tokio::test]
async fn meters_and_readings_on_postgres() {
    let db = pg_support::FreshDb::create().await;
    let store = Store::open(&db.url, 2).await.unwrap();
    readings_round_trip(&store).await;
    store.close().await;
}
