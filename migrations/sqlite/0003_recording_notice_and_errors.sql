-- The recording notice ("разговор записывается"): when it started playing to the caller and
-- whether the caller heard it to its end. And why a recording failed, when it did (the call
-- itself goes on: a disk error never drops a call).
ALTER TABLE calls ADD COLUMN notice_played_at TEXT;
ALTER TABLE calls ADD COLUMN notice_completed INTEGER;
ALTER TABLE calls ADD COLUMN recording_error TEXT;
