-- The 1d and 1w levels (010) carry `repaired` too (009 added it to the six levels that existed then), so a
-- day or week whose window holds a candle rebuilt from venue candles after a feed gap is flagged like the
-- levels below it.

DO $$
DECLARE tf text;
BEGIN
    FOREACH tf IN ARRAY ARRAY['1d', '1w'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS repaired boolean NOT NULL DEFAULT false', 'candles_' || tf);
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (venue, symbol, price_type, bucket) WHERE repaired', 'candles_' || tf || '_repaired_idx', 'candles_' || tf);
    END LOOP;
END $$;
