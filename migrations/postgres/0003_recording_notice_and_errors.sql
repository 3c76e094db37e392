-- The recording notice: when it started playing to the caller and whether the caller heard
-- it to its end; and why a recording failed, when it did (as migrations/sqlite/0003).
-- `notice_completed` is 0 or 1, as on SQLite, so QA queries compare it the same way on
-- both backends.
ALTER TABLE calls ADD COLUMN notice_played_at TEXT COLLATE "C";
ALTER TABLE calls ADD COLUMN notice_completed BIGINT CHECK (notice_completed IN (0, 1));
ALTER TABLE calls ADD COLUMN recording_error TEXT;
