-- The dApp's index of the chain, written only by the indexer (dapp/indexer.py).
-- Every amount a log carries (Wh, W, token base units) is a uint256 that can pass
-- 2**63, so it is TEXT holding the exact decimal integer, summed in Python. Unix
-- seconds, ids and counters are INTEGER: the contracts keep them far below 2**63
-- (the Exchange packs an hour into 40 bits), and the indexer skips, and logs, an
-- event whose time or id would not fit.
-- PRAGMA user_version is the schema's version: the indexer rebuilds an older index.

CREATE TABLE IF NOT EXISTS cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_block INTEGER NOT NULL,
    head_block INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0    -- events logged and left out (a time or id past 2**63)
);

CREATE TABLE IF NOT EXISTS meters (
    meter_id TEXT PRIMARY KEY,            -- 0x-hex bytes32
    owner TEXT NOT NULL,
    signer TEXT NOT NULL,
    installer TEXT NOT NULL,
    sector TEXT NOT NULL,
    tech_code TEXT NOT NULL,
    fuel_code TEXT NOT NULL,
    capacity_w TEXT NOT NULL,             -- rated production, W
    connection_w TEXT NOT NULL,           -- the connection's rating (main fuse), W
    kind INTEGER NOT NULL,                -- 1 production, 2 consumption, 3 both
    suspended INTEGER NOT NULL DEFAULT 0,
    status_reason TEXT NOT NULL DEFAULT '',
    registered_at INTEGER NOT NULL,       -- block timestamp
    last_end INTEGER,                     -- last reading's interval end
    last_digest TEXT,                     -- its data digest: sha256 of the telegram batch
    approved_signer TEXT                  -- a key its owner agreed to, until an installer puts it in
);
CREATE INDEX IF NOT EXISTS meters_owner ON meters (owner);

