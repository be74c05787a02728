-- Small named documents the server keeps for itself (named baselines), replaced whole.
CREATE TABLE records (
    namespace  TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    value      JSONB  NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key)
);
