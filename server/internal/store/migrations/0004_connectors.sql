-- Connectors and their immutable, numbered versions. Portable SQL: runs unchanged on
-- SQLite and PostgreSQL.
CREATE TABLE connectors (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL REFERENCES namespaces (path),
    name        TEXT NOT NULL,
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CONSTRAINT connectors_namespace_name UNIQUE (namespace, name)
);

-- definition is the normalised (canonical JSON) definition; client_secret is an
-- encrypt envelope sealed with the namespace's key (a registered encrypted column).
-- namespace repeats the connector's so re-encryption finds the key without a join.
CREATE TABLE connector_versions (
    id              TEXT PRIMARY KEY,
    connector_id    TEXT NOT NULL REFERENCES connectors (id),
    namespace       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    state           TEXT NOT NULL,
    definition      TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    client_secret   TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    published_at    TIMESTAMP,
    archived_at     TIMESTAMP,
    -- had_connections: some connection was made on this version, so once none is left (and
    -- it is not primary) the worker archives it.
    had_connections BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT connector_versions_connector_version UNIQUE (connector_id, version)
);
-- At most one primary version per connector.
CREATE UNIQUE INDEX connector_versions_one_primary ON connector_versions (connector_id) WHERE state = 'primary';
CREATE INDEX connector_versions_namespace ON connector_versions (namespace);
