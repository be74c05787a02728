-- Events pushed by users and systems (`POST /api/v1/events`): they satisfy `wait_for`
-- event conditions and trigger workflows with `on_events`.
CREATE TABLE user_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    key      TEXT    NOT NULL,
    payload  TEXT   NOT NULL,
    metadata TEXT   NOT NULL,
    at       INTEGER  NOT NULL
);
CREATE INDEX user_events_key ON user_events (key, at);
