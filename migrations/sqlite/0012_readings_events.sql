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
