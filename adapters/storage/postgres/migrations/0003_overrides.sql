-- Rota overrides made in chat: one row per override, its document and a version for compare-and-set.
CREATE TABLE overrides (
    id text PRIMARY KEY,
    version integer NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX overrides_end ON overrides (end_at, start_at);
