-- Call grading on PostgreSQL, as migrations/sqlite/0007_quality: console users linked to
-- an operator (role `operator`), versioned evaluation forms, evaluations, call flags and
-- the "to grade" list.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('operator', 'qa', 'supervisor', 'admin'));
ALTER TABLE users ADD COLUMN operator_id TEXT COLLATE "C";
ALTER TABLE users ADD CONSTRAINT users_operator_link
    CHECK ((role = 'operator') = (operator_id IS NOT NULL));

CREATE TABLE forms (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family     BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX forms_version ON forms (family, version);

CREATE TABLE evaluations (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id          TEXT COLLATE "C" NOT NULL REFERENCES calls(id),
    form_id          BIGINT NOT NULL REFERENCES forms(id),
    grader           TEXT COLLATE "C" NOT NULL,
    operator_id      TEXT COLLATE "C",
    created_at       TEXT COLLATE "C" NOT NULL,
    score_x10        BIGINT NOT NULL CHECK (score_x10 BETWEEN 0 AND 1000),
    answers          TEXT NOT NULL,
    comments         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
        ('graded', 'acknowledged', 'disputed', 'resolved')),
    operator_comment TEXT,
    grader_reply     TEXT,
    updated_at       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX evaluations_created ON evaluations (created_at);
CREATE INDEX evaluations_call ON evaluations (call_id);
CREATE INDEX evaluations_operator ON evaluations (operator_id, created_at);

CREATE TABLE call_flags (
    call_id    TEXT COLLATE "C" NOT NULL REFERENCES calls(id),
    flag       TEXT COLLATE "C" NOT NULL,
    detail     TEXT,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX call_flags_key ON call_flags (call_id, flag);

CREATE TABLE grading_queue (
    call_id     TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES calls(id),
    rule        TEXT NOT NULL,
    assigned_to TEXT COLLATE "C",
    created_at  TEXT COLLATE "C" NOT NULL,
    done_at     TEXT COLLATE "C"
);
CREATE INDEX grading_queue_open ON grading_queue (done_at, assigned_to);
