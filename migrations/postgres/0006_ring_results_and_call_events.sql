-- Ring attempts say why each ring ended (as migrations/sqlite/0006): `answered`,
-- `no_answer`, `caller_gone`, `busy`, `declined`, `error`; older rows keep their words.
ALTER TABLE ring_attempts DROP CONSTRAINT ring_attempts_result_check;
ALTER TABLE ring_attempts ADD CONSTRAINT ring_attempts_result_check CHECK (result IN
    ('answered', 'no_answer', 'caller_gone', 'busy', 'declined', 'error',
     'cancelled', 'failed', 'answered_late'));

-- A call's timeline beyond the columns of `calls` (as migrations/sqlite/0006). `seq` keeps
-- the order events were written in.
CREATE TABLE call_events (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id TEXT COLLATE "C" NOT NULL REFERENCES calls(id),
    at      TEXT COLLATE "C" NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN
        ('caller_hold', 'caller_resume', 'operator_hold', 'operator_resume',
         'caller_media_moved', 'operator_media_moved')),
    detail  TEXT
);
CREATE UNIQUE INDEX call_events_key ON call_events (call_id, at, kind);
