-- TimescaleDB, when this server has it: the tick tables (trades, quotes, book_snapshots) and the six candles_*
-- tables become hypertables with compression, and old ticks are dropped by a retention policy. On plain
-- PostgreSQL (timescaledb not in pg_available_extensions) this file does nothing and the tables of 001 stay
-- plain tables; 001's definitions and every query against them work unchanged on both.
--
-- Knobs: custom settings read once, when this migration runs (unset or '' = the default shown):
--   mdp.timescale              auto     'auto': use TimescaleDB when available; 'on': fail if it is not; 'off': never
--   mdp.tick_chunk_interval    1 day    chunk size of trades, quotes, book_snapshots
--   mdp.tick_compress_after    7 days   compress tick chunks older than this
--   mdp.candle_compress_after  30 days  compress candle chunks older than this
--   mdp.tick_retention         3 years  drop tick chunks older than this; 'off' keeps ticks forever
-- Set them on the migrating session: migrate(pool, { settings: { "mdp.tick_retention": "5 years" } }),
-- PGOPTIONS='-c mdp.tick_retention=5\ years' npm run migrate, or ALTER DATABASE <db> SET mdp.tick_retention = '5 years'
-- before the first migrate. Afterwards change the policies in TimescaleDB itself, e.g.
--   SELECT remove_retention_policy('trades'); SELECT add_retention_policy('trades', INTERVAL '5 years');
-- If TimescaleDB becomes available only after this migration ran, convert the tables by hand (this file is
-- applied once and is forward-only).

DO $$
DECLARE
    mode            text     := lower(coalesce(nullif(current_setting('mdp.timescale', true), ''), 'auto'));
    tick_chunk      interval := coalesce(nullif(current_setting('mdp.tick_chunk_interval', true), ''), '1 day')::interval;
    tick_compress   interval := coalesce(nullif(current_setting('mdp.tick_compress_after', true), ''), '7 days')::interval;
    candle_compress interval := coalesce(nullif(current_setting('mdp.candle_compress_after', true), ''), '30 days')::interval;
    tick_keep       text     := lower(coalesce(nullif(current_setting('mdp.tick_retention', true), ''), '3 years'));
    t               record;
BEGIN
    IF mode NOT IN ('auto', 'on', 'off') THEN
        RAISE EXCEPTION 'mdp.timescale must be auto, on or off (got %)', mode;
    END IF;
    IF mode = 'off' THEN
        RAISE NOTICE 'mdp.timescale=off: keeping plain tables';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        IF mode = 'on' THEN
            RAISE EXCEPTION 'mdp.timescale=on but the timescaledb extension is not available on this server';
        END IF;
        RAISE NOTICE 'timescaledb is not available: keeping plain tables';
        RETURN;
    END IF;

    CREATE EXTENSION IF NOT EXISTS timescaledb;

    -- Chunk sizes keep a chunk to roughly 1-10 thousand rows per symbol for candles, one day of ticks.
    FOR t IN SELECT * FROM (VALUES
        ('trades',         'time',   tick_chunk,          'venue, symbol',             'time DESC, trade_id', tick_compress,   true),
        ('quotes',         'time',   tick_chunk,          'venue, symbol',             'time DESC, seq',      tick_compress,   true),
        ('book_snapshots', 'time',   tick_chunk,          'venue, symbol',             'time DESC, source',   tick_compress,   true),
        ('candles_1m',     'bucket', interval '7 days',   'venue, symbol, price_type', 'bucket DESC',         candle_compress, false),
        ('candles_5m',     'bucket', interval '30 days',  'venue, symbol, price_type', 'bucket DESC',         candle_compress, false),
        ('candles_15m',    'bucket', interval '90 days',  'venue, symbol, price_type', 'bucket DESC',         candle_compress, false),
        ('candles_1h',     'bucket', interval '180 days', 'venue, symbol, price_type', 'bucket DESC',         candle_compress, false),
        ('candles_4h',     'bucket', interval '365 days', 'venue, symbol, price_type', 'bucket DESC',         candle_compress, false),
        ('candles_12h',    'bucket', interval '365 days', 'venue, symbol, price_type', 'bucket DESC',         candle_compress, false)
    ) AS v(tbl, time_col, chunk, segmentby, orderby, compress_after, is_tick)
    LOOP
        -- The classic signature (not by_range) so TimescaleDB 2.x before 2.13 works too.
        PERFORM create_hypertable(t.tbl::regclass, t.time_col::name, chunk_time_interval => t.chunk,
                                  if_not_exists => true, migrate_data => true);
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                       t.tbl, t.segmentby, t.orderby);
        PERFORM add_compression_policy(t.tbl::regclass, compress_after => t.compress_after, if_not_exists => true);
        IF t.is_tick AND tick_keep NOT IN ('off', 'none', 'never') THEN
            PERFORM add_retention_policy(t.tbl::regclass, drop_after => tick_keep::interval, if_not_exists => true);
        END IF;
    END LOOP;
END $$;
