//! Call grading in the store, written once for both backends: versioned evaluation forms,
//! evaluations and the operator's answer to them, flags on calls, and the "to grade" list
//! the sampling rules fill. Schema in `migrations/*/0007_quality.sql`.
//!
//! Invariants:
//! - A form version that has evaluations is never changed: [`Store::update_form`] adds the
//!   next version instead, so a past evaluation is always read against the form it used.
//! - An evaluation's status only moves forward: `graded` → `acknowledged` | `disputed`,
//!   `disputed` → `resolved`; each step is one conditional `UPDATE`, so two answers at
//!   once cannot both win.
//! - Every value from a request is bound, never spliced into SQL text.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{
    count, execute, fetch_all, fetch_optional, push_tuple, read_all, Columns, Db, PushArg,
};
use super::quality_records::{
    EvaluationFilter, EvaluationRecord, FlagRecord, FormRecord, NewEvaluation, QueueEntry,
};
use super::{database, Store, StoreError};

const FORM_COLUMNS: &str = "id, family, version, name, definition, created_at, created_by";

fn form_record(r: &impl Columns) -> Result<FormRecord, sqlx::Error> {
    Ok(FormRecord {
        id: r.int("id")?,
        family: r.int("family")?,
        version: r.int("version")?,
        name: r.text("name")?,
        definition: r.text("definition")?,
        created_at: r.text("created_at")?,
        created_by: r.text("created_by")?,
    })
}

const EVALUATION_COLUMNS: &str = "id, call_id, form_id, grader, operator_id, created_at, \
     score_x10, answers, comments, status, operator_comment, grader_reply, updated_at";

fn evaluation_record(r: &impl Columns) -> Result<EvaluationRecord, sqlx::Error> {
    Ok(EvaluationRecord {
        id: r.int("id")?,
        call_id: r.text("call_id")?,
        form_id: r.int("form_id")?,
        grader: r.text("grader")?,
        operator_id: r.opt_text("operator_id")?,
        created_at: r.text("created_at")?,
        score_x10: r.int("score_x10")?,
        answers: r.text("answers")?,
        comments: r.text("comments")?,
        status: r.text("status")?,
        operator_comment: r.opt_text("operator_comment")?,
        grader_reply: r.opt_text("grader_reply")?,
        updated_at: r.text("updated_at")?,
    })
}

/// Inserts a form version; `family` `None` starts a new form (its family is its own id).
async fn insert_form<DB: Db>(
    pool: &Pool<DB>,
    family: Option<i64>,
    version: i64,
    name: &str,
    definition: &str,
    now: &str,
    by: &str,
) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await.map_err(database)?;
    let mut q = QueryBuilder::new(
        "INSERT INTO forms (family, version, name, definition, created_at, created_by) VALUES ",
    );
    push_tuple(
        &mut q,
        [
            family.unwrap_or(0).into(),
            version.into(),
            name.into(),
            definition.into(),
            now.into(),
            by.into(),
        ],
    );
    q.push(" RETURNING id");
    let row = DB::fetch_optional(&mut tx, &mut q)
        .await
        .map_err(database)?;
    let id = row
        .as_ref()
        .map(|r| r.int("id"))
        .transpose()
        .map_err(database)?
        .ok_or(StoreError::Database {
            source: sqlx::Error::RowNotFound,
        })?;
    if family.is_none() {
        let mut q = QueryBuilder::new("UPDATE forms SET family = id WHERE id = ");
        q.arg(id);
        DB::execute(&mut tx, &mut q).await.map_err(database)?;
    }
    tx.commit().await.map_err(database)?;
    Ok(id)
}

async fn form<DB: Db>(pool: &Pool<DB>, id: i64) -> Result<Option<FormRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!("SELECT {FORM_COLUMNS} FROM forms WHERE id = "));
    q.arg(id);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref().map(form_record).transpose().map_err(database)
}

