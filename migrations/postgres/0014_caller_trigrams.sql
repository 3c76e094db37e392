-- QA staff find a caller's calls by any run of digits in the number. Without an index
-- that search reads every row of the period. A trigram index (`pg_trgm`) answers
-- `caller LIKE '%digits%'` from three-character pieces of each number, and the planner
-- weighs it against the other indexes with the table's statistics.
--
-- `pg_trgm` ships with PostgreSQL and is a trusted extension: the database's owner may
-- create it. A role that may not, or a server built without it, keeps the search as it
-- was (a scan); the migration says so and goes on rather than stopping the server.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available (%); searches by caller will scan the calls', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX calls_caller_trigrams ON calls USING gin (caller gin_trgm_ops);
    END IF;
END
$$;
