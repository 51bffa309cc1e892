-- Dukascopy publishes an hour some time after it has ended. A 404 for a recent hour is "not yet", not a
-- failure: the unit waits ('waiting', asked again at lease_until) and its job stays running.
ALTER TABLE backfill_units DROP CONSTRAINT IF EXISTS backfill_units_state_check;
ALTER TABLE backfill_units ADD CONSTRAINT backfill_units_state_check CHECK (state IN ('pending', 'running', 'waiting', 'done', 'failed'));
DROP INDEX IF EXISTS backfill_units_todo_idx;
CREATE INDEX IF NOT EXISTS backfill_units_active_idx ON backfill_units (job_id, unit_start) WHERE state IN ('pending', 'running', 'waiting');

-- Hours fetched outside a job (auto-ingest) and found empty (a holiday): gap fill must not fetch them
-- again. Hours a job found empty are its done units with ticks = 0.
CREATE TABLE IF NOT EXISTS backfill_empty_hours (
    source      text        NOT NULL,
    instrument  text        NOT NULL,
    hour        timestamptz NOT NULL,
    found_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, instrument, hour)
);
