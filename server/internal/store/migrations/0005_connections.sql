-- Connections: a user's authorized account on one connector version. credentials is an
-- encrypt envelope (a registered encrypted column) of the connection's secrets: the API key
-- today, OAuth2 tokens later. Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE connections (
    id                TEXT PRIMARY KEY,
    namespace         TEXT NOT NULL REFERENCES namespaces (path),
    connector_id      TEXT NOT NULL REFERENCES connectors (id),
    connector_version INTEGER NOT NULL,
    state             TEXT NOT NULL,
    health            TEXT NOT NULL DEFAULT 'unknown',
    health_reason     TEXT NOT NULL DEFAULT '',
    config            TEXT NOT NULL DEFAULT '{}',
    annotations       TEXT NOT NULL DEFAULT '{}',
    credentials       TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX connections_connector ON connections (connector_id, connector_version);
CREATE INDEX connections_namespace ON connections (namespace);
