-- Self-service meter readings. `subscribers` and `meters` are the billing system's export,
-- replaced whole by each `hotline subscribers import`; `readings` is what callers (source
-- `phone`) and operators (source `operator`) handed in, kept across imports.
CREATE TABLE subscribers (
    account TEXT PRIMARY KEY
) STRICT;

CREATE TABLE meters (
    account      TEXT NOT NULL REFERENCES subscribers(account),
    meter        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('cold', 'hot')),
    last_reading INTEGER NOT NULL,
    -- The order of the export: the order the caller is asked in.
    position     INTEGER NOT NULL,
    PRIMARY KEY (account, meter)
) STRICT;

CREATE TABLE readings (
    id       INTEGER PRIMARY KEY,
    account  TEXT NOT NULL,
    meter    TEXT NOT NULL,
    value    INTEGER NOT NULL,
    previous INTEGER NOT NULL,
    call_id  TEXT,
    at       TEXT NOT NULL,
    source   TEXT NOT NULL CHECK (source IN ('phone', 'operator'))
) STRICT;
CREATE INDEX readings_account ON readings (account, at);
CREATE INDEX readings_at ON readings (at);
