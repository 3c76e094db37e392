//! Meter readings in the API: an operator enters one (source `operator`), the billing
//! export reads them back as CSV, bad entries are refused.

use hotline::model::meters::{Meter, MeterKind};

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
