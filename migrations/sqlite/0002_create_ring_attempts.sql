-- Every attempt to ring an operator for a call: who, when, and how it ended. A call that
-- rang three operators before the fourth answered has four rows here.
CREATE TABLE ring_attempts (
    call_id     TEXT NOT NULL REFERENCES calls(id),
    operator_id TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN
        ('answered', 'cancelled', 'no_answer', 'busy', 'declined', 'failed', 'answered_late'))
) STRICT;

CREATE INDEX ring_attempts_call ON ring_attempts (call_id);
CREATE INDEX ring_attempts_operator ON ring_attempts (operator_id, started_at);
