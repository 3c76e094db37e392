-- The call register: one row per INVITE to the line, opened when the INVITE arrives and
-- updated as the call moves on (see src/switchboard/register.rs for the write model).
--
-- Times are TEXT in one fixed-width format, RFC 3339 UTC with milliseconds
-- (`2026-11-24T15:21:47.123Z`), so text order is time order and range searches use the
-- indexes below directly.
--
-- CHECKs are deliberately few: only the closed vocabularies (`outcome`, `hangup_by`).
-- A stricter CHECK (non-negative durations, hash length...) would make the store refuse a
-- whole update because of one odd value and lose the outcome with it; a register row
-- with one odd number is more useful to QA than a row stuck at `in_progress`.
--
-- STRICT makes SQLite enforce the declared column types instead of silently storing,
-- say, text in `wait_ms`.

CREATE TABLE calls (
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
                           'no_operators', 'rejected', 'failed', 'interrupted', 'greeted')),
    hangup_by        TEXT
        CHECK (hangup_by IS NULL OR hangup_by IN ('caller', 'operator', 'system')),
    final_status     INTEGER,
    end_reason       TEXT,
    recording_path   TEXT,
    recording_ms     INTEGER,
    recording_bytes  INTEGER,
    recording_sha256 TEXT,
    topic            TEXT
) STRICT;

-- QA searches: by period, by caller, by operator over a period, by outcome over a period,
-- and the SIP Call-ID for matching a row with a trace or the trunk's CDRs.
CREATE INDEX calls_received_at ON calls (received_at);
CREATE INDEX calls_caller_received_at ON calls (caller, received_at);
CREATE INDEX calls_operator_received_at ON calls (operator_id, received_at);
CREATE INDEX calls_outcome_received_at ON calls (outcome, received_at);
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
