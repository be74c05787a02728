-- One row per database: the identity of this Ratchet installation.
CREATE TABLE installation (
    singleton  INTEGER PRIMARY KEY NOT NULL DEFAULT 1 CHECK (singleton = 1),
    id         BLOB NOT NULL,
    created_at TEXT NOT NULL
);
