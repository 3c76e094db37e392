-- The QA side: who may read the register (users with a role), how they stay logged in
-- (sessions) or script it (API tokens), and what they did (the audit log).
--
-- Secrets are never stored as given: passwords as argon2id PHC strings, session and API
-- tokens as the hex SHA-256 of the random token (the token itself is shown once and kept
-- only by its holder). Times are the register's RFC 3339 UTC text, like `calls`.

CREATE TABLE users (
    username      TEXT NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('qa', 'supervisor', 'admin')),
    created_at    TEXT NOT NULL
) STRICT;

-- One row per login; `last_seen_at` moves on use, and a session idle for longer than the
-- idle limit is dead (checked on every request, swept at login).
CREATE TABLE sessions (
    token_sha256 TEXT NOT NULL PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Long-lived bearer tokens for scripts; they act as `username` with that user's role.
CREATE TABLE api_tokens (
    token_sha256 TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    username     TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at   TEXT NOT NULL
) STRICT;

-- Append-only. `username` is who acted (or who was tried, for `login_failed`), `remote`
-- the peer address of the HTTP connection.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    username TEXT,
    action   TEXT NOT NULL,
    call_id  TEXT,
    remote   TEXT,
    detail   TEXT
) STRICT;

CREATE INDEX audit_call ON audit (call_id);

-- Statistics read every call of a period: a covering index lets SQLite answer them from
-- the index alone, in received_at order, without touching the table's pages.
CREATE INDEX calls_stats ON calls
    (received_at, outcome, wait_ms, talk_ms, operator_id, topic);
