//! Users, sessions, API tokens and the audit log (see `qa.rs`), written once for both
//! backends. Schema in `migrations/*/..._users_sessions_audit.sql`.
//!
//! Invariants:
//! - Every value from a request is bound, never spliced into SQL text.
//! - The audit log is only ever appended to; it reads back in the order it was written.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{
    count, execute, fetch_all, fetch_optional, push_tuple, read_all, Columns, Db, PushArg,
};
use super::records::{AuditEntry, Principal, Role, UserRecord};

use super::{database, StoreError};

fn role_of(row: &impl Columns, column: &str) -> Result<Role, sqlx::Error> {
    let text = row.text(column)?;
    // The CHECK constraint keeps the column to the three names.
    Role::parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown role `{text}`").into(),
    })
}

fn principal(row: &impl Columns) -> Result<Principal, sqlx::Error> {
    Ok(Principal {
        username: row.text("username")?,
        role: role_of(row, "role")?,
        operator_id: row.opt_text("operator_id")?,
    })
}

fn user_record(row: &impl Columns) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        username: row.text("username")?,
        role: role_of(row, "role")?,
        password_hash: row.text("password_hash")?,
        created_at: row.text("created_at")?,
        operator_id: row.opt_text("operator_id")?,
    })
}

const SELECT_USERS: &str =
    "SELECT username, password_hash, role, created_at, operator_id FROM users";

pub(super) async fn add_user<DB: Db>(
    pool: &Pool<DB>,
    username: &str,
    password_hash: &str,
    role: Role,
    now: &str,
) -> Result<bool, StoreError> {
    let mut q =
        QueryBuilder::new("INSERT INTO users (username, password_hash, role, created_at) VALUES ");
    push_tuple(
        &mut q,
        [
            username.into(),
            password_hash.into(),
            role.as_str().into(),
            now.into(),
        ],
    );
    q.push(" ON CONFLICT (username) DO NOTHING");
    Ok(execute(pool, &mut q).await? == 1)
}

/// Adds a console user of role `operator` who is operator `operator_id`; `Ok(false)` if
/// the name is taken.
pub(super) async fn add_operator_user<DB: Db>(
    pool: &Pool<DB>,
    username: &str,
    password_hash: &str,
    operator_id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new(
        "INSERT INTO users (username, password_hash, role, created_at, operator_id) VALUES ",
    );
    push_tuple(
        &mut q,
        [
            username.into(),
            password_hash.into(),
            "operator".into(),
            now.into(),
            operator_id.into(),
        ],
    );
    q.push(" ON CONFLICT (username) DO NOTHING");
    Ok(execute(pool, &mut q).await? == 1)
}

pub(super) async fn user<DB: Db>(
    pool: &Pool<DB>,
    username: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let mut q = QueryBuilder::new(SELECT_USERS);
    q.push(" WHERE username = ").arg(username);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref().map(user_record).transpose().map_err(database)
}

pub(super) async fn users<DB: Db>(pool: &Pool<DB>) -> Result<Vec<UserRecord>, StoreError> {
    let mut q = QueryBuilder::new(SELECT_USERS);
    q.push(" ORDER BY username");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, user_record)
}

pub(super) async fn create_session<DB: Db>(
    pool: &Pool<DB>,
    token_sha256: &str,
    username: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(database)?;
    let mut sweep = QueryBuilder::new("DELETE FROM sessions WHERE last_seen_at < ");
    sweep.arg(idle_cutoff);
    DB::execute(&mut tx, &mut sweep).await.map_err(database)?;
    let mut insert = QueryBuilder::new(
        "INSERT INTO sessions (token_sha256, username, created_at, last_seen_at) VALUES ",
    );
    push_tuple(
        &mut insert,
        [token_sha256.into(), username.into(), now.into(), now.into()],
    );
    DB::execute(&mut tx, &mut insert).await.map_err(database)?;
    tx.commit().await.map_err(database)
}

pub(super) async fn touch_session<DB: Db>(
    pool: &Pool<DB>,
    token_sha256: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<Option<Principal>, StoreError> {
    // One statement: the idle check and the refresh cannot be split by a concurrent
    // request, and a dead session is never revived.
    let mut q = QueryBuilder::new("UPDATE sessions SET last_seen_at = ");
    q.arg(now)
        .push(" WHERE token_sha256 = ")
        .arg(token_sha256)
        .push(" AND last_seen_at >= ")
        .arg(idle_cutoff)
        .push(
            " RETURNING username, \
             (SELECT role FROM users WHERE users.username = sessions.username) AS role, \
             (SELECT operator_id FROM users WHERE users.username = sessions.username) \
             AS operator_id",
        );
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref().map(principal).transpose().map_err(database)
}

pub(super) async fn delete_session<DB: Db>(
    pool: &Pool<DB>,
    token_sha256: &str,
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new("DELETE FROM sessions WHERE token_sha256 = ");
    q.arg(token_sha256);
    execute(pool, &mut q).await.map(drop)
}

pub(super) async fn add_token<DB: Db>(
    pool: &Pool<DB>,
    token_sha256: &str,
    name: &str,
    username: &str,
    now: &str,
) -> Result<bool, StoreError> {
    // Inserted from the user's row, so a token for nobody inserts nothing.
    let mut q = QueryBuilder::new(
        "INSERT INTO api_tokens (token_sha256, name, username, created_at) SELECT ",
    );
    q.arg(token_sha256)
        .push(", ")
        .arg(name)
        .push(", username, ")
        .arg(now)
        .push(" FROM users WHERE username = ")
        .arg(username);
    Ok(execute(pool, &mut q).await? == 1)
}

pub(super) async fn token_principal<DB: Db>(
    pool: &Pool<DB>,
    token_sha256: &str,
) -> Result<Option<Principal>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT u.username, u.role, u.operator_id FROM api_tokens t JOIN users u ON u.username = t.username \
         WHERE t.token_sha256 = ",
    );
    q.arg(token_sha256);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref().map(principal).transpose().map_err(database)
}

pub(super) async fn audit<DB: Db>(pool: &Pool<DB>, entry: &AuditEntry) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new(
        "INSERT INTO audit (at, username, action, call_id, remote, detail) VALUES ",
    );
    push_tuple(
        &mut q,
        [
            (&entry.at).into(),
            (&entry.username).into(),
            (&entry.action).into(),
            (&entry.call_id).into(),
            (&entry.remote).into(),
            (&entry.detail).into(),
        ],
    );
    execute(pool, &mut q).await.map(drop)
}

pub(super) async fn audit_entries<DB: Db>(
    pool: &Pool<DB>,
    limit: u32,
    offset: u64,
) -> Result<(Vec<AuditEntry>, u64), StoreError> {
    let total = count(
        pool,
        &mut QueryBuilder::new("SELECT COUNT(*) AS n FROM audit"),
    )
    .await?;
    // `id` is the order of writing on both backends (SQLite's rowid, PostgreSQL's identity).
    let mut q = QueryBuilder::new(
        "SELECT at, username, action, call_id, remote, detail FROM audit ORDER BY id DESC LIMIT ",
    );
    q.arg(i64::from(limit))
        .push(" OFFSET ")
        .arg(i64::try_from(offset).unwrap_or(i64::MAX));
    let rows = fetch_all(pool, &mut q).await?;
    let entries = read_all(&rows, |r| {
        Ok(AuditEntry {
            at: r.text("at")?,
            username: r.opt_text("username")?,
            action: r.text("action")?,
            call_id: r.opt_text("call_id")?,
            remote: r.opt_text("remote")?,
            detail: r.opt_text("detail")?,
        })
    })?;
    Ok((entries, total))
}
