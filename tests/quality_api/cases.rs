//! The call-grading API scenarios, run by `tests/quality_api.rs` (SQLite) and
//! `tests/quality_api_postgres.rs` (PostgreSQL): same data, same answers.

use super::*;

/// Greeting (two yes/no, one critical) and Solving (a scale 0–4 of weight 2, a choice of
/// weight 4): the form of the scoring unit tests.
fn form_body(name: &str) -> Value {
    json!({
        "name": name,
        "groups": [
            {"title": "Greeting", "questions": [
                {"id": "hello", "text": "Greeted the caller", "kind": "yes_no", "weight": 1},
                {"id": "name", "text": "Said their name", "kind": "yes_no", "weight": 1,
                 "critical": true, "help": "First name is enough"}
            ]},
            {"title": "Solving", "questions": [
                {"id": "clarity", "text": "Clear answer", "kind": "scale", "max": 4, "weight": 2},
                {"id": "result", "text": "Outcome", "kind": "choice", "weight": 4, "choices": [
                    {"value": "solved", "label": "Solved", "points": 2},
                    {"value": "partly", "label": "Partly", "points": 1},
                    {"value": "no", "label": "Not solved", "points": 0}
                ]}
            ]}
        ]
    })
}

const HALF: &str = r#"{"hello": true, "name": true, "clarity": 2, "result": "partly"}"#;
const PERFECT: &str = r#"{"hello": true, "name": true, "clarity": 4, "result": "solved"}"#;

