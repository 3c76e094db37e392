-- Self-service meter readings. `subscribers` and `meters` are the billing system's export,
-- replaced whole by each `hotline subscribers import`; `readings` is what callers (source
-- `phone`) and operators (source `operator`) handed in, kept across imports.
CREATE TABLE subscribers (
    account TEXT PRIMARY KEY
);

CREATE TABLE meters (
    account      TEXT NOT NULL REFERENCES subscribers(account),
    meter        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('cold', 'hot')),
    last_reading BIGINT NOT NULL,
    -- The order of the export: the order the caller is asked in.
    position     BIGINT NOT NULL,
    PRIMARY KEY (account, meter)
);

CREATE TABLE readings (
    id       BIGSERIAL PRIMARY KEY,
    account  TEXT NOT NULL,
    meter    TEXT NOT NULL,
    value    BIGINT NOT NULL,
    previous BIGINT NOT NULL,
    call_id  TEXT,
    at       TEXT NOT NULL,
    source   TEXT NOT NULL CHECK (source IN ('phone', 'operator'))
);
CREATE INDEX readings_account ON readings (account, at);
CREATE INDEX readings_at ON readings (at);
