//! Call grading in the register: form versions, evaluations and the operator's answer,
//! call flags and the "to grade" list, and operator console users.

use hotline::store::{EvaluationFilter, FlagRecord, NewEvaluation, Role};

use super::{open, Harness};

fn evaluation(call_id: &str, form_id: i64, grader: &str, at: &str) -> NewEvaluation {
    NewEvaluation {
        call_id: call_id.into(),
        form_id,
        grader: grader.into(),
        operator_id: Some("101".into()),
        created_at: at.into(),
        score_x10: 625,
        answers: r#"{"hello":true}"#.into(),
        comments: r#"[{"at_ms":1500,"text":"late greeting"}]"#.into(),
    }
}

pub async fn forms_get_a_new_version_once_evaluated(h: &impl Harness) {
    let store = h.store(2).await;
    store.apply(&[open("c1")]).await.unwrap();
    let id = store
        .add_form(
            "Basic",
            r#"{"groups":[]}"#,
            "2026-11-24T10:00:00.000Z",
            "anna",
        )
        .await
        .unwrap();
    let form = store.form(id).await.unwrap().expect("stored");
    assert_eq!(
        (form.family, form.version, form.name.as_str()),
        (id, 1, "Basic")
    );

    // Unused: edited in place.
    let same = store
        .update_form(
            id,
            "Basic v1b",
            r#"{"groups":[1]}"#,
            "2026-11-24T10:01:00.000Z",
            "anna",
        )
        .await
        .unwrap();
    assert_eq!(same, Some(id));
    assert_eq!(store.form(id).await.unwrap().unwrap().name, "Basic v1b");

    // Used: the edit becomes version 2, the evaluated version stays as it was.
    store
        .add_evaluation(&evaluation("c1", id, "anna", "2026-11-24T10:02:00.000Z"))
        .await
        .unwrap();
    let v2 = store
        .update_form(
            id,
            "Basic",
            r#"{"groups":[2]}"#,
            "2026-11-24T10:03:00.000Z",
            "anna",
        )
        .await
        .unwrap()
        .expect("form exists");
    assert_ne!(v2, id);
    let new = store.form(v2).await.unwrap().unwrap();
    assert_eq!((new.family, new.version), (id, 2));
    assert_eq!(
        store.form(id).await.unwrap().unwrap().definition,
        r#"{"groups":[1]}"#
    );
    let listed = store.forms().await.unwrap();
    assert_eq!(listed.len(), 1, "only the latest version is listed");
    assert_eq!(listed[0].id, v2);
    assert_eq!(
        store.update_form(999, "x", "{}", "t", "a").await.unwrap(),
        None
    );
}

