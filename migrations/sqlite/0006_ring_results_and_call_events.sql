-- Ring attempts say why each ring ended: `answered`, `no_answer` (ring timeout, or the phone
-- gave up), `caller_gone` (the caller hung up while it rang), `busy`, `declined`, `error`.
-- Rows written before keep their words (`cancelled` then covered both a ring timeout and a
-- caller who left; `failed`, `answered_late`): history is not rewritten, only allowed.
-- SQLite cannot change a CHECK in place: the table is built again with the same rows.
CREATE TABLE ring_attempts_v2 (
    call_id     TEXT NOT NULL REFERENCES calls(id),
    operator_id TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN
        ('answered', 'no_answer', 'caller_gone', 'busy', 'declined', 'error',
         'cancelled', 'failed', 'answered_late'))
) STRICT;
INSERT INTO ring_attempts_v2 (rowid, call_id, operator_id, started_at, ended_at, result)
    SELECT rowid, call_id, operator_id, started_at, ended_at, result FROM ring_attempts;
DROP TABLE ring_attempts;
ALTER TABLE ring_attempts_v2 RENAME TO ring_attempts;
CREATE INDEX ring_attempts_call ON ring_attempts (call_id);
CREATE INDEX ring_attempts_operator ON ring_attempts (operator_id, started_at);
CREATE UNIQUE INDEX ring_attempts_key ON ring_attempts (call_id, operator_id, started_at);

-- A call's timeline beyond the columns of `calls`: hold and resume by either side, media
-- that moved. What a QA person needs to know about what each side heard while listening.
-- One event is one kind at one instant for one call: the idempotency key for replays.
CREATE TABLE call_events (
    call_id TEXT NOT NULL REFERENCES calls(id),
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN
        ('caller_hold', 'caller_resume', 'operator_hold', 'operator_resume',
         'caller_media_moved', 'operator_media_moved')),
    detail  TEXT
) STRICT;
CREATE UNIQUE INDEX call_events_key ON call_events (call_id, at, kind);
