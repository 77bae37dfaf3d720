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
    -- OAuth2: token_generation increases with every stored token (fencing: a refresher
    -- stores only if the generation it read is still current); token_expires_at lets the
    -- periodic refresh find tokens about to expire without decrypting anything.
    token_generation  BIGINT NOT NULL DEFAULT 0,
    token_expires_at  TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX connections_connector ON connections (connector_id, connector_version);
CREATE INDEX connections_namespace ON connections (namespace);
CREATE INDEX connections_token_expires_at ON connections (token_expires_at);