async fn latest_forms<DB: Db>(pool: &Pool<DB>) -> Result<Vec<FormRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {FORM_COLUMNS} FROM forms f WHERE version = \
         (SELECT MAX(version) FROM forms g WHERE g.family = f.family) ORDER BY name, id"
    ));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, form_record)
}

async fn evaluations_of_form<DB: Db>(pool: &Pool<DB>, form_id: i64) -> Result<u64, StoreError> {
    let mut q = QueryBuilder::new("SELECT COUNT(*) AS n FROM evaluations WHERE form_id = ");
    q.arg(form_id);
    count(pool, &mut q).await
}

async fn update_form_in_place<DB: Db>(
    pool: &Pool<DB>,
    id: i64,
    name: &str,
    definition: &str,
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new("UPDATE forms SET name = ");
    q.arg(name)
        .push(", definition = ")
        .arg(definition)
        .push(" WHERE id = ")
        .arg(id);
    execute(pool, &mut q).await.map(drop)
}

async fn insert_evaluation<DB: Db>(pool: &Pool<DB>, e: &NewEvaluation) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await.map_err(database)?;
    let mut q = QueryBuilder::new(
        "INSERT INTO evaluations (call_id, form_id, grader, operator_id, created_at, score_x10, \
         answers, comments, status, updated_at) VALUES ",
    );
    push_tuple(
        &mut q,
        [
            (&e.call_id).into(),
            e.form_id.into(),
            (&e.grader).into(),
            (&e.operator_id).into(),
            (&e.created_at).into(),
            e.score_x10.into(),
            (&e.answers).into(),
            (&e.comments).into(),
            "graded".into(),
            (&e.created_at).into(),
        ],
    );
    q.push(" RETURNING id");
    let row = DB::fetch_optional(&mut tx, &mut q)
        .await
        .map_err(database)?;
    let id = row
        .as_ref()
        .map(|r| r.int("id"))
        .transpose()
        .map_err(database)?
        .ok_or(StoreError::Database {
            source: sqlx::Error::RowNotFound,
        })?;
    // Grading a call takes it off the "to grade" list.
    let mut q = QueryBuilder::new("UPDATE grading_queue SET done_at = ");
    q.arg(&e.created_at)
        .push(" WHERE done_at IS NULL AND call_id = ")
        .arg(&e.call_id);
    DB::execute(&mut tx, &mut q).await.map_err(database)?;
    tx.commit().await.map_err(database)?;
    Ok(id)
}

async fn evaluation<DB: Db>(
    pool: &Pool<DB>,
    id: i64,
) -> Result<Option<EvaluationRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE id = "
    ));
    q.arg(id);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref()
        .map(evaluation_record)
        .transpose()
        .map_err(database)
}

async fn evaluations<DB: Db>(
    pool: &Pool<DB>,
    f: &EvaluationFilter,
) -> Result<Vec<EvaluationRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE 1 = 1"
    ));
    if let Some(v) = &f.operator {
        q.push(" AND operator_id = ").arg(v);
    }
    if let Some(v) = &f.from {
        q.push(" AND created_at >= ").arg(v);
    }
    if let Some(v) = &f.to {
        q.push(" AND created_at < ").arg(v);
    }
    if let Some(v) = &f.grader {
        q.push(" AND grader = ").arg(v);
    }
    if let Some(v) = &f.status {
        q.push(" AND status = ").arg(v);
    }
    if let Some(v) = &f.call_id {
        q.push(" AND call_id = ").arg(v);
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .arg(i64::from(f.limit));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, evaluation_record)
}

/// Moves an evaluation from status `from` to `to`, setting `column` to `text`.
async fn answer_evaluation<DB: Db>(
    pool: &Pool<DB>,
    id: i64,
    from: &str,
    to: &str,
    column: &str,
    text: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new("UPDATE evaluations SET status = ");
    q.arg(to)
        .push(format_args!(", {column} = "))
        .arg(text)
        .push(", updated_at = ")
        .arg(now)
        .push(" WHERE id = ")
        .arg(id)
        .push(" AND status = ")
        .arg(from);
    Ok(execute(pool, &mut q).await? == 1)
}

