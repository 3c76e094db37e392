-- The call register on PostgreSQL: the same table, columns and meaning as
-- migrations/sqlite/0001, so both backends answer every query identically.
--
-- Times are TEXT in the register's one fixed-width format, RFC 3339 UTC with milliseconds
-- (`2026-11-24T15:21:47.123Z`), not `timestamptz`: text order is time order, QA queries
-- compare and group the same strings on either backend, and a value reads back exactly
-- as it was written.
--
-- Text columns that are sorted or range-searched use the "C" collation: byte order, as in
-- SQLite, whatever locale the cluster was created with (a locale collation would order ids
-- and punctuation differently from the SQLite register).
--
-- Integers are BIGINT (SQLite's INTEGER is 64-bit). CHECKs are as few as on SQLite: only
-- the closed vocabularies (`outcome`, `hangup_by`); see the SQLite migration for why.

CREATE TABLE calls (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    sip_call_id      TEXT COLLATE "C" NOT NULL,
    caller           TEXT COLLATE "C" NOT NULL,
    dialed           TEXT COLLATE "C" NOT NULL,
    source           TEXT NOT NULL,
    received_at      TEXT COLLATE "C" NOT NULL,
    answered_at      TEXT COLLATE "C",
    queued_at        TEXT COLLATE "C",
    connected_at     TEXT COLLATE "C",
    ended_at         TEXT COLLATE "C",
    operator_id      TEXT COLLATE "C",
    wait_ms          BIGINT,
    talk_ms          BIGINT,
    outcome          TEXT COLLATE "C" NOT NULL DEFAULT 'in_progress'
        CHECK (outcome IN ('in_progress', 'after_hours', 'answered', 'abandoned', 'overflow',
                           'no_operators', 'rejected', 'failed', 'interrupted', 'greeted')),
    hangup_by        TEXT COLLATE "C"
        CHECK (hangup_by IS NULL OR hangup_by IN ('caller', 'operator', 'system')),
    final_status     BIGINT,
    end_reason       TEXT,
    recording_path   TEXT,
    recording_ms     BIGINT,
    recording_bytes  BIGINT,
    recording_sha256 TEXT,
    topic            TEXT COLLATE "C"
);

-- QA searches: by period, by caller, by operator over a period, by outcome over a period,
-- and the SIP Call-ID for matching a row with a trace or the trunk's CDRs.
CREATE INDEX calls_received_at ON calls (received_at);
CREATE INDEX calls_caller_received_at ON calls (caller, received_at);
CREATE INDEX calls_operator_received_at ON calls (operator_id, received_at);
CREATE INDEX calls_outcome_received_at ON calls (outcome, received_at);
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
