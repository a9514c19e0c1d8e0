-- The outbox (webhook calls and e-mails until delivered) and the audit log.

-- One row per delivery. A queue is (channel, target, case_number): only its first row not yet sent
-- (or given up) may be claimed, so the messages about one case reach a receiver in order. A change
-- of a case inserts its rows in the transaction that holds the case row, so within one queue the
-- ids are in commit order.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel text NOT NULL,
    target text NOT NULL,
    case_number bigint NOT NULL,
    event text NOT NULL,
    event_id text NOT NULL,
    payload jsonb NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    created_at timestamptz NOT NULL,
    retry_since timestamptz NOT NULL,
    next_attempt timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    sent_at timestamptz
);
CREATE INDEX outbox_queue ON outbox (channel, target, case_number, id) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_due ON outbox (next_attempt, id) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_unsent ON outbox (id) WHERE state <> 'sent';

-- The audit log: appended, never changed or removed (the trigger refuses it, whoever asks).
CREATE TABLE audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    case_number bigint,
    doc jsonb NOT NULL
);
CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_case ON audit (case_number, id);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: entries are never changed or removed';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
