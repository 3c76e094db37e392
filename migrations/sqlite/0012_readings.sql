-- The meter-readings dialogue by phone.
--
-- A call settled by self-service (every meter reading handed in, no operator) ends with
-- outcome `self_service`. SQLite cannot change a CHECK in place: `calls` is built again
-- with the same columns, rows and indexes. Other tables reference `calls(id)`, so foreign
-- keys are off while it is rebuilt: the store runs migrations on a connection with them off
-- (SQLite cannot switch them inside the migration's transaction).
-- The meter-readings dialogue by phone writes its path on the call's timeline:
-- `readings_account`, `reading_accepted`, `readings_to_operator`, `readings_done`.
-- SQLite cannot change a CHECK in place: the table is built again with the same rows.
CREATE TABLE call_events_v2 (
    call_id TEXT NOT NULL REFERENCES calls(id),
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN
        ('caller_hold', 'caller_resume', 'operator_hold', 'operator_resume',
         'caller_media_moved', 'operator_media_moved', 'menu_choice', 'menu_no_choice',
         'readings_account', 'reading_accepted', 'readings_to_operator', 'readings_done')),
    detail  TEXT
) STRICT;
INSERT INTO call_events_v2 (rowid, call_id, at, kind, detail)
    SELECT rowid, call_id, at, kind, detail FROM call_events;
DROP TABLE call_events;
ALTER TABLE call_events_v2 RENAME TO call_events;
CREATE UNIQUE INDEX call_events_key ON call_events (call_id, at, kind);

CREATE TABLE calls_v2 (
    id               TEXT    NOT NULL PRIMARY KEY,
    sip_call_id      TEXT    NOT NULL,
    caller           TEXT    NOT NULL,
    dialed           TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    received_at      TEXT    NOT NULL,
    answered_at      TEXT,
    queued_at        TEXT,
    connected_at     TEXT,
    ended_at         TEXT,
    operator_id      TEXT,
    wait_ms          INTEGER,
    talk_ms          INTEGER,
    outcome          TEXT    NOT NULL DEFAULT 'in_progress'
        CHECK (outcome IN ('in_progress', 'after_hours', 'answered', 'abandoned', 'overflow',
                           'no_operators', 'rejected', 'failed', 'interrupted', 'greeted',
                           'self_service')),
    hangup_by        TEXT
        CHECK (hangup_by IS NULL OR hangup_by IN ('caller', 'operator', 'system')),
    final_status     INTEGER,
    end_reason       TEXT,
    recording_path   TEXT,
    recording_ms     INTEGER,
    recording_bytes  INTEGER,
    recording_sha256 TEXT,
    topic            TEXT,
    notice_played_at TEXT,
    notice_completed INTEGER,
    recording_error  TEXT,
    recording_purged_at TEXT,
    direction        TEXT    NOT NULL DEFAULT 'inbound'
        CHECK (direction IN ('inbound', 'outbound'))
) STRICT;
INSERT INTO calls_v2 (id, sip_call_id, caller, dialed, source, received_at, answered_at,
        queued_at, connected_at, ended_at, operator_id, wait_ms, talk_ms, outcome, hangup_by,
        final_status, end_reason, recording_path, recording_ms, recording_bytes,
        recording_sha256, topic, notice_played_at, notice_completed, recording_error,
        recording_purged_at, direction)
    SELECT id, sip_call_id, caller, dialed, source, received_at, answered_at,
        queued_at, connected_at, ended_at, operator_id, wait_ms, talk_ms, outcome, hangup_by,
        final_status, end_reason, recording_path, recording_ms, recording_bytes,
        recording_sha256, topic, notice_played_at, notice_completed, recording_error,
        recording_purged_at, direction
    FROM calls;
DROP TABLE calls;
ALTER TABLE calls_v2 RENAME TO calls;
CREATE INDEX calls_received_at ON calls (received_at);
CREATE INDEX calls_caller_received_at ON calls (caller, received_at);
CREATE INDEX calls_operator_received_at ON calls (operator_id, received_at);
CREATE INDEX calls_outcome_received_at ON calls (outcome, received_at);
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
CREATE INDEX calls_stats ON calls
    (received_at, outcome, wait_ms, talk_ms, operator_id, topic);
