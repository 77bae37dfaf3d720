-- The end user a connection belongs to: the actor whose marketplace shows it and who may
-- reconnect or disconnect it there. NULL for connections made by an application for itself.
ALTER TABLE connections ADD COLUMN owner_actor_id TEXT;
CREATE INDEX connections_owner ON connections (owner_actor_id);
