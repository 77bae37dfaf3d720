-- Request log: one row per proxied call, written in batches. Ids start with the zero-padded
-- unix time in nanoseconds, so id order is time order and time ranges are id ranges. No
-- header value, body or credential is stored; url has its query secrets redacted. Labels
-- (the connection's at call time) live in the labels table as resource type
-- 'request_log'. Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE request_logs (
    id                    TEXT PRIMARY KEY,
    started_at            TIMESTAMP NOT NULL,
    namespace             TEXT NOT NULL,
    connection_id         TEXT NOT NULL,
    connector_id          TEXT NOT NULL,
    connector_version     INTEGER NOT NULL,
    actor_id              TEXT NOT NULL DEFAULT '',
    correlation_id        TEXT NOT NULL DEFAULT '',
    method                TEXT NOT NULL,
    url                   TEXT NOT NULL,
    status                INTEGER NOT NULL,
    duration_us           BIGINT NOT NULL,
    request_size          BIGINT NOT NULL,
    response_size         BIGINT NOT NULL,
    request_content_type  TEXT NOT NULL DEFAULT '',
    response_content_type TEXT NOT NULL DEFAULT '',
    error_class           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_logs_namespace ON request_logs (namespace, id);
CREATE INDEX request_logs_connection ON request_logs (connection_id, id);
CREATE INDEX request_logs_connector ON request_logs (connector_id, id);
