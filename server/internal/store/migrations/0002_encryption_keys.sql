-- Application-level encryption: namespace keys, their versions, and which key each
-- namespace uses. Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE encryption_keys (
    id            TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL REFERENCES namespaces (path),
    name          TEXT NOT NULL,
    source_kind   TEXT NOT NULL,
    source_params TEXT NOT NULL DEFAULT '{}',
    annotations   TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT 'active',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    CONSTRAINT encryption_keys_namespace_name UNIQUE (namespace, name)
);

-- wrapped_material is the encrypt.Wrap envelope of a generated or inline key version,
-- sealed with the global root key; NULL for external sources, whose material is loaded
-- from the source and checked against source_version.
CREATE TABLE encryption_key_versions (
    id               TEXT PRIMARY KEY,
    key_id           TEXT NOT NULL REFERENCES encryption_keys (id),
    number           INTEGER NOT NULL,
    state            TEXT NOT NULL,
    wrapped_material TEXT,
    source_version   TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    CONSTRAINT encryption_key_versions_key_number UNIQUE (key_id, number)
);
-- At most one current version per key.
CREATE UNIQUE INDEX encryption_key_versions_one_current ON encryption_key_versions (key_id) WHERE state = 'current';

CREATE TABLE namespace_keys (
    namespace   TEXT PRIMARY KEY REFERENCES namespaces (path),
    key_id      TEXT NOT NULL REFERENCES encryption_keys (id),
    assigned_at TIMESTAMP NOT NULL
);
CREATE INDEX namespace_keys_key_id ON namespace_keys (key_id);
