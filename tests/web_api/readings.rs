//! Meter readings in the API: an operator enters one (source `operator`), the billing
//! export reads them back as CSV, bad entries are refused; who may enter and look them up;
//! the statistics' self-service share and readings per day.

use hotline::model::meters::{Meter, MeterKind};
use hotline::store::ReadingRecord;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_enters_a_reading_and_the_export_has_it() {
    let api = Api::start().await;
    api.store()
        .import_meters(&[Meter {
            account: "1001".into(),
            meter: "K-7".into(),
            kind: MeterKind::Cold,
            last_reading: 120,
        }])
        .await
        .unwrap();
    let qa = api.login("qa").await;
    let post = |body: Value| {
        api.req(Method::POST, "/api/readings", Some(&qa))
            .json(&body)
            .send()
    };
    let r = post(json!({ "account": "1001", "meter": "K-7", "value": 131 }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["source"], "operator");
    assert_eq!(created["previous"], 120);

    let r = post(json!({ "account": "1001", "meter": "K-7", "value": 100 }))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "below the last reading"
    );
    let r = post(json!({ "account": "1001", "meter": "nope", "value": 130 }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = api
        .req(
            Method::GET,
            "/api/readings?format=csv&account=1001",
            Some(&qa),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "account;meter;value;previous;at;source;call_id");
    assert!(lines[1].starts_with("1001;K-7;131;120;"), "{}", lines[1]);
    assert!(lines[1].ends_with(";operator;"), "{}", lines[1]);

    let json = api.get_json("/api/readings?account=2002", &qa).await;
    assert_eq!(json["readings"].as_array().unwrap().len(), 0);
}

/// An account with two meters, imported as billing exports them.
async fn import_account(api: &Api) {
    let meter = |meter: &str, kind, last_reading| Meter {
        account: "1001".into(),
        meter: meter.into(),
        kind,
        last_reading,
    };
    api.store()
        .import_meters(&[
            meter("K-7", MeterKind::Cold, 120),
            meter("H-2", MeterKind::Hot, 45),
        ])
        .await
        .unwrap();
}

async fn add_operator_user(api: &Api, name: &str, operator: &str) -> String {
    let phc = hash_password(&format!("{name}-password")).unwrap();
    let now = format_time(Timestamp::now());
    assert!(api
        .store()
        .add_operator_user(name, &phc, operator, &now)
        .await
        .unwrap());
    api.login(name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_enters_readings_during_own_calls_and_looks_up_one_account() {
    let api = Api::start().await;
    import_account(&api).await;
    let ids = insert(api.store(), &known_rows()).await;
    // Calls 0 and 4 were answered by 101, call 1 by 102.
    let (own, others) = (&ids[0], &ids[1]);
    let olga = add_operator_user(&api, "olga", "101").await;
    let post = |who: Option<String>, body: Value| {
        api.req(Method::POST, "/api/readings", who.as_deref())
            .json(&body)
            .send()
    };
    let reading = json!({ "account": "1001", "meter": "K-7", "value": 131, "call_id": own });

    // Nobody logged in: 401, whatever the request.
    for (method, path) in [
        (Method::GET, "/api/readings?account=1001"),
        (Method::GET, "/api/readings?format=csv"),
        (Method::POST, "/api/readings"),
        (Method::GET, "/api/subscribers/1001"),
    ] {
        for cookie in [None, Some("0000")] {
            let r = api
                .req(method.clone(), path, cookie)
                .json(&reading)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }

    // The form's meters.
    let account = api.get_json("/api/subscribers/1001", &olga).await;
    assert_eq!(
        account,
        json!({ "account": "1001", "meters": [
            { "meter": "K-7", "kind": "cold", "last_reading": 120 },
            { "meter": "H-2", "kind": "hot", "last_reading": 45 },
        ] })
    );
    let r = api
        .req(Method::GET, "/api/subscribers/9999", Some(&olga))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // During her own call, and without a call.
    let r = post(Some(olga.clone()), reading.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["source"], "operator");
    assert_eq!(stored["call_id"], json!(own));
    let r = post(
        Some(olga.clone()),
        json!({ "account": "1001", "meter": "H-2", "value": 50 }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // Another operator's call, or one that does not exist, is not hers to name: 404, and
    // nothing is stored.
    let unknown = "20261124T070000Z-00000000";
    for call in [others.as_str(), unknown] {
        let mut body = reading.clone();
        body["call_id"] = json!(call);
        let r = post(Some(olga.clone()), body).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{call}");
    }
    // QA may name any call, but not one that does not exist.
    let qa = api.login("qa").await;
    let mut body = reading.clone();
    body["call_id"] = json!(others);
    let r = post(Some(qa.clone()), body.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    body["call_id"] = json!(unknown);
    let r = post(Some(qa.clone()), body).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // She looks readings up by account; the list of every account is the billing export.
    let found = api.get_json("/api/readings?account=1001", &olga).await;
    let values: Vec<i64> = found["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [131, 50, 131]);
    for path in ["/api/readings", "/api/readings?format=csv"] {
        let r = api
            .req(Method::GET, path, Some(&olga))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let all = api.get_json("/api/readings", &qa).await;
    assert_eq!(all["readings"].as_array().unwrap().len(), 3);
    assert_eq!(all["more"], false);
    // A page of the newest, still oldest first, saying whether older ones were left out.
    let values = |v: &Value| -> Vec<i64> {
        v["readings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"].as_i64().unwrap())
            .collect()
    };
    let newest = api.get_json("/api/readings?limit=2", &qa).await;
    assert_eq!(
        (values(&newest), &newest["more"]),
        (vec![50, 131], &json!(true))
    );
    let newest = api.get_json("/api/readings?limit=3", &qa).await;
    assert_eq!(newest["more"], false);
    assert_eq!(values(&newest), [131, 50, 131]);

    // Her call's page lists the reading taken in it.
    let call = api.get_json(&format!("/api/calls/{own}"), &olga).await;
    let on_call = call["readings"].as_array().unwrap();
    assert_eq!(on_call.len(), 1);
    assert_eq!(on_call[0]["meter"], "K-7");
    assert_eq!(on_call[0]["value"], 131);

    // Each reading entered is in the audit log: who, which call, what.
    let audit = api.audit().await;
    let entered: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "reading_add")
        .collect();
    assert_eq!(entered.len(), 3);
    assert!(entered.iter().any(|e| e["username"] == "olga"
        && e["call_id"] == json!(own)
        && e["detail"] == "account 1001 meter K-7 value 131"));
    assert!(entered
        .iter()
        .any(|e| e["username"] == "olga" && e["call_id"].is_null()));
    api.server.stop().await;
}

/// A reading as the phone or an operator stored it, at a given instant.
fn reading_at(at: &str, source: &str, call_id: Option<&str>) -> ReadingRecord {
    ReadingRecord {
        account: "1001".into(),
        meter: "K-7".into(),
        value: 130,
        previous: 120,
        call_id: call_id.map(str::to_owned),
        at: format_time(ts(at)),
        source: source.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_give_the_self_service_share_and_readings_per_day() {
    use Outcome::*;
    let api = Api::start().await;
    let row = |at, outcome, operator, wait_ms, talk_ms| Row {
        at,
        outcome,
        caller: "79110000001",
        operator,
        wait_ms,
        talk_ms,
    };
    // Moscow days: the 24th has 2 calls (1 self-service), the 25th 4 (3 self-service).
    let ids = insert(
        api.store(),
        &[
            row(
                "2026-11-24T06:00:00Z",
                Answered,
                Some("101"),
                Some(10_000),
                Some(60_000),
            ),
            row("2026-11-24T06:30:00Z", SelfService, None, None, None),
            row("2026-11-25T06:00:00Z", SelfService, None, None, None),
            row("2026-11-25T07:00:00Z", SelfService, None, None, None),
            row("2026-11-25T08:00:00Z", SelfService, None, None, None),
            row("2026-11-25T09:00:00Z", Abandoned, None, Some(40_000), None),
        ],
    )
    .await;
    for r in [
        // 23:59:59 on the 23rd in Moscow: outside the period.
        reading_at("2026-11-23T20:59:59Z", "phone", None),
        reading_at("2026-11-24T06:31:00Z", "phone", Some(&ids[1])),
        // 23:59:59 on the 24th, and midnight of the 25th.
        reading_at("2026-11-24T20:59:59Z", "operator", Some(&ids[0])),
        reading_at("2026-11-24T21:00:00Z", "operator", None),
        reading_at("2026-11-25T06:01:00Z", "phone", Some(&ids[2])),
        reading_at("2026-11-25T06:01:30Z", "phone", Some(&ids[2])),
    ] {
        api.store().add_reading(&r).await.unwrap();
    }
    let qa = api.login("qa").await;
    let s = api
        .get_json("/api/stats?from=2026-11-24&to=2026-11-26", &qa)
        .await;
    let days = s["days"].as_array().unwrap();
    let pick = |d: &Value| {
        (
            d["date"].as_str().unwrap().to_owned(),
            d["calls"].as_u64().unwrap(),
            d["self_service"].as_u64().unwrap(),
            d["self_service_share"].as_f64().unwrap(),
            d["readings_phone"].as_u64().unwrap(),
            d["readings_operator"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        days.iter().map(pick).collect::<Vec<_>>(),
        [
            ("2026-11-24".to_owned(), 2, 1, 0.5, 1, 1),
            ("2026-11-25".to_owned(), 4, 3, 0.75, 2, 1),
        ]
    );
    let t = &s["total"];
    assert_eq!(t["self_service"], 4);
    assert!((t["self_service_share"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-9);
    assert_eq!(t["readings_phone"], 3);
    assert_eq!(t["readings_operator"], 2);
    // Self-service calls are not answered calls: the service level is the one answer's.
    assert_eq!(t["answered"], 1);
    assert_eq!(t["service_level"], 1.0);

    let r = api
        .req(
            Method::GET,
            "/api/stats?from=2026-11-24&to=2026-11-26&format=csv",
            Some(&qa),
        )
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with(",self_service,self_service_share,readings_phone,readings_operator"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "2026-11-24,2,1,0,0,0,0,0,10000,10000,1.0000,60000,1,0.5000,1,1"
    );
    assert_eq!(
        lines[3],
        "total,6,1,1,0,0,0,0,10000,10000,1.0000,60000,4,0.6667,3,2"
    );

    // The outcome filter knows self-service too.
    let found = api
        .get_json(
            "/api/calls?outcome=self_service&from=2026-11-24&to=2026-11-26",
            &qa,
        )
        .await;
    assert_eq!(found["total"], 4);
    api.server.stop().await;
}