CREATE TABLE IF NOT EXISTS measurements (
    meter_id TEXT NOT NULL,
    interval_begin INTEGER NOT NULL,
    interval_end INTEGER NOT NULL,
    produced_wh TEXT NOT NULL,
    consumed_wh TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (meter_id, interval_begin)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS settlements (
    meter_id TEXT NOT NULL,
    interval_begin INTEGER NOT NULL,
    account TEXT NOT NULL,
    feed_in_wh TEXT NOT NULL,
    retail_wh TEXT NOT NULL,
    reward TEXT NOT NULL,
    bill TEXT NOT NULL,
    PRIMARY KEY (meter_id, interval_begin)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    maker TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    interval_begin INTEGER NOT NULL,
    wh TEXT NOT NULL,                     -- open Wh
    price TEXT NOT NULL,                  -- token base units per Wh
    is_bid INTEGER NOT NULL,
    retire INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open'   -- open, filled, cancelled
);
CREATE INDEX IF NOT EXISTS orders_book ON orders (interval_begin, status);
CREATE INDEX IF NOT EXISTS orders_maker ON orders (maker);

CREATE TABLE IF NOT EXISTS deals (
    deal_id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    seller TEXT NOT NULL,
    buyer TEXT NOT NULL,
    seller_meter TEXT NOT NULL,
    buyer_meter TEXT NOT NULL,
    interval_begin INTEGER NOT NULL,
    wh TEXT NOT NULL,
    price TEXT NOT NULL,
    retire INTEGER NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    delivered_wh TEXT,
    payment TEXT,
    refund TEXT,
    retired_wh TEXT
);
CREATE INDEX IF NOT EXISTS deals_seller ON deals (seller);
CREATE INDEX IF NOT EXISTS deals_buyer ON deals (buyer);
CREATE INDEX IF NOT EXISTS deals_interval ON deals (interval_begin);

CREATE TABLE IF NOT EXISTS certificates (
    id TEXT PRIMARY KEY,                  -- decimal uint256
    meter_id TEXT NOT NULL,
    interval_begin INTEGER NOT NULL,
    issued_wh TEXT NOT NULL,
    custody_wh TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS holdings (
    holder TEXT NOT NULL,
    id TEXT NOT NULL,
    wh TEXT NOT NULL,
    PRIMARY KEY (holder, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS retirements (
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    id TEXT NOT NULL,
    consumption_meter_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    interval_begin INTEGER NOT NULL,      -- the certificate's hour, also the consumption's
    wh TEXT NOT NULL,
    PRIMARY KEY (block, log_index)
);
CREATE INDEX IF NOT EXISTS retirements_meter ON retirements (consumption_meter_id, interval_begin);

CREATE TABLE IF NOT EXISTS tariffs (
    idx INTEGER PRIMARY KEY,
    retail_price TEXT NOT NULL,
    feed_in_reward TEXT NOT NULL,
    effective_from INTEGER NOT NULL
);

-- Certificates the Exchange holds for a wallet that refused them (claim_certificates).
CREATE TABLE IF NOT EXISTS exchange_held (
    account TEXT NOT NULL,
    id TEXT NOT NULL,
    wh TEXT NOT NULL,
    PRIMARY KEY (account, id)
) WITHOUT ROWID;

-- Meters offered to an account: by an installer at registration (owner is the zero
-- address) or by their owner; gone once accepted or withdrawn.
CREATE TABLE IF NOT EXISTS offers (
    meter_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pending_owner TEXT NOT NULL,
    debt TEXT NOT NULL,                   -- the meter's debt at the operator, as the offer logged it
    offered_at INTEGER NOT NULL           -- block timestamp
);
CREATE INDEX IF NOT EXISTS offers_pending ON offers (pending_owner);

-- The operator's trust in each SmartMeterBackend; genesis: trusted by the operator's
-- constructor, so its bills reach a ledger without the account's consent.
CREATE TABLE IF NOT EXISTS backends (
    backend TEXT PRIMARY KEY,
    trusted INTEGER NOT NULL,
    effective_from INTEGER NOT NULL,
    genesis INTEGER NOT NULL
);

-- An account's consent that its ledger pays a meter's bills (OperatorBackend.open_ledger).
CREATE TABLE IF NOT EXISTS ledger_consents (
    account TEXT NOT NULL,
    backend TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    open INTEGER NOT NULL,
    PRIMARY KEY (account, backend, meter_id)
) WITHOUT ROWID;

-- What happened to an account, derived from the logs in the order the chain logged
-- them (id); account '*' is news for everyone (a tariff or a backend's trust announced).
-- data is JSON; amounts in it are decimal strings, exact.
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,                  -- block timestamp
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (block, log_index, account)    -- a log read twice tells nobody twice
);
CREATE INDEX IF NOT EXISTS notifications_account ON notifications (account, id);

-- EmissionsRegistry (issue 17): factor publications, Scope 2 statements, their
-- attestations and the requests of customers without a meter on chain. Grams, Wh and
-- factors are TEXT (exact decimal integers); ids, times and kinds are INTEGER.
CREATE TABLE IF NOT EXISTS emission_roles (
    sector TEXT NOT NULL,
    account TEXT NOT NULL,
    role TEXT NOT NULL,                   -- publisher or auditor
    appointed INTEGER NOT NULL,
    PRIMARY KEY (sector, account, role)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS emission_publications (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,                -- 1 a day's hourly factors, 2 a year's location-based,
                                          -- 3 a year's residual mix, 4 a year's fuel factors
    sector TEXT NOT NULL,
    period INTEGER NOT NULL,              -- a day's begin (unix seconds) or a year
    publisher TEXT NOT NULL,
    source TEXT NOT NULL,
    cid TEXT NOT NULL,
    supersedes INTEGER NOT NULL,          -- 0: the first of its sector, kind and period
    superseded_by INTEGER,                -- NULL while current
    factor_mg_per_kwh TEXT,               -- the year kinds' location or residual factor
    hourly_mg_per_kwh TEXT,               -- a day's 24 factors, JSON list of decimal strings
    published_at INTEGER NOT NULL         -- block timestamp
);
CREATE INDEX IF NOT EXISTS emission_publications_sector ON emission_publications (sector, kind, period);

CREATE TABLE IF NOT EXISTS emission_statements (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    origin INTEGER NOT NULL,              -- 1 computed from meters, 2 merged, 3 from utility data
    meter_id TEXT NOT NULL,               -- 0x-hex; zeros for utility data
    sector TEXT NOT NULL,
    begin INTEGER NOT NULL,
    end INTEGER NOT NULL,
    consumed_wh TEXT NOT NULL,
    matched_wh TEXT NOT NULL,
    location_g TEXT NOT NULL,             -- as the contract rounded them, once
    market_g TEXT NOT NULL,
    made_at INTEGER NOT NULL,             -- block timestamp
    block INTEGER NOT NULL,
    tx TEXT NOT NULL,
    superseded_by INTEGER,                -- the merged statement that burned it
    request INTEGER,                      -- utility data: the customer's request
    auditor TEXT,                         -- utility data: who published it
    utility TEXT,
    location_mg_per_kwh TEXT,
    market_mg_per_kwh TEXT,
    data_format TEXT,
    data_sha256 TEXT,
    data_cid TEXT
);
CREATE INDEX IF NOT EXISTS emission_statements_account ON emission_statements (account, begin);
CREATE INDEX IF NOT EXISTS emission_statements_meter ON emission_statements (meter_id, begin);

-- The factor publications a statement used, in order of first use (a merged one: its parts').
CREATE TABLE IF NOT EXISTS statement_publications (
    statement INTEGER NOT NULL,
    position INTEGER NOT NULL,
    publication INTEGER NOT NULL,
    PRIMARY KEY (statement, position)
) WITHOUT ROWID;

-- The statements a merged statement burned, in time order.
CREATE TABLE IF NOT EXISTS statement_parts (
    statement INTEGER NOT NULL,
    position INTEGER NOT NULL,
    part INTEGER NOT NULL,
    PRIMARY KEY (statement, position)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS attestations (
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    statement INTEGER NOT NULL,
    auditor TEXT NOT NULL,
    note TEXT NOT NULL,
    cid TEXT NOT NULL,                    -- the auditor's working papers
    attested_at INTEGER NOT NULL,         -- block timestamp
    PRIMARY KEY (block, log_index)
);
CREATE INDEX IF NOT EXISTS attestations_statement ON attestations (statement);

CREATE TABLE IF NOT EXISTS emission_requests (
    id INTEGER PRIMARY KEY,
    customer TEXT NOT NULL,
    auditor TEXT NOT NULL,
    sector TEXT NOT NULL,
    utility TEXT NOT NULL,
    begin INTEGER NOT NULL,
    end INTEGER NOT NULL,
    statement INTEGER                     -- NULL while open
);
CREATE INDEX IF NOT EXISTS emission_requests_customer ON emission_requests (customer);

-- The Auction's standing orders (issue 19): the intervals first to last (interval
-- begins), the same Wh and limit in each; cut short at cancelled_from (its first
-- interval no longer in the order) by StandingOrderCancelled.
CREATE TABLE IF NOT EXISTS standing_orders (
    order_id INTEGER PRIMARY KEY,
    maker TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,                -- as placed
    wh TEXT NOT NULL,                     -- per interval
    price TEXT NOT NULL,                  -- limit, token base units per Wh
    is_bid INTEGER NOT NULL,
    cancelled_from INTEGER,               -- NULL: not cancelled
    refunded TEXT NOT NULL DEFAULT '0',   -- escrow the cancellations returned
    released INTEGER NOT NULL DEFAULT 0,  -- cleared intervals whose escrow is settled (release)
    placed_at INTEGER NOT NULL,           -- block timestamp
    tx TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS standing_orders_maker ON standing_orders (maker);
CREATE INDEX IF NOT EXISTS standing_orders_range ON standing_orders (first, last);

-- One row per cleared interval: the uniform price and the Wh each side traded.
CREATE TABLE IF NOT EXISTS auction_clearings (
    interval_begin INTEGER PRIMARY KEY,
    price TEXT NOT NULL,                  -- token base units per Wh
    bought_wh TEXT NOT NULL,
    sold_wh TEXT NOT NULL,
    orders INTEGER NOT NULL,
    keeper TEXT NOT NULL,
    cleared_at INTEGER NOT NULL           -- block timestamp
);

-- Each live order's fill in a cleared interval, as Auction.fill answers it.
CREATE TABLE IF NOT EXISTS auction_fills (
    order_id INTEGER NOT NULL,
    interval_begin INTEGER NOT NULL,
    wh TEXT NOT NULL,
    PRIMARY KEY (order_id, interval_begin)
) WITHOUT ROWID;