async fn send(api: &Api, method: Method, path: &str, cookie: &str, body: Value) -> Response {
    api.req(method, path, Some(cookie))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn create_form(api: &Api, qa: &str) -> i64 {
    let r = send(api, Method::POST, "/api/forms", qa, form_body("Basic")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    v["id"].as_i64().unwrap()
}

async fn grade(api: &Api, who: &str, call: &str, form: i64, answers: &str) -> Value {
    let answers: Value = serde_json::from_str(answers).unwrap();
    let r = send(
        api,
        Method::POST,
        &format!("/api/calls/{call}/evaluations"),
        who,
        json!({"form": form, "answers": answers,
               "comments": [{"at_ms": 1500, "text": "late greeting"}, {"text": "polite"}]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "grade {call}");
    r.json().await.unwrap()
}

async fn add_operator_user(api: &Api, name: &str, operator: &str) {
    let phc = hash_password(&format!("{name}-password")).unwrap();
    let now = format_time(Timestamp::now());
    assert!(api
        .store()
        .add_operator_user(name, &phc, operator, &now)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_grader_grades_a_call_and_the_server_computes_the_score() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let form = create_form(&api, &qa).await;

    let listed = api.get_json("/api/forms", &qa).await;
    assert_eq!(listed["forms"][0]["name"], "Basic");
    assert_eq!(
        listed["forms"][0]["groups"][0]["questions"][1]["critical"],
        true
    );

    let got = grade(&api, &qa, &ids[0], form, HALF).await;
    assert_eq!(got["score"], 62.5, "5 of 8 weighted points");
    let id = got["id"].as_i64().unwrap();

    // A client's own score is not a field; wrong answers are refused by name.
    let r = send(
        &api,
        Method::POST,
        &format!("/api/calls/{}/evaluations", ids[0]),
        &qa,
        json!({"form": form, "answers": {"hello": true, "name": true, "clarity": 9, "result": "no"}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("clarity"));
    let r = send(
        &api,
        Method::POST,
        &format!("/api/calls/{}/evaluations", ids[0]),
        &qa,
        json!({"form": form, "answers": {}, "score": 100}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = send(
        &api,
        Method::POST,
        "/api/forms",
        &qa,
        json!({"name": "Empty", "groups": []}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A failed critical question zeroes it.
    let zero = grade(
        &api,
        &qa,
        &ids[1],
        form,
        r#"{"hello": true, "name": false, "clarity": 4, "result": "solved"}"#,
    )
    .await;
    assert_eq!(zero["score"], 0.0);

    let detail = api.get_json(&format!("/api/evaluations/{id}"), &qa).await;
    assert_eq!(detail["call_id"], ids[0].as_str());
    assert_eq!(detail["operator_id"], "101");
    assert_eq!(detail["operator_name"], "Operator 101");
    assert_eq!(detail["grader"], "qa");
    assert_eq!(detail["status"], "graded");
    assert_eq!(detail["comments"][0]["at_ms"], 1500);
    assert_eq!(detail["comments"][1]["at_ms"], Value::Null);
    assert_eq!(detail["form_detail"]["version"], 1);

    let of_101 = api
        .get_json(
            "/api/evaluations?operator=101&from=2020-01-01&to=2100-01-01",
            &qa,
        )
        .await;
    let listed: Vec<i64> = of_101["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [id]);

    // Editing a used form makes version 2; the evaluation keeps version 1.
    let mut edited = form_body("Basic");
    edited["groups"][0]["questions"][0]["text"] = json!("Greeted warmly");
    let r = send(
        &api,
        Method::PUT,
        &format!("/api/forms/{form}"),
        &qa,
        edited,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v2: Value = r.json().await.unwrap();
    assert_eq!(
        (v2["version"].as_i64(), v2["family"].as_i64()),
        (Some(2), Some(form))
    );
    assert_ne!(v2["id"].as_i64(), Some(form));
    let v1 = api.get_json(&format!("/api/forms/{form}"), &qa).await;
    assert_eq!(
        v1["groups"][0]["questions"][0]["text"],
        "Greeted the caller"
    );
    let listed = api.get_json("/api/forms", &qa).await;
    assert_eq!(listed["forms"].as_array().unwrap().len(), 1);
    assert_eq!(listed["forms"][0]["id"], v2["id"]);
}

#[tokio::test]
async fn an_operator_sees_only_their_own_calls_and_evaluations_and_disputes_one() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    // A recording for call B (operator 102), which operator 101 must not get.
    let rel = "2026/11/24/b.wav".to_owned();
    let path = api.server.dir.path().join("recordings").join(&rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, wav_bytes(1000)).unwrap();
    api.store()
        .apply(&[RegisterWrite::Update {
            id: ids[1].clone(),
            update: CallUpdate {
                recording_path: Some(rel),
                recording_bytes: Some(1000),
                ..CallUpdate::default()
            },
        }])
        .await
        .unwrap();
    // Operator 102 can fetch it, so the 404 below is about who asks.
    add_operator_user(&api, "petr", "102").await;
    add_operator_user(&api, "olga", "101").await;
    let qa = api.login("qa").await;
    let form = create_form(&api, &qa).await;
    let mine = grade(&api, &qa, &ids[0], form, HALF).await["id"]
        .as_i64()
        .unwrap();
    let theirs = grade(&api, &qa, &ids[1], form, PERFECT).await["id"]
        .as_i64()
        .unwrap();

    let olga = api.login("olga").await;
    let me = api.get_json("/api/me", &olga).await;
    assert_eq!(
        (me["role"].as_str(), me["operator_id"].as_str()),
        (Some("operator"), Some("101"))
    );

    // Calls: only 101's, even when asking for 102's.
    let calls = api.get_json("/api/calls?operator=102", &olga).await;
    let mut own = ids_of(&calls);
    own.sort();
    let mut expected = vec![ids[0].clone(), ids[4].clone()];
    expected.sort();
    assert_eq!(own, expected);
    assert_eq!(calls["total"], 2);
    let petr = api.login("petr").await;
    let r = api
        .req(
            Method::GET,
            &format!("/api/calls/{}/recording", ids[1]),
            Some(&petr),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "102 hears their own call");
    for path in [
        format!("/api/calls/{}", ids[1]),
        format!("/api/calls/{}/recording", ids[1]),
        format!("/api/evaluations/{theirs}"),
    ] {
        let r = api
            .req(Method::GET, &path, Some(&olga))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Her own call is hers to see; what QA and supervisors do is not.
    let r = api
        .req(Method::GET, &format!("/api/calls/{}", ids[0]), Some(&olga))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for path in [
        "/api/stats",
        "/api/forms",
        "/api/reports/quality",
        "/api/operators",
        "/api/audit",
    ] {
        let r = api
            .req(Method::GET, path, Some(&olga))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = send(
        &api,
        Method::POST,
        &format!("/api/calls/{}/evaluations", ids[0]),
        &olga,
        json!({"form": form, "answers": serde_json::from_str::<Value>(PERFECT).unwrap()}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "operators do not grade");
    let r = send(
        &api,
        Method::POST,
        &format!("/api/calls/{}/flags", ids[0]),
        &olga,
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Evaluations: only hers, whatever the filter says.
    let list = api.get_json("/api/evaluations?operator=102", &olga).await;
    let seen: Vec<i64> = list["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, [mine]);
    let detail = api
        .get_json(&format!("/api/evaluations/{mine}"), &olga)
        .await;
    assert_eq!(detail["score"], 62.5);

    // She disputes it, once; not someone else's.
    let r = send(
        &api,
        Method::POST,
        &format!("/api/evaluations/{theirs}/response"),
        &olga,
        json!({"status": "acknowledged"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(
        &api,
        Method::POST,
        &format!("/api/evaluations/{mine}/response"),
        &olga,
        json!({"status": "disputed", "comment": ""}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a dispute says why");
    let r = send(
        &api,
        Method::POST,
        &format!("/api/evaluations/{mine}/response"),
        &olga,
        json!({"status": "disputed", "comment": "The caller had already hung up"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = send(
        &api,
        Method::POST,
        &format!("/api/evaluations/{mine}/response"),
        &olga,
        json!({"status": "acknowledged"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "answered once");
    let r = send(
        &api,
        Method::POST,
        &format!("/api/evaluations/{theirs}/response"),
        &qa,
        json!({"status": "acknowledged"}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "only the operator answers"
    );

    // The dispute is on the grader's list until answered.
    let disputes = api
        .get_json("/api/evaluations?status=disputed&grader=qa", &qa)
        .await;
    assert_eq!(disputes["evaluations"][0]["id"], mine);
    assert_eq!(
        disputes["evaluations"][0]["operator_comment"],
        "The caller had already hung up"
    );
    let r = send(
        &api,
        Method::POST,
        &format!("/api/evaluations/{mine}/resolution"),
        &qa,
        json!({"reply": "Agreed, regraded"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let disputes = api.get_json("/api/evaluations?status=disputed", &qa).await;
    assert!(disputes["evaluations"].as_array().unwrap().is_empty());
    let detail = api
        .get_json(&format!("/api/evaluations/{mine}"), &olga)
        .await;
    assert_eq!(
        (detail["status"].as_str(), detail["grader_reply"].as_str()),
        (Some("resolved"), Some("Agreed, regraded"))
    );
}

#[tokio::test]
async fn reports_average_per_operator_group_and_question_with_csv_and_calibration() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let sup = api.login("sup").await;
    let form = create_form(&api, &qa).await;
    grade(&api, &qa, &ids[0], form, PERFECT).await;
    grade(&api, &sup, &ids[0], form, HALF).await;
    grade(&api, &qa, &ids[1], form, HALF).await;

    let r = api.get_json("/api/reports/quality", &qa).await;
    assert_eq!(
        (r["evaluations"].as_u64(), r["calls_graded"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(r["average"], 75.0);
    assert_eq!(r["by_operator"][0]["key"], "101");
    assert_eq!(r["by_operator"][0]["name"], "Operator 101");
    assert_eq!(r["by_operator"][0]["average"], 81.3);
    assert_eq!(r["by_operator"][1]["average"], 62.5);
    let group = |name: &str| {
        r["by_group"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == name)
            .unwrap()["average"]
            .clone()
    };
    assert_eq!(
        (group("Greeting"), group("Solving")),
        (json!(100.0), json!(66.7))
    );
    assert_eq!(r["by_week"].as_array().unwrap().len(), 1);

    let csv = api
        .req(Method::GET, "/api/reports/quality?format=csv", Some(&qa))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("section,key,label,evaluations,average\r\n"),
        "{text}"
    );
    assert!(
        text.contains("operator,\"101\",\"Operator 101\",2,81.3\r\n"),
        "{text}"
    );
    assert!(
        text.contains("question,\"clarity\",\"Clear answer\",3,66.7\r\n"),
        "{text}"
    );
    assert!(text.ends_with("total,,,3,75\r\n"), "{text}");

    let cal = api.get_json("/api/reports/quality/calibration", &qa).await;
    let calls = cal["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "only call A has two graders");
    assert_eq!(calls[0]["call_id"], ids[0].as_str());
    assert_eq!(
        (calls[0]["min"].clone(), calls[0]["max"].clone()),
        (json!(62.5), json!(100.0))
    );
    assert_eq!(calls[0]["std_dev"], 18.75);
}

#[tokio::test]
async fn a_qa_person_flags_a_call_by_hand() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let path = format!("/api/calls/{}/flags", ids[0]);
    let r = send(
        &api,
        Method::POST,
        &path,
        &qa,
        json!({"detail": "rude words"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = send(&api, Method::POST, &path, &qa, json!({"flag": "manual"})).await;
    assert_eq!(r.status(), StatusCode::OK, "flagged already");
    let r = send(
        &api,
        Method::POST,
        &path,
        &qa,
        json!({"flag": "long_dead_air"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let flags = api.get_json(&path, &qa).await;
    assert_eq!(flags["flags"][0]["flag"], "manual");
    assert_eq!(flags["flags"][0]["detail"], "rude words");
    let r = send(
        &api,
        Method::POST,
        "/api/calls/20991231T000000Z-AAAAAAAA/flags",
        &qa,
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sampling_fills_the_to_grade_list_and_grading_empties_it() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let r = send(
        &api,
        Method::POST,
        &format!("/api/calls/{}/flags", ids[0]),
        &qa,
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Default rules: every flagged call, the first 10 calls of each operator, ...
    let period = json!({"from": "2026-11-20", "to": "2026-11-30"});
    let r = send(
        &api,
        Method::POST,
        "/api/grading/sample",
        &qa,
        period.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["added"], 4, "the four answered calls A, B, E, H");
    let q = api.get_json("/api/grading/queue", &qa).await;
    let entries = q["queue"].as_array().unwrap();
    let rule_of = |id: &str| {
        entries
            .iter()
            .find(|e| e["call_id"] == id)
            .map(|e| e["rule"].as_str().unwrap().to_owned())
    };
    assert_eq!(rule_of(&ids[0]).as_deref(), Some("flagged"));
    assert_eq!(rule_of(&ids[1]).as_deref(), Some("first_calls"));
    assert_eq!(rule_of(&ids[2]), None, "not answered");
    let a = entries
        .iter()
        .find(|e| e["call_id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(a["operator_name"], "Operator 101");

    // Grading a listed call takes it off; running again adds nothing new.
    let form = create_form(&api, &qa).await;
    grade(&api, &qa, &ids[0], form, PERFECT).await;
    let q = api.get_json("/api/grading/queue", &qa).await;
    assert_eq!(q["queue"].as_array().unwrap().len(), 3);
    let r = send(&api, Method::POST, "/api/grading/sample", &qa, period).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["added"], 0);

    add_operator_user(&api, "olga", "101").await;
    let olga = api.login("olga").await;
    let r = api
        .req(Method::GET, "/api/grading/queue", Some(&olga))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
