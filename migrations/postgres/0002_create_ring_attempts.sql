-- Every attempt to ring an operator for a call: who, when, and how it ended (as
-- migrations/sqlite/0002). `seq` stands in for SQLite's rowid: it keeps the order attempts
-- were written in, for attempts that started in the same millisecond.
CREATE TABLE ring_attempts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     TEXT COLLATE "C" NOT NULL REFERENCES calls(id),
    operator_id TEXT COLLATE "C" NOT NULL,
    started_at  TEXT COLLATE "C" NOT NULL,
    ended_at    TEXT COLLATE "C" NOT NULL,
    result      TEXT NOT NULL CHECK (result IN
        ('answered', 'cancelled', 'no_answer', 'busy', 'declined', 'failed', 'answered_late'))
);

CREATE INDEX ring_attempts_call ON ring_attempts (call_id);
CREATE INDEX ring_attempts_operator ON ring_attempts (operator_id, started_at);
