use super::*;

fn form() -> FormDefinition {
    serde_json::from_str(
        r#"{"groups": [
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
        ]}"#,
    )
    .expect("valid form JSON")
}

fn answers(json: &str) -> Answers {
    serde_json::from_str(json).expect("valid answers JSON")
}

#[test]
fn a_perfect_call_scores_100() {
    let f = form();
    validate_form("Basic", &f).unwrap();
    let a = answers(r#"{"hello": true, "name": true, "clarity": 4, "result": "solved"}"#);
    assert_eq!(score(&f, &a).unwrap(), 100.0);
}

#[test]
fn weights_share_the_score() {
    // hello 1/1, name 1/1, clarity 2 * 2/4 = 1, result 4 * 1/2 = 2: 5 of 8 = 62.5.
    let a = answers(r#"{"hello": true, "name": true, "clarity": 2, "result": "partly"}"#);
    assert_eq!(score(&form(), &a).unwrap(), 62.5);
    // hello 0, name 1, clarity 2 * 3/4 = 1.5, result 0: 2.5 of 8 = 31.25 → 31.3.
    let a = answers(r#"{"hello": false, "name": true, "clarity": 3, "result": "no"}"#);
    assert_eq!(score(&form(), &a).unwrap(), 31.3);
}

#[test]
fn a_failed_critical_question_zeroes_the_score() {
    let a = answers(r#"{"hello": true, "name": false, "clarity": 4, "result": "solved"}"#);
    assert_eq!(score(&form(), &a).unwrap(), 0.0);
}

#[test]
fn missing_extra_and_wrong_answers_are_refused_by_name() {
    let f = form();
    let missing = answers(r#"{"hello": true, "name": true, "clarity": 4}"#);
    assert_eq!(
        score(&f, &missing).unwrap_err(),
        QualityError::Answer {
            question: "result".into(),
            reason: "not answered".into()
        }
    );
    let extra =
        answers(r#"{"hello": true, "name": true, "clarity": 4, "result": "no", "x": true}"#);
    assert!(
        matches!(score(&f, &extra), Err(QualityError::Answer { question, .. }) if question == "x")
    );
    let over = answers(r#"{"hello": true, "name": true, "clarity": 5, "result": "no"}"#);
    assert!(
        matches!(score(&f, &over), Err(QualityError::Answer { question, .. }) if question == "clarity")
    );
    let kind = answers(r#"{"hello": 1, "name": true, "clarity": 1, "result": "no"}"#);
    assert!(
        matches!(score(&f, &kind), Err(QualityError::Answer { question, .. }) if question == "hello")
    );
    let choice = answers(r#"{"hello": true, "name": true, "clarity": 1, "result": "maybe"}"#);
    assert!(
        matches!(score(&f, &choice), Err(QualityError::Answer { question, .. }) if question == "result")
    );
}

#[test]
fn validation_names_what_is_wrong() {
    let f = form();
    assert!(validate_form(" ", &f).is_err());
    let mut dup = f.clone();
    dup.groups[1].questions[0].id = "hello".into();
    assert_eq!(
        validate_form("x", &dup).unwrap_err().to_string(),
        "invalid form: question `hello`: id used twice"
    );
    let mut scale = f.clone();
    scale.groups[1].questions[0].kind = QuestionKind::Scale { max: 0 };
    assert!(validate_form("x", &scale).is_err());
    let mut weight = f.clone();
    weight.groups[0].questions[0].weight = 0;
    assert!(validate_form("x", &weight).is_err());
    let mut worthless = f.clone();
    if let QuestionKind::Choice { choices } = &mut worthless.groups[1].questions[1].kind {
        choices.iter_mut().for_each(|c| c.points = 0);
    }
    assert!(validate_form("x", &worthless).is_err());
    let mut empty = f.clone();
    empty.groups[0].questions.clear();
    assert!(validate_form("x", &empty).is_err());
    assert!(validate_form("x", &FormDefinition { groups: vec![] }).is_err());
    let unknown: Result<FormDefinition, _> =
        serde_json::from_str(r#"{"groups": [], "colour": "red"}"#);
    assert!(unknown.is_err());
}

#[test]
fn reports_average_per_operator_group_question_and_week() {
    let f = form();
    let perfect = answers(r#"{"hello": true, "name": true, "clarity": 4, "result": "solved"}"#);
    let half = answers(r#"{"hello": true, "name": true, "clarity": 2, "result": "partly"}"#);
    let graded = vec![
        Graded {
            call_id: "c1",
            operator_id: Some("101"),
            grader: "anna",
            week: "2026-11-23".into(),
            score: 100.0,
            form: &f,
            answers: &perfect,
        },
        Graded {
            call_id: "c1",
            operator_id: Some("101"),
            grader: "boris",
            week: "2026-11-23".into(),
            score: 62.5,
            form: &f,
            answers: &half,
        },
        Graded {
            call_id: "c2",
            operator_id: Some("102"),
            grader: "anna",
            week: "2026-11-30".into(),
            score: 62.5,
            form: &f,
            answers: &half,
        },
    ];
    let s = summarize(&graded);
    assert_eq!(s.evaluations, 3);
    assert_eq!(s.calls_graded, 2);
    assert_eq!(s.average, Some(75.0));
    assert_eq!(s.by_operator[0].key, "101");
    assert_eq!(s.by_operator[0].average, 81.3);
    assert_eq!(s.by_operator[1].average, 62.5);
    let greeting = s.by_group.iter().find(|r| r.key == "Greeting").unwrap();
    assert_eq!(greeting.average, 100.0);
    // Solving: perfect 6/6 = 100, half (1 + 2) / 6 = 50, 50: average 66.7.
    let solving = s.by_group.iter().find(|r| r.key == "Solving").unwrap();
    assert_eq!(solving.average, 66.7);
    let clarity = s.by_question.iter().find(|r| r.key == "clarity").unwrap();
    assert_eq!(
        (clarity.label.as_str(), clarity.average),
        ("Clear answer", 66.7)
    );
    assert_eq!(s.by_week.len(), 2);
    assert_eq!(s.by_week[0].evaluations, 2);

    let spread = calibration(&graded);
    assert_eq!(spread.len(), 1, "only c1 has two graders");
    assert_eq!(spread[0].call_id, "c1");
    assert_eq!((spread[0].min, spread[0].max), (62.5, 100.0));
    assert_eq!(spread[0].std_dev, 18.75);
}

#[test]
fn an_empty_period_has_no_average() {
    let s = summarize(&[]);
    assert_eq!((s.evaluations, s.average), (0, None));
    assert!(calibration(&[]).is_empty());
}
