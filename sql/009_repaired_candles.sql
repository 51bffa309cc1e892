-- Gap repair from venue candles (OANDA S5 bid/ask): what a live feed missed can come back as candles, not
-- ticks. The venue's candles are kept as they came (repair_candles); the 1m candles of the gap's minutes that
-- have no ticks are built from them, and every candle level carries `repaired` so a reader can tell a candle
-- made (partly) from repair candles from one made from ticks. The cascade keeps a repaired 1m candle that has
-- no ticks, and flags a parent whose window holds a repaired child.

DO $$
DECLARE tf text;
BEGIN
    FOREACH tf IN ARRAY ARRAY['1m', '5m', '15m', '1h', '4h', '12h'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS repaired boolean NOT NULL DEFAULT false', 'candles_' || tf);
        -- few rows are repaired: the cascade finds them through this small partial index, not the table
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (venue, symbol, price_type, bucket) WHERE repaired', 'candles_' || tf || '_repaired_idx', 'candles_' || tf);
    END LOOP;
END $$;

CREATE TABLE IF NOT EXISTS repair_candles (
    venue        text        NOT NULL,
    symbol       text        NOT NULL,
    price_type   text        NOT NULL CHECK (price_type IN ('bid', 'ask', 'mid')),
    granularity  text        NOT NULL,          -- the venue's name: 'S5'
    bucket       timestamptz NOT NULL,          -- candle start
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       numeric     NOT NULL,          -- the venue's tick count for the candle
    gap_id       bigint,                        -- feed_gaps row it repaired
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, price_type, granularity, bucket)
);
