-- One row per database: the identity of this Ratchet installation.
CREATE TABLE installation (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    id         UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
