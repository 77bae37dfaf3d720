-- Namespaces, actors with their public keys, and labels of every resource.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE namespaces (
    path        TEXT PRIMARY KEY,
    parent      TEXT REFERENCES namespaces (path),
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX namespaces_parent ON namespaces (parent);

CREATE TABLE actors (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL REFERENCES namespaces (path),
    external_id TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CONSTRAINT actors_namespace_external_id UNIQUE (namespace, external_id)
);

CREATE TABLE actor_keys (
    actor_id    TEXT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    PRIMARY KEY (actor_id, fingerprint)
);

CREATE TABLE labels (
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    label_key     TEXT NOT NULL,
    label_value   TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, label_key)
);
CREATE INDEX labels_key_value ON labels (resource_type, label_key, label_value);