pub async fn evaluations_are_listed_filtered_and_answered_once(h: &impl Harness) {
    let store = h.store(2).await;
    store.apply(&[open("c1"), open("c2")]).await.unwrap();
    let form = store
        .add_form("Basic", "{}", "2026-11-24T10:00:00.000Z", "anna")
        .await
        .unwrap();
    assert!(store
        .enqueue_for_grading(
            "c1",
            "random_weekly",
            Some("anna"),
            "2026-11-24T09:00:00.000Z"
        )
        .await
        .unwrap());
    assert!(
        !store
            .enqueue_for_grading("c1", "long_call", None, "2026-11-24T09:00:00.000Z")
            .await
            .unwrap(),
        "one entry per call"
    );
    assert_eq!(
        store
            .grading_queue(Some("anna"), false)
            .await
            .unwrap()
            .len(),
        1
    );

    let e1 = store
        .add_evaluation(&evaluation("c1", form, "anna", "2026-11-24T10:00:00.000Z"))
        .await
        .unwrap();
    let mut other = evaluation("c2", form, "boris", "2026-11-25T10:00:00.000Z");
    other.operator_id = Some("102".into());
    store.add_evaluation(&other).await.unwrap();
    assert!(
        store.grading_queue(None, false).await.unwrap().is_empty(),
        "graded: off the list"
    );
    assert!(
        !store
            .enqueue_for_grading("c1", "flagged", None, "2026-11-26T09:00:00.000Z")
            .await
            .unwrap(),
        "a graded call is not listed again"
    );

    let got = store.evaluation(e1).await.unwrap().expect("stored");
    assert_eq!((got.score_x10, got.status.as_str()), (625, "graded"));
    assert_eq!(got.comments, r#"[{"at_ms":1500,"text":"late greeting"}]"#);

    let mine = store
        .evaluations(&EvaluationFilter {
            operator: Some("101".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.iter().map(|e| e.id).collect::<Vec<_>>(), [e1]);
    let period = store
        .evaluations(&EvaluationFilter {
            from: Some("2026-11-25T00:00:00.000Z".into()),
            to: Some("2026-11-26T00:00:00.000Z".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(period.len(), 1);
    assert_eq!(period[0].call_id, "c2");

    assert!(
        !store.resolve_dispute(e1, "no", "t").await.unwrap(),
        "not disputed yet"
    );
    assert!(store
        .respond_to_evaluation(
            e1,
            "disputed",
            "the caller hung up",
            "2026-11-24T11:00:00.000Z"
        )
        .await
        .unwrap());
    assert!(
        !store
            .respond_to_evaluation(e1, "acknowledged", "ok", "2026-11-24T11:01:00.000Z")
            .await
            .unwrap(),
        "answered once"
    );
    assert!(store
        .resolve_dispute(e1, "regraded", "2026-11-24T12:00:00.000Z")
        .await
        .unwrap());
    let done = store.evaluation(e1).await.unwrap().unwrap();
    assert_eq!(done.status, "resolved");
    assert_eq!(done.operator_comment.as_deref(), Some("the caller hung up"));
    assert_eq!(done.grader_reply.as_deref(), Some("regraded"));
}

pub async fn flags_are_kept_once_per_kind(h: &impl Harness) {
    let store = h.store(2).await;
    store.apply(&[open("c1")]).await.unwrap();
    let flag = |kind: &str| FlagRecord {
        call_id: "c1".into(),
        flag: kind.into(),
        detail: Some("12 s of silence".into()),
        created_at: "2026-11-24T10:00:00.000Z".into(),
    };
    assert!(store.add_call_flag(&flag("long_dead_air")).await.unwrap());
    assert!(!store.add_call_flag(&flag("long_dead_air")).await.unwrap());
    assert!(store.add_call_flag(&flag("manual")).await.unwrap());
    let flags = store.call_flags(Some("c1")).await.unwrap();
    assert_eq!(
        flags.iter().map(|f| f.flag.as_str()).collect::<Vec<_>>(),
        ["long_dead_air", "manual"]
    );
    let mut unknown = flag("manual");
    unknown.call_id = "nope".into();
    assert!(
        store.add_call_flag(&unknown).await.is_err(),
        "flags only existing calls"
    );
}

pub async fn operator_users_carry_their_operator_id(h: &impl Harness) {
    let store = h.store(2).await;
    assert!(store
        .add_operator_user("olga", "phc", "101", "2026-11-24T10:00:00.000Z")
        .await
        .unwrap());
    let olga = store.user("olga").await.unwrap().expect("stored");
    assert_eq!(
        (olga.role, olga.operator_id.as_deref()),
        (Role::Operator, Some("101"))
    );
    assert!(store
        .add_user("anna", "phc", Role::Qa, "2026-11-24T10:00:00.000Z")
        .await
        .unwrap());
    assert_eq!(store.user("anna").await.unwrap().unwrap().operator_id, None);
    // An operator user without an operator is refused by the schema.
    assert!(store
        .add_user("nobody", "phc", Role::Operator, "2026-11-24T10:00:00.000Z")
        .await
        .is_err());
    store
        .create_session(
            "tok",
            "olga",
            "2026-11-24T10:00:00.000Z",
            "2026-11-24T00:00:00.000Z",
        )
        .await
        .unwrap();
    let who = store
        .touch_session(
            "tok",
            "2026-11-24T10:00:01.000Z",
            "2026-11-24T00:00:00.000Z",
        )
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(who.operator_id.as_deref(), Some("101"));
}