async fn add_call_flag<DB: Db>(pool: &Pool<DB>, f: &FlagRecord) -> Result<bool, StoreError> {
    let mut q =
        QueryBuilder::new("INSERT INTO call_flags (call_id, flag, detail, created_at) VALUES ");
    push_tuple(
        &mut q,
        [
            (&f.call_id).into(),
            (&f.flag).into(),
            (&f.detail).into(),
            (&f.created_at).into(),
        ],
    );
    q.push(" ON CONFLICT (call_id, flag) DO NOTHING");
    Ok(execute(pool, &mut q).await? == 1)
}

async fn call_flags<DB: Db>(
    pool: &Pool<DB>,
    call_id: Option<&str>,
) -> Result<Vec<FlagRecord>, StoreError> {
    let mut q = QueryBuilder::new("SELECT call_id, flag, detail, created_at FROM call_flags");
    if let Some(id) = call_id {
        q.push(" WHERE call_id = ").arg(id);
    }
    q.push(" ORDER BY created_at, call_id, flag");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(FlagRecord {
            call_id: r.text("call_id")?,
            flag: r.text("flag")?,
            detail: r.opt_text("detail")?,
            created_at: r.text("created_at")?,
        })
    })
}

async fn enqueue<DB: Db>(
    pool: &Pool<DB>,
    call_id: &str,
    rule: &str,
    assigned_to: Option<&str>,
    now: &str,
) -> Result<bool, StoreError> {
    // A call already graded never goes on the list again.
    let mut q = QueryBuilder::new(
        "INSERT INTO grading_queue (call_id, rule, assigned_to, created_at) SELECT ",
    );
    q.arg(call_id)
        .push(", ")
        .arg(rule)
        .push(", ")
        .arg(assigned_to)
        .push(", ")
        .arg(now)
        .push(" WHERE NOT EXISTS (SELECT 1 FROM evaluations WHERE call_id = ")
        .arg(call_id)
        .push(") ON CONFLICT (call_id) DO NOTHING");
    Ok(execute(pool, &mut q).await? == 1)
}

async fn queue<DB: Db>(
    pool: &Pool<DB>,
    assigned_to: Option<&str>,
    include_done: bool,
) -> Result<Vec<QueueEntry>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT g.call_id, g.rule, g.assigned_to, g.created_at, g.done_at, c.operator_id, \
         c.received_at, c.talk_ms FROM grading_queue g JOIN calls c ON c.id = g.call_id \
         WHERE 1 = 1",
    );
    if !include_done {
        q.push(" AND g.done_at IS NULL");
    }
    if let Some(who) = assigned_to {
        q.push(" AND g.assigned_to = ").arg(who);
    }
    q.push(" ORDER BY g.created_at, g.call_id LIMIT 1000");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(QueueEntry {
            call_id: r.text("call_id")?,
            rule: r.text("rule")?,
            assigned_to: r.opt_text("assigned_to")?,
            created_at: r.text("created_at")?,
            done_at: r.opt_text("done_at")?,
            operator_id: r.opt_text("operator_id")?,
            received_at: r.text("received_at")?,
            talk_ms: r.opt_int("talk_ms")?,
        })
    })
}

async fn first_answered<DB: Db>(
    pool: &Pool<DB>,
    operator_id: &str,
    n: u32,
) -> Result<Vec<String>, StoreError> {
    let mut q =
        QueryBuilder::new("SELECT id FROM calls WHERE outcome = 'answered' AND operator_id = ");
    q.arg(operator_id)
        .push(" ORDER BY received_at, id LIMIT ")
        .arg(i64::from(n));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| r.text("id"))
}

impl Store {
    /// The ids of an operator's first `n` answered calls, oldest first (the sampling rule
    /// "first calls of a new operator").
    pub async fn first_answered_calls(
        &self,
        operator_id: &str,
        n: u32,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(self, pool => first_answered(pool, operator_id, n))
    }

