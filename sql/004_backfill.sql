-- Backfill jobs shared by any number of workers: a unit is leased while a worker runs it, so a unit
-- whose worker died (lease expired) is taken up again, and a unit waiting for a retry is not taken
-- before lease_until. The auto-ingester keeps its place per instrument in backfill_cursors.
ALTER TABLE backfill_units ADD COLUMN IF NOT EXISTS owner text;
ALTER TABLE backfill_units ADD COLUMN IF NOT EXISTS lease_until timestamptz;
CREATE INDEX IF NOT EXISTS backfill_units_todo_idx ON backfill_units (job_id, unit_start) WHERE state IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS backfill_jobs_active_idx ON backfill_jobs (id) WHERE state IN ('queued', 'running');

CREATE TABLE IF NOT EXISTS backfill_cursors (
    source      text        NOT NULL,
    instrument  text        NOT NULL,
    next_hour   timestamptz NOT NULL,            -- the first hour not ingested yet
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, instrument)
);
-- Gap detection asks "was this hour fetched and found empty?" by hour, across jobs.
CREATE INDEX IF NOT EXISTS backfill_units_empty_idx ON backfill_units (unit_start) WHERE state = 'done' AND ticks = 0;
