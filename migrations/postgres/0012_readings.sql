-- The meter-readings dialogue's events on the call's timeline (as migrations/sqlite/0012):
-- `readings_account`, `reading_accepted`, `readings_to_operator`, `readings_done`.
ALTER TABLE call_events DROP CONSTRAINT call_events_kind_check;
ALTER TABLE call_events ADD CONSTRAINT call_events_kind_check CHECK (kind IN
    ('caller_hold', 'caller_resume', 'operator_hold', 'operator_resume',
     'caller_media_moved', 'operator_media_moved', 'menu_choice', 'menu_no_choice',
     'readings_account', 'reading_accepted', 'readings_to_operator', 'readings_done'));

-- A call settled by self-service (every meter reading handed in, no operator) ends with
-- outcome `self_service`.
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check CHECK (outcome IN
    ('in_progress', 'after_hours', 'answered', 'abandoned', 'overflow', 'no_operators',
     'rejected', 'failed', 'interrupted', 'greeted', 'self_service'));
