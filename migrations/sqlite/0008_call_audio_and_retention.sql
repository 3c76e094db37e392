-- Audio metrics of a call's recording, computed after the call from the stereo WAV
-- (caller left, operator right; src/media/analysis.rs). One row per analysed call; a
-- re-analysis replaces it. Levels are kept in thousandths of a dB and the operator's
-- share of speech in thousandths, so both backends store plain integers.
-- `segments` is JSON: {"caller": [[start_ms, end_ms], ...], "operator": [...],
-- "overtalk": [...], "dead_air": [...]}, in recording time, for the call page's bars.
-- `flags` lists the kinds the `[quality]` thresholds raised, space separated
-- (`long_dead_air`, `heavy_overtalk`, `operator_silent`), empty when none.
CREATE TABLE call_audio (
    call_id               TEXT    NOT NULL PRIMARY KEY REFERENCES calls(id),
    analysed_at           TEXT    NOT NULL,
    duration_ms           INTEGER NOT NULL,
    caller_speech_ms      INTEGER NOT NULL,
    operator_speech_ms    INTEGER NOT NULL,
    overtalk_ms           INTEGER NOT NULL,
    silence_ms            INTEGER NOT NULL,
    longest_silence_ms    INTEGER NOT NULL,
    hold_ms               INTEGER NOT NULL,
    operator_share_permille INTEGER,
    caller_rms_mdbfs      INTEGER,
    caller_peak_mdbfs     INTEGER,
    caller_clipped        INTEGER NOT NULL,
    operator_rms_mdbfs    INTEGER,
    operator_peak_mdbfs   INTEGER,
    operator_clipped      INTEGER NOT NULL,
    segments              TEXT    NOT NULL,
    flags                 TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX call_audio_overtalk ON call_audio (overtalk_ms);
CREATE INDEX call_audio_silence ON call_audio (silence_ms);

-- Retention: when a recording's file was destroyed under the retention rules (the row and
-- its facts stay), and legal holds that exempt a call from them.
ALTER TABLE calls ADD COLUMN recording_purged_at TEXT;
CREATE TABLE legal_holds (
    call_id TEXT NOT NULL PRIMARY KEY REFERENCES calls(id),
    reason  TEXT NOT NULL,
    set_by  TEXT NOT NULL,
    set_at  TEXT NOT NULL
) STRICT;