    /// Stores a new form (version 1); its id.
    pub async fn add_form(
        &self,
        name: &str,
        definition: &str,
        now: &str,
        by: &str,
    ) -> Result<i64, StoreError> {
        on_pool!(self, pool => insert_form(pool, None, 1, name, definition, now, by))
    }

    /// One form version by id.
    pub async fn form(&self, id: i64) -> Result<Option<FormRecord>, StoreError> {
        on_pool!(self, pool => form(pool, id))
    }

    /// The latest version of every form, by name.
    pub async fn forms(&self) -> Result<Vec<FormRecord>, StoreError> {
        on_pool!(self, pool => latest_forms(pool))
    }

    /// Edits form `id`: in place while no evaluation uses it, else as the next version of
    /// its form. The id that now holds the edit; `None` if there is no such form.
    pub async fn update_form(
        &self,
        id: i64,
        name: &str,
        definition: &str,
        now: &str,
        by: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(current) = self.form(id).await? else {
            return Ok(None);
        };
        let used = on_pool!(self, pool => evaluations_of_form(pool, id))?;
        if used == 0 {
            on_pool!(self, pool => update_form_in_place(pool, id, name, definition))?;
            return Ok(Some(id));
        }
        let latest = self
            .forms()
            .await?
            .into_iter()
            .find(|f| f.family == current.family)
            .map_or(current.version, |f| f.version);
        let new = on_pool!(self, pool => insert_form(pool, Some(current.family), latest + 1, name, definition, now, by))?;
        Ok(Some(new))
    }

    /// Stores an evaluation and takes its call off the "to grade" list; its id.
    pub async fn add_evaluation(&self, e: &NewEvaluation) -> Result<i64, StoreError> {
        on_pool!(self, pool => insert_evaluation(pool, e))
    }

    pub async fn evaluation(&self, id: i64) -> Result<Option<EvaluationRecord>, StoreError> {
        on_pool!(self, pool => evaluation(pool, id))
    }

    /// Evaluations matching `filter`, newest first.
    pub async fn evaluations(
        &self,
        filter: &EvaluationFilter,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        on_pool!(self, pool => evaluations(pool, filter))
    }

    /// The operator's answer to a `graded` evaluation: `acknowledged` or `disputed`, with
    /// their comment. `Ok(false)` if it is not (or no longer) `graded`.
    pub async fn respond_to_evaluation(
        &self,
        id: i64,
        status: &str,
        comment: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => answer_evaluation(pool, id, "graded", status, "operator_comment", comment, now))
    }

    /// The grader's answer to a disputed evaluation (it becomes `resolved`). `Ok(false)`
    /// if it is not disputed.
    pub async fn resolve_dispute(
        &self,
        id: i64,
        reply: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => answer_evaluation(pool, id, "disputed", "resolved", "grader_reply", reply, now))
    }

    /// Flags a call (`manual` by a QA person, or an automatic kind such as
    /// `long_dead_air`); `Ok(false)` if it already has that flag. The one entry point for
    /// every kind of flag, automatic ones included.
    pub async fn add_call_flag(&self, flag: &FlagRecord) -> Result<bool, StoreError> {
        on_pool!(self, pool => add_call_flag(pool, flag))
    }

    /// One call's flags, or every flag (`None`), oldest first.
    pub async fn call_flags(&self, call_id: Option<&str>) -> Result<Vec<FlagRecord>, StoreError> {
        on_pool!(self, pool => call_flags(pool, call_id))
    }

    /// Puts a call on the "to grade" list; `Ok(false)` if it is on it already or graded.
    pub async fn enqueue_for_grading(
        &self,
        call_id: &str,
        rule: &str,
        assigned_to: Option<&str>,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => enqueue(pool, call_id, rule, assigned_to, now))
    }

    /// The "to grade" list (open entries, or all), optionally one grader's, oldest first.
    pub async fn grading_queue(
        &self,
        assigned_to: Option<&str>,
        include_done: bool,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        on_pool!(self, pool => queue(pool, assigned_to, include_done))
    }
}
