-- Re-encryption jobs: one walk over every registered encrypted column that re-seals each
-- value under its namespace's current key. The cursor (table_name, column_name, after_id)
-- commits in the same transaction as each batch of rewritten values, so a job killed
-- mid-batch resumes where its last batch committed. lease_until fences two workers off
-- one job. Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE reencryption_jobs (
    id          TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    table_name  TEXT NOT NULL DEFAULT '',
    column_name TEXT NOT NULL DEFAULT '',
    after_id    TEXT NOT NULL DEFAULT '',
    scanned     BIGINT NOT NULL DEFAULT 0,
    rewritten   BIGINT NOT NULL DEFAULT 0,
    unreadable  BIGINT NOT NULL DEFAULT 0,
    total       BIGINT NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMP,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP
);
-- At most one pending job: later triggers join it.
CREATE UNIQUE INDEX reencryption_jobs_one_pending ON reencryption_jobs (state) WHERE state = 'pending';
CREATE INDEX reencryption_jobs_created_at ON reencryption_jobs (created_at);
