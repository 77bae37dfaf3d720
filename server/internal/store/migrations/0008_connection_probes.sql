-- Connection probes: the connector's health checks run through each ready connection.
-- probe_failures counts consecutive failed runs (0 after a healthy one); last_probed_at is
-- when the probes last ran; next_probe_at is when the periodic scan runs them again (NULL:
-- never probed, due at once). Portable SQL: runs unchanged on SQLite and PostgreSQL.
ALTER TABLE connections ADD COLUMN probe_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN last_probed_at TIMESTAMP;
ALTER TABLE connections ADD COLUMN next_probe_at TIMESTAMP;
CREATE INDEX connections_next_probe_at ON connections (state, next_probe_at);
