-- Core schema. Every tick table has a natural key, so any redelivered write is idempotent.
-- Keys include the time column so the same tables can become TimescaleDB hypertables (002).

CREATE TABLE IF NOT EXISTS symbols (
    venue            text        NOT NULL,
    symbol           text        NOT NULL,          -- canonical BASE-QUOTE-TYPE, e.g. BTC-USD-SPOT
    venue_symbol     text        NOT NULL,          -- as the venue spells it, e.g. BTC/USD
    asset_class      text        NOT NULL CHECK (asset_class IN ('crypto', 'fx')),
    base             text        NOT NULL,
    quote            text        NOT NULL,
    kind             text        NOT NULL DEFAULT 'SPOT',
    price_precision  integer,
    qty_precision    integer,
    price_increment  numeric,
    qty_increment    numeric,
    status           text        NOT NULL DEFAULT 'online',
    active           boolean     NOT NULL DEFAULT false,  -- streamed and backfilled when true
    meta             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol)
);
CREATE UNIQUE INDEX IF NOT EXISTS symbols_venue_symbol_idx ON symbols (venue, venue_symbol);

CREATE TABLE IF NOT EXISTS trades (
    venue      text        NOT NULL,
    symbol     text        NOT NULL,
    time       timestamptz NOT NULL,               -- venue event time
    trade_id   bigint      NOT NULL,               -- venue trade id
    price      numeric     NOT NULL,
    qty        numeric     NOT NULL,
    side       char(1),                            -- 'b' buy, 's' sell, NULL unknown
    recv_time  timestamptz NOT NULL,               -- our receive time
    PRIMARY KEY (venue, symbol, time, trade_id)
);

CREATE TABLE IF NOT EXISTS quotes (
    venue      text        NOT NULL,
    symbol     text        NOT NULL,
    time       timestamptz NOT NULL,
    seq        bigint      NOT NULL,               -- per-source sequence within one event time
    bid        numeric     NOT NULL,
    ask        numeric     NOT NULL,
    bid_qty    numeric,
    ask_qty    numeric,
    recv_time  timestamptz NOT NULL,
    PRIMARY KEY (venue, symbol, time, seq)
);

-- One table per level; price_type is 'trade' for trade candles, 'bid' | 'ask' | 'mid' for quote candles.
DO $$
DECLARE tf text;
BEGIN
    FOREACH tf IN ARRAY ARRAY['1m', '5m', '15m', '1h', '4h', '12h'] LOOP
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

-- The dirty-bucket queue: 1m buckets whose ticks changed since the cascade last ran.
-- source = 'trades' (crypto: trade candles) or 'quotes' (FX: bid, ask and mid candles).
CREATE TABLE IF NOT EXISTS dirty_buckets (
    venue      text        NOT NULL,
    symbol     text        NOT NULL,
    source     text        NOT NULL CHECK (source IN ('trades', 'quotes')),
    bucket     timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, source, bucket)
);

-- Fencing for the single active cascade-refresher: a leader may write only with a token at least as
-- new as the newest one ever used.
CREATE TABLE IF NOT EXISTS leader_fence (
    name        text        PRIMARY KEY,
    token       bigint      NOT NULL,
    holder      text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO leader_fence (name, token) VALUES ('cascade-refresher', 0) ON CONFLICT DO NOTHING;

-- The gap ledger: every stretch of time a feed may have missed data, and whether it was repaired.
CREATE TABLE IF NOT EXISTS feed_gaps (
    id           bigserial   PRIMARY KEY,
    venue        text        NOT NULL,
    symbol       text        NOT NULL,
    channel      text        NOT NULL,
    from_time    timestamptz NOT NULL,
    to_time      timestamptz,                      -- NULL while the feed is still down
    cause        text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    repaired_at  timestamptz,
    repaired_by  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feed_gaps_open_idx ON feed_gaps (venue, symbol, channel) WHERE repaired_at IS NULL;

CREATE TABLE IF NOT EXISTS backfill_jobs (
    id           bigserial   PRIMARY KEY,
    source       text        NOT NULL,
    instrument   text        NOT NULL,
    from_time    timestamptz NOT NULL,
    to_time      timestamptz NOT NULL,
    state        text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    params       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    total_units  integer     NOT NULL DEFAULT 0,
    done_units   integer     NOT NULL DEFAULT 0,
    ticks        bigint      NOT NULL DEFAULT 0,
    errors       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    owner        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- One row per unit of work (an hour for Dukascopy), so a restarted job resumes from what is not done.
CREATE TABLE IF NOT EXISTS backfill_units (
    job_id       bigint      NOT NULL REFERENCES backfill_jobs (id) ON DELETE CASCADE,
    unit_start   timestamptz NOT NULL,
    state        text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    ticks        integer     NOT NULL DEFAULT 0,
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, unit_start)
);

CREATE TABLE IF NOT EXISTS book_snapshots (
    venue           text        NOT NULL,
    symbol          text        NOT NULL,
    time            timestamptz NOT NULL,          -- exchange time (or receive time when the venue sends none)
    source          text        NOT NULL,          -- 'rest' | 'ws'
    last_update_id  bigint,
    bids            jsonb       NOT NULL,          -- [[price, qty], ...] as decimal strings, best first
    asks            jsonb       NOT NULL,
    checksum        bigint,
    recv_time       timestamptz NOT NULL,
    PRIMARY KEY (venue, symbol, time, source)
);

-- Messages the tick-writer could not use: kept whole, with the reason, for inspection and replay.
CREATE TABLE IF NOT EXISTS dead_letters (
    id           bigserial   PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    message_id   text        NOT NULL,
    msg_key      text,
    reason       text        NOT NULL,
    payload      bytea       NOT NULL,
    UNIQUE (consumer, topic, message_id, reason)
);
