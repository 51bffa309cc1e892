-- The symbol catalog (issue 13): every instrument of every venue, normalised. `kind` is the instrument type
-- (SPOT, PERP, FUTURE, CFD), price_increment / qty_increment are the tick and lot size.
ALTER TABLE symbols DROP CONSTRAINT IF EXISTS symbols_asset_class_check;
ALTER TABLE symbols ADD CONSTRAINT symbols_asset_class_check CHECK (asset_class IN ('crypto', 'fx', 'metal', 'index', 'equity', 'commodity'));
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS settle text;                 -- settlement asset: quote for linear, base for inverse contracts
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS expiry timestamptz;          -- delivery time of dated futures
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS description text;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
-- When each attribute last changed: {"status": "2026-01-02T03:04:05Z", "tickSize": ...}
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS changed_at jsonb NOT NULL DEFAULT '{}'::jsonb;
-- The id moleculer-db addresses a row by (venue:symbol)
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS id text GENERATED ALWAYS AS (venue || ':' || symbol) STORED;
CREATE UNIQUE INDEX IF NOT EXISTS symbols_id_idx ON symbols (id);
ALTER TABLE symbols DROP CONSTRAINT IF EXISTS symbols_status_check;
ALTER TABLE symbols ADD CONSTRAINT symbols_status_check CHECK (status IN ('online', 'halted', 'delisted'));
ALTER TABLE symbols DROP CONSTRAINT IF EXISTS symbols_kind_check;
ALTER TABLE symbols ADD CONSTRAINT symbols_kind_check CHECK (kind IN ('SPOT', 'PERP', 'FUTURE', 'CFD'));
-- Binance spot and USD-M perpetuals share a spelling (BTCUSDT): the venue symbol is unique per type.
DROP INDEX IF EXISTS symbols_venue_symbol_idx;
CREATE UNIQUE INDEX IF NOT EXISTS symbols_venue_kind_symbol_idx ON symbols (venue, kind, venue_symbol);
CREATE INDEX IF NOT EXISTS symbols_active_idx ON symbols (venue) WHERE active;
