-- Daily and weekly candles on top of the cascade (12h -> 1d -> 1w). 1d buckets start at 00:00 UTC; 1w buckets
-- are ISO weeks starting Monday 00:00 UTC (date_bin origin 1970-01-05). Same layout as the other levels (001).
DO $$
DECLARE tf text;
BEGIN
    FOREACH tf IN ARRAY ARRAY['1d', '1w'] LOOP
        EXECUTE format($f$
            CREATE TABLE IF NOT EXISTS %I (
                venue       text        NOT NULL,
                symbol      text        NOT NULL,
                price_type  text        NOT NULL,
                bucket      timestamptz NOT NULL,
                open        numeric     NOT NULL,
                high        numeric     NOT NULL,
                low         numeric     NOT NULL,
                close       numeric     NOT NULL,
                volume      numeric     NOT NULL,
                trades      bigint      NOT NULL,
                updated_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (venue, symbol, price_type, bucket)
            )$f$, 'candles_' || tf);
    END LOOP;
END $$;

-- The TimescaleDB treatment of 002 for the new levels, when 002 installed the extension: hypertables with
-- compression of chunks older than mdp.candle_compress_after (candles are never dropped by retention).
DO $$
DECLARE
    candle_compress interval := coalesce(nullif(current_setting('mdp.candle_compress_after', true), ''), '30 days')::interval;
    t record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    FOR t IN SELECT * FROM (VALUES
        ('candles_1d', interval '730 days'),
        ('candles_1w', interval '3650 days')
    ) AS v(tbl, chunk)
    LOOP
        PERFORM create_hypertable(t.tbl::regclass, 'bucket'::name, chunk_time_interval => t.chunk,
                                  if_not_exists => true, migrate_data => true);
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                       t.tbl, 'venue, symbol, price_type', 'bucket DESC');
        PERFORM add_compression_policy(t.tbl::regclass, compress_after => candle_compress, if_not_exists => true);
    END LOOP;
END $$;
