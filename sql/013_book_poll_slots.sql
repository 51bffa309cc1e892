-- Order-book snapshots are taken once per (venue, symbol, source) per interval slot. Replicas of the
-- orderbook-poller (and of kraken-stream for 'ws' books) claim a slot here before fetching it: the claim
-- carries a random token and a lease, a dead claimer's lease expires and another replica takes the slot
-- over, and the snapshot is stored only in the transaction that marks the slot done under the claimer's
-- token. So no slot is stored twice, and none is left undone while a replica is alive.
CREATE TABLE IF NOT EXISTS book_poll_slots (
    venue          text        NOT NULL,
    symbol         text        NOT NULL,
    source         text        NOT NULL,          -- 'rest' | 'ws', as in book_snapshots
    slot           timestamptz NOT NULL,          -- when the slot became due (interval start plus the symbol's offset)
    owner          text        NOT NULL,          -- the replica holding (or having done) the claim
    token          uuid        NOT NULL,
    lease_until    timestamptz NOT NULL,
    attempts       integer     NOT NULL DEFAULT 1,
    done_at        timestamptz,
    snapshot_time  timestamptz,                   -- book_snapshots.time of the stored snapshot
    PRIMARY KEY (venue, symbol, source, slot)
);
CREATE INDEX IF NOT EXISTS book_poll_slots_slot_idx ON book_poll_slots (slot);
