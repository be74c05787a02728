-- Leases on shared resources: network blocks, machines and the cores they use (quotas).
-- (kind, key) is unique: two holders never get the same block or machine.
CREATE TABLE leases (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    holder     TEXT    NOT NULL,
    amount     BIGINT  NOT NULL,
    data       JSONB,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX leases_holder ON leases (holder);
