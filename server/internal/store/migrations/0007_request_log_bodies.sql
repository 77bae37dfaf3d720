-- Request log kinds and recorded bodies.
--
-- kind says what an entry records: 'proxy' (a call through the proxy), 'probe' (a connector
-- probe) or 'token' (an OAuth2 token exchange at the provider); rows written before this
-- migration are proxy calls.
--
-- Recorded bodies (the connector's logging.bodies policy) live in the blob store, never here:
-- each recorded call gets a random 256-bit data key that encrypts its request and response
-- (AES-256-GCM) in one blob under bodies_blob. bodies_key is that data key sealed with the
-- namespace's key: a registered encrypted column, so re-encryption, encryption debt and
-- crypto-shredding cover recorded bodies without rewriting a blob. Both are NULL when nothing
-- was recorded. Portable SQL: runs unchanged on SQLite and PostgreSQL.
ALTER TABLE request_logs ADD COLUMN kind TEXT NOT NULL DEFAULT 'proxy';
ALTER TABLE request_logs ADD COLUMN bodies_blob TEXT;
ALTER TABLE request_logs ADD COLUMN bodies_key TEXT;
CREATE INDEX request_logs_kind ON request_logs (kind, id);
