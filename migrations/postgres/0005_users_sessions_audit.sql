-- The QA side on PostgreSQL, as migrations/sqlite/0004_users_sessions_audit: users with a
-- role, their sessions and API tokens, the audit log, and the index behind the statistics.
--
-- Secrets are never stored as given: passwords as argon2id PHC strings, session and API
-- tokens as the hex SHA-256 of the random token. Times are the register's RFC 3339 UTC
-- text, like `calls`; compared and sorted columns use the "C" collation so they order as
-- bytes, as on SQLite.

CREATE TABLE users (
    username      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('qa', 'supervisor', 'admin')),
    created_at    TEXT COLLATE "C" NOT NULL
);

-- One row per login; `last_seen_at` moves on use, and a session idle for longer than the
-- idle limit is dead (checked on every request, swept at login).
CREATE TABLE sessions (
    token_sha256 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username     TEXT COLLATE "C" NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at   TEXT COLLATE "C" NOT NULL,
    last_seen_at TEXT COLLATE "C" NOT NULL
);

CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Long-lived bearer tokens for scripts; they act as `username` with that user's role.
CREATE TABLE api_tokens (
    token_sha256 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    username     TEXT COLLATE "C" NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at   TEXT COLLATE "C" NOT NULL
);

-- Append-only. `id` stands in for SQLite's rowid: the order rows were written in, which
-- is the order the log is read back in. `username` is who acted (or who was tried, for
-- `login_failed`), `remote` the peer address of the HTTP connection.
CREATE TABLE audit (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C",
    action   TEXT NOT NULL,
    call_id  TEXT COLLATE "C",
    remote   TEXT,
    detail   TEXT
);

CREATE INDEX audit_call ON audit (call_id);

-- Statistics read every call of a period by `received_at` range. The other columns they
-- read are carried in the index (INCLUDE: stored in the leaves, not part of the key), so
-- once the visibility map is current PostgreSQL answers them by an index-only scan.
CREATE INDEX calls_stats ON calls (received_at)
    INCLUDE (outcome, wait_ms, talk_ms, operator_id, topic);
