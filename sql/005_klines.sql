-- Exchange klines (Binance /api/v3/klines), one row per venue, symbol, interval and open time: the natural key
-- Binance identifies a kline by, so a re-fetched page is an idempotent upsert. Prices and volumes are kept as the
-- venue's exact decimal strings (NUMERIC). Only closed klines are stored (close_time in the past when fetched).

CREATE TABLE IF NOT EXISTS klines (
    venue               text        NOT NULL,          -- 'binance'
    symbol              text        NOT NULL,          -- canonical BASE-QUOTE-TYPE, e.g. BTC-USDT-SPOT
    interval            text        NOT NULL,          -- the venue's interval name: 1m, 1h, 1d, ...
    open_time           timestamptz NOT NULL,
    close_time          timestamptz NOT NULL,
    open                numeric     NOT NULL,
    high                numeric     NOT NULL,
    low                 numeric     NOT NULL,
    close               numeric     NOT NULL,
    volume              numeric     NOT NULL,          -- base asset volume
    quote_volume        numeric     NOT NULL,
    trades              bigint      NOT NULL,
    taker_base_volume   numeric     NOT NULL,
    taker_quote_volume  numeric     NOT NULL,
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, interval, open_time)   -- the time column is in the key: hypertable-ready
);

-- Ranges the venue answered with no klines at all (listing date, exchange downtime): remembered so that
-- "what is missing" does not ask the venue for them again on every run.
CREATE TABLE IF NOT EXISTS kline_empty_ranges (
    venue       text        NOT NULL,
    symbol      text        NOT NULL,
    interval    text        NOT NULL,
    from_time   timestamptz NOT NULL,              -- first open time asked for
    to_time     timestamptz NOT NULL,              -- exclusive
    checked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, interval, from_time)
);

-- Same rule as 002: with TimescaleDB installed klines becomes a hypertable. 002 is applied once and cannot
-- change, so the conversion lives here. No compression policy: history backfills land in old chunks by nature,
-- and upserting into compressed chunks costs a decompression each time.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('klines'::regclass, 'open_time'::name, chunk_time_interval => interval '30 days',
                                  if_not_exists => true, migrate_data => true);
    END IF;
END $$;
