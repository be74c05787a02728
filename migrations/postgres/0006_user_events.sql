-- Events pushed by users and systems (`POST /api/v1/events`): they satisfy `wait_for`
-- event conditions and trigger workflows with `on_events`.
CREATE TABLE user_events (
    id       BIGSERIAL PRIMARY KEY,
    key      TEXT    NOT NULL,
    payload  JSONB   NOT NULL,
    metadata JSONB   NOT NULL,
    at       BIGINT  NOT NULL
);
CREATE INDEX user_events_key ON user_events (key, at);
