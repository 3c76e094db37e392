-- Calls placed by the line itself (call-backs through the provider) are `outbound`;
-- every call the line answered before this migration came in.
ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'outbound'));

-- The missed-calls worklist: one item per number while it is being worked (new calls from
-- a number join its open item), with what the console shows and who worked it.
CREATE TABLE worklist_items (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN
        ('new', 'in_progress', 'called_back', 'unreachable', 'closed')),
    first_at        TEXT NOT NULL,
    last_at         TEXT NOT NULL,
    longest_wait_ms INTEGER NOT NULL DEFAULT 0,
    missed_calls    INTEGER NOT NULL DEFAULT 0,
    worked_by       TEXT,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX worklist_items_number_state ON worklist_items (number, state);
CREATE INDEX worklist_items_state_last ON worklist_items (state, last_at);

-- The calls behind an item: the missed calls it gathered and the call-backs made for it.
-- A call belongs to one item once in each role (the idempotency key of the merge).
CREATE TABLE worklist_calls (
    item_id INTEGER NOT NULL REFERENCES worklist_items(id),
    call_id TEXT NOT NULL REFERENCES calls(id),
    role    TEXT NOT NULL CHECK (role IN ('missed', 'callback')),
    PRIMARY KEY (call_id, role)
) STRICT;
CREATE INDEX worklist_calls_item ON worklist_calls (item_id);

-- What happened to an item, in order: calls that joined it, state changes, call-backs.
CREATE TABLE worklist_history (
    item_id INTEGER NOT NULL REFERENCES worklist_items(id),
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    state   TEXT,
    detail  TEXT
) STRICT;
CREATE INDEX worklist_history_item ON worklist_history (item_id, at);
