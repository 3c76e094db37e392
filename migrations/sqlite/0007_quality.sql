-- Call grading: evaluation forms (versioned), evaluations of calls with their comments and
-- the operator's answer to them, flags on calls, the "to grade" list, and console users
-- linked to an operator (role `operator`).
--
-- The users table is rebuilt so that its role CHECK takes `operator` (SQLite cannot change
-- a CHECK in place). Migrations run inside a transaction, where foreign keys cannot be
-- switched off, and dropping `users` would cascade to sessions and API tokens: so the two
-- tables that reference it are rebuilt with it, children dropped first, and renaming
-- `users_v2` to `users` carries their references along.
CREATE TABLE users_v2 (
    username      TEXT NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'qa', 'supervisor', 'admin')),
    created_at    TEXT NOT NULL,
    -- The operator (`[[operators]] id`) an `operator` user is; NULL for every other role.
    operator_id   TEXT,
    CHECK ((role = 'operator') = (operator_id IS NOT NULL))
) STRICT;
CREATE TABLE sessions_v2 (
    token_sha256 TEXT NOT NULL PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users_v2(username) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
) STRICT;
CREATE TABLE api_tokens_v2 (
    token_sha256 TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    username     TEXT NOT NULL REFERENCES users_v2(username) ON DELETE CASCADE,
    created_at   TEXT NOT NULL
) STRICT;
INSERT INTO users_v2 (username, password_hash, role, created_at)
    SELECT username, password_hash, role, created_at FROM users;
INSERT INTO sessions_v2 SELECT token_sha256, username, created_at, last_seen_at FROM sessions;
INSERT INTO api_tokens_v2 SELECT token_sha256, name, username, created_at FROM api_tokens;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
ALTER TABLE sessions_v2 RENAME TO sessions;
ALTER TABLE api_tokens_v2 RENAME TO api_tokens;
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- A form is one row per version; `family` is the id of its first version, so every
-- version of one form shares it. Editing a form nobody has used yet changes its row;
-- editing one that has evaluations adds the next version (past evaluations keep theirs).
CREATE TABLE forms (
    id         INTEGER PRIMARY KEY,
    family     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    -- The groups and questions, as JSON (see the model's quality module).
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX forms_version ON forms (family, version);

-- One grading of one call by one grader on one form version. `score_x10` is the score
-- 0–100 in tenths. `answers` and `comments` are JSON: comments are
-- `{"at_ms": 12345 | null, "text": "..."}`, `at_ms` a moment of the recording.
-- `status`: `graded`, then the operator's `acknowledged` or `disputed` (with
-- `operator_comment`), a dispute ending `resolved` with the grader's `grader_reply`.
CREATE TABLE evaluations (
    id               INTEGER PRIMARY KEY,
    call_id          TEXT NOT NULL REFERENCES calls(id),
    form_id          INTEGER NOT NULL REFERENCES forms(id),
    grader           TEXT NOT NULL,
    operator_id      TEXT,
    created_at       TEXT NOT NULL,
    score_x10        INTEGER NOT NULL CHECK (score_x10 BETWEEN 0 AND 1000),
    answers          TEXT NOT NULL,
    comments         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
        ('graded', 'acknowledged', 'disputed', 'resolved')),
    operator_comment TEXT,
    grader_reply     TEXT,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX evaluations_created ON evaluations (created_at);
CREATE INDEX evaluations_call ON evaluations (call_id);
CREATE INDEX evaluations_operator ON evaluations (operator_id, created_at);

-- Calls flagged for a QA person's attention, by kind (`manual`, or automatic kinds such
-- as `long_dead_air`). One flag of a kind per call.
CREATE TABLE call_flags (
    call_id    TEXT NOT NULL REFERENCES calls(id),
    flag       TEXT NOT NULL,
    detail     TEXT,
    created_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX call_flags_key ON call_flags (call_id, flag);

-- The "to grade" list the sampling rules fill: one entry per call, the rule that picked
-- it, the grader it is assigned to, and when it was graded (NULL while open).
CREATE TABLE grading_queue (
    call_id     TEXT NOT NULL PRIMARY KEY REFERENCES calls(id),
    rule        TEXT NOT NULL,
    assigned_to TEXT,
    created_at  TEXT NOT NULL,
    done_at     TEXT
) STRICT;
CREATE INDEX grading_queue_open ON grading_queue (done_at, assigned_to);
