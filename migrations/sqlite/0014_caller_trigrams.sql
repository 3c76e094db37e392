-- QA staff find a caller's calls by any run of digits in the number. Without an index
-- that search reads every row of the period: a year of a city's line is most of the file.
-- The trigram table answers "which calls have these digits" from three-digit pieces of
-- each number; the search looks there first when the digits are rare (`store::search`).
--
-- The table keeps its own copy of the number and the call's id rather than pointing at
-- `calls` by rowid: `calls` has a text key, so its rowids may change under a VACUUM.
-- `detail = 'none'`: only which numbers hold a piece is needed, not where.
CREATE VIRTUAL TABLE calls_caller_trigrams USING fts5(
    caller,
    call_id UNINDEXED,
    tokenize = 'trigram',
    detail = 'none'
);

INSERT INTO calls_caller_trigrams (caller, call_id) SELECT caller, id FROM calls;

CREATE TRIGGER calls_caller_trigrams_insert AFTER INSERT ON calls BEGIN
    INSERT INTO calls_caller_trigrams (caller, call_id) VALUES (new.caller, new.id);
END;

-- The register never changes a caller or deletes a call; should someone do either by
-- hand, the table follows (a slow scan, since `call_id` is not indexed).
CREATE TRIGGER calls_caller_trigrams_update AFTER UPDATE OF caller, id ON calls BEGIN
    DELETE FROM calls_caller_trigrams WHERE call_id = old.id;
    INSERT INTO calls_caller_trigrams (caller, call_id) VALUES (new.caller, new.id);
END;

CREATE TRIGGER calls_caller_trigrams_delete AFTER DELETE ON calls BEGIN
    DELETE FROM calls_caller_trigrams WHERE call_id = old.id;
END;
